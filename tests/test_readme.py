"""The README is what a newcomer follows step by step: its examples must work as written."""

from __future__ import annotations

import re
from pathlib import Path

from gatewayz.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start : end if end != -1 else None]


def test_the_first_request_defines_what_it_uses() -> None:
    first = _section("Quick start")
    assert first.index("export ADMIN_KEY=") < first.index("$ADMIN_KEY")
    assert first.index("pip install openai") < first.index("from openai import OpenAI")


def test_the_custom_provider_example_does_not_point_at_the_gateway_itself() -> None:
    default_port = Settings.model_fields["port"].default
    urls = re.findall(r'base_url = "http://127\.0\.0\.1:(\d+)', _section("Providers"))
    assert urls and all(int(port) != default_port for port in urls)


def test_limits_a_client_can_hit_are_documented() -> None:
    for fact in ("32 MiB", "1 MiB", "413", "415", "16 MiB", "64 MiB"):
        assert fact in README, fact


def test_every_setting_is_in_the_configuration_table() -> None:
    table = _section("Configuration")
    for name, field in Settings.model_fields.items():
        if name == "providers":  # the [providers.*] tables of the config file, documented under Providers
            continue
        variable = f"GATEWAYZ_{name.upper()}"
        aliases = getattr(field.validation_alias, "choices", [variable])
        assert any(f"`{alias}`" in table for alias in aliases), variable
