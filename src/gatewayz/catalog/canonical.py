"""Canonical model ids: `openai/gpt-4o` on OpenRouter and `gpt-4o` on OpenAI are one model.

A model id that already names its vendor (`vendor/model`, OpenRouter's style) is canonical as it
is, less a `:variant` suffix (`:free`, `:nitro`). A bare id gets its vendor from the provider when
the provider is the vendor, else from the model family's prefix; an unknown family keeps the bare id.
Anthropic's own ids are dated and hyphenated (`claude-haiku-4-5-20251001`, `claude-3-5-sonnet-20241022`)
where OpenRouter writes `anthropic/claude-haiku-4.5`, `anthropic/claude-3.5-sonnet`: the date goes and
the version's hyphen becomes a dot, so both are one model.
"""

from __future__ import annotations

import re

_ANTHROPIC_DATE = re.compile(r"-\d{8}$")
_ANTHROPIC_VERSION = re.compile(r"(?<=\d)-(?=\d(?:-|$))")

# Providers that serve their own models under bare ids.
VENDOR_OF_PROVIDER: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "google-vertex": "google",
    "xai": "x-ai",
    "mistral": "mistralai",
    "deepseek": "deepseek",
}
# Model-family prefixes, most specific first.
VENDOR_OF_PREFIX: tuple[tuple[str, str], ...] = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("chatgpt-", "openai"),
    ("text-embedding-", "openai"),
    ("dall-e", "openai"),
    ("whisper", "openai"),
    ("claude", "anthropic"),
    ("gemini", "google"),
    ("gemma", "google"),
    ("grok", "x-ai"),
    ("llama", "meta-llama"),
    ("meta-llama", "meta-llama"),
    ("mistral", "mistralai"),
    ("mixtral", "mistralai"),
    ("codestral", "mistralai"),
    ("deepseek", "deepseek"),
    ("qwen", "qwen"),
    ("kimi", "moonshotai"),
)


def canonical_id(provider: str, model: str) -> str:
    name = model.strip().lower()
    if name.startswith("models/"):  # Gemini's list names
        name = name.removeprefix("models/")
    if "/" in name:
        vendor, _, name = name.split(":", 1)[0].partition("/")
    else:
        vendor = VENDOR_OF_PROVIDER.get(provider) or next(
            (v for prefix, v in VENDOR_OF_PREFIX if name.startswith(prefix)), ""
        )
    if vendor == "anthropic":
        name = _ANTHROPIC_VERSION.sub(".", _ANTHROPIC_DATE.sub("", name))
    return f"{vendor}/{name}" if vendor else name
