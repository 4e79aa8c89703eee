"""One adapter per wire protocol: build the upstream HTTP call, translate results back to OpenAI.

The gateway's internal language is the OpenAI Chat Completions JSON. The `openai` adapter is
nearly a pass-through (model rewritten, usage always requested); `anthropic` and `gemini` use the
pure translators in `protocols/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson

from gatewayz.providers.protocols.anthropic import (
    AnthropicStreamTranslator,
    error_from_anthropic,
    from_anthropic_response,
    to_anthropic_request,
)
from gatewayz.providers.protocols.gemini import (
    GeminiStreamTranslator,
    error_from_gemini,
    from_gemini_response,
    gemini_path,
    to_gemini_request,
)
from gatewayz.providers.registry import ProviderSpec

JSON = dict[str, Any]
GATEWAY_ONLY_FIELDS = ("provider", "models")


@dataclass(slots=True)
class UpstreamCall:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class StreamTranslator(Protocol):
    usage: JSON | None

    def feed(self, event: str | None, data: JSON) -> list[JSON]: ...

    def finish(self) -> list[JSON]: ...


def _url(spec: ProviderSpec, path: str) -> str:
    url = spec.base_url + path
    if spec.auth_params:
        url += ("&" if "?" in url else "?") + urlencode(dict(spec.auth_params))
    return url


def _headers(spec: ProviderSpec, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", **spec.extra_headers, **spec.auth_headers}
    if extra:
        headers.update(extra)
    return headers


def without_gateway_fields(body: JSON) -> JSON:
    return {k: v for k, v in body.items() if k not in GATEWAY_ONLY_FIELDS}


# -- openai --------------------------------------------------------------------------------------


class OpenAIStreamTranslator:
    """Chunks pass through; usage is captured, and its chunk dropped if the client did not ask."""

    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.usage: JSON | None = None

    def feed(self, event: str | None, data: JSON) -> list[JSON]:
        usage = data.get("usage")
        if usage:
            self.usage = usage
            if not data.get("choices") and not self.include_usage:
                return []
        if "error" in data and "choices" not in data:
            from gatewayz.providers.protocols.errors import UpstreamStreamError

            error = data["error"] if isinstance(data["error"], dict) else {"message": str(data["error"])}
            raise UpstreamStreamError(str(error.get("message", "upstream error")), str(error.get("type", "api_error")))
        return [data]

    def finish(self) -> list[JSON]:
        return []


class OpenAIAdapter:
    protocol = "openai"
    supports_embeddings = True

    def chat_call(self, spec: ProviderSpec, body: JSON, upstream_model: str, *, stream: bool) -> UpstreamCall:
        payload = without_gateway_fields(body)
        payload["model"] = upstream_model
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        return UpstreamCall("POST", _url(spec, "/chat/completions"), _headers(spec), orjson.dumps(payload))

    def chat_result(self, data: JSON, *, model: str) -> JSON:
        return data

    def stream_translator(self, *, model: str, include_usage: bool) -> StreamTranslator:
        return OpenAIStreamTranslator(include_usage)

    def error_detail(self, status: int, data: Any) -> tuple[str, str]:
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            error = data["error"]
            return str(error.get("message") or f"upstream status {status}"), str(error.get("type") or "")
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return data["error"], ""
        if isinstance(data, dict) and isinstance(data.get("detail"), str):
            return data["detail"], ""
        return f"upstream returned status {status}", ""

    def native_call(
        self, spec: ProviderSpec, body: JSON, upstream_model: str, *, stream: bool, headers: Mapping[str, str]
    ) -> UpstreamCall:
        """A face request in this protocol's own wire format, passed through (see NativeRequest)."""
        raise ValueError(f"{spec.name} ({self.protocol} protocol) takes no native passthrough")

    def count_tokens_call(
        self, spec: ProviderSpec, body: JSON, upstream_model: str, headers: Mapping[str, str]
    ) -> UpstreamCall | None:
        """The provider's own token count for a native request body, where it has one."""
        return None

    def embeddings_call(self, spec: ProviderSpec, body: JSON, upstream_model: str) -> UpstreamCall:
        payload = without_gateway_fields(body)
        payload["model"] = upstream_model
        return UpstreamCall("POST", _url(spec, "/embeddings"), _headers(spec), orjson.dumps(payload))

    def models_call(self, spec: ProviderSpec) -> UpstreamCall:
        return UpstreamCall("GET", _url(spec, spec.models_path or "/models"), _headers(spec), None)

    def parse_models(self, data: Any) -> list[JSON]:
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            return []
        return [item for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]


# -- anthropic -----------------------------------------------------------------------------------


class _AnthropicTranslator:
    def __init__(self, model: str, include_usage: bool) -> None:
        self._inner = AnthropicStreamTranslator(model=model, include_usage=include_usage)

    @property
    def usage(self) -> JSON | None:
        return self._inner.usage

    def feed(self, event: str | None, data: JSON) -> list[JSON]:
        return self._inner.feed(event, data)

    def finish(self) -> list[JSON]:
        return []


class AnthropicAdapter(OpenAIAdapter):
    protocol = "anthropic"
    supports_embeddings = False

    def chat_call(self, spec: ProviderSpec, body: JSON, upstream_model: str, *, stream: bool) -> UpstreamCall:
        payload = to_anthropic_request(without_gateway_fields(body), upstream_model, stream=stream)
        return UpstreamCall("POST", _url(spec, "/messages"), _headers(spec), orjson.dumps(payload))

    def chat_result(self, data: JSON, *, model: str) -> JSON:
        return from_anthropic_response(data, model=model)

    def native_call(
        self, spec: ProviderSpec, body: JSON, upstream_model: str, *, stream: bool, headers: Mapping[str, str]
    ) -> UpstreamCall:
        """A Messages request as the client sent it: cache_control, thinking, documents and beta
        features survive; only the model id and the gateway's own routing fields change."""
        payload = without_gateway_fields(body)
        payload["model"] = upstream_model
        if stream:
            payload["stream"] = True
        else:
            payload.pop("stream", None)
        return UpstreamCall("POST", _url(spec, "/messages"), _headers(spec, headers), orjson.dumps(payload))

    def count_tokens_call(
        self, spec: ProviderSpec, body: JSON, upstream_model: str, headers: Mapping[str, str]
    ) -> UpstreamCall | None:
        payload = without_gateway_fields(body)
        payload["model"] = upstream_model
        return UpstreamCall("POST", _url(spec, "/messages/count_tokens"), _headers(spec, headers),
                            orjson.dumps(payload))

    def stream_translator(self, *, model: str, include_usage: bool) -> StreamTranslator:
        return _AnthropicTranslator(model, include_usage)

    def error_detail(self, status: int, data: Any) -> tuple[str, str]:
        return error_from_anthropic(status, data if isinstance(data, dict) else None)


# -- gemini --------------------------------------------------------------------------------------


class _GeminiTranslator:
    def __init__(self, model: str, include_usage: bool) -> None:
        self._inner = GeminiStreamTranslator(model=model, include_usage=include_usage)

    @property
    def usage(self) -> JSON | None:
        return self._inner.usage

    def feed(self, event: str | None, data: JSON) -> list[JSON]:
        return self._inner.feed(data)

    def finish(self) -> list[JSON]:
        return self._inner.finish()


class GeminiAdapter(OpenAIAdapter):
    protocol = "gemini"
    supports_embeddings = False

    def chat_call(self, spec: ProviderSpec, body: JSON, upstream_model: str, *, stream: bool) -> UpstreamCall:
        payload = to_gemini_request(without_gateway_fields(body))
        path = "/" + gemini_path(upstream_model, stream=stream)
        return UpstreamCall("POST", _url(spec, path), _headers(spec), orjson.dumps(payload))

    def chat_result(self, data: JSON, *, model: str) -> JSON:
        return from_gemini_response(data, model=model)

    def stream_translator(self, *, model: str, include_usage: bool) -> StreamTranslator:
        return _GeminiTranslator(model, include_usage)

    def error_detail(self, status: int, data: Any) -> tuple[str, str]:
        return error_from_gemini(status, data)

    def parse_models(self, data: Any) -> list[JSON]:
        items = data.get("models") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return super().parse_models(data)
        out = []
        for item in items:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str):
                out.append({**item, "id": name.removeprefix("models/")})
        return out


ADAPTERS: dict[str, OpenAIAdapter] = {
    "openai": OpenAIAdapter(),
    "anthropic": AnthropicAdapter(),
    "gemini": GeminiAdapter(),
}


def adapter_for(spec: ProviderSpec) -> OpenAIAdapter:
    return ADAPTERS[spec.protocol]
