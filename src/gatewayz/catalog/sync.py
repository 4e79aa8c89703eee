"""One provider's list: fetched, normalised, filled in from the snapshot."""

from __future__ import annotations

from gatewayz.catalog.records import ModelRecord, normalise
from gatewayz.catalog.snapshot import enrich, snapshot
from gatewayz.providers.adapters import adapter_for
from gatewayz.providers.registry import ProviderSpec
from gatewayz.providers.upstream import UpstreamClients, UpstreamFailure

MAX_MODELS_PER_PROVIDER = 20_000  # a list longer than this is cut (a provider's list is input like any other)


async def fetch_records(spec: ProviderSpec, clients: UpstreamClients) -> list[ModelRecord]:
    """The provider's configured list, or its model-list endpoint's; raises UpstreamFailure."""
    if spec.static_models is not None:
        entries: list[dict[str, object]] = [{"id": model} for model in spec.static_models]
    elif not spec.models_path:
        entries = []
    else:
        adapter = adapter_for(spec)
        response = await clients.request(spec, adapter.models_call(spec))
        if response.status != 200:
            raise UpstreamFailure(spec.name, "status", f"model list answered {response.status}", status=response.status)
        entries = adapter.parse_models(response.json())
    known = snapshot()
    records: dict[str, ModelRecord] = {}
    for entry in entries[:MAX_MODELS_PER_PROVIDER]:
        record = normalise(spec.name, entry)
        if record is not None and record.model not in records:
            records[record.model] = enrich(record, known.record(spec.name, record.model))
    return list(records.values())
