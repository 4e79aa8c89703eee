"""JSON Schema → the OpenAPI-subset ``Schema`` that Gemini accepts.

Gemini's ``functionDeclarations[].parameters`` and ``generationConfig.responseSchema`` are a
protobuf message, so any JSON-Schema keyword it does not model (``additionalProperties``,
``$schema``, ``$ref``, ``const``, ``oneOf`` …) fails the whole request with a 400. OpenAI
clients (and pydantic-generated schemas) use those keywords freely, so we keep only the fields
Gemini models, inline local ``$ref``s, and turn ``["T", "null"]`` types into ``nullable``.
"""

from __future__ import annotations

from typing import Any

from ._common import JSONDict

# Fields of Gemini's Schema message that carry plain values (structure keys handled separately).
_SCALAR_KEYS = frozenset(
    {
        "type",
        "title",
        "description",
        "nullable",
        "required",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "example",
        "default",
        "propertyOrdering",
    }
)
# Gemini documents only these string formats; others (uri, email, uuid …) are rejected.
_FORMATS = frozenset({"enum", "date-time", "float", "double", "int32", "int64"})
# Recursion guard for self-referencing $defs, which Gemini cannot express anyway.
_MAX_REF_DEPTH = 8


def clean_schema(schema: Any) -> JSONDict:
    """Return a Gemini-safe copy of ``schema`` (the input is never mutated)."""
    if not isinstance(schema, dict):
        return {}
    defs: JSONDict = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            defs.update(schema[key])
    return _clean(schema, defs, 0)


def _clean(node: Any, defs: JSONDict, depth: int) -> JSONDict:
    """Recursively copy one schema node, keeping only what Gemini understands."""
    if not isinstance(node, dict):
        return {}
    node = _inline(node, defs, depth)
    out: JSONDict = {}
    for key, value in node.items():
        if key == "type":
            out.update(_type_fields(value))
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {name: _clean(sub, defs, depth) for name, sub in value.items()}
        elif key == "items":
            out["items"] = _clean(value, defs, depth)
        elif key == "anyOf" and isinstance(value, list):
            out.update(_any_of(value, defs, depth))
        elif key == "enum" and isinstance(value, list):
            out["enum"] = [str(v) for v in value if v is not None]
        elif key == "const" and value is not None:
            out["enum"] = [str(value)]
        elif key == "format":
            if value in _FORMATS:
                out["format"] = value
        elif key in _SCALAR_KEYS:
            out[key] = value
    if "enum" in out and out.get("type") in (None, "string", "STRING"):
        out["type"] = out.get("type", "string")
    return out


def _inline(node: JSONDict, defs: JSONDict, depth: int) -> JSONDict:
    """Replace a local ``$ref`` (or single-element ``allOf``) with the referenced schema.

    Sibling keys such as ``description`` win over the referenced definition's, matching how
    pydantic annotates referenced models.
    """
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        siblings = {k: v for k, v in node.items() if k != "allOf"}
        node = {**_inline(node["allOf"][0], defs, depth), **siblings}
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    siblings = {k: v for k, v in node.items() if k != "$ref"}
    target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/") else None
    if not isinstance(target, dict) or depth >= _MAX_REF_DEPTH:
        return {"type": "object", **siblings}
    return {**_clean(target, defs, depth + 1), **siblings}


def _type_fields(value: Any) -> JSONDict:
    """``"type": ["string", "null"]`` → ``{"type": "string", "nullable": true}``."""
    if isinstance(value, str):
        return {"type": value}
    if isinstance(value, list):
        kinds = [v for v in value if isinstance(v, str) and v != "null"]
        out: JSONDict = {"type": kinds[0]} if kinds else {}
        if "null" in value:
            out["nullable"] = True
        return out
    return {}


def _any_of(options: list[Any], defs: JSONDict, depth: int) -> JSONDict:
    """``anyOf`` with a ``null`` branch collapses to a nullable schema (pydantic's Optional)."""
    non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
    if len(non_null) == 1 and len(non_null) < len(options):
        return {**_clean(non_null[0], defs, depth), "nullable": True}
    return {"anyOf": [_clean(o, defs, depth) for o in options]}
