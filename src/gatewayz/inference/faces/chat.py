"""The Chat Completions face: the internal model itself, so its renderers only complete and encode."""

from __future__ import annotations

from typing import Any

from gatewayz.inference.faces.base import JSON
from gatewayz.inference.normalise import Chunks
from gatewayz.inference.sse import DONE, encode


def error_event(message: str, type_: str, code: str) -> bytes:
    """A mid-stream failure as OpenAI sends it: the SDKs raise it as an APIError."""
    return encode({"error": {"message": message, "type": type_, "param": None, "code": code}})


class ChatStream:
    """`chat.completion.chunk` events; the usage chunk (when the client asked for it) carries the
    cost and comes last, then `[DONE]`."""

    __slots__ = ("_complete", "_head", "include_usage")

    def __init__(self, request_id: str, model: str, include_usage: bool) -> None:
        self._complete = Chunks(request_id, model).chunk
        self._head: JSON | None = None
        self.include_usage = include_usage

    def start(self) -> list[bytes]:
        return []

    def chunk(self, chunk: JSON) -> list[bytes]:
        complete = self._complete(chunk)
        if self._head is None:
            self._head = {k: complete[k] for k in ("id", "created", "model") if k in complete}
            if "system_fingerprint" in complete:
                self._head["system_fingerprint"] = complete["system_fingerprint"]
        return [encode(complete)]

    def end(self, usage: JSON | None) -> list[bytes]:
        if usage is None or not self.include_usage:
            return [DONE]
        tail: dict[str, Any] = {**(self._head or {}), "object": "chat.completion.chunk", "choices": [],
                                "usage": usage}
        return [encode(self._complete(tail)), DONE]

    def fail(self, message: str, type: str, code: str) -> list[bytes]:
        return [error_event(message, type, code)]

    def result(self) -> JSON:
        return {}
