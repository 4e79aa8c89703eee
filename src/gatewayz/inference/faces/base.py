"""What a face is: one public wire format (Chat Completions, Responses, Messages) over the one
internal conversation model.

The internal model is the OpenAI Chat Completions JSON the pipeline already speaks (messages with
content parts, tool calls and tool results; `chat.completion` answers and `chat.completion.chunk`
stream chunks with OpenAI-shaped `usage`). A face is three pure pieces:

- a request translator: the face's request body -> a chat completions body (raises
  `InvalidRequest` naming the face's own parameter for input it cannot take);
- an answer renderer: a finished, normalised `chat.completion` (usage decorated with `cost`)
  -> the face's answer object;
- a stream renderer: the chat chunks of a relayed stream -> the face's SSE bytes.

Billing, limits and idempotency see only the chat body and the chat usage, so they never know
which face a request came in on. Upstream adapters (openai, anthropic, gemini) translate the chat
body onward; a face whose wire IS an upstream's protocol may pass the body through natively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

JSON = dict[str, Any]


@dataclass(slots=True)
class FaceContext:
    """What a renderer knows about the request it answers."""

    response_id: str  # the gateway's id of the answer: "resp_..." / "msg_..." / "chatcmpl-..."
    model: str  # the model as the client named it
    created: int  # unix seconds
    request: JSON  # the face's own request body, as the client sent it (Responses echoes parts of it)
    extra: JSON = field(default_factory=dict)  # face-specific facts (e.g. previous_response_id)


class StreamRenderer(Protocol):
    """Turns a relayed chat stream into one face's SSE events (already encoded bytes).

    Called in this order: `start()` once, `chunk()` for every chat chunk that is not the final
    usage-only chunk, then exactly one of `end()` (the stream completed; billing has finished and
    `usage` is the chat-shaped usage with `cost`, or None when nothing is known) or `fail()` (the
    stream was cut: the face's own error event(s)). `result()` may be called after either and
    returns the assembled answer object (what a stored Response keeps).
    """

    def start(self) -> list[bytes]: ...

    def chunk(self, chunk: JSON) -> list[bytes]: ...

    def end(self, usage: JSON | None) -> list[bytes]: ...

    def fail(self, message: str, type: str, code: str) -> list[bytes]: ...

    def result(self) -> JSON: ...


def sse_event(name: str, data: bytes) -> bytes:
    """One named SSE event (`event:` + `data:`), as Responses and Messages stream them."""
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"
