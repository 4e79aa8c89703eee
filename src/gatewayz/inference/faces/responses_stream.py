"""A relayed chat stream -> the Responses API's SSE events, in the order OpenAI sends them.

    response.created, response.in_progress
    per output item: response.output_item.added
        message:   content_part.added, output_text.delta… (or refusal.delta…), output_text.done
                   (refusal.done), content_part.done          (one part per run of text/refusal)
        reasoning: content_part.added (reasoning_text), reasoning_text.delta…, reasoning_text.done,
                   content_part.done
        function call: function_call_arguments.delta…, function_call_arguments.done
    response.output_item.done
    response.completed | response.incomplete            (or, when cut: error, response.failed)

Chat chunks may interleave reasoning, text and tool calls (`tool_calls[].index`); each run of one
kind is its own output item, in order of first appearance, and an item is closed when the next
kind (or the next tool call) starts, or at the end. A function call item is only announced once
its name is known (arguments that came earlier are sent as its first delta). Should a provider
go back to a call that was already closed, its late arguments still reach the final Response
(what `response.completed` and `result()` carry), not the closed item's events.
"""

from __future__ import annotations

from typing import Any

import orjson

from gatewayz.inference.faces.base import FaceContext, sse_event
from gatewayz.inference.faces.responses_answer import (
    ERROR_CODES,
    INCOMPLETE_REASONS,
    delta_logprobs,
    echo,
    full_logprobs,
    function_call_item,
    new_id,
    output_text,
    response_object,
    unique_call_id,
    usage_from_chat,
)

JSON = dict[str, Any]

# part kind -> (delta event, done event, the done event's text field)
_PART_EVENTS = {
    "output_text": ("response.output_text.delta", "response.output_text.done", "text"),
    "refusal": ("response.refusal.delta", "response.refusal.done", "refusal"),
    "reasoning_text": ("response.reasoning_text.delta", "response.reasoning_text.done", "text"),
}


class _Open:
    """The open reasoning or message item and its open content part."""

    __slots__ = ("index", "item", "logprobs", "part", "pieces")

    def __init__(self, item: JSON, index: int) -> None:
        self.item = item
        self.index = index
        self.part: str | None = None  # output_text / refusal / reasoning_text
        self.pieces: list[str] = []
        self.logprobs: list[JSON] = []


class _Call:
    __slots__ = ("arguments", "closed", "index", "item", "name", "wanted_id")

    def __init__(self, wanted_id: Any) -> None:
        self.wanted_id = wanted_id
        self.name = ""
        self.arguments: list[str] = []
        self.item: JSON | None = None  # set once announced
        self.index = -1
        self.closed = False


class ResponsesStream:
    """StreamRenderer for POST /v1/responses with `stream: true` (see `base.StreamRenderer`)."""

    def __init__(self, ctx: FaceContext) -> None:
        self._ctx = ctx
        self._echo = echo(ctx)
        self._seq = 0
        self._output: list[JSON] = []
        self._open: _Open | None = None
        self._calls: dict[Any, _Call] = {}
        self._live_calls: list[_Call] = []  # announced or pending, not yet closed
        self._call_ids: set[str] = set()
        self._last_call: Any = None
        self._finish: str | None = None
        self._tier: Any = None
        self._final: JSON | None = None

    # --- the StreamRenderer protocol -------------------------------------------------------------

    def start(self) -> list[bytes]:
        shell = response_object(self._ctx, self._echo, "in_progress", [], None)
        return [
            self._event("response.created", {"type": "response.created", "response": shell}),
            self._event("response.in_progress", {"type": "response.in_progress", "response": shell}),
        ]

    def chunk(self, chunk: JSON) -> list[bytes]:
        if self._final is not None:
            return []
        if self._tier is None and chunk.get("service_tier") is not None:
            self._tier = chunk["service_tier"]
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return []
        choice = choices[0]
        delta = choice.get("delta")
        out: list[bytes] = []
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                self._text("reasoning", "reasoning_text", reasoning, None, out)
            content = delta.get("content")
            if isinstance(content, str) and content:
                logprobs = choice.get("logprobs")
                entries = logprobs.get("content") if isinstance(logprobs, dict) else None
                self._text("message", "output_text", content, full_logprobs(entries) if entries else None, out)
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                self._text("message", "refusal", refusal, None, out)
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    if isinstance(call, dict):
                        self._tool_call(call, out)
        finish = choice.get("finish_reason")
        if isinstance(finish, str):
            self._finish = finish
        return out

    def end(self, usage: JSON | None) -> list[bytes]:
        if self._final is not None:
            return []
        reason = INCOMPLETE_REASONS.get(self._finish)  # type: ignore[arg-type]
        out: list[bytes] = []
        if not self._output and self._open is None and not self._live_calls:
            self._text("message", "output_text", "", None, out)  # never an empty output
        self._close_open(out, "incomplete" if reason else "completed")
        self._close_calls(out)
        status = "incomplete" if reason else "completed"
        self._final = response_object(
            self._ctx,
            self._echo,
            status,
            self._output,
            usage_from_chat(usage) if isinstance(usage, dict) else None,
            reason=reason,
            tier=self._tier,
        )
        name = "response." + status
        out.append(self._event(name, {"type": name, "response": self._final}))
        return out

    def fail(self, message: str, type: str, code: str) -> list[bytes]:
        if self._final is not None:
            return []
        out = [self._event("error", {"type": "error", "code": code, "message": message, "param": None})]
        self._settle_unfinished()
        error = {"code": code if code in ERROR_CODES else "server_error", "message": message, "type": type}
        self._final = response_object(self._ctx, self._echo, "failed", self._output, None, error=error, tier=self._tier)
        out.append(self._event("response.failed", {"type": "response.failed", "response": self._final}))
        return out

    def result(self) -> JSON:
        if self._final is not None:
            return self._final
        return response_object(self._ctx, self._echo, "in_progress", self._output, None, tier=self._tier)

    # --- internals ------------------------------------------------------------------------------

    def _event(self, name: str, payload: JSON) -> bytes:
        payload["sequence_number"] = self._seq
        self._seq += 1
        return sse_event(name, orjson.dumps(payload))

    def _add_item(self, item: JSON, out: list[bytes]) -> int:
        index = len(self._output)
        self._output.append(item)
        out.append(
            self._event(
                "response.output_item.added",
                {"type": "response.output_item.added", "output_index": index, "item": item},
            )
        )
        return index

    def _done_item(self, item: JSON, index: int, out: list[bytes]) -> None:
        out.append(
            self._event(
                "response.output_item.done", {"type": "response.output_item.done", "output_index": index, "item": item}
            )
        )

    def _text(self, kind: str, part: str, text: str, logprobs: list[JSON] | None, out: list[bytes]) -> None:
        """Text of one kind: continue the open item, or close what is open and start a new one."""
        current = self._open
        if current is None or current.item["type"] != kind:
            self._close_open(out, "completed")
            self._close_calls(out)
            if kind == "message":
                item = {
                    "id": new_id("msg_"),
                    "type": "message",
                    "status": "in_progress",
                    "role": "assistant",
                    "content": [],
                }
            else:
                item = {"id": new_id("rs_"), "type": "reasoning", "summary": [], "content": []}
            current = self._open = _Open(item, 0)
            current.index = self._add_item(item, out)
        if current.part != part:
            self._close_part(current, out)
            current.part = part
            empty = _part(part, "", [])
            out.append(self._part_event("response.content_part.added", current, empty))
        if text:
            current.pieces.append(text)
            payload = {
                "type": _PART_EVENTS[part][0],
                "item_id": current.item["id"],
                "output_index": current.index,
                "content_index": len(current.item["content"]),
                "delta": text,
            }
            if part == "output_text":
                payload["logprobs"] = delta_logprobs(logprobs) if logprobs else []
                if logprobs:
                    current.logprobs.extend(logprobs)
            out.append(self._event(payload["type"], payload))

    def _part_event(self, name: str, current: _Open, part: JSON) -> bytes:
        payload = {
            "type": name,
            "item_id": current.item["id"],
            "output_index": current.index,
            "content_index": len(current.item["content"]),
            "part": part,
        }
        return self._event(name, payload)

    def _close_part(self, current: _Open, out: list[bytes]) -> None:
        kind = current.part
        if kind is None:
            return
        text = "".join(current.pieces)
        done, field = _PART_EVENTS[kind][1], _PART_EVENTS[kind][2]
        payload: JSON = {
            "type": done,
            "item_id": current.item["id"],
            "output_index": current.index,
            "content_index": len(current.item["content"]),
            field: text,
        }
        if kind == "output_text":
            payload["logprobs"] = delta_logprobs(current.logprobs)
        out.append(self._event(done, payload))
        final = _part(kind, text, current.logprobs)
        out.append(self._part_event("response.content_part.done", current, final))
        current.item["content"].append(final)
        current.part, current.pieces, current.logprobs = None, [], []

    def _close_open(self, out: list[bytes], status: str) -> None:
        current = self._open
        if current is None:
            return
        self._close_part(current, out)
        if current.item["type"] == "message":
            current.item["status"] = status
        self._done_item(current.item, current.index, out)
        self._open = None

    def _tool_call(self, delta: JSON, out: list[bytes]) -> None:
        key = delta.get("index")
        if not isinstance(key, int) or isinstance(key, bool):
            key = self._last_call if delta.get("id") is None and self._last_call is not None else len(self._calls)
        function = delta.get("function")
        function = function if isinstance(function, dict) else {}
        call = self._calls.get(key)
        given_id = delta.get("id")
        if call is not None and isinstance(given_id, str) and given_id and isinstance(call.wanted_id, str):
            if call.wanted_id and given_id != call.wanted_id:
                call = None  # a provider that numbers every call 0: a new id is a new call
        if call is None:
            self._close_open(out, "completed")
            self._close_calls(out)
            call = self._calls[key] = _Call(given_id)
            self._live_calls.append(call)
        self._last_call = key
        if call.wanted_id is None and given_id is not None:
            call.wanted_id = given_id
        name = function.get("name")
        if not call.name and isinstance(name, str):
            call.name = name
        arguments = function.get("arguments")
        piece = arguments if isinstance(arguments, str) else ""
        if call.closed:
            if piece and call.item is not None:
                call.item["arguments"] += piece  # late: only the final Response gets it
            return
        if piece:
            call.arguments.append(piece)
        if call.item is None:
            if call.name:
                self._announce(call, out)
                if call.arguments:
                    self._arguments_delta(call, "".join(call.arguments), out)
        elif piece:
            self._arguments_delta(call, piece, out)

    def _announce(self, call: _Call, out: list[bytes]) -> None:
        call_id = unique_call_id(call.wanted_id, self._call_ids)
        call.item = function_call_item(new_id("fc_"), call_id, call.name, "", "in_progress")
        call.index = self._add_item(call.item, out)

    def _arguments_delta(self, call: _Call, piece: str, out: list[bytes]) -> None:
        assert call.item is not None
        name = "response.function_call_arguments.delta"
        payload = {"type": name, "item_id": call.item["id"], "output_index": call.index, "delta": piece}
        out.append(self._event(name, payload))

    def _close_calls(self, out: list[bytes]) -> None:
        for call in self._live_calls:
            if call.item is None:  # never named: announce it now rather than lose it
                self._announce(call, out)
                if call.arguments:
                    self._arguments_delta(call, "".join(call.arguments), out)
            item = call.item
            assert item is not None
            item["arguments"] = "".join(call.arguments)
            item["status"] = "completed"
            name = "response.function_call_arguments.done"
            payload = {"type": name, "item_id": item["id"], "output_index": call.index, "arguments": item["arguments"]}
            out.append(self._event(name, payload))
            self._done_item(item, call.index, out)
            call.closed = True
        self._live_calls.clear()

    def _settle_unfinished(self) -> None:
        """On failure: what was relayed stays in the failed Response, marked incomplete."""
        current = self._open
        if current is not None:
            if current.part is not None:
                current.item["content"].append(_part(current.part, "".join(current.pieces), current.logprobs))
            if current.item["type"] == "message":
                current.item["status"] = "incomplete"
            self._open = None
        for call in self._live_calls:
            if call.item is not None:
                call.item["arguments"] = "".join(call.arguments)
                call.item["status"] = "incomplete"
        self._live_calls.clear()


def _part(kind: str, text: str, logprobs: list[JSON]) -> JSON:
    if kind == "output_text":
        return output_text(text, [], logprobs)
    if kind == "refusal":
        return {"type": "refusal", "refusal": text}
    return {"type": "reasoning_text", "text": text}
