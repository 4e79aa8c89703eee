"""Text the databases can store. PostgreSQL refuses NUL characters (in text and in JSONB) and
lone UTF-16 surrogates; a request carrying them must be a 400, not a failed write (a 500, or
worse, a settlement that can never be written)."""

from __future__ import annotations

from typing import Any


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not valid Unicode)"
    return None


def check_storable(value: Any, path: str = "") -> None:
    """Walk a JSON value; raise ValueError naming the first string (or key) that cannot be stored."""
    if isinstance(value, str):
        problem = unstorable(value)
        if problem:
            raise ValueError(f"{path or 'value'} {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and unstorable(key):
                raise ValueError(f"a key of {path or 'the object'} {unstorable(key)}")
            check_storable(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{path}[{index}]")
