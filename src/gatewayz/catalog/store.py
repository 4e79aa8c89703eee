"""The catalog in the database: read it all at start, write one provider's list per sync.

A sync writes the provider's whole list in one transaction: rows added, changed or removed, a
price-history row for every new or changed price, and the provider's sync row. A failed sync only
records its error: the last good list stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update

from gatewayz.catalog.canonical import canonical_id
from gatewayz.catalog.records import ModelRecord, Pricing
from gatewayz.catalog.tables import CatalogModel, CatalogPrice, CatalogSync
from gatewayz.storage.db import Database

MODELS = CatalogModel.__table__
PRICES = CatalogPrice.__table__
SYNCS = CatalogSync.__table__
ERROR_LIMIT = 500


@dataclass(frozen=True, slots=True)
class SyncState:
    provider: str
    source: str
    synced_at: datetime | None
    attempted_at: datetime
    error: str | None
    model_count: int


@dataclass(slots=True)
class Diff:
    """What a sync changed."""

    provider: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    price_changes: list[tuple[str, Pricing, Pricing]] = field(default_factory=list)
    changed: int = 0  # rows whose other facts changed

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.price_changes or self.changed)


def _price_columns(pricing: Pricing) -> dict[str, Any]:
    return {
        "price_status": pricing.status,
        "prompt_price": pricing.prompt,
        "completion_price": pricing.completion,
        "cached_prompt_price": pricing.cached_prompt,
        "request_price": pricing.request,
        "image_price": pricing.image,
    }


def _pricing(row: Any) -> Pricing:
    return Pricing(
        row.price_status,
        row.prompt_price,
        row.completion_price,
        row.cached_prompt_price,
        row.request_price,
        row.image_price,
    )


def _columns(record: ModelRecord) -> dict[str, Any]:
    return {
        "provider": record.provider,
        "model": record.model,
        "canonical_id": record.canonical_id,
        "name": record.name,
        "description": record.description,
        "context_length": record.context_length,
        "max_output_tokens": record.max_output_tokens,
        "input_modalities": list(record.input_modalities),
        "output_modalities": list(record.output_modalities),
        "supported_parameters": list(record.supported_parameters),
        "supports": list(record.supports),
        **_price_columns(record.pricing),
        "created": record.created,
        "deprecated": record.deprecated,
    }


def _record(row: Any) -> ModelRecord:
    return ModelRecord(
        provider=row.provider,
        model=row.model,
        canonical_id=canonical_id(row.provider, row.model),  # today's rule, whatever the row was stored with
        name=row.name,
        description=row.description,
        context_length=row.context_length,
        max_output_tokens=row.max_output_tokens,
        input_modalities=tuple(row.input_modalities),
        output_modalities=tuple(row.output_modalities),
        pricing=_pricing(row),
        supported_parameters=tuple(row.supported_parameters),
        supports=tuple(row.supports),
        created=row.created,
        deprecated=bool(row.deprecated),
    )


def _state(row: Any) -> SyncState:
    return SyncState(row.provider, row.source, row.synced_at, row.attempted_at, row.error, row.model_count)


class CatalogStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(
        self, providers: list[str] | None = None
    ) -> tuple[dict[str, list[ModelRecord]], dict[str, SyncState]]:
        """Every stored record and sync state (of `providers` only, when given)."""
        models = select(MODELS)
        syncs = select(SYNCS)
        if providers is not None:
            models = models.where(MODELS.c.provider.in_(providers))
            syncs = syncs.where(SYNCS.c.provider.in_(providers))
        records: dict[str, list[ModelRecord]] = {}
        async with self.db.begin() as conn:
            for row in (await conn.execute(models.order_by(MODELS.c.provider, MODELS.c.model))).all():
                records.setdefault(row.provider, []).append(_record(row))
            states = {row.provider: _state(row) for row in (await conn.execute(syncs)).all()}
        return records, states

    async def states(self) -> dict[str, SyncState]:
        async with self.db.begin() as conn:
            return {row.provider: _state(row) for row in (await conn.execute(select(SYNCS))).all()}

    async def save(self, provider: str, records: list[ModelRecord], *, source: str, now: datetime) -> Diff:
        """Replace the provider's stored list with `records`; returns what changed."""
        diff = Diff(provider)
        wanted = {record.model: record for record in records}
        async with self.db.begin() as conn:
            rows = (await conn.execute(select(MODELS).where(MODELS.c.provider == provider))).all()
            stored = {row.model: row for row in rows}
            removed = sorted(set(stored) - set(wanted))
            if removed:
                await conn.execute(
                    delete(MODELS).where(and_(MODELS.c.provider == provider, MODELS.c.model.in_(removed)))
                )
            diff.removed = removed
            new_rows: list[dict[str, Any]] = []
            price_rows: list[dict[str, Any]] = []
            for model, record in wanted.items():
                columns = _columns(record)
                row = stored.get(model)
                if row is None:
                    diff.added.append(model)
                    new_rows.append({**columns, "first_seen": now, "updated_at": now})
                    price_rows.append(
                        {"provider": provider, "model": model, **_price_columns(record.pricing), "effective_from": now}
                    )
                    continue
                old = _record(row)
                if old == record:
                    continue
                if old.pricing != record.pricing:
                    diff.price_changes.append((model, old.pricing, record.pricing))
                    price_rows.append(
                        {"provider": provider, "model": model, **_price_columns(record.pricing), "effective_from": now}
                    )
                else:
                    diff.changed += 1
                await conn.execute(update(MODELS).where(MODELS.c.id == row.id).values(**columns, updated_at=now))
            if new_rows:
                await conn.execute(insert(MODELS), new_rows)
            if price_rows:
                await conn.execute(insert(PRICES), price_rows)
            await self._write_state(
                conn, provider, source=source, synced_at=now, attempted_at=now, error=None, model_count=len(wanted)
            )
        diff.added.sort()
        return diff

    async def record_failure(self, provider: str, error: str, *, now: datetime) -> None:
        """The attempt failed: note it, keep the last good list and its sync time."""
        async with self.db.begin() as conn:
            existing = (await conn.execute(select(SYNCS).where(SYNCS.c.provider == provider))).first()
            if existing is None:
                await conn.execute(
                    insert(SYNCS).values(
                        provider=provider,
                        source="provider",
                        synced_at=None,
                        attempted_at=now,
                        error=error[:ERROR_LIMIT],
                        model_count=0,
                    )
                )
            else:
                await conn.execute(
                    update(SYNCS)
                    .where(SYNCS.c.provider == provider)
                    .values(attempted_at=now, error=error[:ERROR_LIMIT])
                )

    async def _write_state(self, conn: Any, provider: str, **values: Any) -> None:
        result = await conn.execute(update(SYNCS).where(SYNCS.c.provider == provider).values(**values))
        if result.rowcount == 0:
            await conn.execute(insert(SYNCS).values(provider=provider, **values))

    async def price_at(self, provider: str, model: str, when: datetime) -> Pricing | None:
        """The price in force for (provider, model) at `when` (None before its first known price)."""
        query = (
            select(PRICES)
            .where(and_(PRICES.c.provider == provider, PRICES.c.model == model, PRICES.c.effective_from <= when))
            .order_by(PRICES.c.effective_from.desc(), PRICES.c.id.desc())
            .limit(1)
        )
        async with self.db.begin() as conn:
            row = (await conn.execute(query)).first()
        return _pricing(row) if row is not None else None

    async def price_history(self, provider: str, model: str) -> list[tuple[datetime, Pricing]]:
        query = (
            select(PRICES)
            .where(and_(PRICES.c.provider == provider, PRICES.c.model == model))
            .order_by(PRICES.c.effective_from, PRICES.c.id)
        )
        async with self.db.begin() as conn:
            return [(row.effective_from, _pricing(row)) for row in (await conn.execute(query)).all()]
