"""OpenAI chat completions ⇄ Google Gemini ``generateContent`` (AI Studio and Vertex AI).

Lets the gateway call Gemini natively instead of through Google's OpenAI-compatibility layer,
which lags behind on features and reports usage less precisely. Pure dict → dict; the caller
owns URLs, auth and HTTP. Response and stream translation are re-exported from sibling modules.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any
from urllib.parse import urlparse

from ._common import (
    JSONDict,
    content_parts,
    image_url_of,
    is_http_url,
    parse_data_url,
    parse_tool_arguments,
    text_of,
)
from .errors import UpstreamStreamError
from .gemini_response import from_gemini_response
from .gemini_schema import clean_schema
from .gemini_stream import GeminiStreamTranslator

__all__ = [
    "GeminiStreamTranslator",
    "UpstreamStreamError",
    "clean_schema",
    "error_from_gemini",
    "from_gemini_response",
    "gemini_path",
    "to_gemini_request",
]

_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_STATUS_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gemini_path(model: str, *, stream: bool) -> str:
    """Relative method path for ``model``; ``alt=sse`` makes the stream SSE instead of a JSON array."""
    name = model.removeprefix("models/")
    if stream:
        return f"models/{name}:streamGenerateContent?alt=sse"
    return f"models/{name}:generateContent"


def to_gemini_request(body: JSONDict, *, default_max_tokens: int | None = None) -> JSONDict:
    """Translate an OpenAI chat completion request body into a ``GenerateContentRequest``.

    Raises ValueError for input Gemini cannot take (e.g. a tool result whose call is unknown).
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty array")
    messages = [m for m in messages if isinstance(m, dict)]
    system = [m for m in messages if m.get("role") in ("system", "developer")]
    names = _tool_call_names(messages)
    turns = [_convert_message(m, names) for m in messages if m.get("role") not in ("system", "developer")]

    out: JSONDict = {"contents": _merge_contents(turns)}
    system_text = "\n\n".join(t for t in (text_of(m.get("content")) for m in system) if t)
    if system_text:
        out["systemInstruction"] = {"parts": [{"text": system_text}]}
    out.update(_tool_params(body))
    config = _generation_config(body, default_max_tokens)
    if config:
        out["generationConfig"] = config
    return out


def _tool_call_names(messages: list[JSONDict]) -> dict[str, str]:
    """tool_call_id → function name, since Gemini's ``functionResponse`` is keyed by name."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and call.get("id") and function.get("name"):
                names[str(call["id"])] = str(function["name"])
    return names


def _convert_message(message: JSONDict, names: dict[str, str]) -> JSONDict:
    """One OpenAI message → one Gemini ``Content`` (before merging same-role neighbours)."""
    role = message.get("role")
    if role == "user":
        return {"role": "user", "parts": _user_parts(message.get("content"))}
    if role == "assistant":
        return {"role": "model", "parts": _model_parts(message)}
    if role == "tool":
        return {"role": "user", "parts": [_function_response(message, names)]}
    raise ValueError(f"unsupported message role for Gemini: {role!r}")


def _user_parts(content: Any) -> list[JSONDict]:
    """User content → Gemini parts: text, inlineData (data: URLs) or fileData (http URLs)."""
    parts: list[JSONDict] = []
    for part in content_parts(content):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                parts.append({"text": str(part["text"])})
        elif kind == "image_url":
            parts.append(_media_part(image_url_of(part), default_mime="image/jpeg"))
        elif kind == "input_audio":
            parts.append(_audio_part(part))
        elif kind == "file":
            parts.append(_file_part(part))
        else:
            raise ValueError(f"unsupported content part type for Gemini: {kind!r}")
    return parts


def _media_part(url: str, *, default_mime: str) -> JSONDict:
    """A URL → ``inlineData`` for data: URLs, ``fileData`` for URLs Google can fetch itself."""
    parsed = parse_data_url(url)
    if parsed is not None:
        mime, data = parsed
        return {"inlineData": {"mimeType": mime, "data": data}}
    if is_http_url(url) or url.startswith("gs://"):
        mime = mimetypes.guess_type(urlparse(url).path)[0] or default_mime
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise ValueError("media URLs must be http(s), gs:// or base64 data: URLs")


def _audio_part(part: JSONDict) -> JSONDict:
    """OpenAI ``input_audio`` (base64 + format) → ``inlineData`` with an audio MIME type."""
    audio = part.get("input_audio") if isinstance(part.get("input_audio"), dict) else {}
    data, fmt = audio.get("data"), str(audio.get("format") or "wav")
    if not isinstance(data, str) or not data:
        raise ValueError("input_audio parts need base64 'data'")
    return {"inlineData": {"mimeType": "audio/mpeg" if fmt == "mp3" else f"audio/{fmt}", "data": data}}


def _file_part(part: JSONDict) -> JSONDict:
    """OpenAI ``file`` parts with inline ``file_data``; uploaded ``file_id``s cannot be resolved."""
    file = part.get("file") if isinstance(part.get("file"), dict) else {}
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise ValueError("file parts need inline 'file_data' for Gemini models")
    url = data if data.startswith("data:") else f"data:application/pdf;base64,{data}"
    return _media_part(url, default_mime="application/pdf")


def _model_parts(message: JSONDict) -> list[JSONDict]:
    """Assistant text and ``tool_calls`` → ``text`` and ``functionCall`` parts."""
    parts: list[JSONDict] = []
    for part in content_parts(message.get("content")):
        text = part.get("text") if part.get("type") == "text" else part.get("refusal")
        if isinstance(text, str) and text:
            parts.append({"text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            args = parse_tool_arguments(function.get("arguments"))
            parts.append({"functionCall": {"name": str(function.get("name") or ""), "args": args}})
    return parts


def _function_response(message: JSONDict, names: dict[str, str]) -> JSONDict:
    """A ``tool`` message → ``functionResponse``, naming the function its call id refers to.

    Gemini wants ``response`` to be an object: JSON objects pass through, anything else is
    wrapped under ``output``, the key Google documents for a function's result.
    """
    call_id = str(message.get("tool_call_id") or "")
    name = names.get(call_id) or message.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool message refers to unknown tool_call_id {call_id!r}")
    response = _response_payload(text_of(message.get("content")))
    return {"functionResponse": {"name": name, "response": response}}


def _response_payload(text: str) -> JSONDict:
    """Tool output text → ``response`` object; structured JSON stays structured."""
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = text
    return value if isinstance(value, dict) else {"output": value}


def _merge_contents(turns: list[JSONDict]) -> list[JSONDict]:
    """Merge consecutive same-role contents so parallel function responses share one turn.

    Gemini matches a turn of N ``functionCall`` parts with one user turn holding N
    ``functionResponse`` parts; empty turns are dropped because Gemini rejects them.
    """
    merged: list[JSONDict] = []
    for turn in turns:
        if not turn["parts"]:
            continue
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1]["parts"].extend(turn["parts"])
        else:
            merged.append({"role": turn["role"], "parts": list(turn["parts"])})
    return merged


def _tool_params(body: JSONDict) -> JSONDict:
    """``tools`` / ``tool_choice`` → ``tools[].functionDeclarations`` and ``toolConfig``."""
    declarations = [_declaration(t) for t in body.get("tools") or [] if isinstance(t, dict)]
    if not declarations:
        return {}
    out: JSONDict = {"tools": [{"functionDeclarations": declarations}]}
    config = _function_calling_config(body.get("tool_choice"))
    if config:
        out["toolConfig"] = {"functionCallingConfig": config}
    return out


def _declaration(tool: JSONDict) -> JSONDict:
    """An OpenAI function tool → a ``FunctionDeclaration`` with a Gemini-safe schema."""
    if tool.get("type", "function") != "function" or not isinstance(tool.get("function"), dict):
        raise ValueError(f"unsupported tool type for Gemini: {tool.get('type')!r}")
    function = tool["function"]
    out: JSONDict = {"name": str(function.get("name") or "")}
    if function.get("description"):
        out["description"] = str(function["description"])
    parameters = clean_schema(function.get("parameters"))
    # An object schema without properties is rejected; a no-argument function omits it.
    if parameters.get("properties") or parameters.get("type") not in (None, "object", "OBJECT"):
        out["parameters"] = parameters
    return out


def _function_calling_config(choice: Any) -> JSONDict | None:
    """OpenAI ``tool_choice`` → ``functionCallingConfig`` (a named function is ANY + allow-list)."""
    if choice is None:
        return None
    if isinstance(choice, str) and choice in _TOOL_MODES:
        return {"mode": _TOOL_MODES[choice]}
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function") if isinstance(choice.get("function"), dict) else {}
        if function.get("name"):
            return {"mode": "ANY", "allowedFunctionNames": [str(function["name"])]}
    raise ValueError("unsupported tool_choice: expected 'auto', 'none', 'required' or a function")


def _generation_config(body: JSONDict, default_max_tokens: int | None) -> JSONDict:
    """Sampling and output controls → ``generationConfig`` (only the keys the client set)."""
    config: JSONDict = {}
    renames = {
        "temperature": "temperature",
        "top_p": "topP",
        "top_k": "topK",
        "seed": "seed",
        "presence_penalty": "presencePenalty",
        "frequency_penalty": "frequencyPenalty",
    }
    for source, target in renames.items():
        value = body.get(source)
        if isinstance(value, int | float) and not isinstance(value, bool):
            config[target] = value
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0:
        config["maxOutputTokens"] = max_tokens
    stop = body.get("stop")
    stops = [s for s in ([stop] if isinstance(stop, str) else stop or []) if isinstance(s, str) and s]
    if stops:
        config["stopSequences"] = stops
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        config["candidateCount"] = n
    config.update(_response_format(body.get("response_format")))
    return config


def _response_format(response_format: Any) -> JSONDict:
    """``json_object`` → JSON MIME type; ``json_schema`` additionally sets ``responseSchema``."""
    if not isinstance(response_format, dict):
        return {}
    kind = response_format.get("type")
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        spec = response_format.get("json_schema") if isinstance(response_format.get("json_schema"), dict) else {}
        out: JSONDict = {"responseMimeType": "application/json"}
        if isinstance(spec.get("schema"), dict):
            out["responseSchema"] = clean_schema(spec["schema"])
        return out
    return {}


def error_from_gemini(status: int, data: Any) -> tuple[str, str]:
    """(message, Google status string) from ``{"error": {"code", "message", "status"}}``.

    Non-SSE stream endpoints wrap the body in a JSON array, and proxies may send junk, so both
    are tolerated; the status string falls back to the canonical one for the HTTP code.
    """
    if isinstance(data, list) and data:
        data = data[0]
    fallback_status = _STATUS_CODES.get(status, "INTERNAL" if status >= 500 else "UNKNOWN")
    fallback_message = f"Gemini upstream returned HTTP {status}"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str) and error:
        return error, fallback_status
    if not isinstance(error, dict):
        return fallback_message, fallback_status
    message, code = error.get("message"), error.get("status")
    return (
        message if isinstance(message, str) and message else fallback_message,
        code if isinstance(code, str) and code else fallback_status,
    )
