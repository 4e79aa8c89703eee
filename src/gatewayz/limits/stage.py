"""The rate-limit stage: the first stage of the inference pipeline.

Admission checks and consumes every applicable window in one step (one Redis round trip), with a
token estimate; finish releases the in-flight slot and replaces the estimate by the real usage.
Responses carry OpenAI's `x-ratelimit-*` headers for the tightest request and token windows.
"""

from __future__ import annotations

import math

from gatewayz.errors import GatewayError
from gatewayz.inference.estimate import CHARS_PER_TOKEN
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.limits.limiter import Limiter, Ticket
from gatewayz.limits.sources import LimitPlanner, LimitSource, default_sources
from gatewayz.settings import Settings
from gatewayz.storage.redis_client import redis_key

CLIENT_CLOSED = 499


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


def duration(ms: int) -> str:
    """OpenAI's reset format (Go durations): `20ms`, `1.5s`, `6m0s`, `1h2m3s`."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def estimate_tokens(call: InferenceCall, completion_cap: int) -> tuple[int, int]:
    """(prompt estimate, total reservation): the prompt as billing estimates it (every part the
    provider bills: messages, tools, schemas, tool calls and results, images...), plus the
    completion the request may produce (`max_completion_tokens`/`max_tokens`, capped, times `n`)."""
    body = call.body
    prompt = call.prompt_estimate().tokens
    if call.endpoint == "embeddings":
        return prompt, prompt
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    completion = min(asked, completion_cap) if isinstance(asked, int) and asked > 0 else completion_cap
    n = body.get("n")
    choices = n if isinstance(n, int) and n > 0 else 1
    return prompt, prompt + completion * choices


def actual_tokens(call: InferenceCall, prompt_estimate: int) -> int:
    """What the request really used: the provider's usage, else an estimate of what was relayed;
    a request that failed before producing anything used nothing."""
    usage = call.usage
    if isinstance(usage, dict):
        total = usage.get("total_tokens")
        if isinstance(total, int):
            return total
        parts = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
        if all(isinstance(p, int) for p in parts):
            return int(sum(parts))  # type: ignore[arg-type]
    if call.generated_chars or call.status in (200, CLIENT_CLOSED):
        return prompt_estimate + math.ceil(call.generated_chars / CHARS_PER_TOKEN)
    return 0


def model_identities(call: InferenceCall) -> tuple[str, ...]:
    """Every name the model of this request may go by, for every route it may take: the id asked
    for (`model` or a `models` fallback), `provider/upstream` and the provider's own id. Model rules
    match any of them, so a limit on `openai/*` or `fakeopenai/gpt-4o` cannot be escaped by asking
    for the bare id, another spelling, or by hiding the model in the fallback list. A request counts
    against every model it may be routed to (conservative: it never under-counts). Sorted: routes
    are shuffled per request, the planner's cache key must not be. Sandbox calls have no routes."""
    if not call.routes:
        return (call.model,)
    names: set[str] = set()
    for route in call.routes:
        names.add(route.requested_model)
        names.add(f"{route.provider}/{route.upstream_model}")
        names.add(route.upstream_model)
    return tuple(sorted(names))


def ratelimit_headers(ticket: Ticket) -> dict[str, str]:
    """For requests and for tokens, the window with the least remaining (on a tie, the one that
    stays exhausted longer): what a client pacing itself needs to know."""
    tightest: dict[str, tuple[int, int, int]] = {}  # kind -> (remaining, reset_ms, limit)
    for check, outcome in zip(ticket.checks, ticket.outcomes, strict=True):
        if check.kind == "concurrent":
            continue
        remaining = max(check.limit - outcome.used, 0)
        best = tightest.get(check.kind)
        if best is None or remaining < best[0] or (remaining == best[0] and outcome.reset_ms > best[1]):
            tightest[check.kind] = (remaining, outcome.reset_ms, check.limit)
    headers: dict[str, str] = {}
    for kind, (remaining, reset_ms, limit) in tightest.items():
        headers[f"x-ratelimit-limit-{kind}"] = str(limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(remaining)
        headers[f"x-ratelimit-reset-{kind}"] = duration(reset_ms)
    return headers


def rejection(ticket: Ticket) -> RateLimited:
    retry_ms = max(ticket.retry_ms, 1)
    failed = [
        (c, cost, o) for c, cost, o in zip(ticket.checks, ticket.costs, ticket.outcomes, strict=True) if o.retry_ms
    ]
    check, cost, outcome = max(failed, key=lambda f: f[2].retry_ms) if failed else (ticket.checks[0], 1, None)
    used = outcome.used if outcome else check.limit
    message = (
        f"Rate limit reached for {check.label}: limit {check.limit}, used {used}, requested {cost}. "
        f"Please try again in {duration(retry_ms)}."
    )
    return RateLimited(
        message,
        headers={"retry-after": str(math.ceil(retry_ms / 1000)), "retry-after-ms": str(retry_ms)},
    )


class RateLimitStage:
    def __init__(self, planner: LimitPlanner, limiter: Limiter, completion_cap: int) -> None:
        self.planner = planner
        self.limiter = limiter
        self.completion_cap = completion_cap

    async def admit(self, call: InferenceCall) -> None:
        principal = call.principal
        models = model_identities(call) if self.planner.has_model_rules(principal) else ()
        checks = self.planner.checks(principal, call.endpoint, models)
        if not checks:
            return
        prompt, reservation = estimate_tokens(call, self.completion_cap)
        ticket = await self.limiter.admit(checks, reservation)
        call.headers.update(ratelimit_headers(ticket))
        if not ticket.allowed:
            raise rejection(ticket)
        call.state["rate_limit"] = (ticket, prompt)

    async def finish(self, call: InferenceCall) -> None:
        held = call.state.pop("rate_limit", None)
        if held is None:
            return
        ticket, prompt = held
        has_tokens = any(c.kind == "tokens" for c in ticket.checks)
        await self.limiter.finish(ticket, actual_tokens(call, prompt) if has_tokens else None)


def build_rate_limit_stage(settings: Settings, limiter: Limiter, plan: LimitSource | None = None) -> RateLimitStage:
    sources = default_sources(settings.rate_limit_global, settings.rate_limit_user, settings.rate_limit_key, plan)
    planner = LimitPlanner(sources, redis_key(settings, "rl"), int(settings.rate_limit_lease_seconds * 1000))
    return RateLimitStage(planner, limiter, settings.rate_limit_completion_estimate)
