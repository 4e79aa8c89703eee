"""Generated images the gateway keeps so it can answer with a URL of its own.

Each image is one file under `<data dir>/images/`, named by an unguessable id (`img_` + 192
random bits) and an extension for its content type. It is served at `/v1/images/files/{id}` until
`GATEWAYZ_IMAGE_URL_TTL_HOURS` after it was written (the file's modification time), then it is a
404 and the file is removed (at the read, or by the periodic sweep of the billing job).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
from pathlib import Path

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/gif": "gif"}
CONTENT_TYPES = {ext: kind for kind, ext in EXTENSIONS.items()}
ID_PATTERN = re.compile(r"^img_[A-Za-z0-9_-]{32}$")
SWEEP_EVERY_SECONDS = 600.0


class ImageStore:
    def __init__(self, data_dir: Path, ttl_hours: float) -> None:
        self.root = data_dir / "images"
        self.ttl = ttl_hours * 3600.0
        self._swept = 0.0

    def _write(self, image_id: str, ext: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = self.root / f"{image_id}.{ext}"
        partial = self.root / f".{image_id}.part"
        with open(partial, "wb") as out:
            out.write(data)
        os.replace(partial, final)

    async def put(self, data: bytes, content_type: str) -> str:
        """Keep one image; its id."""
        image_id = "img_" + secrets.token_urlsafe(24)
        await asyncio.to_thread(self._write, image_id, EXTENSIONS.get(content_type, "png"), data)
        return image_id

    def _find(self, image_id: str) -> tuple[Path, str] | None:
        for ext, kind in CONTENT_TYPES.items():
            path = self.root / f"{image_id}.{ext}"
            try:
                written = path.stat().st_mtime
            except FileNotFoundError:
                continue
            if written + self.ttl < time.time():
                path.unlink(missing_ok=True)
                return None
            return path, kind
        return None

    async def get(self, image_id: str) -> tuple[bytes, str] | None:
        """The image and its content type; None when unknown or expired."""
        if not ID_PATTERN.match(image_id):
            return None

        def read() -> tuple[bytes, str] | None:
            found = self._find(image_id)
            if found is None:
                return None
            try:
                return found[0].read_bytes(), found[1]
            except FileNotFoundError:  # swept in between
                return None

        return await asyncio.to_thread(read)

    def _sweep(self) -> int:
        removed = 0
        cutoff = time.time() - self.ttl
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    async def sweep(self) -> int:
        """Remove expired images (at most every ten minutes; run by the billing job). Returns 0:
        removing what expired is routine, not a deferred write completed."""
        now = time.monotonic()
        if now - self._swept >= SWEEP_EVERY_SECONDS:
            self._swept = now
            await asyncio.to_thread(self._sweep)
        return 0
