"""The catalog's HTTP face: `GET /v1/models` (extended), `GET /models` (also `/v1/catalog/models`),
one model with all its endpoints, and the providers' sync and breaker state."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from gatewayz.accounts.auth import extract_key
from gatewayz.accounts.dependencies import is_admin_request
from gatewayz.accounts.principal import Principal
from gatewayz.catalog.live import live_view
from gatewayz.catalog.lookup import catalog_index, find_model, price_history_json, provider_rows
from gatewayz.catalog.queries import (
    LIVE_SORTS,
    CatalogQuery,
    Modality,
    Order,
    SortKey,
    Support,
    decode_cursor,
    list_body,
    page_body,
    run_query,
)
from gatewayz.catalog.store import CatalogStore
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.http.params import QueryBool, QueryInt
from gatewayz.providers.registry import builtin_rows
from gatewayz.services import Services, services

router = APIRouter(tags=["Models"])
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000
MAX_PRICE = Decimal(10_000)  # USD per 1M tokens
QUERY_PARAMS = frozenset(
    {
        "provider",
        "q",
        "min_context",
        "max_prompt_price",
        "max_completion_price",
        "modality",
        "supports",
        "free",
        "sort",
        "order",
        "limit",
        "offset",
        "cursor",
    }
)


def attach_catalog_store(svc: Services) -> None:
    """Called in the app's lifespan: the process's catalog is kept in (and read from) the database."""
    settings = svc.settings
    svc.catalog.use_store(
        CatalogStore(svc.db),
        ttls=settings.catalog_provider_refresh_seconds,
        retry_seconds=settings.catalog_retry_seconds,
    )


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


async def _caller(request: Request, svc: Services) -> Principal | None:
    """The caller's key when one is presented (its model allowlist then applies); anonymous otherwise."""
    if extract_key(request) is None:
        return None
    return await svc.auth.authenticate(request, "inference")


def _allowed(svc: Services, principal: Principal | None) -> object:
    """The key's model allowlist and the owner's plan (None: every model)."""
    return svc.auth.model_filter(principal)


@router.get("/v1/models", include_in_schema=False, response_model=None)
async def list_v1_models(request: Request) -> Response:
    """OpenAI's list, each entry with OpenRouter's fields (`context_length`, `pricing`, `architecture`,
    `supported_parameters`...); only the models the calling key may use."""
    svc = services(request)
    if "anthropic-version" in request.headers:  # the anthropic SDK's page shape: the inference service's
        return await svc.inference.models(request)
    principal = await svc.auth.authenticate(request, "inference")
    if principal.is_sandbox:
        return await svc.inference.models(request)
    await svc.catalog.ready()
    index = catalog_index(svc.catalog)
    allowed = svc.auth.model_filter(principal)
    if allowed is None:
        return _json(list_body(index.models))
    return _json(list_body(item for item in index.models if allowed(item.record.id)))


@router.get("/v1/models/{model_id:path}", include_in_schema=False, response_model=None)
async def get_v1_model(request: Request, model_id: str) -> Response:
    """One entry of the extended list, by its `provider/model` id (404 when the key may not use it)."""
    svc = services(request)
    if "anthropic-version" in request.headers:
        return await svc.inference.model(request, model_id)
    principal = await svc.auth.authenticate(request, "inference")
    if principal.is_sandbox:
        return await svc.inference.model(request, model_id)
    await svc.catalog.ready()
    item = catalog_index(svc.catalog).by_id.get(model_id)
    allowed = svc.auth.model_filter(principal)
    if item is None or (allowed is not None and not allowed(model_id)):
        raise NotFound(f"The model '{model_id}' does not exist.", param="model", code="model_not_found")
    return _json(item.json)


def _price(value: str | None, param: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value.strip())
    except (InvalidOperation, ValueError):
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0 or amount > MAX_PRICE:
        raise InvalidRequest(
            f"Invalid value for '{param}': a price in USD per 1M tokens from 0 to {MAX_PRICE}.",
            param=param,
            code="invalid_value",
        )
    return amount


def _check_names(request: Request) -> None:
    for name in request.query_params:
        if name not in QUERY_PARAMS:
            raise InvalidRequest(f"Unknown query parameter '{name}'.", param=name, code="unknown_parameter")


def _check_providers(names: list[str] | None, svc: Services) -> tuple[str, ...]:
    if not names:
        return ()
    known = set(svc.catalog.providers) | set(builtin_rows())
    for name in names:
        if name not in known:
            raise InvalidRequest(f"Unknown provider '{name}'.", param="provider", code="invalid_value")
    return tuple(names)


async def _search(
    request: Request,
    provider: list[str] | None,
    q: str | None,
    min_context: int | None,
    max_prompt_price: str | None,
    max_completion_price: str | None,
    modality: list[Modality] | None,
    supports: list[Support] | None,
    free: bool | None,
    sort: SortKey | None,
    order: Order | None,
    limit: int,
    offset: int,
    cursor: str | None,
) -> Response:
    _check_names(request)
    if cursor is not None:
        if "offset" in request.query_params:
            raise InvalidRequest("Give either 'cursor' or 'offset', not both.", param="cursor", code="invalid_value")
        offset = decode_cursor(cursor)
    svc = services(request)
    query = CatalogQuery(
        providers=_check_providers(provider, svc),
        q=q.strip() or None if q is not None else None,
        min_context=min_context,
        max_prompt_price=_price(max_prompt_price, "max_prompt_price"),
        max_completion_price=_price(max_completion_price, "max_completion_price"),
        modality=tuple(modality or ()),
        supports=tuple(supports or ()),
        free=free,
        sort=sort,
        order=order,
        limit=limit,
        offset=offset,
    )
    principal = await _caller(request, svc)
    await svc.catalog.ready()
    live = await live_view(svc)
    measure = live.measure(query.sort) if query.sort in LIVE_SORTS else None
    total, page = run_query(catalog_index(svc.catalog), query, _allowed(svc, principal), measure)  # type: ignore[arg-type]
    return _json(page_body(total, page, query, live.entry))


ProviderParam = Annotated[list[str] | None, Query(max_length=64, description="Only these providers (repeatable)")]
SearchParam = Annotated[str | None, Query(max_length=200, description="Search over id, name and description")]
ContextParam = Annotated[QueryInt | None, Query(ge=0, le=100_000_000, description="At least this context length")]
PriceParam = Annotated[str | None, Query(max_length=32, description="At most this, USD per 1M tokens")]
ModalityParam = Annotated[list[Modality] | None, Query(description="Accepts or produces every one (repeatable)")]
SupportsParam = Annotated[list[Support] | None, Query(description="Supports every one (repeatable)")]
FreeParam = Annotated[QueryBool | None, Query(description="Only free (true) or only priced (false) models")]
SortParam = Annotated[SortKey | None, Query(description="Default: relevance with q, else name")]
OrderParam = Annotated[Order | None, Query(description="Default: price, name ascending; context, created descending")]
LimitParam = Annotated[QueryInt, Query(ge=1, le=MAX_LIMIT)]
OffsetParam = Annotated[QueryInt, Query(ge=0, le=MAX_OFFSET)]
CursorParam = Annotated[str | None, Query(max_length=64, description="`next_cursor` of the previous page")]


@router.get("/models", response_model=None)
@router.get("/v1/catalog/models", response_model=None)
async def search_models(
    request: Request,
    provider: ProviderParam = None,
    q: SearchParam = None,
    min_context: ContextParam = None,
    max_prompt_price: PriceParam = None,
    max_completion_price: PriceParam = None,
    modality: ModalityParam = None,
    supports: SupportsParam = None,
    free: FreeParam = None,
    sort: SortParam = None,
    order: OrderParam = None,
    limit: LimitParam = 100,
    offset: OffsetParam = 0,
    cursor: CursorParam = None,
) -> Response:
    """The catalog: every endpoint (provider, model) with its facts and prices, filtered, searched and sorted.
    Anyone may read it; with a key, only the models that key may use."""
    return await _search(
        request,
        provider,
        q,
        min_context,
        max_prompt_price,
        max_completion_price,
        modality,
        supports,
        free,
        sort,
        order,
        limit,
        offset,
        cursor,
    )


@router.get("/models/providers", response_model=None)
@router.get("/v1/catalog/providers", response_model=None)
async def list_providers(request: Request) -> Response:
    """Every provider: configured or not, its model count, last sync (time, error) and breaker state.
    Error texts (they can name hosts) are shown to admins only."""
    svc = services(request)
    live = await live_view(svc)
    return _json(await provider_rows(svc, include_errors=await is_admin_request(request), live=live.provider))


@router.get("/models/{model_id:path}", response_model=None)
@router.get("/v1/catalog/models/{model_id:path}", response_model=None)
async def get_model(request: Request, model_id: Annotated[str, Path(max_length=400)]) -> Response:
    """One model by `provider/model` or canonical id, with all its endpoints (one per provider)."""
    svc = services(request)
    principal = await _caller(request, svc)
    await svc.catalog.ready()
    index = catalog_index(svc.catalog)
    live = await live_view(svc)
    body = find_model(index, model_id, _allowed(svc, principal), live.endpoint)  # type: ignore[arg-type]
    if model_id in index.by_id and svc.catalog.store is not None:  # one endpoint asked for: its price history
        item = index.by_id[model_id]
        history = await svc.catalog.store.price_history(item.record.provider, item.record.model)
        body = body[:-1] + b',"price_history":' + price_history_json(history) + b"}"
    return _json(body)
