"""Settings from the environment and from the TOML file named by GATEWAYZ_CONFIG."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatewayz.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "GATEWAYZ_CONFIG",
        "GATEWAYZ_DATABASE_URL",
        "GATEWAYZ_ENVIRONMENT",
        "GATEWAYZ_KEY_HASH_SECRET",
        "GATEWAYZ_ENCRYPTION_KEYS",
        "GATEWAYZ_DATA_DIR",
        "GATEWAYZ_PORT",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_work_on_a_laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.is_sqlite
    assert settings.sqlalchemy_url == "sqlite+aiosqlite:///data/gatewayz.db"
    assert settings.redis_url is None
    assert settings.environment == "live"
    secret = settings.key_hash_secret_bytes
    assert len(secret) >= 32
    assert (tmp_path / "data" / "secrets.json").stat().st_mode & 0o777 == 0o600
    assert Settings().key_hash_secret_bytes == secret  # kept, not regenerated


def test_database_urls_get_async_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:5432/db")
    assert Settings().sqlalchemy_url == "postgresql+asyncpg://u@127.0.0.1:5432/db"
    monkeypatch.setenv("DATABASE_URL", "postgres://u@127.0.0.1/db")
    assert Settings().sqlalchemy_url == "postgresql+asyncpg://u@127.0.0.1/db"


def test_toml_config_file_and_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "gatewayz.toml"
    config.write_text(
        'environment = "staging"\nport = 9001\nredis_url = "redis://127.0.0.1:6379/3"\n'
        '[providers.local]\nprotocol = "openai"\nbase_url = "http://127.0.0.1:8000/v1"\n'
    )
    monkeypatch.setenv("GATEWAYZ_CONFIG", str(config))
    settings = Settings()
    assert settings.environment == "staging" and settings.port == 9001
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    assert settings.providers["local"]["base_url"] == "http://127.0.0.1:8000/v1"
    monkeypatch.setenv("GATEWAYZ_PORT", "9002")  # the environment wins over the file
    assert Settings().port == 9002


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAYZ_CONFIG", "/nonexistent/gatewayz.toml")
    with pytest.raises(SettingsError, match="not a file"):
        load_settings()


def test_bad_values_are_settings_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAYZ_ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="GATEWAYZ_ENVIRONMENT"):
        load_settings()


def test_live_postgres_requires_explicit_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1/db")
    with pytest.raises(SettingsError, match="KEY_HASH_SECRET"):
        _ = Settings().key_hash_secret_bytes
    monkeypatch.setenv("GATEWAYZ_KEY_HASH_SECRET", "s" * 40)
    assert Settings().key_hash_secret_bytes == b"s" * 40
