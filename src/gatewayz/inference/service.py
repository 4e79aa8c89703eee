"""The request pipeline: authenticate -> authorize -> route -> relay -> respond.

Each stage is a plain function call on the hot path; only provider I/O awaits.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gatewayz.accounts.auth import Authenticator
from gatewayz.accounts.principal import Principal
from gatewayz.errors import GatewayError
from gatewayz.inference import request as parse
from gatewayz.inference.asgi import ClientDisconnected, EventStreamResponse, until_disconnect
from gatewayz.inference.dispatch import Dispatcher
from gatewayz.inference.failures import NoRoute, final_error
from gatewayz.inference.relay import relay
from gatewayz.inference.sandbox import sandbox_chat, sandbox_embeddings, sandbox_model_list
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.router import Route, Router

JSON = dict[str, Any]
CLIENT_CLOSED = 499  # nginx's convention; the client never sees it


def route_headers(route: Route) -> dict[str, str]:
    return {"x-gatewayz-provider": route.provider, "x-gatewayz-model": route.upstream_model}


def json_response(payload: Any, headers: dict[str, str]) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json", headers=headers)


class InferenceService:
    def __init__(self, auth: Authenticator, router: Router, dispatcher: Dispatcher, catalog: Catalog) -> None:
        self.auth = auth
        self.router = router
        self.dispatcher = dispatcher
        self.catalog = catalog

    async def _admit(self, request: Request, check: Any) -> tuple[Principal, JSON, str]:
        principal = await self.auth.authenticate(request, "inference")
        body = await parse.read_json_object(request)
        model = check(body)
        self.auth.authorize_model(request, principal, model)
        for fallback in body.get("models") or []:
            if isinstance(fallback, str):
                self.auth.authorize_model(request, principal, fallback)
        return principal, body, model

    async def _routes(self, body: JSON, model: str) -> list[Route]:
        routes = await self.router.routes(model, preference=body.get("provider"), fallbacks=body.get("models"))
        if not routes:
            raise final_error(model, None)
        return routes

    async def chat(self, request: Request) -> Response | EventStreamResponse:
        principal, body, model = await self._admit(request, parse.check_chat)
        stream = body.get("stream") is True
        if principal.is_sandbox:
            return await sandbox_chat(body, model, stream=stream)
        routes = await self._routes(body, model)
        try:
            if not stream:
                route, result = await until_disconnect(request.receive, self.dispatcher.complete(routes, model, body))
                return json_response(result, route_headers(route))
            opened = await until_disconnect(
                request.receive, self.dispatcher.open_stream(routes, model, body, parse.include_usage(body))
            )
        except ClientDisconnected:
            return Response(status_code=CLIENT_CLOSED)
        return EventStreamResponse(relay(opened), route_headers(opened.route))

    async def embeddings(self, request: Request) -> Response:
        principal, body, model = await self._admit(request, parse.check_embeddings)
        if principal.is_sandbox:
            return await sandbox_embeddings(body, model)
        routes = await self._routes(body, model)
        try:
            route, result = await until_disconnect(request.receive, self.dispatcher.embed(routes, model, body))
        except ClientDisconnected:
            return Response(status_code=CLIENT_CLOSED)
        return json_response(result, route_headers(route))

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


__all__ = ["GatewayError", "InferenceService"]
