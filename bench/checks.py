"""What every target must answer before anything is measured (so that no figure measures an error).

The same completion from the upstream and through every proxy; a gateway refuses a request without
a key; a stream ends with its last event; a rate-limited gateway says so in ``x-ratelimit-*``; each
gateway face answers its own shape with the chat answer's text.
"""

from __future__ import annotations

from typing import Any

import orjson

import benchlib as bl
from targets import Target


async def call(t: Target, raw: bytes) -> bl.Reply:
    conn = bl.Conn(t.port)
    try:
        return await conn.send(raw, keep_body=True)
    finally:
        await conn.close()


async def sanity(direct: Target, others: list[Target], stream: bool = False) -> str:
    """Every target answers 200 with the upstream's completion (and, with ``stream``, a stream that
    ends with ``[DONE]``); a gateway refuses a missing key.

    Returns that completion's text (what every face must answer too)."""
    expected = ""
    for t in (direct, *others):
        reply = await call(t, t.raw())
        if reply.status != 200 or b'"choices"' not in reply.body:
            raise RuntimeError(f"{t.name}: HTTP {reply.status}: {reply.body[:300]!r}\n{t.child.log_tail()}")
        text = str(orjson.loads(reply.body)["choices"][0]["message"]["content"])
        if t is direct:
            expected = text
        elif text != expected:
            raise RuntimeError(f"{t.name} answered {text!r}, upstream {expected!r}")
        if stream:
            streamed = await call(t, t.raw(stream=True))
            if streamed.status != 200 or b"[DONE]" not in streamed.body[-200:]:
                raise RuntimeError(f"{t.name}: a stream that does not end with [DONE]: {streamed.body[-300:]!r}")
        if t.kind == "gateway":
            anon = await call(t, t.raw(token=None))
            if anon.status != 401:
                raise RuntimeError(f"{t.name} answered {anon.status} to a request without a key (expected 401)")
    return expected


async def rate_limit_headers(t: Target) -> dict[str, str]:
    """The ``x-ratelimit-*`` headers of one answer; an error if there are none (no limit applied)."""
    reply = await call(t, t.raw())
    found = {k: v for k, v in reply.headers.items() if k.startswith("x-ratelimit-")}
    if reply.status != 200 or not found:
        raise RuntimeError(f"{t.name}: no x-ratelimit-* headers (is the rate limit configured?): {reply.headers}")
    return found


def face_text(face: str, answer: dict[str, Any]) -> str:
    """The answer's text: a Response's output_text parts, a Message's text blocks."""
    if face == "messages":
        blocks = answer.get("content") or []
        return "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    parts = [p for item in answer.get("output") or [] if item.get("type") == "message" for p in item["content"]]
    return "".join(p.get("text", "") for p in parts if p.get("type") == "output_text")


async def sanity_face(t: Target, expected: str, stream: bool) -> None:
    """A face answers its own shape with the chat answer's text; Responses keeps the answer unless
    `store: false`; Messages refuses a missing key in Anthropic's error shape; a stream ends with
    the face's last event."""

    def fail(what: str, reply: bl.Reply) -> RuntimeError:
        hint = " (a tree without this face? --face-requests 0 skips the faces)" if reply.status == 404 else ""
        return RuntimeError(f"{t.name}: {what}: HTTP {reply.status}{hint}: {reply.body[:300]!r}")

    reply = await call(t, t.raw())
    kind = {"messages": "message"}.get(t.face, "response")
    if reply.status != 200:
        raise fail("no answer", reply)
    answer = orjson.loads(reply.body)
    if answer.get("type" if kind == "message" else "object") != kind or face_text(t.face, answer) != expected:
        raise fail(f"not a {kind} answering {expected!r}", reply)
    if t.face.startswith("responses"):
        kept = await call(t, bl.build_request(t.port, f"{t.path}/{answer['id']}", None, t.token))
        if kept.status != (404 if "store:false" in t.face else 200):
            raise fail(f"GET {t.path}/{answer['id']} after the create", kept)
    if t.face == "messages":
        anon = await call(t, t.raw(token=None))
        if anon.status != 401 or orjson.loads(anon.body).get("type") != "error":
            raise fail("a request without a key is not an Anthropic 401", anon)
    if stream:
        streamed = await call(t, t.raw(stream=True))
        last = b"message_stop" if t.face == "messages" else b"response.completed"
        if streamed.status != 200 or last not in streamed.body[-2000:]:
            raise fail(f"a stream that does not end with {last.decode()}", streamed)
