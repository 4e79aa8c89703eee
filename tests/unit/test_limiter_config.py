"""Limit sources, the checks they produce, token estimates, headers and the Redis fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from gatewayz.accounts.principal import Principal
from gatewayz.inference.estimate import prompt_tokens
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.limits.config import RateLimits, merge, parse_limits
from gatewayz.limits.limiter import Limiter, Ticket
from gatewayz.limits.sources import LimitPlanner, default_sources
from gatewayz.limits.stage import (
    actual_tokens,
    duration,
    estimate_tokens,
    model_identities,
    ratelimit_headers,
    rejection,
)
from gatewayz.limits.windows import Outcome
from gatewayz.providers.adapters import adapter_for
from gatewayz.providers.registry import load_providers
from gatewayz.providers.router import Route
from gatewayz.settings import Settings
from tests.support.servers import free_port
from tests.unit.limiter_support import window_check


def principal(key: dict[str, Any] | None = None, user: dict[str, Any] | None = None) -> Principal:
    return Principal(
        key_id=7, user_id=3, role="user", environment="test", scopes=frozenset({"inference"}), prefix="gw_test_x",
        key_hash="h", ip_networks=None, referer_patterns=None, allowed_models=None, expires_at=None,
        max_requests=None, revoked=False, active=True,
        key_rate_limits=parse_limits(key), user_rate_limits=parse_limits(user),
    )  # fmt: skip


def planner(global_: Any = None, user: Any = None, key: Any = None) -> LimitPlanner:
    sources = default_sources(parse_limits(global_), parse_limits(user), parse_limits(key))
    return LimitPlanner(sources, "rl", 600_000)


def limits_of(checks: list[Any]) -> dict[str, int]:
    return {c.key: c.limit for c in checks}


def test_no_configuration_means_no_checks() -> None:
    assert planner().checks(principal(), "chat", ("gpt-4o",)) == []


def test_admin_user_limits_override_the_defaults_and_key_limits_only_tighten() -> None:
    p = planner(user={"requests_per_minute": 60}, key={"requests_per_minute": 100})
    raised = principal(user={"requests_per_minute": 1000}, key={"requests_per_minute": 500})
    assert limits_of(p.checks(raised, "chat", ("m",))) == {
        "rl:user:3:requests:minute": 1000,  # the admin raised the user above the default
        "rl:key:7:requests:minute": 100,  # the owner cannot loosen the key default
    }
    narrowed = principal(key={"requests_per_minute": 5, "tokens_per_day": 9000})
    assert limits_of(p.checks(narrowed, "chat", ("m",))) == {
        "rl:user:3:requests:minute": 60,
        "rl:key:7:requests:minute": 5,
        "rl:key:7:tokens:day": 9000,
    }


def test_model_and_endpoint_windows_get_their_own_counters() -> None:
    p = planner(
        global_={"endpoints": {"embeddings": {"requests_per_second": 50}}},
        user={"models": {"openai/*": {"requests_per_minute": 10}, "openai/gpt-4o": {"concurrent_requests": 2},
                         "*": {"tokens_per_hour": 100}}},
    )  # fmt: skip
    gpt4o = limits_of(p.checks(principal(), "chat", ("openai/gpt-4o",)))
    assert gpt4o == {"rl:user:3:model:openai/gpt-4o:concurrent": 2}
    assert limits_of(p.checks(principal(), "chat", ("openai/o3",))) == {"rl:user:3:model:openai/o3:requests:minute": 10}
    assert limits_of(p.checks(principal(), "embeddings", ("x/emb",))) == {
        "rl:global:all:endpoint:embeddings:requests:second": 50,
        "rl:user:3:model:x/emb:tokens:hour": 100,
    }


def test_checks_are_cached_per_principal_object() -> None:
    p = planner(user={"requests_per_minute": 60})
    first = principal()
    assert p.checks(first, "chat", ("m",)) is p.checks(first, "chat", ("m",))
    changed = principal(user={"requests_per_minute": 5})  # what a reload after a change produces
    assert limits_of(p.checks(changed, "chat", ("m",))) == {"rl:user:3:requests:minute": 5}


def test_limits_are_validated() -> None:
    with pytest.raises(ValidationError):
        RateLimits.model_validate({"requests_per_minute": 0})
    with pytest.raises(ValidationError):
        RateLimits.model_validate({"requests_per_fortnight": 1})
    with pytest.raises(ValidationError):
        RateLimits.model_validate({"endpoints": {"audio": {"requests_per_minute": 1}}})
    assert parse_limits({"requests_per_minute": "lots"}) is None  # a bad stored value is ignored
    merged = merge(RateLimits(requests_per_minute=5), RateLimits(tokens_per_day=7), override=False)
    assert merged is not None and (merged.requests_per_minute, merged.tokens_per_day) == (5, 7)


def test_settings_take_limits_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    value = '{"requests_per_minute": 60, "models": {"a/*": {"tokens_per_day": 9}}}'
    monkeypatch.setenv("GATEWAYZ_RATE_LIMIT_USER", value)
    settings = Settings()
    assert settings.rate_limit_user is not None
    assert settings.rate_limit_user.requests_per_minute == 60
    assert settings.rate_limit_key is None and settings.rate_limit_global is None


def test_duration_format_is_openais() -> None:
    assert [duration(ms) for ms in (0, 20, 999, 1000, 1500, 59_000, 360_000, 3_723_000)] == [
        "0ms", "20ms", "999ms", "1s", "1.5s", "59s", "6m0s", "1h2m3s",
    ]  # fmt: skip


def _call(body: dict[str, Any], endpoint: str = "chat") -> InferenceCall:
    return InferenceCall("r", principal(), endpoint, "m", body, stream=False)


def test_token_estimates() -> None:
    chat = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}
    prompt = prompt_tokens("chat", chat)  # the one estimator, shared with billing
    assert prompt >= 400 // 3
    assert estimate_tokens(_call(chat), 1024) == (prompt, prompt + 50)
    assert estimate_tokens(_call({**chat, "max_tokens": None}), 1024) == (prompt, prompt + 1024)  # the default
    assert estimate_tokens(_call({**chat, "max_tokens": 10**6}), 1024) == (prompt, prompt + 1024)  # capped
    assert estimate_tokens(_call({**chat, "n": 3}), 1024) == (prompt, prompt + 150)
    embed = {"input": ["ab" * 10, "cd" * 10]}
    assert estimate_tokens(_call(embed, "embeddings"), 1024) == (prompt_tokens("embeddings", embed),) * 2


def test_tools_and_schemas_count_against_token_limits() -> None:
    """The prompt is mostly in `tools` (and a `response_format` schema): the old estimate, message
    text / 4, saw ~1 token of it."""
    schema = {"type": "object", "properties": {f"field_{i}": {"type": "string", "description": "d" * 40}
                                                for i in range(50)}}  # fmt: skip
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}}  # fmt: skip
    prompt, _ = estimate_tokens(_call(body), 1024)
    assert prompt > 2 * len(orjson.dumps(schema)) // 3


def test_model_identities_cover_every_route_and_spelling(tmp_path: Path) -> None:
    rows = {name: {"protocol": "openai", "base_url": "http://127.0.0.1:1/v1", "api_key": "k", "models": []}
            for name in ("openrouter", "fakeopenai", "groq")}  # fmt: skip
    specs = load_providers(Settings(data_dir=tmp_path, environment="dev", providers=rows), environ={})

    def route(provider: str, upstream: str, requested: str) -> Route:
        return Route(specs[provider], adapter_for(specs[provider]), upstream, requested)

    call = _call({})
    assert model_identities(call) == ("m",)  # no routes (sandbox): the requested id
    call.routes = [route("openrouter", "openai/gpt-4o", "gpt-4o"), route("fakeopenai", "gpt-4o", "gpt-4o"),
                   route("groq", "llama", "groq/llama")]  # fmt: skip
    assert model_identities(call) == (
        "fakeopenai/gpt-4o", "gpt-4o", "groq/llama", "llama", "openai/gpt-4o", "openrouter/openai/gpt-4o",
    )  # fmt: skip
    call.routes.reverse()  # routes are shuffled per request; the planner's cache key is not
    assert model_identities(call) == tuple(sorted(model_identities(call)))


def test_every_model_rule_matching_any_name_applies_once() -> None:
    p = planner(user={"models": {"openai/*": {"requests_per_minute": 10}, "gpt-4o": {"concurrent_requests": 2},
                                 "*": {"tokens_per_hour": 100}}})  # fmt: skip
    names = ("gpt-4o", "openai/gpt-4o", "openrouter/openai/gpt-4o")
    assert limits_of(p.checks(principal(), "chat", names)) == {
        "rl:user:3:model:gpt-4o:concurrent": 2,  # the exact rule wins for this name
        "rl:user:3:model:openai/gpt-4o:requests:minute": 10,
        "rl:user:3:model:openrouter/openai/gpt-4o:tokens:hour": 100,
    }
    assert p.has_model_rules(principal())
    assert not planner(user={"requests_per_minute": 1}).has_model_rules(principal())


def test_actual_tokens() -> None:
    call = _call({})
    call.usage, call.status = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}, 200
    assert actual_tokens(call, 100) == 7
    call.usage, call.generated_chars = None, 80
    assert actual_tokens(call, 100) == 100 + 27  # prompt estimate + what was relayed (~3 characters a token)
    failed = _call({})
    failed.status = 502
    assert actual_tokens(failed, 100) == 0  # nothing was produced


def test_headers_report_the_tightest_window_and_rejections_say_when_to_retry() -> None:
    rpm = window_check("a", "requests", 60)
    rpd = window_check("b", "requests", 1000, "day")
    tpm = window_check("c", "tokens", 5000)
    ticket = Ticket("local", "l", [rpm, rpd, tpm], [1, 1, 400],
                    [Outcome(59, 60_000, 0), Outcome(995, 600_000, 0), Outcome(3000, 6_000, 0)], True)  # fmt: skip
    assert ratelimit_headers(ticket) == {
        "x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "1m0s",
        "x-ratelimit-limit-tokens": "5000", "x-ratelimit-remaining-tokens": "2000", "x-ratelimit-reset-tokens": "6s",
    }  # fmt: skip
    refused = Ticket("local", "l", [rpm, tpm], [1, 400],
                     [Outcome(60, 60_000, 1_234), Outcome(3000, 6_000, 0)], False)  # fmt: skip
    error = rejection(refused)
    assert error.status == 429 and error.type == "rate_limit_error" and error.code == "rate_limit_exceeded"
    assert error.headers == {"retry-after": "2", "retry-after-ms": "1234"}
    assert "requests per minute" in error.message and "1.234s" in error.message


@pytest.mark.asyncio(loop_scope="session")
async def test_an_unreachable_redis_degrades_to_local_limits() -> None:
    redis = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    limiter = Limiter(redis, probe_seconds=30)
    try:
        rpm = [window_check("rl:test:down", "requests", 2)]
        results = [(await limiter.admit(rpm, 0)) for _ in range(3)]
        assert [t.allowed for t in results] == [True, True, False]  # still limited, by this process
        assert {t.backend for t in results} == {"local"}
        assert limiter.health()["status"] == "degraded"
    finally:
        await limiter.stop()
        await redis.aclose()
