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

    __slots__ = ("_answer", "_complete", "_head", "include_usage")

    def __init__(self, request_id: str, model: str, include_usage: bool, *, assemble: bool = False) -> None:
        self._complete = Chunks(request_id, model).chunk
        self._head: JSON | None = None
        self.include_usage = include_usage
        self._answer = Assembled() if assemble else None

    def start(self) -> list[bytes]:
        return []

    def chunk(self, chunk: JSON) -> list[bytes]:
        complete = self._complete(chunk)
        if self._head is None:
            self._head = {k: complete[k] for k in ("id", "created", "model") if k in complete}
            if "system_fingerprint" in complete:
                self._head["system_fingerprint"] = complete["system_fingerprint"]
        if self._answer is not None:
            self._answer.add(complete)
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
        return self._answer.completion() if self._answer is not None else {}


class Assembled:
    """The first choice of a chat stream put back together: text, reasoning, tool calls by index."""

    __slots__ = ("calls", "finish_reason", "reasoning", "refusal", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, JSON] = {}
        self.finish_reason: str | None = None

    def add(self, chunk: JSON) -> None:
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            for name, parts in (("content", self.text), ("refusal", self.refusal)):
                if isinstance(delta.get(name), str):
                    parts.append(delta[name])
            for name in ("reasoning_content", "reasoning"):
                if isinstance(delta.get(name), str):
                    self.reasoning.append(delta[name])
            for call in delta.get("tool_calls") or ():
                if isinstance(call, dict):
                    self._call(call)
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]

    def _call(self, delta: JSON) -> None:
        index = delta.get("index") if isinstance(delta.get("index"), int) else len(self.calls)
        call = self.calls.setdefault(index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
        if isinstance(delta.get("id"), str) and delta["id"]:
            call["id"] = delta["id"]
        function = delta.get("function") if isinstance(delta.get("function"), dict) else {}
        for name in ("name", "arguments"):
            if isinstance(function.get(name), str):
                call["function"][name] += function[name]

    def completion(self) -> JSON:
        message: JSON = {"role": "assistant", "content": "".join(self.text) or None}
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.calls:
            message["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        return {"object": "chat.completion", "choices": [
            {"index": 0, "message": message, "finish_reason": self.finish_reason or "stop"}]}
