"""Providers are data: the shipped registry.toml, merged with the `[providers.*]` tables of the
GATEWAYZ_CONFIG file. A provider whose key is not configured is simply not offered."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gatewayz.settings import Settings, SettingsError

Protocol = Literal["openai", "anthropic", "gemini"]


class ModelPrice(BaseModel):
    """USD per 1M tokens (and per request / per image)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    prompt: float = Field(0.0, ge=0, le=10_000)
    completion: float = Field(0.0, ge=0, le=10_000)
    cached_prompt: float | None = Field(None, ge=0, le=10_000)
    request: float = Field(0.0, ge=0, le=100)
    image: float = Field(0.0, ge=0, le=100)


class ImagePriceConfig(BaseModel):
    """An image model's price table (see images/pricing.py): USD per image by "SIZE/QUALITY" (a
    bare "SIZE" is quality "standard"), and/or USD per 1M tokens with the output tokens an image of
    each "SIZE/QUALITY" takes; the sizes and qualities the table names are the ones offered."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    per_image: dict[str, float] = Field(default_factory=dict)
    input: float = Field(0.0, ge=0, le=10_000)
    input_image: float = Field(0.0, ge=0, le=10_000)
    output: float = Field(0.0, ge=0, le=10_000)
    output_tokens: dict[str, int] = Field(default_factory=dict)
    default_size: str | None = None
    default_quality: str | None = None
    parameters: list[str] | None = None  # optional request fields the model takes (None: any)
    max_n: int = Field(10, ge=1, le=10)

    @field_validator("per_image")
    @classmethod
    def _per_image(cls, value: dict[str, float]) -> dict[str, float]:
        for key, usd in value.items():
            if not 0 <= usd <= 100:
                raise ValueError(f"per_image[{key!r}] must be from 0 to 100 (USD per image)")
        return value

    @field_validator("output_tokens")
    @classmethod
    def _output_tokens(cls, value: dict[str, int]) -> dict[str, int]:
        for key, tokens in value.items():
            if not 0 <= tokens <= 1_000_000:
                raise ValueError(f"output_tokens[{key!r}] must be from 0 to 1000000")
        return value


class ProviderConfig(BaseModel):
    """One provider row, as written in registry.toml or in the config file."""

    model_config = ConfigDict(extra="forbid")
    protocol: Protocol
    base_url: str
    api_key_env: str | None = None
    api_key: str | None = None
    auth: str = "bearer"
    models_path: str | None = None
    models: list[str] | None = None
    extra_headers: dict[str, str] = Field(default_factory=dict)
    pricing: dict[str, ModelPrice] = Field(default_factory=dict)
    images_path: str | None = None  # image generation; "{model}" is replaced by the upstream model id
    image_edits_path: str | None = None
    image_pricing: dict[str, ImagePriceConfig] = Field(default_factory=dict)
    weight: float = Field(1.0, gt=0)
    enabled: bool = True
    connect_timeout: float = Field(5.0, gt=0)
    first_byte_timeout: float = Field(60.0, gt=0)
    total_timeout: float = Field(600.0, gt=0)
    max_retries: int | None = Field(None, ge=0, le=10)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str) -> str:
        kind, _, name = value.partition(":")
        if kind in ("bearer", "none") and not name:
            return value
        if kind in ("header", "query") and name:
            return value
        raise ValueError("auth must be bearer, none, header:<name> or query:<name>")


@dataclass(frozen=True)
class ProviderSpec:
    """A provider the gateway can route to: its row with the key resolved."""

    name: str
    protocol: Protocol
    base_url: str
    api_key: str | None
    auth: str
    models_path: str | None
    static_models: tuple[str, ...] | None
    extra_headers: Mapping[str, str]
    pricing: Mapping[str, ModelPrice]
    weight: float
    connect_timeout: float
    first_byte_timeout: float
    total_timeout: float
    max_retries: int | None
    auth_headers: Mapping[str, str] = field(default_factory=dict)
    auth_params: Mapping[str, str] = field(default_factory=dict)
    images_path: str | None = None
    image_edits_path: str | None = None
    image_pricing: Mapping[str, ImagePriceConfig] = field(default_factory=dict)


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), dict):
            merged[name] = _deep_merge(merged[name], value)
        else:
            merged[name] = value
    return merged


def builtin_rows() -> dict[str, dict[str, Any]]:
    text = resources.files("gatewayz.providers").joinpath("registry.toml").read_text()
    return tomllib.loads(text)


def _auth_parts(auth: str, key: str | None) -> tuple[dict[str, str], dict[str, str]]:
    kind, _, name = auth.partition(":")
    if key is None or kind == "none":
        return {}, {}
    if kind == "bearer":
        return {"Authorization": f"Bearer {key}"}, {}
    if kind == "header":
        return {name: key}, {}
    return {}, {name: key}


def load_providers(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, ProviderSpec]:
    """Every provider that is enabled and has its credentials; config errors are SettingsErrors."""
    environ = os.environ if environ is None else environ
    rows = builtin_rows()
    for name, override in settings.providers.items():
        rows[name] = _deep_merge(rows.get(name, {}), override)
    offered: dict[str, ProviderSpec] = {}
    for name, row in rows.items():
        if "/" in name or not name:
            raise SettingsError(f"provider name {name!r} must not contain '/'")
        try:
            config = ProviderConfig.model_validate(row)
        except ValidationError as exc:
            raise SettingsError(f"provider {name!r}: {exc}") from exc
        key = config.api_key or (environ.get(config.api_key_env) if config.api_key_env else None)
        if not config.enabled or (key is None and config.auth != "none"):
            continue
        headers, params = _auth_parts(config.auth, key)
        offered[name] = ProviderSpec(
            name=name,
            protocol=config.protocol,
            base_url=config.base_url,
            api_key=key,
            auth=config.auth,
            models_path=config.models_path,
            static_models=tuple(config.models) if config.models is not None else None,
            extra_headers=dict(config.extra_headers),
            pricing=dict(config.pricing),
            weight=config.weight,
            connect_timeout=config.connect_timeout,
            first_byte_timeout=config.first_byte_timeout,
            total_timeout=config.total_timeout,
            max_retries=config.max_retries,
            auth_headers=headers,
            auth_params=params,
            images_path=config.images_path,
            image_edits_path=config.image_edits_path,
            image_pricing=dict(config.image_pricing),
        )
    return offered
