"""Request validation for the sandbox, rejecting input the way OpenAI would (400 + ``param`` + ``code``).

The sandbox is where developers first wire up their client, so it must fail loudly on requests a real
provider refuses (an unknown model, ``temperature: 5``, a tool result without its tool call) instead
of cheerfully answering them and letting the bug surface against a paid provider. Ranges and types
are OpenAI's documented ones; the wording comes from ``sandbox_checks``.
"""

from __future__ import annotations

from typing import Any

from gatewayz.providers.sandbox_checks import (
    bad_value,
    check_bool,
    check_integer,
    check_length,
    check_number,
    check_string,
    fail,
    is_int,
    is_number,
    kind_of,
    missing,
    require_model,
    wrong_type,
)
from gatewayz.providers.sandbox_common import SandboxError, approx_tokens
from gatewayz.providers.sandbox_validate_tools import check_response_format, check_tool_choice, check_tools

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_PART_TYPES = ("text", "image_url", "input_audio", "refusal", "file")
# Which content parts each role may carry (Chat Completions API reference).
_PARTS_BY_ROLE: dict[str, tuple[str, ...]] = {
    "system": ("text",),
    "developer": ("text",),
    "user": ("text", "image_url", "input_audio", "file"),
    "assistant": ("text", "refusal"),
    "tool": ("text",),
    "function": ("text",),
}
_CONTENT_TYPES = "one of a string or array of objects"
_STOP_TYPES = "one of a string or array of strings"
_EMBED_INPUT_TYPES = "one of a string, array of strings, array of integers, or array of arrays of integers"
_MAX_N = 128
_MAX_STOP = 4
_MAX_EMBED_INPUTS = 2048
_MAX_EMBED_INPUT_TOKENS = 8192
_MAX_EMBED_REQUEST_TOKENS = 300_000
MAX_DIMENSIONS = 4096


def _check_part(part: dict[str, Any], kind: str, param: str) -> None:
    """The payload each content part type requires."""
    field = {"text": "text", "refusal": "refusal"}.get(kind)
    if field is not None:
        if part.get(field) is None:
            raise missing(f"{param}.{field}")
        if not isinstance(part[field], str):
            raise wrong_type(f"{param}.{field}", "a string", part[field])
        return
    payload = part.get(kind)
    if payload is None:
        raise missing(f"{param}.{kind}")
    if not isinstance(payload, dict):
        raise wrong_type(f"{param}.{kind}", "an object", payload)
    if kind == "image_url":
        check_string(payload, "url", f"{param}.image_url.url")
        if payload.get("url") is None:
            raise missing(f"{param}.image_url.url")
        if payload.get("detail") is not None and payload["detail"] not in ("auto", "low", "high"):
            raise bad_value(f"{param}.image_url.detail", payload["detail"], ("auto", "low", "high"))
    elif kind == "input_audio":
        check_string(payload, "data", f"{param}.input_audio.data")
        if payload.get("data") is None:
            raise missing(f"{param}.input_audio.data")
        if payload.get("format") is None:
            raise missing(f"{param}.input_audio.format")
        if payload["format"] not in ("wav", "mp3"):
            raise bad_value(f"{param}.input_audio.format", payload["format"], ("wav", "mp3"))


def _check_content(message: dict[str, Any], role: str, param: str, *, required: bool) -> None:
    """Message content is a string or a non-empty list of the parts the role allows."""
    where = f"{param}.content"
    if "content" not in message:
        if required:
            raise missing(where)
        return
    content = message["content"]
    if content is None and not required:
        return
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise wrong_type(where, _CONTENT_TYPES, content)
    check_length(where, content, 1)
    allowed = _PARTS_BY_ROLE[role]
    for j, part in enumerate(content):
        here = f"{where}[{j}]"
        kind = kind_of(part, here, _PART_TYPES)
        if kind not in allowed:
            if kind == "image_url":
                raise fail(
                    f"Invalid '{param}'. Image URLs are only allowed for messages with role 'user', but this "
                    f"message with role '{role}' contains an image URL.",
                    param,
                    "invalid_value",
                )
            raise bad_value(f"{here}.type", kind, allowed)
        _check_part(part, kind, here)


def _check_tool_calls(message: dict[str, Any], param: str) -> list[str]:
    """An assistant message's ``tool_calls``; returns their ids (each must be answered by a tool message)."""
    calls = message.get("tool_calls")
    if calls is None:
        return []
    if not isinstance(calls, list):
        raise wrong_type(f"{param}.tool_calls", "an array", calls)
    ids: list[str] = []
    for k, call in enumerate(calls):
        here = f"{param}.tool_calls[{k}]"
        if not isinstance(call, dict):
            raise wrong_type(here, "an object", call)
        for key in ("id", "type"):
            check_string(call, key, f"{here}.{key}")
            if call.get(key) is None:
                raise missing(f"{here}.{key}")
        if call["type"] not in ("function", "custom"):
            raise bad_value(f"{here}.type", call["type"], ("function", "custom"))
        payload = call.get(call["type"])
        if payload is None:
            raise missing(f"{here}.{call['type']}")
        if not isinstance(payload, dict):
            raise wrong_type(f"{here}.{call['type']}", "an object", payload)
        for key in ("name", "arguments") if call["type"] == "function" else ("name", "input"):
            check_string(payload, key, f"{here}.{call['type']}.{key}")
            if payload.get(key) is None:
                raise missing(f"{here}.{call['type']}.{key}")
        ids.append(call["id"])
    return ids


def _check_message(message: Any, i: int) -> list[str]:
    """Validate one chat message for its role; returns the ids of the tool calls it makes."""
    param = f"messages[{i}]"
    role = kind_of(message, param, _ROLES, "role")
    check_string(message, "name", f"{param}.name")
    if role == "assistant":
        ids = _check_tool_calls(message, param)
        has_calls = bool(ids) or bool(message.get("function_call")) or bool(message.get("audio"))
        _check_content(message, role, param, required=not has_calls)
        return ids
    _check_content(message, role, param, required=True)
    if role == "tool":
        check_string(message, "tool_call_id", f"{param}.tool_call_id")
        if message.get("tool_call_id") is None:
            raise missing(f"{param}.tool_call_id")
    if role == "function" and message.get("name") is None:
        raise missing(f"{param}.name")
    return []


def _unanswered(pending: list[str], at: int) -> SandboxError:
    return fail(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}",
        f"messages.[{at}].role",
    )


def _check_messages(messages: Any) -> None:
    """Each message's shape, then OpenAI's pairing rule between tool calls and tool results."""
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list):
        raise wrong_type("messages", "an array", messages)
    check_length("messages", messages, 1)
    pending: list[str] | None = None  # tool calls of the last assistant turn still awaiting results
    answerable: set[str] = set()
    opened_at = 0
    for i, message in enumerate(messages):
        ids = _check_message(message, i)
        if message["role"] == "tool":
            if pending is None:
                raise fail(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceding message with "
                    "'tool_calls'.",
                    f"messages.[{i}].role",
                )
            call_id = message["tool_call_id"]
            if call_id not in answerable:
                raise fail(
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' of previous message.",
                    f"messages.[{i}].tool_call_id",
                )
            if call_id in pending:
                pending.remove(call_id)
            continue
        if pending:
            raise _unanswered(pending, opened_at)
        pending, answerable, opened_at = (list(ids), set(ids), i) if ids else (None, set(), i)
    if pending:
        raise _unanswered(pending, opened_at)


def _check_stop(body: dict[str, Any]) -> None:
    """``stop``: a string or up to 4 non-empty strings."""
    stop = body.get("stop")
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise wrong_type("stop", _STOP_TYPES, stop)
    check_length("stop", stop, 0, _MAX_STOP)
    if not all(stop):
        raise fail("Invalid 'stop': stop sequences must be non-empty strings.", "stop", "invalid_value")


def _check_stream_options(body: dict[str, Any], streamed: bool) -> None:
    """``stream_options`` is an object and, as on OpenAI, only allowed on streamed requests."""
    options = body.get("stream_options")
    if options is None:
        return
    if not streamed:
        raise fail("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    if not isinstance(options, dict):
        raise wrong_type("stream_options", "an object", options)
    for flag in ("include_usage", "include_obfuscation"):
        if options.get(flag) is not None and not isinstance(options[flag], bool):
            raise wrong_type(f"stream_options.{flag}", "a boolean", options[flag])


def _check_logit_bias(body: dict[str, Any]) -> None:
    """``logit_bias``: token ids (as strings) mapped to biases in [-100, 100]."""
    bias = body.get("logit_bias")
    if bias is None:
        return
    if not isinstance(bias, dict):
        raise wrong_type("logit_bias", "an object", bias)
    for token, value in bias.items():
        if not token.isdigit():
            raise fail(f"Invalid key in 'logit_bias': {token}. Keys must be token ids.", "logit_bias", "invalid_value")
        if not is_number(value) or not -100 <= value <= 100:
            raise fail(
                f"Invalid value for 'logit_bias' token {token}: expected a number between -100 and 100, got {value!r}.",
                "logit_bias",
                "invalid_value",
            )


def validate_chat(body: Any, *, streamed: bool | None = None) -> None:
    """Raise ``SandboxError`` (404 for an unknown model, else 400) for a chat request OpenAI would reject.

    ``streamed`` says whether the answer will be streamed; by default the body's ``stream`` flag decides.
    """
    if not isinstance(body, dict):
        raise fail("The request body must be a JSON object.", None)
    require_model(body, "chat")
    _check_messages(body.get("messages"))
    check_number(body, "temperature", 0, 2)
    check_number(body, "top_p", 0, 1)
    check_number(body, "presence_penalty", -2, 2)
    check_number(body, "frequency_penalty", -2, 2)
    check_integer(body, "n", 1, _MAX_N)
    check_integer(body, "max_tokens", 1)
    check_integer(body, "max_completion_tokens", 1)
    check_integer(body, "top_logprobs", 0, 20)
    if body.get("seed") is not None and not is_int(body["seed"]):
        raise wrong_type("seed", "an integer", body["seed"])
    for flag in ("logprobs", "parallel_tool_calls", "stream", "store"):
        check_bool(body, flag)
    check_string(body, "user")
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        raise fail("Invalid value for 'top_logprobs': 'logprobs' must be set to true to use it.", "top_logprobs")
    _check_stop(body)
    _check_stream_options(body, body.get("stream") is True if streamed is None else streamed)
    _check_logit_bias(body)
    functions, customs = check_tools(body)
    check_tool_choice(body, functions, customs)
    check_response_format(body)


def _embedding_inputs(raw: Any) -> list[Any]:
    """``input`` as a list of items: a string, a token array, or an array of either."""
    if raw is None:
        raise missing("input")
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list):
        raise wrong_type("input", _EMBED_INPUT_TYPES, raw)
    check_length("input", raw, 1, _MAX_EMBED_INPUTS)
    return [raw] if all(is_int(t) for t in raw) else raw


def validate_embeddings(body: Any) -> list[str | list[int]]:
    """Validate an embeddings request and return its inputs as a list (strings or token arrays)."""
    if not isinstance(body, dict):
        raise fail("The request body must be a JSON object.", None)
    require_model(body, "embeddings")
    check_integer(body, "dimensions", 1, MAX_DIMENSIONS)
    fmt = body.get("encoding_format")
    if fmt is not None and fmt not in ("float", "base64"):
        raise bad_value("encoding_format", fmt, ("float", "base64"))
    check_string(body, "user")
    inputs = _embedding_inputs(body.get("input"))
    total = 0
    for i, item in enumerate(inputs):
        ok_text = isinstance(item, str) and item != ""
        ok_tokens = isinstance(item, list) and bool(item) and all(is_int(t) and t >= 0 for t in item)
        if not (ok_text or ok_tokens):
            raise fail(
                f"Invalid 'input[{i}]': expected a non-empty string or a non-empty array of token ids.",
                "input",
                "invalid_value",
            )
        tokens = approx_tokens(item) if isinstance(item, str) else len(item)
        if tokens > _MAX_EMBED_INPUT_TOKENS:
            raise fail(
                f"This model's maximum context length is {_MAX_EMBED_INPUT_TOKENS} tokens, however you requested "
                f"{tokens} tokens in 'input[{i}]'. Please reduce the length of the input.",
                "input",
            )
        total += tokens
    if total > _MAX_EMBED_REQUEST_TOKENS:
        raise fail(
            f"Requested {total} tokens, max {_MAX_EMBED_REQUEST_TOKENS} tokens per request.",
            "input",
            "max_tokens_per_request",
        )
    return inputs
