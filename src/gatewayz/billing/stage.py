"""The billing stage of the inference pipeline: hold before the provider call, settle after.

Admission prices every candidate route (unpriced routes are dropped unless the operator allows
them), and holds the most the request can cost at the dearest remaining route: prompt estimate +
max_tokens (or the default cap) x completion price. Finish charges the route that answered, at
its price, from the provider's usage, or from an estimate of what was relayed when the provider
sent none; a request that produced nothing costs nothing.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import structlog

from gatewayz.billing.holds import HoldLedger, KeyBudget
from gatewayz.billing.money import usd, usd_float
from gatewayz.billing.pricing import (
    CHARS_PER_TOKEN,
    Price,
    estimate_prompt_tokens,
    max_completion_tokens,
    price_for,
    usage_tokens,
)
from gatewayz.errors import InvalidRequest
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.providers.catalog import Catalog
from gatewayz.settings import Settings

log = structlog.get_logger("gatewayz.billing")
CLIENT_CLOSED = 499


def _json_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(orjson.dumps(value))


class BillingStage:
    def __init__(self, settings: Settings, holds: HoldLedger, catalog: Catalog) -> None:
        self.settings = settings
        self.holds = holds
        self.catalog = catalog

    # -- admission -----------------------------------------------------------------------------

    def _price_routes(self, call: InferenceCall) -> dict[tuple[str, str], Price | None]:
        prices = {(r.provider, r.upstream_model): price_for(r, self.catalog) for r in call.routes}
        if not self.settings.allow_unpriced_models:
            call.routes = [r for r in call.routes if prices[(r.provider, r.upstream_model)] is not None]
            if not call.routes:
                raise InvalidRequest(
                    f"The model '{call.model}' has no known price, so this gateway does not serve it. "
                    "The operator can price it in the config file or allow unpriced models.",
                    param="model",
                    code="model_not_priced",
                )
        return prices

    async def admit(self, call: InferenceCall) -> None:
        if call.principal.is_sandbox:
            return
        prices = self._price_routes(call)
        prompt = estimate_prompt_tokens(call.body, _json_size)
        completion = (
            max_completion_tokens(call.body, self.settings.default_max_tokens) if call.endpoint == "chat" else 0
        )
        amount = max((p.cost(prompt, completion) for p in prices.values() if p is not None), default=0)
        call.state["billing"] = {"prices": prices, "prompt_estimate": prompt}
        if amount <= 0:
            return
        principal = call.principal
        budget = KeyBudget(principal.max_budget, principal.budget_period) if principal.max_budget is not None else None
        hold = await self.holds.place(
            request_id=call.request_id,
            user_id=principal.user_id,
            key_id=principal.key_id,
            amount=amount,
            budget=budget,
            ttl=self.settings.credit_hold_ttl_seconds,
        )
        call.state["billing"]["hold"] = hold

    # -- finish --------------------------------------------------------------------------------

    def _tokens(self, call: InferenceCall, state: dict[str, Any]) -> tuple[int, int, int, bool]:
        prompt, completion, cached = usage_tokens(call.usage)
        if call.usage is not None and (prompt or completion):
            return prompt, completion, cached, False
        generated = -(-call.generated_chars // CHARS_PER_TOKEN)  # ceiling
        return int(state.get("prompt_estimate", 0)), generated, 0, True

    def _billable(self, call: InferenceCall) -> bool:
        """Something was produced: a success, or a stream that relayed text before it ended."""
        return call.route is not None and (call.status == 200 or call.generated_chars > 0 or call.usage is not None)

    def _usage_row(self, call: InferenceCall, tokens: tuple[int, int, int, bool]) -> dict[str, Any]:
        finished = call.finished_at or time.monotonic()
        return {
            "key_id": call.principal.key_id,
            "endpoint": call.endpoint,
            "provider": call.provider,
            "model": call.model,
            "upstream_model": call.upstream_model,
            "prompt_tokens": tokens[0],
            "completion_tokens": tokens[1],
            "cached_tokens": tokens[2],
            "estimated": tokens[3],
            "stream": call.stream,
            "status": call.status or 500,
            "latency_ms": int((finished - call.started) * 1000),
            "ttft_ms": int((call.first_byte_at - call.started) * 1000) if call.first_byte_at else None,
        }

    async def finish(self, call: InferenceCall) -> None:
        if call.principal.is_sandbox:
            usage = usage_tokens(call.usage)
            await self.holds.record_free(
                request_id=call.request_id, user_id=call.principal.user_id, usage=self._usage_row(call, (*usage, False))
            )
            call.state["cost"] = 0
            return
        state = call.state.get("billing")
        if state is None:
            return
        hold = state.get("hold")
        cost, tokens = 0, (0, 0, 0, False)
        if self._billable(call):
            assert call.route is not None
            tokens = self._tokens(call, state)
            price = state["prices"].get((call.route.provider, call.route.upstream_model))
            cost = price.cost(tokens[0], tokens[1], tokens[2]) if price is not None else 0
        result = await self.holds.settle(
            hold=hold,
            user_id=call.principal.user_id,
            cost=cost,
            request_id=call.request_id,
            usage=self._usage_row(call, tokens),
        )
        if result.uncollected:
            log.warning("charge_exceeded_balance", request_id=call.request_id, uncollected=result.uncollected)
        call.state["cost"] = result.charged
        call.headers["x-gatewayz-cost"] = usd(result.charged)


def decorate_usage(call: InferenceCall, usage: dict[str, Any]) -> None:
    """OpenRouter's convention: the cost in USD as `usage.cost` in the body."""
    cost = call.state.get("cost")
    if cost is not None:
        usage["cost"] = usd_float(cost)
