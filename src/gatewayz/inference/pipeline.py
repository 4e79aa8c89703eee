"""The per-request record and the stages around the provider call.

authenticate -> authorize -> [stages.admit: rate limits, credit hold] -> route -> relay ->
[stages.finish: settle credits, record usage, correct token limits] -> respond.

A stage is a small object with `admit` (may refuse the request with a GatewayError) and `finish`
(runs exactly once for every admitted request: success, failure, or client disconnect; must not
raise). Stages add response headers through `call.headers`, and keep their own per-request state
in `call.state`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from gatewayz.accounts.principal import Principal
from gatewayz.errors import GatewayError
from gatewayz.inference.estimate import PromptEstimate, estimate_prompt
from gatewayz.inference.usage import clean_usage
from gatewayz.providers.router import Route

log = structlog.get_logger("gatewayz.inference.pipeline")
JSON = dict[str, Any]


@dataclass(slots=True)
class InferenceCall:
    request_id: str
    principal: Principal
    endpoint: str  # "chat" | "embeddings": the kind of work (limits and billing key on it)
    model: str  # as requested
    body: JSON  # in the internal (Chat Completions) model, whatever face the request came in on
    stream: bool
    idempotency_key: str | None = None
    started: float = field(default_factory=time.monotonic)
    routes: list[Route] = field(default_factory=list)  # candidates, resolved before the stages run
    route: Route | None = None  # the one that answered
    usage: JSON | None = None  # OpenAI-shaped usage from the provider (normalised, or None, at finish)
    client_request_id: str | None = None  # the caller's correlation id, stored on the usage record
    status: int = 0  # 200, the error status, or 499 (client went away)
    error_code: str | None = None
    generated_chars: int = 0  # text relayed to the client (estimates usage when none came back)
    first_byte_at: float | None = None
    finished_at: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    face: str = "chat"  # the wire the client spoke: "chat" | "responses" | "messages" (embeddings: "chat")
    face_ctx: Any = None  # the face's FaceContext (ids and the request as sent), for its renderers

    @property
    def provider(self) -> str | None:
        return self.route.provider if self.route else ("sandbox" if self.principal.is_sandbox else None)

    @property
    def upstream_model(self) -> str:
        return self.route.upstream_model if self.route else self.model

    def prompt_estimate(self) -> PromptEstimate:
        """The prompt's token estimate, computed once per body (rate limits and the credit hold
        both need it; the history stage may replace the body before either runs)."""
        cached = self.state.get("prompt_estimate")
        if cached is not None and cached[0] is self.body:
            return cached[1]  # type: ignore[no-any-return]
        estimate = estimate_prompt(self.endpoint, self.body)
        self.state["prompt_estimate"] = (self.body, estimate)
        return estimate


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    content_type: str
    headers: dict[str, str]
    body: bytes


class AnswerFromStore(Exception):
    """Raised by a stage's admit to answer the request with a stored response (idempotent replay)."""

    def __init__(self, response: StoredResponse) -> None:
        super().__init__("answer from store")
        self.response = response


class Stage(Protocol):
    async def admit(self, call: InferenceCall) -> None: ...

    async def finish(self, call: InferenceCall) -> None: ...


class Stages:
    """Runs the stages in order on admission and in reverse order on finish."""

    def __init__(self, stages: list[Stage] | None = None) -> None:
        self.stages: list[Stage] = list(stages or [])
        self._background: set[asyncio.Task[None]] = set()

    async def admit(self, call: InferenceCall) -> None:
        admitted: list[Stage] = []
        try:
            for stage in self.stages:
                await stage.admit(call)
                admitted.append(stage)
        except GatewayError as exc:
            call.status, call.error_code = exc.status, exc.code
            await self._finish(call, admitted)
            exc.headers = {**call.headers, **exc.headers}
            raise
        except AnswerFromStore:
            call.status = 200  # answered without a provider call: the stages before it finish now
            await self._finish(call, admitted)
            raise
        except BaseException:
            call.status = 500
            await self._finish(call, admitted)
            raise
        call.state["admitted"] = admitted

    async def finish(self, call: InferenceCall) -> None:
        """Finish every admitted stage; shielded, so a cancelled request still settles."""
        if call.state.get("finished"):
            return
        call.state["finished"] = True
        if call.finished_at is None:
            call.finished_at = time.monotonic()
        task = asyncio.ensure_future(self._finish(call, call.state.get("admitted", [])))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        await asyncio.shield(task)

    async def _finish(self, call: InferenceCall, admitted: list[Stage]) -> None:
        # The provider's usage is believed only when it is sane: billing and limits then fall
        # back to the gateway's own estimate instead of failing (which would serve for free).
        call.usage = clean_usage(call.usage)
        for stage in reversed(admitted):
            try:
                await stage.finish(call)
            except Exception:
                log.exception("stage_finish_failed", stage=type(stage).__name__, request_id=call.request_id)

    async def record_response(self, call: InferenceCall, response: StoredResponse) -> None:
        """Hand the final response to stages that keep it (the idempotency stage)."""
        for stage in call.state.get("admitted", []):
            record = getattr(stage, "record_response", None)
            if record is not None:
                try:
                    await record(call, response)
                except Exception:
                    log.exception("record_response_failed", request_id=call.request_id)

    async def drain(self) -> None:
        """At shutdown: let in-flight finishes complete."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
