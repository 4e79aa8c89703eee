"""The per-process index over the catalog, one model with all its endpoints, and provider states."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from gatewayz.catalog.queries import CatalogIndex, IndexedModel, build_index, with_fields
from gatewayz.catalog.records import Pricing
from gatewayz.catalog.views import per_million
from gatewayz.errors import NotFound
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.registry import builtin_rows

if TYPE_CHECKING:
    from gatewayz.services import Services

_indexes: dict[int, CatalogIndex] = {}


def catalog_index(catalog: Catalog) -> CatalogIndex:
    """The index of the catalog's current version (rebuilt when a list changed)."""
    index = _indexes.get(id(catalog))
    if index is None or index.version != catalog.version:
        version = catalog.version
        records = [record for name in catalog.providers for record in catalog.records(name).values()]
        index = _indexes[id(catalog)] = build_index(version, records)
    return index


def _resolve(index: CatalogIndex, model_id: str) -> list[IndexedModel]:
    """Endpoints of the canonical model `model_id` names: a gateway id or a canonical id."""
    item = index.by_id.get(model_id)
    canonical = item.record.canonical_id if item is not None else model_id.lower()
    return index.by_canonical.get(canonical, [])


def _suggestions(index: CatalogIndex, model_id: str) -> list[str]:
    names = list(index.by_id) + [c for c in index.by_canonical if c not in index.by_id]
    return difflib.get_close_matches(model_id, names, n=5, cutoff=0.5)


def find_model(index: CatalogIndex, model_id: str, allowed: Callable[[str], bool] | None,
               extra: Callable[[IndexedModel], dict[str, Any]]) -> bytes:
    endpoints = [e for e in _resolve(index, model_id) if allowed is None or allowed(e.record.id)]
    if not endpoints:
        hint = [s for s in _suggestions(index, model_id) if allowed is None or allowed(s) or s not in index.by_id]
        message = f"The model '{model_id}' does not exist."
        if hint:
            message += " Did you mean: " + ", ".join(hint) + "?"
        raise NotFound(message, param="model", code="model_not_found")
    endpoints.sort(key=lambda e: (e.price, e.record.id))
    first = next((e.record for e in endpoints if e.record.name != e.record.model), endpoints[0].record)
    records = [e.record for e in endpoints]
    lengths = [r.context_length for r in records if r.context_length]
    created = [r.created for r in records if r.created]
    head: dict[str, Any] = {
        "id": first.canonical_id,
        "object": "model",
        "name": first.name,
        "description": next((r.description for r in records if r.description), ""),
        "context_length": max(lengths) if lengths else None,
        "architecture": {
            "input_modalities": sorted({m for r in records for m in r.input_modalities}),
            "output_modalities": sorted({m for r in records for m in r.output_modalities}),
        },
        "supports": sorted({s for r in records for s in r.supports}),
        "created": min(created) if created else 0,
        "deprecated": all(r.deprecated for r in records),
    }
    if model_id in index.by_id:
        head["requested"] = model_id
    body = orjson.dumps(head)
    return body[:-1] + b',"endpoints":[' + b",".join(with_fields(e, extra(e)) for e in endpoints) + b"]}"


def price_history_json(history: list[tuple[datetime, Pricing]]) -> bytes:
    """Each price with the time it took effect (it holds until the next one's)."""
    return orjson.dumps(
        [
            {"effective_from": _iso(when), "status": p.status, "pricing_per_million": per_million(p)}
            for when, p in history
        ]
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


async def provider_rows(svc: Services, *, include_errors: bool, live: Callable[[str], dict[str, Any]]) -> bytes:
    catalog = svc.catalog
    stored = await catalog.store.states() if catalog.store is not None else {}
    rows = []
    for name in sorted(set(builtin_rows()) | set(catalog.providers)):
        spec = catalog.providers.get(name)
        held = catalog.list_state(name)
        state = stored.get(name)
        error = held.error if state is None else state.error
        breaker = svc.breakers.status(name) if spec is not None else None
        latency = svc.breakers.latency(name) if spec is not None else None
        row: dict[str, Any] = {
            "name": name,
            "configured": spec is not None,
            "protocol": spec.protocol if spec is not None else None,
            "model_count": len(catalog.records(name)),
            "source": held.source if spec is not None else None,
            "last_sync": _iso(state.synced_at if state is not None else held.synced_at),
            "last_attempt": _iso(state.attempted_at) if state is not None else None,
            "last_sync_failed": error is not None,
            "breaker": breaker,
            "healthy": spec is not None and breaker == "closed" and error is None,
            "latency_ms": round(latency * 1000, 1) if latency is not None else None,
            "refresh_seconds": catalog.ttl(name) if spec is not None else None,
            "live": live(name) if spec is not None else None,
        }
        if include_errors:
            row["last_error"] = error
        rows.append(row)
    return orjson.dumps({"object": "list", "data": rows})
