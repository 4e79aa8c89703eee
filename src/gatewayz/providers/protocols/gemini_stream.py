"""Gemini ``streamGenerateContent?alt=sse`` events → OpenAI ``chat.completion.chunk`` objects.

Every SSE ``data:`` payload is a partial ``GenerateContentResponse`` carrying only the new text
(not the text so far), whole ``functionCall`` parts, and on its last candidate chunk a
``finishReason``. There is no end-of-stream event, so the caller invokes :meth:`finish` when
the HTTP body ends to obtain the trailing usage chunk.
"""

from __future__ import annotations

from typing import Any

from ._common import JSONDict, chunk_choice, chunk_object, new_id, now, usage_chunk
from .errors import UpstreamStreamError
from .gemini_response import candidate_parts, finish_reason_from_gemini, tool_call_from_part, usage_from_gemini


class GeminiStreamTranslator:
    """Feed it each parsed SSE payload in order; it returns the OpenAI chunks to forward."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.id = new_id("chatcmpl-")
        self.created = now()
        self._emitted = False
        self._usage_sent = False
        self._raw_usage: JSONDict | None = None
        self._role_sent: set[int] = set()
        self._tool_counts: dict[int, int] = {}

    @property
    def usage(self) -> JSONDict | None:
        """OpenAI-shaped usage from the latest ``usageMetadata`` seen, for billing."""
        return usage_from_gemini(self._raw_usage)

    def feed(self, data: JSONDict) -> list[JSONDict]:
        """Translate one SSE payload. Raises UpstreamStreamError for an in-stream error object."""
        if not isinstance(data, dict):
            return []
        if "error" in data:
            raise _stream_error(data["error"])
        self._adopt_id(data.get("responseId"))
        if isinstance(data.get("usageMetadata"), dict):
            # Counts are cumulative; the final payload carries the complete totals.
            self._raw_usage = data["usageMetadata"]
        candidates = [c for c in data.get("candidates") or [] if isinstance(c, dict)]
        chunks = [chunk for i, c in enumerate(candidates) for chunk in self._candidate_chunks(i, c)]
        feedback = data.get("promptFeedback")
        if not candidates and isinstance(feedback, dict) and feedback.get("blockReason"):
            chunks.append(self._chunk(0, {}, "content_filter"))
        return chunks

    def finish(self) -> list[JSONDict]:
        """Call once the upstream body ended: the usage-only chunk when the client asked for it."""
        usage = self.usage
        if not self.include_usage or self._usage_sent or usage is None:
            return []
        self._usage_sent = True
        return [usage_chunk(id=self.id, model=self.model, created=self.created, usage=usage)]

    def _adopt_id(self, response_id: Any) -> None:
        """Use Gemini's ``responseId`` as the stream id, unless chunks already went out."""
        if not self._emitted and isinstance(response_id, str) and response_id:
            self.id = response_id

    def _candidate_chunks(self, position: int, candidate: JSONDict) -> list[JSONDict]:
        """Chunks for one candidate: one per part (order preserved), then the finish chunk."""
        index = candidate.get("index") if isinstance(candidate.get("index"), int) else position
        chunks: list[JSONDict] = []
        for part in candidate_parts(candidate):
            delta = self._part_delta(index, part)
            if delta:
                chunks.append(self._chunk(index, delta))
        finish_reason = finish_reason_from_gemini(
            candidate.get("finishReason"), has_tool_calls=self._tool_counts.get(index, 0) > 0
        )
        if finish_reason:
            chunks.append(self._chunk(index, {}, finish_reason))
        return chunks

    def _part_delta(self, index: int, part: JSONDict) -> JSONDict | None:
        """One Gemini part → an OpenAI delta (None for parts with nothing to show)."""
        if isinstance(part.get("functionCall"), dict):
            tool_index = self._tool_counts.get(index, 0)
            self._tool_counts[index] = tool_index + 1
            return {"tool_calls": [{"index": tool_index, **tool_call_from_part(part["functionCall"])}]}
        text = part.get("text")
        if not isinstance(text, str) or not text:
            return None
        return {"reasoning_content": text} if part.get("thought") else {"content": text}

    def _chunk(self, index: int, delta: JSONDict, finish_reason: str | None = None) -> JSONDict:
        """Wrap a delta; each choice's first chunk announces the assistant role."""
        if index not in self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent.add(index)
        self._emitted = True
        return chunk_object(
            id=self.id,
            model=self.model,
            created=self.created,
            choices=[chunk_choice(index, delta, finish_reason)],
            include_usage=self.include_usage,
        )


def _stream_error(error: Any) -> UpstreamStreamError:
    """Gemini's ``{"error": {"code", "message", "status"}}`` → UpstreamStreamError."""
    if not isinstance(error, dict):
        return UpstreamStreamError(str(error) or "Gemini stream error", "INTERNAL")
    message = error.get("message") if isinstance(error.get("message"), str) else None
    status = error.get("status") if isinstance(error.get("status"), str) else None
    return UpstreamStreamError(message or "Gemini stream error", status or "INTERNAL")
