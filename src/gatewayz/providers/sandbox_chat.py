"""Decide what the sandbox "model" answers: one plan shared by the streaming and non-streaming paths.

Computing the answer once (text tokens, tool calls, finish reason, logprobs, usage) and only then
rendering it as a ``chat.completion`` or as chunks guarantees that both wire forms carry exactly
the same answer, which is what clients and tests rely on.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from gatewayz.providers.sandbox_common import (
    Rng,
    approx_tokens,
    canonical_json,
    content_text,
    error_for_status,
    find_error_marker,
    seed_from,
    short_quote,
    strip_markers,
    tokenize,
)
from gatewayz.providers.sandbox_schema import generate_value
from gatewayz.providers.sandbox_validate import validate_chat

_OPENERS = (
    'You said: "{q}".',
    'Thanks for your message: "{q}".',
    'Here is a simulated answer to "{q}".',
)
_MIDDLES = (
    "This reply comes from the Gatewayz sandbox, so no provider was called and nothing was billed.",
    "The Gatewayz sandbox generated it locally: no upstream request was made and no credits were used.",
    "It is a deterministic stand-in for a real completion, produced without contacting any provider.",
)
# Closers must hold for whoever reads them: the reader has a test key, and ``sandbox/...`` ids do not
# exist for live keys, so they say what changes with a live key instead of naming this model.
_CLOSERS = (
    "It is a simulated answer for a test (gw_test_) key; a live key reaches a real provider "
    "when you name a provider model id (as listed by GET /v1/models).",
    "Test keys only reach this simulator: with a live key, replace {model} with a provider model id "
    "to get a real completion.",
    "With a live key and a provider model id instead of {model}, the same request would be served by a real provider.",
)
_ALTERNATIVES = (
    "the", "a", "this", "that", "it", "and", "to", "of", "in", "is", "reply", "answer", "sandbox",
    "message", "model", "request", "here", "you", "your", "so", "with", "not", "for", "on",
)  # fmt: skip
_TOOL_CALL_HEADER_TOKENS = 2
_IMAGE_TOKENS = 85


@dataclass
class ChoicePlan:
    """One simulated choice: either text (``content``) or ``tool_calls``, plus its accounting."""

    index: int
    content: str | None
    content_tokens: list[str]
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    completion_tokens: int
    logprobs: list[dict[str, Any]] | None = None


@dataclass
class ChatPlan:
    """The whole simulated answer: choices plus the request-level usage and fingerprint."""

    model: str
    prompt_tokens: int
    fingerprint: str
    choices: list[ChoicePlan] = field(default_factory=list)

    @property
    def completion_tokens(self) -> int:
        """Completion usage is summed over all ``n`` choices, as OpenAI bills it."""
        return sum(c.completion_tokens for c in self.choices)


def last_user_text(messages: list[Any]) -> str:
    """Text of the most recent user message, where control markers live."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """~4 characters per token over all prompt text, with OpenAI-like per-message overheads."""
    total = 3  # priming of the assistant reply
    for message in body["messages"]:
        total += 3 + approx_tokens(content_text(message.get("content")))
        if message.get("name"):
            total += 1
        if isinstance(message.get("content"), list):
            total += _IMAGE_TOKENS * sum(
                1 for p in message["content"] if isinstance(p, dict) and p.get("type") == "image_url"
            )
        if message.get("tool_calls"):
            total += approx_tokens(canonical_json(message["tool_calls"]))
    if body.get("tools"):
        total += approx_tokens(canonical_json(body["tools"]))
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        total += approx_tokens(canonical_json(fmt["json_schema"]))
    return total


def _tools_to_call(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Pick the function definitions to call, or [] when the model should answer in text."""
    functions = [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice")
    if not functions or choice == "none":
        return []
    if isinstance(choice, dict) and choice["type"] == "function":
        return [f for f in functions if f["name"] == choice["function"]["name"]][:1]
    if isinstance(choice, dict) and choice["type"] == "custom":
        return []  # the simulator only calls function tools; a forced custom tool gets a text answer
    if isinstance(choice, dict):  # allowed_tools: call among the listed functions only
        allowed = choice["allowed_tools"]
        names = {(t.get("function") or t).get("name") for t in allowed["tools"] if t.get("type") == "function"}
        functions = [f for f in functions if f["name"] in names]
        choice = allowed["mode"]
    last_role = body["messages"][-1].get("role")
    if not functions or (choice != "required" and last_role != "user"):
        return []
    parallel = body.get("parallel_tool_calls") is not False
    return functions[:2] if parallel and len(functions) >= 2 else functions[:1]


def _tool_result_reply(body: dict[str, Any], model: str) -> str:
    """Answer after tool results: mention each trailing tool output, named after its function."""
    names: dict[str, str] = {}
    for message in body["messages"]:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                names[str(call.get("id"))] = str(call["function"].get("name", "tool"))
    results: list[str] = []
    for message in reversed(body["messages"]):
        if message.get("role") != "tool":
            break
        name = names.get(str(message.get("tool_call_id")), "tool")
        output = short_quote(content_text(message.get("content")), 60)
        results.insert(0, f'the {name} tool returned "{output}"')
    summary = "; ".join(results)
    return (
        f"According to the results, {summary}. Based on that, this is a simulated final answer "
        f"from the Gatewayz sandbox for {model}."
    )


def _text_reply(body: dict[str, Any], model: str, rng: Rng) -> str:
    """A short, plausible reply quoting the last user message (markers removed)."""
    quote = short_quote(strip_markers(last_user_text(body["messages"])))
    opener = rng.choice(_OPENERS).format(q=quote) if quote else "Here is a simulated answer to your message."
    return " ".join((opener, rng.choice(_MIDDLES), rng.choice(_CLOSERS).format(model=model)))


def _content(body: dict[str, Any], model: str, rng: Rng) -> str:
    """The full (untruncated) text, shaped by ``response_format``."""
    if body["messages"][-1].get("role") == "tool":
        reply = _tool_result_reply(body, model)
    else:
        reply = _text_reply(body, model, rng)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": reply, "model": model, "sandbox": True}, ensure_ascii=False)
    if fmt.get("type") == "json_schema":
        schema = fmt["json_schema"].get("schema") or {"type": "object"}
        return json.dumps(generate_value(schema, rng, text=reply), ensure_ascii=False)
    return reply


def _apply_stop(text: str, stop: Any) -> str:
    """Cut at the earliest stop sequence; like OpenAI, the sequence itself is not returned."""
    sequences = [stop] if isinstance(stop, str) else stop or []
    cut = min((i for i in (text.find(s) for s in sequences) if i >= 0), default=-1)
    return text if cut < 0 else text[:cut]


def _logprobs(tokens: list[str], top: int, rng: Rng) -> list[dict[str, Any]]:
    """Plausible per-token logprobs: the sampled token is the most likely, alternatives trail off."""
    entries: list[dict[str, Any]] = []
    for token in tokens:
        logprob = -round(0.00001 + rng.random() ** 3 * 2.0, 6)
        prefix = " " if token.startswith(" ") else ""
        tops: list[dict[str, Any]] = []
        if top:
            tops.append({"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))})
            start = rng.randint(0, len(_ALTERNATIVES) - 1)
            for k in range(len(_ALTERNATIVES)):
                if len(tops) >= top:
                    break
                alt = prefix + _ALTERNATIVES[(start + k) % len(_ALTERNATIVES)]
                if alt != token:
                    alt_lp = round(tops[-1]["logprob"] - 0.5 - rng.random() * 1.5, 6)
                    tops.append({"token": alt, "logprob": alt_lp, "bytes": list(alt.encode("utf-8"))})
        entries.append({"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8")), "top_logprobs": tops})
    return entries


def _plan_tool_calls(index: int, functions: list[dict[str, Any]], budget: float, rng: Rng, text: str) -> ChoicePlan:
    """Generate tool calls with schema-valid arguments, truncated (finish "length") past ``budget``."""
    calls: list[dict[str, Any]] = []
    used = 0
    truncated = False
    for function in functions:
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        arguments = json.dumps(generate_value(parameters, rng, text=text), separators=(",", ":"), ensure_ascii=False)
        call_id = "call_" + rng.token(24)
        if used + _TOOL_CALL_HEADER_TOKENS > budget:
            truncated = True
            break
        used += _TOOL_CALL_HEADER_TOKENS
        arg_tokens = tokenize(arguments)
        if used + len(arg_tokens) > budget:
            keep = int(budget - used)
            arguments, truncated = "".join(arg_tokens[:keep]), True
            used += keep
        else:
            used += len(arg_tokens)
        calls.append(
            {
                "id": call_id,
                "type": "function",
                "function": {"name": function["name"], "arguments": arguments},
            }
        )
        if truncated:
            break
    if not calls:
        return ChoicePlan(index, "", [], [], "length", used)
    return ChoicePlan(index, None, [], calls, "length" if truncated else "tool_calls", used)


def plan_chat(body: Any, *, streamed: bool | None = None) -> ChatPlan:
    """Validate the request, honour error markers, then compute every choice deterministically."""
    validate_chat(body, streamed=streamed)
    status = find_error_marker(last_user_text(body["messages"]))
    if status is not None:
        raise error_for_status(status)
    model: str = body["model"]
    fingerprint = "fp_" + hashlib.sha256(f"sandbox:{model}".encode()).hexdigest()[:10]
    plan = ChatPlan(model=model, prompt_tokens=count_prompt_tokens(body), fingerprint=fingerprint)
    # Only content-shaping fields feed the seed, so max_tokens/stop/stream never change the wording.
    base_seed = seed_from(
        "sandbox-chat", model, body["messages"], body.get("seed"), body.get("tools"),
        body.get("tool_choice"), body.get("response_format"), body.get("parallel_tool_calls"),
    )  # fmt: skip
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    budget: float = limit if limit is not None else math.inf
    functions = _tools_to_call(body)
    quote = short_quote(strip_markers(last_user_text(body["messages"])))
    for index in range(body.get("n") or 1):
        rng = Rng(seed_from(base_seed, index))
        if functions:
            plan.choices.append(_plan_tool_calls(index, functions, budget, rng, quote))
            continue
        tokens = tokenize(_apply_stop(_content(body, model, rng), body.get("stop")))
        finish = "stop"
        if len(tokens) > budget:
            tokens, finish = tokens[: int(budget)], "length"
        choice = ChoicePlan(index, "".join(tokens), tokens, [], finish, len(tokens))
        if body.get("logprobs"):
            choice.logprobs = _logprobs(tokens, body.get("top_logprobs") or 0, rng)
        plan.choices.append(choice)
    return plan
