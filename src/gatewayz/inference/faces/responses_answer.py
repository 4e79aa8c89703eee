"""A finished chat.completion -> an OpenAI Response object (and the item shapes Responses lists).

The Response carries, besides the output, an echo of the request's settings (instructions,
tools, tool_choice, sampling, text format, ...) with OpenAI's defaults where the client left
them out; `echo()` builds that part once so a stream can reuse it for every lifecycle event.

Mapping of one chat answer (choice 0; Responses has no `n`):
- `reasoning_content`/`reasoning` text -> a `reasoning` item whose `content` is one
  `reasoning_text` part (the raw-reasoning form; chat providers give no summaries);
- `content`/`refusal` -> one assistant `message` item with an `output_text` and/or `refusal` part;
- each of `tool_calls` -> a `function_call` item (`call_id` = the chat tool call id);
- finish_reason `length`/`content_filter` -> status `incomplete` with that reason.
A message is emitted also when the answer is otherwise empty, so `output` is never empty.

Plain dict work only: this runs on every request. The input items a stored response lists are
built in responses_listing.py (`input_items`, importable from here too).
"""

from __future__ import annotations

import time
from typing import Any

from gatewayz.inference.faces.base import FaceContext
from gatewayz.inference.faces.responses_listing import input_items as input_items  # re-exported
from gatewayz.inference.faces.responses_listing import new_id
from gatewayz.providers.protocols._common import int_field, text_of

JSON = dict[str, Any]

INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
# ResponseError.code is a closed set in the spec; anything else is reported as server_error.
ERROR_CODES = frozenset(
    {
        "server_error", "rate_limit_exceeded", "invalid_prompt", "data_residency_mismatch", "bio_policy",
        "misalignment_policy_violation", "vector_store_timeout", "invalid_image", "invalid_image_format",
        "invalid_base64_image", "invalid_image_url", "image_too_large", "image_too_small", "image_parse_error",
        "image_content_policy_violation", "invalid_image_mode", "image_file_too_large",
        "unsupported_image_media_type", "empty_image_file", "failed_to_download_image", "image_file_not_found",
    }
)  # fmt: skip
SERVICE_TIERS = frozenset({"auto", "default", "flex", "scale", "priority", "fast", "ultrafast"})


def usage_from_chat(usage: JSON | None) -> JSON:
    """Chat usage -> ResponseUsage (zeros for what is unknown); the gateway's `cost` is kept."""
    if not isinstance(usage, dict):
        usage = {}
    prompt = int_field(usage, "prompt_tokens")
    completion = int_field(usage, "completion_tokens")
    total = usage.get("total_tokens")
    prompt_details = usage.get("prompt_tokens_details")
    out: JSON = {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": int_field(prompt_details, "cached_tokens"),
            "cache_write_tokens": int_field(prompt_details, "cache_write_tokens"),
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": int_field(usage.get("completion_tokens_details"), "reasoning_tokens")
        },
        "total_tokens": total if isinstance(total, int) and not isinstance(total, bool) else prompt + completion,
    }
    cost = usage.get("cost")
    if cost is not None:
        out["cost"] = cost
    return out


def echo(ctx: FaceContext) -> JSON:
    """The request settings a Response reports, with OpenAI's defaults for those left out.

    The request was accepted by `responses_request.to_chat`, so the values have the right types;
    tools are rebuilt field by field so a client's stray keys cannot make the echo invalid.
    """
    request = ctx.request
    get = request.get
    reasoning = get("reasoning")
    text = get("text")
    text = text if isinstance(text, dict) else {}
    tools = get("tools")
    temperature, top_p = get("temperature"), get("top_p")
    parallel, store = get("parallel_tool_calls"), get("store")
    retention = get("prompt_cache_retention")
    return {
        "background": False,
        "instructions": get("instructions"),
        "max_output_tokens": get("max_output_tokens"),
        "max_tool_calls": get("max_tool_calls"),
        "model": ctx.model,
        "parallel_tool_calls": parallel if isinstance(parallel, bool) else True,
        "previous_response_id": ctx.extra.get("previous_response_id"),
        "prompt_cache_key": get("prompt_cache_key"),
        "prompt_cache_retention": retention if retention in ("in_memory", "24h") else None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")}
        if isinstance(reasoning, dict)
        else {"effort": None, "summary": None},
        "safety_identifier": get("safety_identifier"),
        "store": store if isinstance(store, bool) else True,
        "temperature": 1.0 if temperature is None else temperature,
        "text": {"format": text.get("format") or {"type": "text"}, "verbosity": text.get("verbosity") or "medium"},
        "tool_choice": get("tool_choice") or "auto",
        "tools": [_tool_echo(tool) for tool in tools if isinstance(tool, dict)] if isinstance(tools, list) else [],
        "top_logprobs": get("top_logprobs") or 0,
        "top_p": 1.0 if top_p is None else top_p,
        "truncation": get("truncation") or "disabled",
        "user": get("user"),
        "metadata": get("metadata") or {},
    }


def _tool_echo(tool: JSON) -> JSON:
    return {
        "type": "function",
        "name": tool.get("name"),
        "description": tool.get("description"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict"),
    }


def response_object(
    ctx: FaceContext,
    echoed: JSON,
    status: str,
    output: list[JSON],
    usage: JSON | None,
    *,
    reason: str | None = None,
    error: JSON | None = None,
    tier: Any = None,
) -> JSON:
    """A Response: the head, the echoed settings, the output and the usage."""
    if tier not in SERVICE_TIERS:
        requested = ctx.request.get("service_tier")
        tier = requested if requested in SERVICE_TIERS else "default"
    return {
        "id": ctx.response_id,
        "object": "response",
        "created_at": ctx.created,
        "status": status,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": error,
        "incomplete_details": {"reason": reason} if reason else None,
        **echoed,
        "output": output,
        "service_tier": tier,
        "usage": usage,
    }


def render_response(completion: JSON, ctx: FaceContext, *, status_override: str | None = None) -> JSON:
    """A normalised chat.completion -> the Response object answering POST /v1/responses."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    if not isinstance(message, dict):
        message = {}
    reason = INCOMPLETE_REASONS.get(choice.get("finish_reason"))  # type: ignore[arg-type]
    status = status_override or ("incomplete" if reason else "completed")
    output: list[JSON] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        output.append(reasoning_item(new_id("rs_"), reasoning))
    content = message.get("content")
    text = content if isinstance(content, str) else text_of(content) if isinstance(content, list) else ""
    refusal = message.get("refusal")
    refusal = refusal if isinstance(refusal, str) and refusal else None
    calls = message.get("tool_calls")
    calls = [call for call in calls if isinstance(call, dict)] if isinstance(calls, list) else []
    if text or refusal or not (calls or output):
        parts: list[JSON] = []
        if text or not refusal:
            logprobs = choice.get("logprobs")
            entries = logprobs.get("content") if isinstance(logprobs, dict) else None
            parts.append(output_text(text, _annotations(message.get("annotations")), full_logprobs(entries)))
        if refusal:
            parts.append({"type": "refusal", "refusal": refusal})
        item_status = "incomplete" if status == "incomplete" else "completed"
        output.append(
            {"id": new_id("msg_"), "type": "message", "status": item_status, "role": "assistant", "content": parts}
        )
    seen: set[str] = set()
    for call in calls:
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        name, arguments = function.get("name"), function.get("arguments")
        output.append(
            function_call_item(
                new_id("fc_"),
                unique_call_id(call.get("id"), seen),
                name if isinstance(name, str) else "",
                arguments if isinstance(arguments, str) else "",
                "completed",
            )
        )
    usage = completion.get("usage")
    return response_object(
        ctx,
        echo(ctx),
        status,
        output,
        usage_from_chat(usage) if isinstance(usage, dict) else None,
        reason=reason if status == "incomplete" else None,
        tier=completion.get("service_tier"),
    )


def failed_response(ctx: FaceContext, message: str, code: str, output: list[JSON] | None = None) -> JSON:
    """A Response with status failed; `code` outside the spec's set is reported as server_error."""
    error = {"code": code if code in ERROR_CODES else "server_error", "message": message}
    return response_object(ctx, echo(ctx), "failed", output if output is not None else [], None, error=error)


def reasoning_item(item_id: str, text: str) -> JSON:
    return {"id": item_id, "type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": text}]}


def output_text(text: str, annotations: list[JSON], logprobs: list[JSON]) -> JSON:
    return {"type": "output_text", "text": text, "annotations": annotations, "logprobs": logprobs}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> JSON:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def unique_call_id(value: Any, seen: set[str]) -> str:
    """The chat tool call id, or a fresh one when it is missing or repeats: clients (and the
    SDK's stream accumulator) tell function calls apart by `call_id`."""
    call_id = value if isinstance(value, str) and value and value not in seen else new_id("call_")
    seen.add(call_id)
    return call_id


def _annotations(value: Any) -> list[JSON]:
    """Chat `url_citation` annotations -> Responses ones (flat); malformed entries are skipped."""
    if not isinstance(value, list):
        return []
    out = []
    for entry in value:
        cite = entry.get("url_citation") if isinstance(entry, dict) else None
        if isinstance(cite, dict):
            start, end, url, title = cite.get("start_index"), cite.get("end_index"), cite.get("url"), cite.get("title")
            if isinstance(start, int) and isinstance(end, int) and isinstance(url, str):
                out.append(
                    {
                        "type": "url_citation",
                        "start_index": start,
                        "end_index": end,
                        "url": url,
                        "title": title if isinstance(title, str) else "",
                    }
                )
    return out


def full_logprobs(entries: Any) -> list[JSON]:
    """Chat `logprobs.content` -> output_text `logprobs` (token, logprob, bytes, top_logprobs)."""
    if not isinstance(entries, list):
        return []
    out = []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("token"), str):
            top = entry.get("top_logprobs")
            out.append(
                {
                    **_logprob(entry),
                    "top_logprobs": [
                        _logprob(t) for t in top if isinstance(t, dict) and isinstance(t.get("token"), str)
                    ]
                    if isinstance(top, list)
                    else [],
                }
            )
    return out


def _logprob(entry: JSON) -> JSON:
    token = entry["token"]
    logprob = entry.get("logprob")
    raw = entry.get("bytes")
    return {
        "token": token,
        "logprob": logprob if isinstance(logprob, int | float) and not isinstance(logprob, bool) else 0.0,
        "bytes": raw if isinstance(raw, list) else list(token.encode()),
    }


def delta_logprobs(full: list[JSON]) -> list[JSON]:
    """The lighter form stream delta events carry (no bytes)."""
    return [
        {
            "token": entry["token"],
            "logprob": entry["logprob"],
            "top_logprobs": [{"token": t["token"], "logprob": t["logprob"]} for t in entry["top_logprobs"]],
        }
        for entry in full
    ]
