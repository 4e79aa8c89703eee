"""Filters, search and sorts over the catalog, served from memory.

The index is built once per catalog version (each record's JSON pre-serialised, its search text
lower-cased, each sort order computed on first use), so a query over 5,000 models is a filter pass
and a slice: no database round trip, no per-request JSON of entries that are not returned.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import orjson

from gatewayz.catalog.records import KNOWN, ModelRecord
from gatewayz.catalog.views import public_entry
from gatewayz.errors import InvalidRequest

SortKey = Literal["price", "context", "name", "created", "popularity", "latency", "throughput"]
LIVE_SORTS = frozenset({"popularity", "latency", "throughput"})  # measured, so ordered per query
Order = Literal["asc", "desc"]
Modality = Literal["text", "image", "audio", "video", "file", "embeddings"]
Support = Literal["tools", "vision", "json_schema", "streaming", "reasoning"]
DEFAULT_ORDER: dict[str, Order] = {
    "price": "asc", "context": "desc", "name": "asc", "created": "desc",
    "popularity": "desc", "latency": "asc", "throughput": "desc",
}
Measure = Callable[["IndexedModel"], float | None]  # a live sort's value of an endpoint (None: unknown)
NANOS_PER_USD = Decimal(1_000_000_000)
_NO_PRICE = 2**63


@dataclass(frozen=True, slots=True)
class IndexedModel:
    record: ModelRecord
    json: bytes
    id_text: str  # lower-cased gateway id and canonical id
    name_text: str
    description_text: str
    price: int  # prompt + completion nanos per 1M tokens (unknown: last)


@dataclass(slots=True)
class CatalogIndex:
    version: int
    models: list[IndexedModel]
    by_id: dict[str, IndexedModel]
    by_canonical: dict[str, list[IndexedModel]]
    _orders: dict[tuple[str, str], list[IndexedModel]] = field(default_factory=dict)

    def ordered(self, sort: str, order: str) -> list[IndexedModel]:
        key = (sort, order)
        cached = self._orders.get(key)
        if cached is None:
            if sort == "name":
                cached = sorted(self.models, key=_by_name, reverse=order == "desc")
            else:
                cached = sorted(self.models, key=_sort_key(sort, order == "desc"))
            self._orders[key] = cached
        return cached


def _by_name(m: IndexedModel) -> Any:
    return (m.name_text, m.record.id)


def _sort_key(sort: str, descending: bool) -> Callable[[IndexedModel], Any]:
    """Unknown values (no price, no context length, no date) last in either order."""
    sign = -1 if descending else 1
    if sort == "price":
        return lambda m: (m.price == _NO_PRICE, sign * m.price, m.record.id)
    if sort == "context":
        return lambda m: (m.record.context_length is None, sign * (m.record.context_length or 0), m.record.id)
    return lambda m: (m.record.created is None, sign * (m.record.created or 0), m.record.id)


def _price(record: ModelRecord) -> int:
    pricing = record.pricing
    if pricing.status != KNOWN:
        return _NO_PRICE
    return (pricing.prompt or 0) + (pricing.completion or 0)


def build_index(version: int, records: Iterable[ModelRecord]) -> CatalogIndex:
    models: list[IndexedModel] = []
    by_id: dict[str, IndexedModel] = {}
    by_canonical: dict[str, list[IndexedModel]] = {}
    for record in records:
        item = IndexedModel(
            record=record,
            json=orjson.dumps(public_entry(record)),
            id_text=f"{record.id} {record.canonical_id}".lower(),
            name_text=record.name.casefold(),
            description_text=record.description.casefold(),
            price=_price(record),
        )
        models.append(item)
        by_id[record.id] = item
        by_canonical.setdefault(record.canonical_id, []).append(item)
    return CatalogIndex(version, models, by_id, by_canonical)


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    providers: tuple[str, ...] = ()
    q: str | None = None
    min_context: int | None = None
    max_prompt_price: Decimal | None = None  # USD per 1M tokens
    max_completion_price: Decimal | None = None
    modality: tuple[str, ...] = ()
    supports: tuple[str, ...] = ()
    free: bool | None = None
    sort: str | None = None
    order: str | None = None
    limit: int = 100
    offset: int = 0


def _nanos_per_million(usd: Decimal) -> int:
    return int(usd * NANOS_PER_USD)


def _search_score(item: IndexedModel, words: list[str], phrase: str) -> int:
    """0 when some word matches nowhere; else higher for matches in the id, then the name."""
    score = 0
    record = item.record
    if phrase in (record.model.lower(), record.canonical_id, record.id.lower(), record.canonical_id.rsplit("/", 1)[-1]):
        score += 1000
    if item.name_text == phrase:
        score += 500
    for word in words:
        if word in item.id_text:
            score += 100 if item.id_text.startswith(word) or f"/{word}" in item.id_text else 60
        elif word in item.name_text:
            score += 40
        elif word in item.description_text:
            score += 5
        else:
            return 0
    return score


def _matcher(query: CatalogQuery, allowed: Callable[[str], bool] | None) -> Callable[[IndexedModel], bool]:
    providers = set(query.providers)
    min_context = query.min_context
    max_prompt = None if query.max_prompt_price is None else _nanos_per_million(query.max_prompt_price)
    max_completion = None if query.max_completion_price is None else _nanos_per_million(query.max_completion_price)
    modalities = set(query.modality)
    supports = set(query.supports)
    free = query.free

    def matches(item: IndexedModel) -> bool:
        record = item.record
        if providers and record.provider not in providers:
            return False
        if min_context is not None and (record.context_length or 0) < min_context:
            return False
        pricing = record.pricing
        if max_prompt is not None and (pricing.status != KNOWN or (pricing.prompt or 0) > max_prompt):
            return False
        if max_completion is not None and (pricing.status != KNOWN or (pricing.completion or 0) > max_completion):
            return False
        if modalities and not modalities <= {*record.input_modalities, *record.output_modalities}:
            return False
        if supports and not supports <= set(record.supports):
            return False
        if free is not None and pricing.is_free != free:
            return False
        return allowed is None or allowed(record.id)

    return matches


def _measured(items: list[IndexedModel], measure: Measure, descending: bool) -> list[IndexedModel]:
    """By a live figure; endpoints without one last, in name order (the input's)."""
    values = [(measure(item), position, item) for position, item in enumerate(items)]
    known = [v for v in values if v[0] is not None]
    known.sort(key=lambda v: (-v[0] if descending else v[0], v[1]))  # type: ignore[operator]
    return [v[2] for v in known] + [v[2] for v in values if v[0] is None]


def run_query(
    index: CatalogIndex, query: CatalogQuery, allowed: Callable[[str], bool] | None = None,
    measure: Measure | None = None,
) -> tuple[int, list[IndexedModel]]:
    """(how many match, the page asked for); `measure` orders the live sorts."""
    matches = _matcher(query, allowed)
    if query.q and query.sort is None:
        phrase = query.q.strip().lower()
        words = phrase.split()
        scored = []
        for item in index.ordered("name", "asc"):
            if matches(item):
                score = _search_score(item, words, phrase)
                if score:
                    scored.append((score, item))
        scored.sort(key=lambda pair: -pair[0])  # stable: ties stay in name order
        found = [item for _, item in scored]
    else:
        sort = query.sort or "name"
        order = query.order or DEFAULT_ORDER[sort]
        if sort in LIVE_SORTS:
            if measure is None:
                raise ValueError(f"sort {sort!r} needs a measure")
            found = _measured([i for i in index.ordered("name", "asc") if matches(i)], measure, order == "desc")
        else:
            found = [item for item in index.ordered(sort, order) if matches(item)]
        if query.q:
            phrase = query.q.strip().lower()
            words = phrase.split()
            found = [item for item in found if _search_score(item, words, phrase)]
    return len(found), found[query.offset : query.offset + query.limit]


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset})).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The offset a `next_cursor` stands for (400 naming `cursor` when it is not one of ours)."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["o"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        value = None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
        raise InvalidRequest("Invalid value for 'cursor': pass the previous page's next_cursor.", param="cursor",
                             code="invalid_value")
    return value


def with_fields(item: IndexedModel, fields: dict[str, Any]) -> bytes:
    """The entry's pre-serialised JSON with fields added at its end."""
    return item.json[:-1] + b"," + orjson.dumps(fields)[1:]


def page_body(total: int, page: list[IndexedModel], query: CatalogQuery,
              extra: Callable[[IndexedModel], dict[str, Any]] | None = None) -> bytes:
    head = b'{"object":"list","data":['
    more = query.offset + len(page) < total
    tail = orjson.dumps({"total": total, "limit": query.limit, "offset": query.offset, "has_more": more,
                         "next_cursor": encode_cursor(query.offset + len(page)) if more else None})
    entries = (item.json for item in page) if extra is None else (with_fields(item, extra(item)) for item in page)
    return head + b",".join(entries) + b"]," + tail[1:]


def list_body(items: Iterable[IndexedModel]) -> bytes:
    return b'{"object":"list","data":[' + b",".join(item.json for item in items) + b"]}"
