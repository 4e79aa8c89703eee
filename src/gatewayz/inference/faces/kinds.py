"""The three faces as data: how each parses, renders and streams, and what passes natively.

A new face is one more `Face` here plus its translator modules; the service runs every face
through the same pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gatewayz.inference import request as parse
from gatewayz.inference.faces import (
    messages_answer,
    messages_request,
    messages_stream,
    responses_answer,
    responses_stream,
)
from gatewayz.inference.faces.base import JSON, FaceContext, StreamRenderer
from gatewayz.inference.faces.chat import ChatStream

# Client headers an Anthropic-protocol upstream gets along with a natively passed Messages body.
ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")


@dataclass(frozen=True, slots=True)
class Face:
    name: str  # "chat" | "responses" | "messages": stored on the call, part of the idempotency hash
    id_prefix: str  # of the answer's id
    render: Callable[[JSON, FaceContext], JSON] | None  # None: the chat completion is the answer
    native_protocol: str | None = None  # upstream protocol that takes this face's body as it is
    native_headers: tuple[str, ...] = ()

    def stream_renderer(
        self, ctx: FaceContext, request_id: str, *, native: bool, assemble: bool = False
    ) -> StreamRenderer:
        """The renderer of one stream; `assemble`: its `result()` must give the whole answer (the
        Responses and Messages renderers always assemble; chat only when asked, it costs)."""
        if self.name == "responses":
            return responses_stream.ResponsesStream(ctx)
        if self.name == "messages":
            return messages_stream.MessagesPassthrough(ctx) if native else messages_stream.MessagesStream(ctx)
        return ChatStream(request_id, ctx.model, parse.include_usage(ctx.request), assemble=assemble)


CHAT = Face("chat", "chatcmpl-", None)
RESPONSES = Face("responses", "resp_", responses_answer.render_response)
MESSAGES = Face("messages", "msg_", messages_answer.render_message, native_protocol="anthropic",
                native_headers=ANTHROPIC_HEADERS)

__all__ = ["CHAT", "MESSAGES", "RESPONSES", "Face", "messages_request"]
