"""Generated images the gateway keeps so it can answer with a URL of its own.

Each image is kept under an unguessable id (`img_` + 192 random bits) with its content type, and
served at `/v1/images/files/{id}` until `GATEWAYZ_IMAGE_URL_TTL_HOURS` after it was written; then
it is a 404 and it is removed (at the read, or by the periodic sweep the billing job runs).

Two places to keep them: files under `<data dir>/images/` (the default: one process or replicas
sharing a volume), or an S3-compatible bucket (images/s3_store.py) so that every replica serves
every image.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import structlog

from gatewayz.settings import Settings

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/gif": "gif"}
CONTENT_TYPES = {ext: kind for kind, ext in EXTENSIONS.items()}
ID_PATTERN = re.compile(r"^img_[A-Za-z0-9_-]{32}$")
SWEEP_EVERY_SECONDS = 600.0

log = structlog.get_logger(__name__)


class ImageStore(Protocol):
    async def put(self, data: bytes, content_type: str) -> str:
        """Keep one image; its id."""
        ...

    async def get(self, image_id: str) -> tuple[bytes, str] | None:
        """The image and its content type; None when unknown or expired."""
        ...

    async def sweep(self) -> int:
        """Remove expired images (at most every ten minutes). Returns 0: removing what expired is
        routine, not a deferred write completed (the billing job counts those)."""
        ...


def new_image_id() -> str:
    return "img_" + secrets.token_urlsafe(24)


def known_type(content_type: str) -> str:
    return content_type if content_type in EXTENSIONS else "image/png"


class SweepSchedule:
    """At most one sweep per SWEEP_EVERY_SECONDS per process, in a worker thread. A failed sweep
    is logged and tried again next time: it runs inside the billing job, whose other steps
    (releasing stale holds, expiring grants) must not stop because a disk or a bucket did."""

    def __init__(self) -> None:
        self._swept = float("-inf")  # the first run sweeps

    async def run(self, sweep: Callable[[], int]) -> int:
        now = time.monotonic()
        if now - self._swept >= SWEEP_EVERY_SECONDS:
            self._swept = now
            try:
                removed = await asyncio.to_thread(sweep)
            except Exception as error:  # logged; the next run retries
                log.warning("image_sweep_failed", error=repr(error)[:300])
            else:
                if removed:
                    log.info("image_sweep", removed=removed)
        return 0


class FileImageStore:
    def __init__(self, data_dir: Path, ttl_hours: float) -> None:
        self.root = data_dir / "images"
        self.ttl = ttl_hours * 3600.0
        self._schedule = SweepSchedule()

    def _write(self, image_id: str, ext: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = self.root / f"{image_id}.{ext}"
        partial = self.root / f".{image_id}.part"
        with open(partial, "wb") as out:
            out.write(data)
        os.replace(partial, final)

    async def put(self, data: bytes, content_type: str) -> str:
        image_id = new_image_id()
        await asyncio.to_thread(self._write, image_id, EXTENSIONS[known_type(content_type)], data)
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
        return await self._schedule.run(self._sweep)


def open_image_store(settings: Settings) -> ImageStore:
    """The bucket when one is configured, else the data directory."""
    if settings.image_s3_bucket:
        from gatewayz.images.s3_store import S3ImageStore

        return S3ImageStore.from_settings(settings)
    return FileImageStore(settings.data_dir, settings.image_url_ttl_hours)
