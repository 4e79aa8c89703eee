"""The provider registry: sixteen built-ins as data, offered only when their key is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatewayz.providers.registry import builtin_rows, load_providers
from gatewayz.settings import Settings, SettingsError

SIXTEEN = {
    "openrouter",
    "portkey",
    "featherless",
    "chutes",
    "xai",
    "near",
    "google-vertex",
    "huggingface",
    "groq",
    "fireworks",
    "together",
    "deepinfra",
    "cerebras",
    "nebius",
    "novita",
    "aimo",
}


def _settings(tmp_path: Path, **providers: dict[str, object]) -> Settings:
    return Settings(data_dir=tmp_path, environment="dev", providers=providers)


def test_registry_lists_the_sixteen_with_protocol_url_and_key_variable() -> None:
    rows = builtin_rows()
    assert SIXTEEN <= set(rows)
    for name in SIXTEEN:
        row = rows[name]
        assert row["protocol"] in ("openai", "anthropic", "gemini"), name
        assert row["base_url"].startswith("https://"), name
        assert row["api_key_env"].endswith("_KEY"), name


def test_no_keys_no_providers(tmp_path: Path) -> None:
    assert load_providers(_settings(tmp_path), environ={}) == {}


def test_a_key_in_the_environment_offers_the_provider(tmp_path: Path) -> None:
    providers = load_providers(_settings(tmp_path), environ={"GROQ_API_KEY": "gsk-1", "ANTHROPIC_API_KEY": "a"})
    assert set(providers) == {"groq", "anthropic"}
    assert providers["groq"].auth_headers == {"Authorization": "Bearer gsk-1"}
    assert providers["anthropic"].auth_headers == {"x-api-key": "a"}
    assert providers["anthropic"].extra_headers["anthropic-version"] == "2023-06-01"


def test_custom_provider_and_override_from_config(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        local={
            "protocol": "openai",
            "base_url": "http://127.0.0.1:8000/v1/",
            "api_key_env": "LOCAL_API_KEY",
            "models": ["llama-3.1-8b"],
            "pricing": {"llama-3.1-8b": {"prompt": 0.1, "completion": 0.2}},
        },
        together={"base_url": "http://127.0.0.1:9/v1", "api_key": "inline", "weight": 3},
        ollama={"protocol": "openai", "base_url": "http://127.0.0.1:11434/v1", "auth": "none"},
    )
    providers = load_providers(settings, environ={"LOCAL_API_KEY": "k"})
    assert providers["local"].base_url == "http://127.0.0.1:8000/v1"
    assert providers["local"].static_models == ("llama-3.1-8b",)
    assert providers["local"].pricing["llama-3.1-8b"].completion == 0.2
    assert providers["together"].base_url == "http://127.0.0.1:9/v1" and providers["together"].weight == 3
    assert providers["together"].auth_headers == {"Authorization": "Bearer inline"}
    assert providers["ollama"].auth_headers == {}


def test_query_auth(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, g={"protocol": "gemini", "base_url": "http://127.0.0.1:1/v1beta", "api_key": "k", "auth": "query:key"}
    )
    assert load_providers(settings, environ={})["g"].auth_params == {"key": "k"}


@pytest.mark.parametrize(
    "row",
    [
        {"protocol": "grpc", "base_url": "http://127.0.0.1/v1", "api_key": "k"},
        {"protocol": "openai", "base_url": "ftp://x", "api_key": "k"},
        {"protocol": "openai", "base_url": "http://127.0.0.1/v1", "api_key": "k", "auth": "magic"},
        {"protocol": "openai", "base_url": "http://127.0.0.1/v1", "api_key": "k", "typo_field": 1},
    ],
)
def test_bad_provider_config_is_a_settings_error(tmp_path: Path, row: dict[str, object]) -> None:
    with pytest.raises(SettingsError):
        load_providers(_settings(tmp_path, bad=row), environ={})
