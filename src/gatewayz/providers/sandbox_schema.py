"""Generate a JSON value that satisfies a JSON Schema, for sandbox structured outputs and tool calls.

Developers use the sandbox to exercise code that parses model output (``response_format`` with
``json_schema``, tool-call arguments), so the value must validate against their schema, including
pydantic-generated ones that use ``$defs``/``$ref``. Unsupported keywords (``pattern``, ``not``,
conditionals) are ignored: the common subset is what matters for wiring tests.
"""

from __future__ import annotations

import math
from typing import Any

from gatewayz.providers.sandbox_common import Rng

_MAX_DEPTH = 8
# Beyond this, a schema can only be a degenerate cycle (e.g. a $ref to itself): give up with null.
_HARD_DEPTH = 64

# Plausible strings keyed by (lower-cased) property name, so a weather tool gets a real-looking city.
_NAMED_STRINGS: dict[str, str] = {
    "location": "San Francisco, CA",
    "city": "Paris",
    "country": "France",
    "name": "Ada Lovelace",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "url": "https://example.com",
    "unit": "celsius",
    "language": "en",
    "title": "Sandbox example",
    "description": "A simulated value produced by the Gatewayz sandbox.",
    "id": "sandbox-0001",
}

# Free-text parameters (search tools and the like) echo the user's words, which reads naturally.
_ECHO_NAMES = frozenset({"query", "q", "text", "prompt", "input", "message", "question", "search", "topic"})

_FORMAT_STRINGS: dict[str, str] = {
    "date-time": "2024-01-01T12:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00Z",
    "email": "ada@example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/sandbox",
    "url": "https://example.com/sandbox",
    "duration": "PT1H",
}


def generate_value(schema: Any, rng: Rng, *, name: str = "", text: str = "") -> Any:
    """Return a JSON value valid for ``schema``; ``text`` seeds free-form strings with context."""
    gen = _Generator(schema if isinstance(schema, dict) else {}, rng, text)
    return gen.value(schema, name, 0)


class _Generator:
    """Holds the root schema (for ``$ref`` resolution) and the PRNG across the recursive walk."""

    def __init__(self, root: dict[str, Any], rng: Rng, text: str) -> None:
        self.root = root
        self.rng = rng
        self.text = text

    def resolve(self, ref: str) -> Any:
        """Follow a local JSON pointer such as ``#/$defs/Item``; remote refs are not supported."""
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for raw in ref[1:].split("/"):
            if not raw:
                continue
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return {}
        return node

    def value(self, schema: Any, name: str, depth: int) -> Any:
        """Dispatch on the schema's keywords in order of how strongly they constrain the value."""
        if depth > _HARD_DEPTH:
            return None
        if schema is True or not isinstance(schema, dict):
            return self.string({}, name)
        if "$ref" in schema:
            target = self.resolve(str(schema["$ref"]))
            # Sibling keywords first, then the target's (a chained "$ref" in the target must survive).
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            merged.update(target if isinstance(target, dict) else {})
            return self.value(merged, name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self.value(self.pick_branch(branches, depth), name, depth + 1)
        if isinstance(schema.get("allOf"), list):
            return self.value(self.merge_all_of(schema), name, depth + 1)
        schema_type = self.pick_type(schema, depth)
        if schema_type == "object":
            return self.obj(schema, depth)
        if schema_type == "array":
            return self.array(schema, name, depth)
        if schema_type == "integer":
            return self.integer(schema)
        if schema_type == "number":
            return self.number(schema)
        if schema_type == "boolean":
            return self.rng.random() < 0.5
        if schema_type == "null":
            return None
        return self.string(schema, name)

    def pick_branch(self, branches: list[Any], depth: int) -> Any:
        """Prefer the first branch, but bottom out on a null branch when nesting gets deep."""
        if depth >= _MAX_DEPTH:
            for branch in branches:
                if isinstance(branch, dict) and branch.get("type") == "null":
                    return branch
        return branches[0]

    def merge_all_of(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Naively merge ``allOf`` members (properties, required, other keywords) into one schema."""
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, dict) and "$ref" in part:
                part = self.resolve(str(part["$ref"]))
            if not isinstance(part, dict):
                continue
            for key, val in part.items():
                if key == "properties" and isinstance(val, dict):
                    merged["properties"] = {**merged.get("properties", {}), **val}
                elif key == "required" and isinstance(val, list):
                    merged["required"] = [*merged.get("required", []), *val]
                else:
                    merged.setdefault(key, val)
        return merged

    def pick_type(self, schema: dict[str, Any], depth: int) -> str:
        """Resolve ``type`` (possibly a list) or infer it from structural keywords."""
        declared = schema.get("type")
        if isinstance(declared, list):
            non_null = [t for t in declared if t != "null"]
            if not non_null or (depth >= _MAX_DEPTH and "null" in declared):
                return "null"
            return str(non_null[0])
        if isinstance(declared, str):
            return declared
        if "properties" in schema or "required" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        if "minimum" in schema or "maximum" in schema:
            return "number"
        return "string"

    def obj(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        """Fill every declared property (strict mode requires all); past max depth only required ones."""
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        keys = list(props) if depth < _MAX_DEPTH else [k for k in props if k in required]
        out: dict[str, Any] = {}
        for key in keys:
            out[key] = self.value(props[key], key, depth + 1)
        for key in required:
            if key not in out:
                extra = schema.get("additionalProperties")
                out[key] = self.value(extra if isinstance(extra, dict) else {}, key, depth + 1)
        min_props = schema.get("minProperties")
        extra_schema = schema.get("additionalProperties", True)
        if isinstance(min_props, int) and extra_schema is not False:
            index = 0
            while len(out) < min_props:
                index += 1
                out[f"extra_{index}"] = self.value(extra_schema, "", depth + 1)
        return out

    def array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        """Produce 1-2 items (within min/maxItems), unique when ``uniqueItems`` asks for it."""
        low = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
        high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else max(low, 2)
        target = low if depth >= _MAX_DEPTH else max(low, min(high, self.rng.randint(1, 2)))
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        items_schema = schema.get("items", {})
        singular = name[:-1] if name.endswith("s") and len(name) > 1 else name
        out: list[Any] = []
        attempts = 0
        while len(out) < target and attempts < target * 4 + 4:
            position = len(out)
            sub = prefix[position] if position < len(prefix) else items_schema
            item = self.value(sub, f"{singular} {position + 1}".strip(), depth + 1)
            attempts += 1
            if schema.get("uniqueItems") and item in out:
                continue
            out.append(item)
        return out

    def integer(self, schema: dict[str, Any]) -> int:
        """Pick an integer inside the (exclusive) bounds, snapped to ``multipleOf`` when given."""
        low, high = _bounds(schema, integer=True)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first = math.ceil(low / step)
            last = math.floor(high / step)
            return step * self.rng.randint(first, max(first, last))
        return self.rng.randint(int(low), int(high))

    def number(self, schema: dict[str, Any]) -> float | int:
        """Pick a two-decimal number inside the bounds (or a multiple of ``multipleOf``)."""
        low, high = _bounds(schema, integer=False)
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and step > 0:
            first = math.ceil(low / step)
            last = math.floor(high / step)
            return round(step * self.rng.randint(first, max(first, last)), 10)
        value = round(low + (high - low) * self.rng.random(), 2)
        return min(max(value, low), high)

    def string(self, schema: dict[str, Any], name: str) -> str:
        """A plausible string guided by ``format`` and the property name, clipped to min/maxLength."""
        fmt = schema.get("format")
        if fmt == "uuid":
            hexes = self.rng.token(32, "0123456789abcdef")
            value = f"{hexes[:8]}-{hexes[8:12]}-4{hexes[13:16]}-a{hexes[17:20]}-{hexes[20:]}"
        elif isinstance(fmt, str) and fmt in _FORMAT_STRINGS:
            value = _FORMAT_STRINGS[fmt]
        elif name.lower() in _ECHO_NAMES and self.text:
            value = self.text
        elif name.lower() in _NAMED_STRINGS:
            value = _NAMED_STRINGS[name.lower()]
        elif name:
            value = f"sample {name.replace('_', ' ')}"
        else:
            value = self.text or "sample text"
        max_len = schema.get("maxLength")
        min_len = schema.get("minLength")
        if isinstance(max_len, int) and len(value) > max_len:
            value = value[:max_len]
        if isinstance(min_len, int) and len(value) < min_len:
            value = value + "x" * (min_len - len(value))
        return value


def _bounds(schema: dict[str, Any], *, integer: bool) -> tuple[float, float]:
    """Combine inclusive/exclusive limits into an inclusive range, defaulting to [0, 100]."""
    unit = 1 if integer else 0.01
    low: float = 0
    high: float = 100
    if isinstance(schema.get("minimum"), int | float):
        low = schema["minimum"]
    if isinstance(schema.get("exclusiveMinimum"), int | float) and not isinstance(schema["exclusiveMinimum"], bool):
        low = schema["exclusiveMinimum"] + unit
    if isinstance(schema.get("maximum"), int | float):
        high = schema["maximum"]
    if isinstance(schema.get("exclusiveMaximum"), int | float) and not isinstance(schema["exclusiveMaximum"], bool):
        high = schema["exclusiveMaximum"] - unit
    if "minimum" not in schema and "exclusiveMinimum" not in schema and high < low:
        low = high - 100
    if "maximum" not in schema and "exclusiveMaximum" not in schema and high < low:
        high = low + 100
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return low, max(low, high)
