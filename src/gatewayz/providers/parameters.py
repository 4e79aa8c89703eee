"""`provider.require_parameters`: which of a request's parameters an endpoint must support.

An endpoint's supported parameters come from its provider's model list, in OpenRouter's
vocabulary (`supported_parameters`: "tools", "max_tokens", "structured_outputs"...). A request
names a parameter by setting it; the request's own spellings map onto that vocabulary
(`max_completion_tokens` is `max_tokens`, a `json_schema` response format is
`structured_outputs`). Parameters outside the vocabulary (messages, stream, user, metadata...)
every endpoint takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

VOCABULARY = frozenset(
    {
        "frequency_penalty", "include_reasoning", "logit_bias", "logprobs", "max_tokens", "min_p",
        "parallel_tool_calls", "presence_penalty", "reasoning", "repetition_penalty", "response_format",
        "seed", "stop", "structured_outputs", "temperature", "tool_choice", "tools", "top_a", "top_k",
        "top_logprobs", "top_p", "verbosity", "web_search_options",
    }
)
ALIASES = {"max_completion_tokens": "max_tokens", "reasoning_effort": "reasoning"}


def request_parameters(body: Mapping[str, Any]) -> frozenset[str]:
    """The vocabulary names of the parameters a (chat-shaped) request sets."""
    named: set[str] = set()
    for key, value in body.items():
        if value is None:
            continue
        name = ALIASES.get(key, key)
        if name in VOCABULARY:
            named.add(name)
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
        named.add("structured_outputs")
    return frozenset(named)


def missing_parameters(supported: Iterable[str] | None, wanted: frozenset[str]) -> frozenset[str]:
    """What the endpoint does not list (everything, when it publishes no list: it cannot show support)."""
    if not wanted:
        return frozenset()
    if not supported:
        return wanted
    return wanted - set(supported)


def wanted_parameters(body: Mapping[str, Any]) -> frozenset[str]:
    """The parameters to check: only when the request asks (`provider.require_parameters: true`)."""
    preference = body.get("provider")
    if isinstance(preference, Mapping) and preference.get("require_parameters") is True:
        return request_parameters(body)
    return frozenset()
