"""Chat chunks -> Anthropic Messages stream events (`stream: true` on POST /v1/messages).

Anthropic streams typed events: `message_start` (the message with empty content), `ping`, then
per content block `content_block_start` / `content_block_delta` / `content_block_stop` with the
block's position in `content` as `index`, then `message_delta` (stop reason and cumulative usage)
and `message_stop`. Chat streams flat deltas, so `MessagesStream` keeps the block state: a new
block opens whenever the kind of delta changes (reasoning -> thinking, content/refusal -> text)
or a new `tool_calls[].index` appears (-> tool_use, its `arguments` streamed as
`input_json_delta`). The one case chat allows and Anthropic does not, a tool call's arguments
continuing after another block opened, is sent as a delta to that tool call's earlier block
(the SDK's accumulator places it correctly).

The input token count is unknown when the stream starts (`message_start` says 0); the final
`message_delta` carries input, cache and output counts, which the SDK's accumulator copies over
the start's, so a client's final message has the full usage (plus the gateway's `cost`).

`MessagesPassthrough` is for an upstream that speaks Anthropic itself: its events go out as they
came, except that `message_delta` and `message_stop` wait for `end()`, where the gateway's `cost`
is added to the usage after billing.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from .base import JSON, FaceContext, sse_event
from .messages_answer import anthropic_usage, new_tool_id, reasoning_text, stop_reason, tool_input
from .messages_errors import error_event

_PING = sse_event("ping", b'{"type":"ping"}')
_STOP = sse_event("message_stop", b'{"type":"message_stop"}')
_DELTA_USAGE = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _event(name: str, payload: JSON) -> bytes:
    return sse_event(name, orjson.dumps(payload))


class MessagesStream:
    """One chat stream rendered as one Anthropic message stream (see the module docstring)."""

    __slots__ = ("_blocks", "_ctx", "_finish", "_open", "_open_kind", "_parts", "_refused", "_stop_reason",
                 "_tools", "_usage")

    def __init__(self, ctx: FaceContext) -> None:
        self._ctx = ctx
        self._blocks: list[JSON] = []  # content blocks as started (text/thinking/input filled in result())
        self._parts: list[list[str]] = []  # per block: its text, thinking or partial JSON, in pieces
        self._open: int | None = None  # index of the block that is open
        self._open_kind = ""  # "text", "thinking" or "tool_use"
        self._tools: dict[Any, int] = {}  # chat tool call index -> block index
        self._finish: Any = None
        self._refused = False
        self._stop_reason: str | None = None
        self._usage: JSON = {
            "input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation": None,
            "output_tokens": 0,
            "service_tier": None,
        }

    def _message(self, content: list[JSON]) -> JSON:
        return {
            "id": self._ctx.response_id,
            "type": "message",
            "role": "assistant",
            "model": self._ctx.model,
            "content": content,
            "stop_reason": self._stop_reason,
            "stop_sequence": None,
            "usage": self._usage,
        }

    def start(self) -> list[bytes]:
        return [_event("message_start", {"type": "message_start", "message": self._message([])}), _PING]

    # -- blocks ----------------------------------------------------------------------------------

    def _close(self, out: list[bytes]) -> None:
        if self._open is not None:
            out.append(_event("content_block_stop", {"type": "content_block_stop", "index": self._open}))
            self._open, self._open_kind = None, ""

    def _begin(self, kind: str, block: JSON, out: list[bytes]) -> int:
        self._close(out)
        index = len(self._blocks)
        self._blocks.append(block)
        self._parts.append([])
        self._open, self._open_kind = index, kind
        out.append(_event("content_block_start", {"type": "content_block_start", "index": index,
                                                  "content_block": block}))
        return index

    def _text(self, kind: str, text: str, out: list[bytes]) -> None:
        """Text or thinking: continue the open block of that kind, else open one."""
        index = self._open
        if index is None or self._open_kind != kind:
            block = {"type": "text", "text": ""} if kind == "text" else {"type": "thinking", "thinking": "",
                                                                          "signature": ""}
            index = self._begin(kind, block, out)
        self._parts[index].append(text)
        delta = {"type": "text_delta", "text": text} if kind == "text" else {"type": "thinking_delta",
                                                                            "thinking": text}
        out.append(_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))

    def _tool_call(self, call: JSON, out: list[bytes]) -> None:
        key = call.get("index")
        if not isinstance(key, int) or isinstance(key, bool):
            # servers that omit the index: an id names a new call, no id continues the last one
            key = ("id", call["id"]) if isinstance(call.get("id"), str) and call["id"] else None
            if key is None and self._tools:
                key = next(reversed(self._tools))
        function = call.get("function")
        if not isinstance(function, dict):
            function = {}
        index = self._tools.get(key)
        if index is None:
            call_id, name = call.get("id"), function.get("name")
            block = {
                "type": "tool_use",
                "id": call_id if isinstance(call_id, str) and call_id else new_tool_id(),
                "name": name if isinstance(name, str) else "",
                "input": {},
            }
            index = self._tools[key] = self._begin("tool_use", block, out)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self._parts[index].append(arguments)
            out.append(_event("content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": arguments},
            }))

    # -- the renderer ----------------------------------------------------------------------------

    def chunk(self, chunk: JSON) -> list[bytes]:
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return []
        out: list[bytes] = []
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # a Messages answer has one choice
            delta = choice.get("delta")
            if isinstance(delta, dict):
                thinking = reasoning_text(delta)
                if thinking:
                    self._text("thinking", thinking, out)
                content = delta.get("content")
                if isinstance(content, str) and content:
                    self._text("text", content, out)
                refusal = delta.get("refusal")
                if isinstance(refusal, str) and refusal:
                    self._refused = True
                    self._text("text", refusal, out)
                calls = delta.get("tool_calls")
                if isinstance(calls, list):
                    for call in calls:
                        if isinstance(call, dict):
                            self._tool_call(call, out)
            finish = choice.get("finish_reason")
            if isinstance(finish, str) and finish:
                self._finish = finish
        return out

    def end(self, usage: JSON | None) -> list[bytes]:
        out: list[bytes] = []
        self._close(out)
        self._stop_reason = stop_reason(self._finish, tool_use=bool(self._tools), refused=self._refused)
        delta_usage: JSON = {"output_tokens": 0}
        if usage is not None:
            counts = anthropic_usage(usage)
            delta_usage["output_tokens"] = counts["output_tokens"]
            for key in _DELTA_USAGE:
                delta_usage[key] = counts[key]
            for key in ("output_tokens_details", "cost"):
                if key in counts:
                    delta_usage[key] = counts[key]
        self._usage.update(delta_usage)
        out.append(_event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": self._stop_reason, "stop_sequence": None},
            "usage": delta_usage,
        }))
        out.append(_STOP)
        return out

    def fail(self, message: str, type: str, code: str) -> list[bytes]:
        return [error_event(None, message, type, code)]

    def result(self) -> JSON:
        """The assembled Message (what the SDK's accumulator builds from these events)."""
        content = []
        for block, parts in zip(self._blocks, self._parts, strict=True):
            kind = block["type"]
            if kind == "text":
                content.append({"type": "text", "text": "".join(parts)})
            elif kind == "thinking":
                content.append({"type": "thinking", "thinking": "".join(parts), "signature": ""})
            else:
                content.append({**block, "input": tool_input("".join(parts))})
        return self._message(content)


def _dump(data: Any) -> bytes:
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (it reads deeper than it writes)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class MessagesPassthrough:
    """Re-emits an Anthropic upstream's own events (`native()`); `message_delta` and `message_stop`
    wait for `end()`, which adds the gateway's `cost` to the usage. An upstream `error` event
    passes through and a later `fail()` then adds no second one."""

    __slots__ = ("_ctx", "_delta", "_errored", "_stop")

    def __init__(self, ctx: FaceContext | None = None) -> None:
        self._ctx = ctx
        self._delta: JSON | None = None
        self._stop: JSON | None = None
        self._errored = False

    def start(self) -> list[bytes]:
        return []

    def chunk(self, chunk: JSON) -> list[bytes]:
        return []

    def native(self, event: str | None, data: JSON) -> list[bytes]:
        name = event or (data.get("type") if isinstance(data, dict) else None)
        if not isinstance(name, str) or not name:
            return []  # an unnamed event without a type: nothing a client could dispatch on
        if name == "message_delta":
            self._delta = data
            return []
        if name == "message_stop":
            self._stop = data
            return []
        if name == "error":
            self._errored = True
        return [sse_event(name, _dump(data))]

    def end(self, usage: JSON | None) -> list[bytes]:
        out = []
        if self._delta is not None:
            counts = self._delta.get("usage")
            if isinstance(usage, dict) and "cost" in usage and isinstance(counts, dict):
                counts["cost"] = usage["cost"]
            out.append(sse_event("message_delta", _dump(self._delta)))
        out.append(sse_event("message_stop", _dump(self._stop)) if self._stop is not None else _STOP)
        return out

    def fail(self, message: str, type: str, code: str) -> list[bytes]:
        if self._errored:
            return []
        self._errored = True
        return [error_event(None, message, type, code)]

    def result(self) -> JSON:
        return {}
