"""The request pipeline: authenticate -> authorize -> stages.admit -> route -> relay -> stages.finish.

Each stage is a plain function call on the hot path; only provider and storage I/O awaits.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response

from gatewayz.accounts.auth import Authenticator
from gatewayz.accounts.principal import Principal
from gatewayz.errors import GatewayError, InvalidRequest
from gatewayz.history.stage import HistoryStage
from gatewayz.history.summary import SANDBOX_MODEL as SANDBOX_SUMMARY_MODEL
from gatewayz.history.summary import summary_body, summary_text
from gatewayz.history.turns import answer_items
from gatewayz.inference import normalise
from gatewayz.inference import request as parse
from gatewayz.inference.asgi import ClientDisconnected, EventStreamResponse, until_disconnect
from gatewayz.inference.dispatch import Dispatcher, NativeRequest
from gatewayz.inference.faces.base import FaceContext, StreamRenderer
from gatewayz.inference.faces.kinds import CHAT, MESSAGES, RESPONSES, Face
from gatewayz.inference.failures import NoRoute, final_error
from gatewayz.inference.messages_extras import anthropic_model, anthropic_model_list, count_tokens
from gatewayz.inference.pipeline import AnswerFromStore, InferenceCall, Stages, StoredResponse
from gatewayz.inference.prepare import prepare_chat, prepare_embeddings, prepare_messages
from gatewayz.inference.relay import CLIENT_CLOSED, AtEnd, FaceStream, relay
from gatewayz.inference.responses_state import ResponsesState
from gatewayz.inference.sandbox import check_sandbox_model, sandbox_chat, sandbox_embeddings, sandbox_model_list
from gatewayz.middleware import new_request_id
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.parameters import wanted_parameters
from gatewayz.providers.router import Router

log = structlog.get_logger("gatewayz.inference")
JSON = dict[str, Any]
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
UsageDecorator = Callable[[InferenceCall, JSON], None]
Prepare = Callable[[Principal, JSON], Awaitable[tuple[JSON, str, JSON]]]  # -> chat body, model, context facts
Work = Callable[[InferenceCall], Awaitable[Any]]  # -> (route that answered, answer)
Plan = Callable[[InferenceCall], None]


def route_headers(call: InferenceCall) -> dict[str, str]:
    return {"x-gatewayz-provider": call.provider or "", "x-gatewayz-model": call.upstream_model}


def json_response(payload: Any, headers: dict[str, str]) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json", headers=headers)


def no_decoration(call: InferenceCall, usage: JSON) -> None:
    return None


def replay(stored: StoredResponse) -> Response:
    headers = {**stored.headers, "idempotent-replayed": "true"}
    return Response(stored.body, status_code=stored.status_code, media_type=stored.content_type, headers=headers)


class InferenceService:
    def __init__(
        self,
        auth: Authenticator,
        router: Router,
        dispatcher: Dispatcher,
        catalog: Catalog,
        stages: Stages | None = None,
        decorate_usage: UsageDecorator = no_decoration,
        responses: ResponsesState | None = None,
        history: HistoryStage | None = None,
    ) -> None:
        self.auth = auth
        self.router = router
        self.dispatcher = dispatcher
        self.catalog = catalog
        self.stages = stages or Stages()
        self.decorate_usage = decorate_usage
        self.responses = responses
        self.history = history
        if history is not None:
            history.summarizer = self.summarize

    async def _begin(
        self, request: Request, endpoint: str, face: Face, prepare: Prepare, *, principal: Principal | None = None,
        raw: JSON | None = None, plan: Plan | None = None,
    ) -> InferenceCall:
        """`principal` and `raw` when the caller authenticated and read the body already; `plan`
        checks the request against its routes (or the sandbox) before admission."""
        if principal is None:
            principal = await self.auth.authenticate(request, "inference")
        if raw is None:
            raw = await parse.read_json_object(request)
        body, model, ctx_extra = await prepare(principal, raw)
        if "history" in (state := ctx_extra.pop("state", None) or {}) and self.history is None:
            raise InvalidRequest("Conversation history is not enabled on this gateway.", param="session_id",
                                 code="unsupported_parameter")
        self.auth.authorize_model(request, principal, model)
        for fallback in body.get("models") or []:
            if isinstance(fallback, str):
                self.auth.authorize_model(request, principal, fallback)
        if "history" in state:
            self.auth.authorize_feature(request, principal, "history")
        if endpoint == "images":
            self.auth.authorize_feature(request, principal, "images")
        request_id = request.scope.get("gatewayz.request_id") or new_request_id()
        call = InferenceCall(
            request_id=request_id,
            client_request_id=request.scope.get("gatewayz.client_request_id"),
            principal=principal,
            endpoint=endpoint,
            model=model,
            body=body,
            stream=endpoint == "chat" and body.get("stream") is True,
            idempotency_key=request.headers.get("idempotency-key"),
            face=face.name,
        )
        if state:
            call.state.update(state)
        call.face_ctx = FaceContext(face.id_prefix + request_id.removeprefix("req_"), model, int(time.time()),
                                    raw, ctx_extra)
        request.scope["gatewayz.call"] = call  # the access log reads provider and cost from it
        if principal.is_sandbox:
            check_sandbox_model(body, endpoint)
        else:
            call.routes = await self.router.routes(
                model, preference=body.get("provider"), fallbacks=body.get("models"),
                parameters=wanted_parameters(body),
            )
            if not call.routes:
                raise final_error(model, None)
            if face.native_protocol is not None and any(r.spec.protocol == face.native_protocol for r in call.routes):
                headers = {name: request.headers[name] for name in face.native_headers if name in request.headers}
                call.state["native"] = NativeRequest(face.native_protocol, raw, headers)
        if plan is not None:
            plan(call)
        await self.stages.admit(call)
        return call

    async def _complete(
        self, request: Request, call: InferenceCall, work: Callable[[], Awaitable[Any]], face: Face = CHAT
    ) -> Response | EventStreamResponse:
        """Run the non-streaming (or stream-opening) work; finish the stages on every outcome."""
        try:
            outcome = await until_disconnect(request.receive, work())
        except ClientDisconnected:
            call.status = CLIENT_CLOSED
            await self.stages.finish(call)
            return Response(status_code=CLIENT_CLOSED)
        except GatewayError as exc:
            call.status, call.error_code = exc.status, exc.code
            await self.stages.finish(call)
            exc.headers = {**call.headers, **exc.headers}
            raise
        except BaseException:
            call.status = 500
            await self.stages.finish(call)
            raise
        if isinstance(outcome, EventStreamResponse):
            if "idempotency" in call.state:
                outcome.stream = self._recording(call, outcome.stream, {**call.headers, **route_headers(call)})
            return outcome
        call.route, result = outcome[0], outcome[1]
        native_answer = outcome[2] if len(outcome) > 2 else None
        call.status, call.usage = 200, result.get("usage")
        call.state["result"] = result  # billing estimates the completion from it if usage is not believable
        await self.stages.finish(call)
        if not isinstance(result.get("usage"), dict) and call.state.get("billed_tokens"):
            result["usage"] = {}  # the provider sent none: show what was billed
        if isinstance(result.get("usage"), dict):
            self.decorate_usage(call, result["usage"])
        if call.endpoint == "chat":  # after billing read the provider's own usage
            normalise.completion(result, call.request_id, call.model)
        elif call.endpoint == "embeddings":
            normalise.embeddings(result, call.model, call.usage)
        answer = result
        if native_answer is not None:
            answer = native_answer
            self._add_cost(call, answer)
        elif face.render is not None:
            answer = face.render(result, call.face_ctx)
        if face is RESPONSES and self.responses is not None:
            await self.responses.keep(call, answer)
        if "history" in call.state and self.history is not None:
            self.history.record(call, answer.get("output") or [] if face is RESPONSES else answer_items(result))
        headers = {**call.headers, **route_headers(call)}
        body = orjson.dumps(answer)
        if "idempotency" in call.state:
            await self.stages.record_response(call, StoredResponse(200, "application/json", headers, body))
        return Response(body, media_type="application/json", headers=headers)

    def _add_cost(self, call: InferenceCall, answer: JSON) -> None:
        """A natively passed answer keeps the upstream's own counts; only the cost is added."""
        usage = answer.get("usage")
        if isinstance(usage, dict):
            shown: JSON = {}
            self.decorate_usage(call, shown)
            if "cost" in shown:
                usage["cost"] = shown["cost"]

    async def _recording(
        self, call: InferenceCall, stream: AsyncIterator[bytes], headers: dict[str, str]
    ) -> AsyncIterator[bytes]:
        """Pass a stream through, keeping a copy for idempotent replays when it completes."""
        parts: list[bytes] = []
        async for part in stream:
            parts.append(part)
            if call.state.get("stream_end") and call.status == 200 and "recorded" not in call.state:
                # Stored before the client sees the end, so an immediate retry finds it.
                call.state["recorded"] = True
                stored = StoredResponse(200, SSE_CONTENT_TYPE, headers, b"".join(parts))
                await self.stages.record_response(call, stored)
            yield part

    async def _serve(self, request: Request, face: Face, prepare: Prepare) -> Response | EventStreamResponse:
        """Chat, Responses or Messages: one pipeline, the face only at the two ends."""
        try:
            call = await self._begin(request, "chat", face, prepare)
        except AnswerFromStore as stored:
            return replay(stored.response)
        at_end = self._stream_end(call, face)

        def face_stream(native: bool) -> FaceStream:
            renderer = face.stream_renderer(call.face_ctx, call.request_id, native=native,
                                            assemble="history" in call.state)
            return FaceStream(call, renderer, self.stages.finish, self.decorate_usage, at_end)

        if call.principal.is_sandbox:
            return await self._complete(
                request, call, lambda: sandbox_chat(call, face_stream(False) if call.stream else None), face
            )
        native = call.state.get("native")

        async def work() -> Any:
            if not call.stream:
                return await self.dispatcher.complete(call.routes, call.model, call.body, native)
            opened = await self.dispatcher.open_stream(
                call.routes, call.model, call.body, parse.include_usage(call.body), native
            )
            call.route = opened.route

            async def cleanup() -> None:
                opened.response.close()
                if not call.status:
                    call.status = CLIENT_CLOSED
                await self.stages.finish(call)

            body = relay(opened, call, face_stream(opened.native))
            return EventStreamResponse(body, {**call.headers, **route_headers(call)}, cleanup)

        return await self._complete(request, call, work, face)

    def _stream_end(self, call: InferenceCall, face: Face) -> AtEnd | None:
        """What runs when a stream ends, before its last event: keep the stored response; append
        the turn to the conversation (in the background)."""
        keep = self.responses.at_stream_end if face is RESPONSES and self.responses is not None else None
        history = self.history if "history" in call.state else None
        if history is None:
            return keep

        async def at_end(call: InferenceCall, renderer: StreamRenderer) -> None:
            if keep is not None:
                await keep(call, renderer)
            result = renderer.result()
            history.record(call, result.get("output") or [] if face is RESPONSES else answer_items(result))

        return at_end

    async def summarize(self, principal: Principal, messages: list[JSON], previous: str | None) -> str | None:
        """A conversation summary, made by the configured summary model as a request of its own:
        through the same stages (limits, credit hold, settlement, its own usage record)."""
        configured = self.history.settings.history_summary_model if self.history is not None else None
        model = SANDBOX_SUMMARY_MODEL if principal.is_sandbox else configured
        if not model:
            return None
        body = summary_body(model, messages, previous)
        request_id = new_request_id()
        call = InferenceCall(request_id=request_id, principal=principal, endpoint="chat", model=model, body=body,
                             stream=False)
        call.face_ctx = FaceContext("chatcmpl-" + request_id.removeprefix("req_"), model, int(time.time()), body)
        if not principal.is_sandbox:
            call.routes = await self.router.routes(model)
            if not call.routes:
                log.warning("history_summary_unroutable", model=model)
                return None
        await self.stages.admit(call)
        try:
            if principal.is_sandbox:
                call.route, result = await sandbox_chat(call, None)  # type: ignore[misc]
            else:
                call.route, result, _ = await self.dispatcher.complete(call.routes, model, body)
        except GatewayError as exc:
            call.status, call.error_code = exc.status, exc.code
            await self.stages.finish(call)
            log.warning("history_summary_failed", model=model, status=exc.status, error=exc.message)
            return None
        except BaseException:
            call.status = 500
            await self.stages.finish(call)
            raise
        call.status, call.usage = 200, result.get("usage")
        call.state["result"] = result
        await self.stages.finish(call)
        return summary_text(result)

    async def chat(self, request: Request) -> Response | EventStreamResponse:
        return await self._serve(request, CHAT, prepare_chat)

    async def messages(self, request: Request) -> Response | EventStreamResponse:
        return await self._serve(request, MESSAGES, prepare_messages)

    async def create_response(self, request: Request) -> Response | EventStreamResponse:
        if self.responses is None:
            raise GatewayError("Stored responses are not configured.", status=503, type="server_error")
        return await self._serve(request, RESPONSES, self.responses.prepare)

    async def run(
        self, request: Request, endpoint: str, prepare: Prepare, work: Work, sandbox: Work, *,
        principal: Principal | None = None, raw: JSON | None = None, plan: Plan | None = None,
    ) -> Response | EventStreamResponse:
        """A kind of work that is not a conversation (embeddings, images) through the same
        pipeline: `work(call)` (or `sandbox(call)` for a test key) returns (route, answer)."""
        try:
            call = await self._begin(request, endpoint, CHAT, prepare, principal=principal, raw=raw, plan=plan)
        except AnswerFromStore as stored:
            return replay(stored.response)
        job = sandbox if call.principal.is_sandbox else work
        return await self._complete(request, call, lambda: job(call))

    async def embeddings(self, request: Request) -> Response | EventStreamResponse:
        def work(call: InferenceCall) -> Awaitable[Any]:
            return self.dispatcher.embed(call.routes, call.model, call.body)

        return await self.run(request, "embeddings", prepare_embeddings, work, sandbox_embeddings)

    async def model_list(self, request: Request) -> list[JSON]:
        principal = await self.auth.authenticate(request, "inference")
        if principal.is_sandbox:
            entries = sandbox_model_list()
        else:
            await self.catalog.ready()
            entries = []
            for provider in self.router.providers:
                for model_id, entry in self.catalog.models(provider).items():
                    created = entry.get("created")
                    entries.append(
                        {
                            "id": f"{provider}/{model_id}",
                            "object": "model",
                            "created": created if isinstance(created, int) else 0,
                            "owned_by": provider,
                        }
                    )
        allowed = self.auth.model_filter(principal)
        return entries if allowed is None else [e for e in entries if allowed(e["id"])]

    async def models(self, request: Request) -> Response:
        entries = await self.model_list(request)
        if "anthropic-version" in request.headers:  # the anthropic SDK's models.list()
            query = request.query_params
            limit = query.get("limit", "20")
            page = anthropic_model_list(
                entries, limit=int(limit) if limit.isdigit() and 1 <= int(limit) <= 1000 else 20,
                after_id=query.get("after_id"), before_id=query.get("before_id"),
            )
            return json_response(page, {})
        return json_response({"object": "list", "data": entries}, {})

    async def model(self, request: Request, model_id: str) -> Response:
        for entry in await self.model_list(request):
            if entry["id"] == model_id:
                return json_response(anthropic_model(entry) if "anthropic-version" in request.headers else entry, {})
        raise NoRoute(f"The model '{model_id}' does not exist.", param="model")

    async def count_tokens(self, request: Request) -> Response:
        principal = await self.auth.authenticate(request, "inference")
        return await count_tokens(request, principal, self.router, self.dispatcher.clients, self.auth.authorize_model)
