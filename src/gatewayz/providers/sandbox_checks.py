"""Validation primitives for the sandbox, worded like OpenAI's own 400s (message, ``param``, ``code``).

Code written against the sandbox must keep working when it moves to a live key, so the sandbox rejects
what a real provider rejects and says so in the same terms: ``Invalid 'temperature': decimal above
maximum value. Expected a value <= 2, but got 5 instead.`` with ``code: decimal_above_max_value``.
The sandbox's own model list lives here too, because model checks come first in every validator.
"""

from __future__ import annotations

from typing import Any

from gatewayz.providers.json_wording import json_type_name
from gatewayz.providers.sandbox_common import SandboxError, content_text

CHAT_MODELS = ("sandbox/chat", "sandbox/chat-mini", "sandbox/chat-large")
EMBEDDING_MODELS = ("sandbox/embed",)
IMAGE_MODELS = ("sandbox/image",)
SANDBOX_MODELS = CHAT_MODELS + EMBEDDING_MODELS + IMAGE_MODELS
_CHAT_ENDPOINT = "v1/chat/completions"
_EMBEDDINGS_ENDPOINT = "v1/embeddings"


def fail(message: str, param: str | None, code: str | None = None) -> SandboxError:
    """A 400 ``invalid_request_error``: the status OpenAI uses for every request-shape problem."""
    return SandboxError(400, message, "invalid_request_error", code, param=param)


def is_int(value: Any) -> bool:
    """JSON integers only; ``bool`` is an ``int`` subclass in Python but not on the wire."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """JSON numbers (integers or decimals), never booleans."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def wrong_type(param: str, expected: str, value: Any) -> SandboxError:
    """``Invalid type for 'x': expected a boolean, but got a string instead.`` (``invalid_type``)."""
    got = json_type_name(value, decimal="a decimal")
    message = f"Invalid type for '{param}': expected {expected}, but got {got} instead."
    return fail(message, param, "invalid_type")


def missing(param: str) -> SandboxError:
    """``Missing required parameter: 'x'.`` (``missing_required_parameter``)."""
    return fail(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _quoted_list(values: tuple[str, ...] | list[str]) -> str:
    """``'a', 'b', and 'c'``: the enumeration style of OpenAI's ``invalid_value`` messages."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def bad_value(param: str, value: Any, supported: tuple[str, ...] | list[str]) -> SandboxError:
    """``Invalid value: 'x'. Supported values are: 'a' and 'b'.`` (``invalid_value``)."""
    shown = f"'{value}'" if isinstance(value, str) else repr(value)
    return fail(f"Invalid value: {shown}. Supported values are: {_quoted_list(supported)}.", param, "invalid_value")


def kind_of(value: Any, param: str, supported: tuple[str, ...], field: str = "type") -> str:
    """An object whose `field` (its type, or a message's role) is one of `supported`: that value."""
    if not isinstance(value, dict):
        raise wrong_type(param, "an object", value)
    found = value.get(field)
    if found is None:
        raise missing(f"{param}.{field}")
    if found not in supported:
        raise bad_value(f"{param}.{field}", found, supported)
    return str(found)


def _check_range(key: str, value: float, low: float, high: float | None, kind: str) -> None:
    """OpenAI's wording for a number outside [low, high]; `kind` is "decimal" or "integer"."""
    if value < low:
        raise fail(
            f"Invalid '{key}': {kind} below minimum value. Expected a value >= {low}, but got {value} instead.",
            key,
            f"{kind}_below_min_value",
        )
    if high is not None and value > high:
        raise fail(
            f"Invalid '{key}': {kind} above maximum value. Expected a value <= {high}, but got {value} instead.",
            key,
            f"{kind}_above_max_value",
        )


def check_number(body: dict[str, Any], key: str, low: float, high: float) -> None:
    """A present, non-null decimal field must be a number in [low, high]."""
    value = body.get(key)
    if value is None:
        return
    if not is_number(value):
        raise wrong_type(key, "a decimal", value)
    _check_range(key, value, low, high, "decimal")


def check_integer(body: dict[str, Any], key: str, low: int, high: int | None = None) -> None:
    """A present, non-null integer field must be an integer in [low, high]."""
    value = body.get(key)
    if value is None:
        return
    if not is_int(value):
        raise wrong_type(key, "an integer", value)
    _check_range(key, value, low, high, "integer")


def check_bool(body: dict[str, Any], key: str) -> None:
    """A present, non-null flag must be a JSON boolean (``"true"`` or ``1`` is rejected, as upstream)."""
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise wrong_type(key, "a boolean", value)


def check_string(body: dict[str, Any], key: str, param: str | None = None) -> None:
    """A present, non-null field must be a string."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise wrong_type(param or key, "a string", value)


def check_length(param: str, items: list[Any], low: int, high: int | None = None) -> None:
    """Array length limits: ``empty_array`` / ``array_above_max_length`` like OpenAI."""
    if low >= 1 and not items:
        raise fail(
            f"Invalid '{param}': empty array. Expected an array with minimum length {low}, "
            "but got an empty array instead.",
            param,
            "empty_array",
        )
    if high is not None and len(items) > high:
        raise fail(
            f"Invalid '{param}': array too long. Expected an array with maximum length {high}, "
            f"but got an array with length {len(items)} instead.",
            param,
            "array_above_max_length",
        )


def content_words(messages: list[Any]) -> str:
    """All message text, lower-cased: what OpenAI searches for "json" in JSON mode."""
    return " ".join(content_text(m.get("content")) for m in messages if isinstance(m, dict)).lower()


def _available() -> str:
    """Where to go instead: the sandbox's models, and that provider ids need a live key."""
    return (
        f"Test keys (gw_test_) are served by the sandbox, whose models are {', '.join(CHAT_MODELS)} (chat) and "
        f"{EMBEDDING_MODELS[0]} (embeddings); live keys reach real providers with provider model ids."
    )


def require_model(body: dict[str, Any], endpoint: str) -> str:
    """The sandbox model named by ``body``: 404 for unknown ids, 400 for the wrong endpoint.

    A live key given ``openai/gpt-4o`` reaches a provider, a test key never does, so echoing an
    unknown id back (the old behaviour) let typos and live-only ids pass the sandbox unnoticed.
    """
    model = body.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str):
        raise wrong_type("model", "a string", model)
    if not model:
        raise fail("You must provide a model parameter.", "model")
    if model not in SANDBOX_MODELS:
        raise SandboxError(
            404,
            f"The model `{model}` does not exist or you do not have access to it. {_available()}",
            "invalid_request_error",
            "model_not_found",
            param="model",
        )
    if endpoint != "images" and model in IMAGE_MODELS:
        raise fail(f"`{model}` is an image model: use it with v1/images/generations.", "model")
    if endpoint == "chat" and model not in CHAT_MODELS:
        raise fail(
            f"This is not a chat model and thus not supported in the {_CHAT_ENDPOINT} endpoint: `{model}` is an "
            f"embeddings model (use it with {_EMBEDDINGS_ENDPOINT}); the sandbox's chat models are "
            f"{', '.join(CHAT_MODELS)}.",
            "model",
        )
    if endpoint == "images" and model not in IMAGE_MODELS:
        raise fail(f"This model does not generate images: `{model}`. The sandbox's image model is {IMAGE_MODELS[0]}.",
                   "model")
    if endpoint == "embeddings" and model not in EMBEDDING_MODELS:
        raise fail(
            f"This model does not support embeddings: `{model}` is a chat model. The sandbox's embeddings model "
            f"is {EMBEDDING_MODELS[0]}.",
            "model",
        )
    return model
