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

import structlog

from gatewayz.billing.batch import LeaseCharge
from gatewayz.billing.holds import Hold, HoldLedger, KeyBudget, SpendCap
from gatewayz.billing.leases import LeaseBook, LeaseTicket
from gatewayz.billing.money import MAX_NANOS, usd, usd_float
from gatewayz.billing.pricing import Price, max_completion_tokens, price_for
from gatewayz.billing.settlement import Settler
from gatewayz.errors import InvalidRequest
from gatewayz.inference.estimate import CHARS_PER_TOKEN
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.providers.catalog import Catalog
from gatewayz.settings import Settings

log = structlog.get_logger("gatewayz.billing")
CLIENT_CLOSED = 499


def usage_tokens(usage: dict[str, Any] | None) -> tuple[int, int, int]:
    """(prompt, completion, cached prompt) from a usage object already checked by `clean_usage`."""
    if usage is None:
        return 0, 0, 0
    return usage["prompt_tokens"], usage["completion_tokens"], usage["prompt_tokens_details"]["cached_tokens"]


def answer_chars(result: Any) -> int:
    """Text of a non-streaming answer (content, reasoning, tool calls): the completion estimate
    when the provider's usage is missing or not believable."""
    if not isinstance(result, dict):
        return 0
    total = 0
    for choice in result.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        for name in ("content", "reasoning_content", "reasoning", "refusal"):
            if isinstance(message.get(name), str):
                total += len(message[name])
        for tool_call in message.get("tool_calls") or ():
            function = tool_call.get("function") if isinstance(tool_call, dict) else None
            if isinstance(function, dict):
                total += len(str(function.get("name") or "")) + len(str(function.get("arguments") or ""))
    if not total and result.get("data") is not None:  # embeddings: no completion
        return 0
    return total


SEQUENCE_SECONDS = 1.0  # a user's next request within this of the last one: one of a sequence (leased)
MAX_SEQUENCES = 4096


class BillingStage:
    def __init__(
        self, settings: Settings, holds: HoldLedger, catalog: Catalog, settler: Settler, leases: LeaseBook | None
    ) -> None:
        self.settings = settings
        self.holds = holds
        self.catalog = catalog
        self.settler = settler
        self.leases = leases
        self.live_holds: dict[int, Hold] = {}  # holds of requests running in this process (kept alive)
        self.running: dict[int, int] = {}  # paid requests running in this process, per user
        self.ended_at: dict[int, float] = {}  # when a user's last paid request here ended (monotonic)
        self._prune_at = MAX_SEQUENCES

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
        estimate = call.prompt_estimate()
        plan = call.state.get("priced_by")  # work priced its own way (images: per image, see images/plan.py)
        if plan is not None:
            amount = plan.hold(estimate.tokens)
            call.state["billing"] = {"plan": plan, "prompt_estimate": estimate.tokens}
            free = plan.is_free()
        else:
            prices = self._price_routes(call)
            completion = (
                max_completion_tokens(call.body, self.settings.default_max_tokens) if call.endpoint == "chat" else 0
            )
            priced = [p for p in prices.values() if p is not None]
            amount = max((p.cost(estimate.tokens, completion, images=estimate.images) for p in priced), default=0)
            call.state["billing"] = {"prices": prices, "prompt_estimate": estimate.tokens, "images": estimate.images}
            free = all(p.is_free for p in priced)
        if amount <= 0 and free:
            return  # every candidate is free: nothing to reserve (usage is still recorded)
        # A model that can cost money always holds something, and never more than the ledger holds.
        amount = min(max(amount, 1), MAX_NANOS)
        user_id = call.principal.user_id
        others = self.running.get(user_id, 0)
        self.running[user_id] = others + 1  # counted from here: requests admitted at the same moment see it
        try:
            await self._reserve(call, amount, others)
        except BaseException:
            self._done(user_id)
            raise

    async def _reserve(self, call: InferenceCall, amount: int, others: int) -> None:
        principal = call.principal
        if principal.max_budget is None and principal.cap_id is None and self.leases is not None:
            # Concurrent requests of one user, and requests that follow one another closely,
            # reserve from a lease in memory (see leases.py); a key with a spending limit or under a
            # shared cap (a team member's), and a user's lone request, hold exactly.
            ticket = self.leases.reserve(principal.user_id, amount)
            if ticket is None and (others > 0 or self._in_sequence(principal.user_id)):
                ticket = await self.leases.take(principal.user_id, amount)
            if ticket is not None:
                call.state["billing"]["lease"] = ticket
                return
        budget = KeyBudget(principal.max_budget, principal.budget_period) if principal.max_budget is not None else None
        hold = await self.holds.place(
            request_id=call.request_id,
            user_id=principal.user_id,
            key_id=principal.key_id,
            amount=amount,
            budget=budget,
            ttl=self.settings.credit_hold_ttl_seconds,
            cap=SpendCap(principal.cap_id, principal.cap_limit or 0, principal.cap_period)
            if principal.cap_id is not None else None,
        )
        call.state["billing"]["hold"] = hold
        self.live_holds[hold.id] = hold

    def _in_sequence(self, user_id: int) -> bool:
        ended = self.ended_at.get(user_id)
        return ended is not None and time.monotonic() - ended < SEQUENCE_SECONDS

    def _done(self, user_id: int) -> None:
        left = self.running.get(user_id, 1) - 1
        if left > 0:
            self.running[user_id] = left
            return
        self.running.pop(user_id, None)
        now = self.ended_at[user_id] = time.monotonic()
        if len(self.ended_at) > self._prune_at:  # forget users gone quiet (amortised: the bound doubles)
            self.ended_at = {u: t for u, t in self.ended_at.items() if now - t < SEQUENCE_SECONDS}
            self._prune_at = max(MAX_SEQUENCES, 2 * len(self.ended_at))

    # -- finish --------------------------------------------------------------------------------

    def _tokens(self, call: InferenceCall, state: dict[str, Any]) -> tuple[int, int, int, bool]:
        prompt, completion, cached = usage_tokens(call.usage)
        if call.usage is not None and (prompt or completion):
            if call.status != 200 and call.generated_chars:
                # A stream cut short: the provider's counts so far may be placeholders (Anthropic's
                # message_start says output_tokens 1); what was relayed is billed at least.
                relayed = -(-call.generated_chars // CHARS_PER_TOKEN)
                if relayed > completion:
                    return prompt, relayed, cached, True
            return prompt, completion, cached, False
        chars = call.generated_chars or answer_chars(call.state.get("result"))
        generated = -(-chars // CHARS_PER_TOKEN)  # ceiling
        return int(state.get("prompt_estimate", 0)), generated, 0, True

    def _billable(self, call: InferenceCall) -> bool:
        """Something was produced: a success, or a stream that relayed text before it ended."""
        return call.route is not None and (call.status == 200 or call.generated_chars > 0 or call.usage is not None)

    def _usage_row(self, call: InferenceCall, tokens: tuple[int, int, int, bool]) -> dict[str, Any]:
        finished = call.finished_at or time.monotonic()
        return {
            "client_request_id": call.client_request_id,
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
            "images": getattr(call.state.get("priced_by"), "returned", 0),  # images answered (image work)
        }

    async def finish(self, call: InferenceCall) -> None:
        if call.principal.is_sandbox:
            usage = usage_tokens(call.usage)
            await self.settler.record_free(
                request_id=call.request_id, user_id=call.principal.user_id, usage=self._usage_row(call, (*usage, False))
            )
            call.state["cost"] = 0
            return
        state = call.state.get("billing")
        if state is None:
            return
        hold, ticket = state.get("hold"), state.get("lease")
        cost, tokens = 0, (0, 0, 0, False)
        if self._billable(call):
            assert call.route is not None
            if "plan" in state:
                cost, tokens = state["plan"].charge(call.route, int(state.get("prompt_estimate", 0)))
                cost = min(cost, MAX_NANOS)
            else:
                tokens = self._tokens(call, state)
                price = state["prices"].get((call.route.provider, call.route.upstream_model))
                if price is not None:
                    cost = min(price.cost(tokens[0], tokens[1], tokens[2], images=state.get("images", 0)), MAX_NANOS)
            call.state["billed_tokens"] = tokens
        user_id = call.principal.user_id
        try:
            if ticket is not None:
                result = await self._settle_lease(call, ticket, cost, tokens)
            else:
                result = await self.settler.settle(
                    hold=hold, user_id=user_id, cost=cost, request_id=call.request_id,
                    usage=self._usage_row(call, tokens),
                )
        finally:
            if hold is not None:
                self.live_holds.pop(hold.id, None)
            if hold is not None or ticket is not None:
                self._done(user_id)
        if result is None:  # kept for the billing job (or already settled): the cost is what it will charge
            call.state["cost"] = cost
            call.headers["x-gatewayz-cost"] = usd(cost)
            return
        if result.uncollected:
            log.warning("charge_exceeded_balance", request_id=call.request_id, uncollected=result.uncollected)
        call.state["cost"] = result.charged
        call.headers["x-gatewayz-cost"] = usd(result.charged)


    async def _settle_lease(
        self, call: InferenceCall, ticket: LeaseTicket, cost: int, tokens: tuple[int, int, int, bool]
    ) -> Any:
        assert self.leases is not None
        charged, uncollected = self.leases.charge(ticket, cost)
        charge = LeaseCharge(ticket.lease.hold_id, call.principal.user_id, charged, uncollected, call.request_id,
                             self._usage_row(call, tokens))
        try:
            return await self.settler.settle_lease(charge)
        finally:
            self.leases.release(ticket)


def decorate_usage(call: InferenceCall, usage: dict[str, Any]) -> None:
    """OpenRouter's convention: the cost in USD as `usage.cost` in the body. When the provider's
    token counts were not believable (or missing), the body shows the counts that were billed."""
    cost = call.state.get("cost")
    if cost is not None:
        usage["cost"] = usd_float(cost)
    billed = call.state.get("billed_tokens")
    if billed is not None and billed[3] and "priced_by" not in call.state:  # estimated (image work shows its own)
        usage["prompt_tokens"], usage["total_tokens"] = billed[0], billed[0] + billed[1]
        if call.endpoint == "chat":
            usage["completion_tokens"] = billed[1]
