"""Which models each provider serves, kept per process and (with a store) in the database.

At start a process reads the stored catalog, then refreshes each provider on its TTL: when another
process synced it within the TTL, the stored list is read again; otherwise the provider's own list
is fetched, stored (catalog/store.py) and applied. A provider that is down keeps its last good list;
one that was never reached gets the shipped snapshot's list (catalog/snapshot.py). A resolution
that needs a provider's list before its first load finished waits for it (bounded), once.

`models(provider)` answers with OpenRouter-shaped entries under the provider's own model ids
(what billing, routing and history read); `records()` with the normalised records (queries).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from gatewayz.catalog.records import ModelRecord
from gatewayz.catalog.snapshot import snapshot_records
from gatewayz.catalog.sync import fetch_records
from gatewayz.catalog.views import provider_entry
from gatewayz.providers.registry import ProviderSpec
from gatewayz.providers.upstream import UpstreamClients

if TYPE_CHECKING:
    from gatewayz.catalog.store import CatalogStore, Diff, SyncState

log = structlog.get_logger("gatewayz.providers.catalog")
JSON = dict[str, Any]
MAX_SLEEP = 60.0


@dataclass(slots=True)
class ProviderList:
    """What this process holds for one provider."""

    source: str = "none"  # "provider", "stored", "snapshot", "config" or "none"
    synced_at: datetime | None = None
    error: str | None = None
    next_due: float = 0.0  # monotonic time of the next refresh


class Catalog:
    def __init__(
        self,
        providers: dict[str, ProviderSpec],
        clients: UpstreamClients,
        *,
        refresh_seconds: float = 3600.0,
        first_load_wait: float = 5.0,
    ) -> None:
        self.providers = providers
        self.clients = clients
        self.refresh_seconds = refresh_seconds
        self.first_load_wait = first_load_wait
        self.store: CatalogStore | None = None
        self.ttls: dict[str, float] = {}
        self.retry_seconds = 60.0
        self.version = 0  # bumped whenever any list changes (query caches key on it)
        self._models: dict[str, dict[str, JSON]] = {}
        self._records: dict[str, dict[str, ModelRecord]] = {}
        self._lists: dict[str, ProviderList] = {name: ProviderList() for name in providers}
        self._loaded: dict[str, asyncio.Event] = {name: asyncio.Event() for name in providers}
        self._task: asyncio.Task[None] | None = None

    def use_store(
        self, store: CatalogStore, *, ttls: Mapping[str, float] | None = None, retry_seconds: float | None = None
    ) -> None:
        """Keep the catalog in the database (shared by every process) with per-provider TTLs."""
        self.store = store
        self.ttls = dict(ttls or {})
        if retry_seconds is not None:
            self.retry_seconds = retry_seconds

    def ttl(self, provider: str) -> float:
        return self.ttls.get(provider, self.refresh_seconds)

    # -- applying lists -------------------------------------------------------------------------

    def _apply(self, provider: str, records: list[ModelRecord], source: str, synced_at: datetime | None) -> None:
        self._records[provider] = {record.model: record for record in records}
        self._models[provider] = {record.model: provider_entry(record) for record in records}
        state = self._lists[provider]
        state.source, state.synced_at = source, synced_at
        self.version += 1

    def _fallback(self, provider: str) -> None:
        """Nothing good was ever held for the provider: the snapshot's list, if it has one."""
        if provider not in self._records:
            self._apply(provider, snapshot_records(provider), "snapshot", None)

    # -- syncing --------------------------------------------------------------------------------

    async def sync(self, spec: ProviderSpec, *, strict: bool = False) -> Diff | None:
        """Fetch the provider's list now; store and apply it. Raises when the fetch fails (after noting
        it); a failure to store it (another process storing the same list at once) raises only when
        `strict`, else the fetched list is still applied here."""
        now = datetime.now(UTC)
        state = self._lists[spec.name]
        try:
            records = await fetch_records(spec, self.clients)
        except Exception as exc:
            state.error = str(exc) or type(exc).__name__
            if self.store is not None:
                with contextlib.suppress(Exception):
                    await self.store.record_failure(spec.name, state.error, now=now)
            self._fallback(spec.name)
            raise
        state.error = None
        source = "config" if spec.static_models is not None else "provider"
        diff = None
        if self.store is not None:
            try:
                diff = await self.store.save(spec.name, records, source=source, now=now)
            except Exception as exc:
                if strict:
                    raise
                log.warning("catalog_store_failed", provider=spec.name, error=str(exc))
        self._apply(spec.name, records, source, now)
        return diff

    async def load(self, spec: ProviderSpec) -> None:
        """Refresh one provider, never raising: failures keep the last good list."""
        try:
            await self._refresh(spec)
        except Exception as exc:
            log.warning("model_list_failed", provider=spec.name, error=str(exc))
            self._fallback(spec.name)
            self._lists[spec.name].next_due = time.monotonic() + min(self.retry_seconds, self.ttl(spec.name))
        else:  # a little jitter: processes started together do not all refresh at the same moment
            ttl = self.ttl(spec.name)
            self._lists[spec.name].next_due = time.monotonic() + ttl * random.uniform(1.0, 1.1)
        finally:
            self._loaded[spec.name].set()

    async def _refresh(self, spec: ProviderSpec) -> None:
        if self.store is not None and spec.static_models is None:  # a list in the config always wins
            stored = (await self.store.states()).get(spec.name)
            if self._fresh(spec.name, stored):  # another process synced it: read its list
                assert stored is not None
                records, _ = await self.store.load([spec.name])
                self._apply(spec.name, records.get(spec.name, []), "stored", stored.synced_at)
                return
        await self.sync(spec)

    def _fresh(self, provider: str, stored: SyncState | None) -> bool:
        """Another process synced the provider within its TTL (and its list is newer than ours)."""
        if stored is None or stored.synced_at is None:
            return False
        age = datetime.now(UTC) - stored.synced_at
        return age < timedelta(seconds=self.ttl(provider))

    async def load_stored(self) -> None:
        """At start: every provider's stored list (those with one are ready at once)."""
        if self.store is None:
            return
        try:
            records, states = await self.store.load(list(self.providers))
        except Exception as exc:
            log.warning("catalog_load_failed", error=str(exc))
            return
        now = time.monotonic()
        for name, stored in states.items():
            if name not in self.providers or stored.synced_at is None or self.providers[name].static_models is not None:
                continue  # unknown here, never synced, or listed in this process's config (which wins)
            self._apply(name, records.get(name, []), "stored", stored.synced_at)
            self._lists[name].error = stored.error
            if self._fresh(name, stored):
                age = (datetime.now(UTC) - stored.synced_at).total_seconds()
                self._lists[name].next_due = now + max(self.ttl(name) - age, 0.0)
            self._loaded[name].set()

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
        await self.load_stored()
        while True:
            now = time.monotonic()
            due = [spec for name, spec in self.providers.items() if self._lists[name].next_due <= now]
            if due:
                await asyncio.gather(*(self.load(spec) for spec in due))
            next_due = min((state.next_due for state in self._lists.values()), default=now + MAX_SLEEP)
            await asyncio.sleep(min(max(next_due - time.monotonic(), 0.05), MAX_SLEEP))

    async def ready(self) -> None:
        """Wait (bounded) until every provider's first list load has finished."""
        pending = [event.wait() for event in self._loaded.values() if not event.is_set()]
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending), self.first_load_wait)

    # -- reading --------------------------------------------------------------------------------

    def models(self, provider: str) -> dict[str, JSON]:
        return self._models.get(provider, {})

    def serves(self, provider: str, model: str) -> bool:
        return model in self._models.get(provider, {})

    def providers_serving(self, model: str) -> list[str]:
        return [name for name, models in self._models.items() if model in models]

    def records(self, provider: str) -> dict[str, ModelRecord]:
        return self._records.get(provider, {})

    def list_state(self, provider: str) -> ProviderList:
        return self._lists.get(provider) or ProviderList()
