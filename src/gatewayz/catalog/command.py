"""`gatewayz catalog sync`: sync providers' model lists now, with a progress line per provider,
then say what changed (models added and removed, price changes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gatewayz.catalog.records import Pricing
from gatewayz.catalog.store import CatalogStore, Diff
from gatewayz.catalog.views import per_million
from gatewayz.errors import GatewayError
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.registry import load_providers
from gatewayz.providers.upstream import UpstreamClients
from gatewayz.settings import Settings
from gatewayz.storage.db import Database

MAX_LISTED = 20  # changes listed per provider and kind; the rest are counted


@dataclass
class Outcome:
    provider: str
    diff: Diff | None = None
    error: str | None = None
    models: int = 0


def _price_text(pricing: Pricing) -> str:
    per = per_million(pricing)
    if per is None:
        return "unpriced" if pricing.status == "invalid" else "no price"
    return f"${per['prompt']}/${per['completion']} per 1M"


def describe(outcome: Outcome) -> list[str]:
    """The lines printed for one provider."""
    if outcome.error is not None:
        return [f"[red]{outcome.provider}: failed[/red] ({outcome.error}); its last good list is kept"]
    diff = outcome.diff
    assert diff is not None
    head = (
        f"[bold]{outcome.provider}[/bold]: {outcome.models} models, {len(diff.added)} added, "
        f"{len(diff.removed)} removed, {len(diff.price_changes)} price changes"
    )
    lines = [head]
    for sign, names in (("+", diff.added), ("-", diff.removed)):
        lines += [f"  {sign} {name}" for name in names[:MAX_LISTED]]
        if len(names) > MAX_LISTED:
            lines.append(f"  {sign} ... and {len(names) - MAX_LISTED} more")
    for model, old, new in diff.price_changes[:MAX_LISTED]:
        lines.append(f"  $ {model}: {_price_text(old)} -> {_price_text(new)}")
    if len(diff.price_changes) > MAX_LISTED:
        lines.append(f"  $ ... and {len(diff.price_changes) - MAX_LISTED} more")
    return lines


async def run_sync(
    settings: Settings, db: Database, only: list[str] | None, show: Callable[[Any], None]
) -> list[Outcome]:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    providers = load_providers(settings)
    unknown = [name for name in only or [] if name not in providers]
    if unknown:
        raise GatewayError(
            f"Not a configured provider: {', '.join(unknown)} (configured: {', '.join(sorted(providers)) or 'none'})."
        )
    chosen = {name: spec for name, spec in providers.items() if not only or name in only}
    clients = UpstreamClients()
    catalog = Catalog(chosen, clients, refresh_seconds=settings.catalog_refresh_seconds)
    catalog.use_store(CatalogStore(db))
    outcomes: list[Outcome] = []
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=False
        ) as progress:

            async def one(name: str) -> Outcome:
                task = progress.add_task(f"{name}: fetching", total=1)
                try:
                    diff = await catalog.sync(chosen[name], strict=True)
                except Exception as exc:
                    progress.update(task, completed=1, description=f"[red]{name}: failed[/red]")
                    return Outcome(name, error=str(exc) or type(exc).__name__)
                count = len(catalog.records(name))
                progress.update(task, completed=1, description=f"{name}: {count} models")
                return Outcome(name, diff=diff, models=count)

            outcomes = list(await asyncio.gather(*(one(name) for name in sorted(chosen))))
    finally:
        await clients.close()
    for outcome in outcomes:
        for line in describe(outcome):
            show(line)
    return outcomes
