"""The Messages face's side routes: `count_tokens`, and the model list in Anthropic's shape.

`count_tokens` asks the first Anthropic-protocol provider of the model (the body passes natively,
so documents, images and tools are counted by the model's own tokenizer); without one, or when
that provider cannot answer, the gateway's own estimate answers (the one the credit hold uses).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response

from gatewayz.accounts.principal import Principal
from gatewayz.inference import request as parse
from gatewayz.inference.estimate import prompt_tokens
from gatewayz.inference.faces import messages_request
from gatewayz.inference.faces.kinds import ANTHROPIC_HEADERS
from gatewayz.inference.failures import final_error
from gatewayz.inference.sandbox import check_sandbox_model
from gatewayz.providers.parameters import wanted_parameters
from gatewayz.providers.router import Route, Router
from gatewayz.providers.upstream import UpstreamClients, UpstreamFailure

log = structlog.get_logger("gatewayz.inference.messages")
JSON = dict[str, Any]


def _json(payload: Any) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


async def _upstream_count(clients: UpstreamClients, route: Route, raw: JSON, headers: dict[str, str]) -> int | None:
    call = route.adapter.count_tokens_call(route.spec, raw, route.upstream_model, headers)
    if call is None:
        return None
    try:
        response = await clients.request(route.spec, call)
    except UpstreamFailure as exc:
        log.info("count_tokens_upstream_failed", provider=route.provider, error=exc.message)
        return None
    data = response.json() if response.status == 200 else None
    value = data.get("input_tokens") if isinstance(data, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100_000_000:
        return value
    return None


async def count_tokens(
    request: Request, principal: Principal, router: Router, clients: UpstreamClients, authorize: Any
) -> Response:
    raw = await parse.read_json_object(request)
    body = messages_request.check_count_tokens(raw)
    model = body["model"]
    authorize(request, principal, model)
    if principal.is_sandbox:
        check_sandbox_model(body, "chat")
    else:
        routes = await router.routes(
            model, preference=body.get("provider"), fallbacks=body.get("models"), parameters=wanted_parameters(body)
        )
        if not routes:
            raise final_error(model, None)
        headers = {name: request.headers[name] for name in ANTHROPIC_HEADERS if name in request.headers}
        for route in routes:
            if route.spec.protocol == "anthropic":
                counted = await _upstream_count(clients, route, raw, headers)
                if counted is not None:
                    return _json({"input_tokens": counted})
                break
    return _json({"input_tokens": prompt_tokens("chat", body)})


def _rfc3339(created: Any) -> str:
    seconds = created if isinstance(created, int) and 0 <= created < 253402300800 else 0
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def anthropic_model(entry: JSON) -> JSON:
    """One entry of the OpenAI-shaped list as Anthropic's ModelInfo."""
    return {"type": "model", "id": entry["id"], "display_name": entry["id"],
            "created_at": _rfc3339(entry.get("created")), "lifecycle": "active"}


def anthropic_model_list(entries: list[JSON], *, limit: int = 1000, after_id: str | None = None,
                         before_id: str | None = None) -> JSON:
    """Anthropic's page shape (`data`, `has_more`, `first_id`, `last_id`), paged by model id."""
    items = [anthropic_model(e) for e in entries]
    if after_id is not None:
        ids = [m["id"] for m in items]
        items = items[ids.index(after_id) + 1:] if after_id in ids else []
    if before_id is not None:
        ids = [m["id"] for m in items]
        items = items[:ids.index(before_id)] if before_id in ids else []
    page = items[:limit]
    return {"data": page, "has_more": len(items) > limit, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None}
