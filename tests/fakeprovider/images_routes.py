"""Image endpoints: OpenAI's ``/v1/images/generations`` and ``/v1/images/edits`` (multipart), and
Imagen's ``models/{model}:predict`` (Gemini API / Vertex shape).

Images are tiny real PNGs (8x8, a colour per index) whatever size was asked: the gateway under
test never looks at the pixels. Knobs: ``images_returned`` (answer with fewer or more images than
asked), ``image_answer`` (``"url"`` or ``"b64_json"`` whatever the request said), ``image_usage``
(a gpt-image ``usage`` object to include).
"""

from __future__ import annotations

import base64
import struct
import time
import zlib
from email.parser import BytesParser
from typing import Any

import orjson
from aiohttp import web

from . import gemini_routes, openai_routes
from .core import Ctx, Protocol, provider_route
from .scenario import State


def tiny_png(index: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixel = bytes(((index * 70) % 256, (index * 130) % 256, 200))
    rows = b"".join(b"\x00" + pixel * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _prompt(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("prompt"), str):
        return str(body["prompt"])
    instances = body.get("instances")
    if isinstance(instances, list) and instances and isinstance(instances[0], dict):
        return str(instances[0].get("prompt") or "")
    return ""


OPENAI = Protocol("openai", openai_routes.error_body, openai_routes.check_auth, _prompt, openai_routes.stream_error)
GEMINI = Protocol("gemini", gemini_routes.error_body, gemini_routes.check_auth, _prompt, gemini_routes.stream_error)


def _count(ctx: Ctx, asked: Any) -> int:
    wanted = ctx.scenario.images_returned
    return wanted if wanted is not None else (asked if isinstance(asked, int) and asked > 0 else 1)


def _openai_answer(ctx: Ctx, body: dict[str, Any]) -> web.StreamResponse:
    as_url = ctx.scenario.image_answer == "url" or (
        ctx.scenario.image_answer is None and body.get("response_format") == "url")
    data = []
    for index in range(_count(ctx, body.get("n"))):
        if as_url:
            data.append({"url": f"https://images.example.com/fake/{index}.png", "revised_prompt": body.get("prompt")})
        else:
            data.append({"b64_json": base64.b64encode(tiny_png(index)).decode()})
    answer: dict[str, Any] = {"created": int(time.time()), "data": data}
    if ctx.scenario.image_usage is not None:
        answer["usage"] = ctx.scenario.image_usage
    if ctx.record is not None:
        ctx.record.status = 200
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


async def generations(ctx: Ctx) -> web.StreamResponse:
    body = ctx.body
    if not isinstance(body, dict) or not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return ctx.error(400, "Missing required parameter: 'prompt'.")
    return _openai_answer(ctx, body)


def parse_multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    """Form values as strings, files as ``{"filename", "content_type", "size"}`` (lists for repeats)."""
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    for part in message.get_payload() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        value: Any = ({"filename": filename, "content_type": part.get_content_type(), "size": len(payload)}
                      if filename is not None else payload.decode())
        if name in fields:
            fields[name] = [*(fields[name] if isinstance(fields[name], list) else [fields[name]]), value]
        else:
            fields[name] = value
    return fields


async def edits(ctx: Ctx) -> web.StreamResponse:
    fields = parse_multipart(ctx.request.headers.get("Content-Type", ""), ctx.body if isinstance(ctx.body, bytes)
                             else b"")
    if ctx.record is not None:
        ctx.record.body = fields
    if "image" not in fields and "image[]" not in fields:
        return ctx.error(400, "Missing required parameter: 'image'.")
    if "n" in fields:
        fields["n"] = int(fields["n"])
    return _openai_answer(ctx, fields)


async def predict(ctx: Ctx) -> web.StreamResponse:
    body = ctx.body
    if not isinstance(body, dict) or not _prompt(body):
        return ctx.error(400, "instances[0].prompt is required")
    parameters = body.get("parameters") or {}
    predictions = [{"bytesBase64Encoded": base64.b64encode(tiny_png(i)).decode(), "mimeType": "image/png"}
                   for i in range(_count(ctx, parameters.get("sampleCount")))]
    if ctx.record is not None:
        ctx.record.status = 200
    return web.Response(body=orjson.dumps({"predictions": predictions}), content_type="application/json")


def add_routes(app: web.Application, state: State) -> None:
    """Before the Gemini routes: ``{model}:predict`` is matched ahead of ``{target}``."""
    app.router.add_post("/v1/images/generations", provider_route(state, OPENAI, generations))
    app.router.add_post("/v1/images/edits", provider_route(state, OPENAI, edits, raw_body=True))
    app.router.add_post("/v1beta/models/{model}:predict", provider_route(state, GEMINI, predict))
