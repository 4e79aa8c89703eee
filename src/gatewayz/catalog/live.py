"""Live figures on the catalog: what routing measures (providers/health.py) and what this gateway
relayed (usage records, rankings.py), added to the catalog's static facts.

- each `GET /models` entry carries `live`: time to first token p50 and output tokens/s p50 as
  routing reads them (5 minutes, else the hour), uptime over 24 h, tokens relayed over the week;
- each endpoint of `GET /models/{id}` carries the full windows (5m / 1h / 24h) and `unhealthy`;
- `sort=latency|throughput|popularity` orders by those same values (unknown last).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gatewayz.catalog.queries import IndexedModel, Measure
from gatewayz.catalog.rankings import endpoint_tokens
from gatewayz.providers.health import Figures, LiveHealth

if TYPE_CHECKING:
    from gatewayz.services import Services


def _windows(figures: dict[str, Figures]) -> dict[str, Any]:
    return {name: f.as_json() for name, f in figures.items()}


@dataclass(frozen=True, slots=True)
class LiveView:
    health: LiveHealth
    tokens: dict[tuple[str, str], int]  # per (provider, upstream model), last 7 days

    def _key(self, item: IndexedModel) -> tuple[str, str]:
        return item.record.provider, item.record.model

    def measure(self, sort: str) -> Measure:
        """The live sort's value per endpoint, looked up by gateway id: only the endpoints measured
        (relayed to) have one, so the work is theirs, not the catalog's."""
        health = self.health
        if sort == "popularity":
            values: dict[str, float] = {f"{p}/{m}": float(t) for (p, m), t in self.tokens.items()}
        else:
            read = health.ttft_ms if sort == "latency" else health.tokens_per_second
            values = {f"{p}/{m}": v for p, m in health.endpoints() if (v := read(p, m)) is not None}
        return lambda item: values.get(item.record.id)

    def entry(self, item: IndexedModel) -> dict[str, Any]:
        provider, model = self._key(item)
        if not self.health.known(provider, model):
            return {"live": {"ttft_p50_ms": None, "throughput_p50": None, "uptime_24h": None,
                             "tokens_week": self.tokens.get((provider, model), 0)}}
        uptime = self.health.figures(provider, model)["24h"].uptime
        return {"live": {
            "ttft_p50_ms": self.health.ttft_ms(provider, model),
            "throughput_p50": self.health.tokens_per_second(provider, model),
            "uptime_24h": None if uptime is None else round(uptime, 4),
            "tokens_week": self.tokens.get((provider, model), 0),
        }}

    def endpoint(self, item: IndexedModel) -> dict[str, Any]:
        provider, model = self._key(item)
        return {"live": {
            "unhealthy": self.health.unhealthy(provider, model),
            "tokens_week": self.tokens.get((provider, model), 0),
            "windows": _windows(self.health.figures(provider, model)),
        }}

    def provider(self, name: str) -> dict[str, Any]:
        """Every endpoint of the provider together, and its tokens over the week."""
        tokens = sum(count for (provider, _), count in self.tokens.items() if provider == name)
        return {"tokens_week": tokens, "windows": _windows(self.health.provider_figures(name))}


async def live_view(svc: Services) -> LiveView:
    return LiveView(svc.health_store.health, await endpoint_tokens(svc.db))
