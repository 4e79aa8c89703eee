"""Which models each provider serves: its configured list, or its own model-list endpoint.

Lists are fetched in the background at start and refreshed periodically; a resolution that needs
a provider's list before its first fetch finished waits for it (bounded), once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from gatewayz.providers.adapters import adapter_for
from gatewayz.providers.registry import ProviderSpec
from gatewayz.providers.upstream import UpstreamClients, UpstreamFailure

log = structlog.get_logger("gatewayz.providers.catalog")
JSON = dict[str, Any]


class Catalog:
    def __init__(
        self,
        providers: dict[str, ProviderSpec],
        clients: UpstreamClients,
        *,
        refresh_seconds: float = 600.0,
        first_load_wait: float = 5.0,
    ) -> None:
        self.providers = providers
        self.clients = clients
        self.refresh_seconds = refresh_seconds
        self.first_load_wait = first_load_wait
        self._models: dict[str, dict[str, JSON]] = {}
        self._loaded: dict[str, asyncio.Event] = {name: asyncio.Event() for name in providers}
        self._task: asyncio.Task[None] | None = None

    async def _fetch(self, spec: ProviderSpec) -> dict[str, JSON]:
        if spec.static_models is not None:
            return {m: {"id": m} for m in spec.static_models}
        if not spec.models_path:
            return {}
        adapter = adapter_for(spec)
        response = await self.clients.request(spec, adapter.models_call(spec))
        if response.status != 200:
            raise UpstreamFailure(spec.name, "status", f"model list answered {response.status}", status=response.status)
        return {entry["id"]: entry for entry in adapter.parse_models(response.json())}

    async def load(self, spec: ProviderSpec) -> None:
        try:
            self._models[spec.name] = await self._fetch(spec)
        except Exception as exc:
            log.warning("model_list_failed", provider=spec.name, error=str(exc))
            self._models.setdefault(spec.name, {})
        finally:
            self._loaded[spec.name].set()

    async def load_all(self) -> None:
        await asyncio.gather(*(self.load(spec) for spec in self.providers.values()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="catalog-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self.load_all()
            await asyncio.sleep(self.refresh_seconds)

    async def ready(self) -> None:
        """Wait (bounded) until every provider's first list fetch has finished."""
        pending = [event.wait() for event in self._loaded.values() if not event.is_set()]
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending), self.first_load_wait)

    def models(self, provider: str) -> dict[str, JSON]:
        return self._models.get(provider, {})

    def serves(self, provider: str, model: str) -> bool:
        return model in self._models.get(provider, {})

    def providers_serving(self, model: str) -> list[str]:
        return [name for name, models in self._models.items() if model in models]
