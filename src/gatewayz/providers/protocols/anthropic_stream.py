"""Anthropic Messages SSE events → OpenAI ``chat.completion.chunk`` objects.

Anthropic streams typed events (``message_start``, ``content_block_*``, ``message_delta``,
``message_stop``) and numbers content blocks across text and tool use; OpenAI streams flat
deltas and numbers tool calls on their own. The translator is a small state machine holding
that index mapping plus the running usage, one instance per upstream response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._common import JSONDict, chunk_choice, chunk_object, new_id, now, usage_chunk
from .anthropic_response import finish_reason_from_anthropic, usage_from_anthropic
from .errors import UpstreamStreamError

_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class AnthropicStreamTranslator:
    """Feed it parsed SSE events in order; it returns the OpenAI chunks to forward."""

    def __init__(self, *, model: str, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.id = new_id("chatcmpl-")
        self.created = now()
        self._role_sent = False
        self._usage_sent = False
        self._tool_index_by_block: dict[int, int] = {}
        self._raw_usage: dict[str, int] = {}
        self._handlers: dict[str, Callable[[JSONDict], list[JSONDict]]] = {
            "message_start": self._on_message_start,
            "content_block_start": self._on_block_start,
            "content_block_delta": self._on_block_delta,
            "message_delta": self._on_message_delta,
            "message_stop": self._on_message_stop,
            "error": self._on_error,
        }

    @property
    def usage(self) -> JSONDict | None:
        """OpenAI-shaped usage seen so far (None before ``message_start``), for billing."""
        return usage_from_anthropic(self._raw_usage) if self._raw_usage else None

    def feed(self, event: str | None, data: JSONDict) -> list[JSONDict]:
        """Translate one SSE event; the name falls back to ``data["type"]`` when absent.

        ``ping``, ``content_block_stop`` and event types added after this was written yield
        nothing, as Anthropic's versioning policy asks clients to tolerate new events.
        """
        kind = event or (data.get("type") if isinstance(data, dict) else None)
        handler = self._handlers.get(kind or "")
        if handler is None or not isinstance(data, dict):
            return []
        return handler(data)

    # -- event handlers -------------------------------------------------------------------

    def _on_message_start(self, data: JSONDict) -> list[JSONDict]:
        message = data.get("message") if isinstance(data.get("message"), dict) else {}
        if isinstance(message.get("id"), str) and message["id"]:
            self.id = message["id"]
        self._merge_usage(message.get("usage"))
        return [self._chunk({"content": ""})]

    def _on_block_start(self, data: JSONDict) -> list[JSONDict]:
        block = data.get("content_block") if isinstance(data.get("content_block"), dict) else {}
        kind = block.get("type")
        if kind == "tool_use":
            return [self._start_tool_call(data.get("index"), block)]
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": str(block["text"])})]
        if kind == "thinking" and block.get("thinking"):
            return [self._chunk({"reasoning_content": str(block["thinking"])})]
        return []

    def _on_block_delta(self, data: JSONDict) -> list[JSONDict]:
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": str(delta["text"])})]
        if kind == "input_json_delta" and delta.get("partial_json"):
            tool_index = self._tool_index_by_block.get(_as_int(data.get("index")))
            if tool_index is None:
                return []
            call = {"index": tool_index, "function": {"arguments": str(delta["partial_json"])}}
            return [self._chunk({"tool_calls": [call]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [self._chunk({"reasoning_content": str(delta["thinking"])})]
        return []

    def _on_message_delta(self, data: JSONDict) -> list[JSONDict]:
        self._merge_usage(data.get("usage"))
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        finish_reason = finish_reason_from_anthropic(delta.get("stop_reason"))
        return [self._chunk({}, finish_reason)] if finish_reason else []

    def _on_message_stop(self, data: JSONDict) -> list[JSONDict]:
        usage = self.usage
        if not self.include_usage or self._usage_sent or usage is None:
            return []
        self._usage_sent = True
        return [usage_chunk(id=self.id, model=self.model, created=self.created, usage=usage)]

    def _on_error(self, data: JSONDict) -> list[JSONDict]:
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        message = error.get("message") if isinstance(error.get("message"), str) else None
        error_type = error.get("type") if isinstance(error.get("type"), str) else None
        raise UpstreamStreamError(message or "Anthropic stream error", error_type or "api_error")

    # -- helpers ---------------------------------------------------------------------------

    def _start_tool_call(self, block_index: Any, block: JSONDict) -> JSONDict:
        """Open a tool call, numbering it among tool calls only (OpenAI's ``index`` semantics)."""
        tool_index = len(self._tool_index_by_block)
        self._tool_index_by_block[_as_int(block_index)] = tool_index
        call = {
            "index": tool_index,
            "id": str(block.get("id") or new_id("call_")),
            "type": "function",
            "function": {"name": str(block.get("name") or ""), "arguments": ""},
        }
        return self._chunk({"tool_calls": [call]})

    def _chunk(self, delta: JSONDict, finish_reason: str | None = None) -> JSONDict:
        """Wrap a delta; the first chunk of the stream always announces the assistant role."""
        if not self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        return chunk_object(
            id=self.id,
            model=self.model,
            created=self.created,
            choices=[chunk_choice(0, delta, finish_reason)],
            include_usage=self.include_usage,
        )

    def _merge_usage(self, usage: Any) -> None:
        """Anthropic usage counters are cumulative: later values replace earlier ones."""
        if not isinstance(usage, dict):
            return
        for key in _USAGE_KEYS:
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                self._raw_usage[key] = value


def _as_int(value: Any) -> int:
    """Block indexes are ints on the wire; anything else maps to a slot no tool call uses."""
    return value if isinstance(value, int) else -1
