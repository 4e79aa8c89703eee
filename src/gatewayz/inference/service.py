"""The request pipeline: authenticate -> authorize -> stages.admit -> route -> relay -> stages.finish.

Each stage is a plain function call on the hot path; only provider and storage I/O awaits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gatewayz.accounts.auth import Authenticator
from gatewayz.errors import GatewayError
from gatewayz.inference import normalise
from gatewayz.inference import request as parse
from gatewayz.inference.asgi import ClientDisconnected, EventStreamResponse, until_disconnect
from gatewayz.inference.dispatch import Dispatcher
from gatewayz.inference.failures import NoRoute, final_error
from gatewayz.inference.pipeline import AnswerFromStore, InferenceCall, Stages, StoredResponse
from gatewayz.inference.relay import CLIENT_CLOSED, relay
from gatewayz.inference.sandbox import check_sandbox_model, sandbox_chat, sandbox_embeddings, sandbox_model_list
from gatewayz.inference.sse import DONE
from gatewayz.middleware import new_request_id
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.router import Router

JSON = dict[str, Any]
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
UsageDecorator = Callable[[InferenceCall, JSON], None]


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
    ) -> None:
        self.auth = auth
        self.router = router
        self.dispatcher = dispatcher
        self.catalog = catalog
        self.stages = stages or Stages()
        self.decorate_usage = decorate_usage

    async def _begin(self, request: Request, endpoint: str, check: Callable[[JSON], str]) -> InferenceCall:
        principal = await self.auth.authenticate(request, "inference")
        body = await parse.read_json_object(request)
        model = check(body)
        self.auth.authorize_model(request, principal, model)
        for fallback in body.get("models") or []:
            if isinstance(fallback, str):
                self.auth.authorize_model(request, principal, fallback)
        call = InferenceCall(
            request_id=request.scope.get("gatewayz.request_id") or new_request_id(),
            client_request_id=request.scope.get("gatewayz.client_request_id"),
            principal=principal,
            endpoint=endpoint,
            model=model,
            body=body,
            stream=endpoint == "chat" and body.get("stream") is True,
            idempotency_key=request.headers.get("idempotency-key"),
        )
        request.scope["gatewayz.call"] = call  # the access log reads provider and cost from it
        if principal.is_sandbox:
            check_sandbox_model(body, endpoint)
        else:
            call.routes = await self.router.routes(
                model, preference=body.get("provider"), fallbacks=body.get("models")
            )
            if not call.routes:
                raise final_error(model, None)
        await self.stages.admit(call)
        return call

    async def _complete(
        self, request: Request, call: InferenceCall, work: Callable[[], Awaitable[Any]]
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
        call.route, result = outcome
        call.status, call.usage = 200, result.get("usage")
        call.state["result"] = result  # billing estimates the completion from it if usage is not believable
        await self.stages.finish(call)
        if not isinstance(result.get("usage"), dict) and call.state.get("billed_tokens"):
            result["usage"] = {}  # the provider sent none: show what was billed
        if isinstance(result.get("usage"), dict):
            self.decorate_usage(call, result["usage"])
        if call.endpoint == "chat":  # after billing read the provider's own usage
            normalise.completion(result, call.request_id, call.model)
        else:
            normalise.embeddings(result, call.model, call.usage)
        headers = {**call.headers, **route_headers(call)}
        body = orjson.dumps(result)
        if "idempotency" in call.state:
            await self.stages.record_response(call, StoredResponse(200, "application/json", headers, body))
        return Response(body, media_type="application/json", headers=headers)

    async def _recording(
        self, call: InferenceCall, stream: AsyncIterator[bytes], headers: dict[str, str]
    ) -> AsyncIterator[bytes]:
        """Pass a stream through, keeping a copy for idempotent replays when it completes."""
        parts: list[bytes] = []
        async for part in stream:
            parts.append(part)
            if part == DONE and call.status == 200:
                # Stored before the client sees the end, so an immediate retry finds it.
                stored = StoredResponse(200, SSE_CONTENT_TYPE, headers, b"".join(parts))
                await self.stages.record_response(call, stored)
            yield part

    async def chat(self, request: Request) -> Response | EventStreamResponse:
        try:
            call = await self._begin(request, "chat", parse.check_chat)
        except AnswerFromStore as stored:
            return replay(stored.response)
        if call.principal.is_sandbox:
            return await self._complete(request, call, lambda: sandbox_chat(call, self.stages.finish,
                                                                            self.decorate_usage))

        async def work() -> Any:
            if not call.stream:
                return await self.dispatcher.complete(call.routes, call.model, call.body)
            opened = await self.dispatcher.open_stream(
                call.routes, call.model, call.body, parse.include_usage(call.body)
            )
            call.route = opened.route

            async def cleanup() -> None:
                opened.response.close()
                if not call.status:
                    call.status = CLIENT_CLOSED
                await self.stages.finish(call)

            body = relay(opened, call, self.stages.finish, self.decorate_usage)
            return EventStreamResponse(body, {**call.headers, **route_headers(call)}, cleanup)

        return await self._complete(request, call, work)

    async def embeddings(self, request: Request) -> Response | EventStreamResponse:
        try:
            call = await self._begin(request, "embeddings", parse.check_embeddings)
        except AnswerFromStore as stored:
            return replay(stored.response)
        if call.principal.is_sandbox:
            return await self._complete(request, call, lambda: sandbox_embeddings(call))

        async def work() -> Any:
            return await self.dispatcher.embed(call.routes, call.model, call.body)

        return await self._complete(request, call, work)

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
        return [e for e in entries if principal.allows_model(e["id"])]

    async def models(self, request: Request) -> Response:
        return json_response({"object": "list", "data": await self.model_list(request)}, {})

    async def model(self, request: Request, model_id: str) -> Response:
        for entry in await self.model_list(request):
            if entry["id"] == model_id:
                return json_response(entry, {})
        raise NoRoute(f"The model '{model_id}' does not exist.", param="model")
