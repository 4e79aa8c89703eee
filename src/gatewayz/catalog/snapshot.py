"""The shipped snapshot (snapshot.toml): the main providers' public model facts on a known date."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from gatewayz.catalog.records import NONE, ModelRecord, normalise


@dataclass(frozen=True)
class Snapshot:
    date: str
    models: dict[str, dict[str, ModelRecord]]  # provider -> model -> record

    def record(self, provider: str, model: str) -> ModelRecord | None:
        return self.models.get(provider, {}).get(model)


def _entry(model: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": model,
        "name": row.get("name"),
        "context_length": row.get("context_length"),
        "max_output_tokens": row.get("max_output_tokens"),
        "architecture": {
            "input_modalities": row.get("input_modalities", ["text"]),
            "output_modalities": row.get("output_modalities", ["text"]),
        },
        "pricing_per_million": row.get("pricing"),
    }


@cache
def snapshot() -> Snapshot:
    table = tomllib.loads(resources.files("gatewayz.catalog").joinpath("snapshot.toml").read_text())
    date = str(table.pop("date"))
    models: dict[str, dict[str, ModelRecord]] = {}
    for provider, rows in table.items():
        for model, row in rows.items():
            record = normalise(provider, _entry(model, row))
            if record is not None:
                supports = tuple(row.get("supports", record.supports))
                models.setdefault(provider, {})[model] = replace(record, supports=supports)
    return Snapshot(date, models)


def enrich(record: ModelRecord, known: ModelRecord | None) -> ModelRecord:
    """Fill in what a live list left out from the snapshot's facts for the same (provider, model)."""
    if known is None:
        return record
    changes: dict[str, Any] = {}
    if record.name == record.model and known.name != known.model:
        changes["name"] = known.name
    if record.context_length is None:
        changes["context_length"] = known.context_length
    if record.max_output_tokens is None:
        changes["max_output_tokens"] = known.max_output_tokens
    if record.pricing.status == NONE:
        changes["pricing"] = known.pricing
    if not record.supported_parameters:
        changes["supports"] = known.supports
        if record.input_modalities == ("text",):
            changes["input_modalities"] = known.input_modalities
        if record.output_modalities == ("text",):
            changes["output_modalities"] = known.output_modalities
    return replace(record, **changes) if changes else record


def snapshot_records(provider: str) -> list[ModelRecord]:
    return list(snapshot().models.get(provider, {}).values())
