"""Sandbox structured outputs: JSON mode and JSON Schema generation (plus a guard on the schema checker)."""

from __future__ import annotations

import json
from typing import Any, Literal

import pydantic
import pytest

from gatewayz.providers.sandbox import SandboxError, simulate_chat
from tests.unit.sandbox_helpers import chat, check_schema, user


def test_check_schema_rejects_invalid_values() -> None:
    """Guard the test helper itself: a checker that accepts everything would make schema tests vacuous."""
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}, "required": ["n"]}
    with pytest.raises(AssertionError):
        check_schema({}, schema)
    with pytest.raises(AssertionError):
        check_schema({"n": 4}, schema)
    with pytest.raises(AssertionError):
        check_schema({"n": "1"}, schema)
    check_schema({"n": 3}, schema)


def test_json_object_mode_returns_a_json_object() -> None:
    result = chat(user("Reply in JSON please", response_format={"type": "json_object"}))
    parsed = json.loads(result["choices"][0]["message"]["content"])
    assert isinstance(parsed, dict) and parsed


def test_json_object_mode_requires_the_word_json() -> None:
    with pytest.raises(SandboxError) as err:
        simulate_chat(user("Reply please", response_format={"type": "json_object"}), response_id="x", created=0)
    assert err.value.status == 400
    assert err.value.param == "messages"


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 3, "maxLength": 40},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "price": {"type": "number", "multipleOf": 0.25, "minimum": 10, "maximum": 12},
            "mood": {"type": "string", "enum": ["happy", "sad", "neutral"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 4, "uniqueItems": True},
            "author": {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "id": {"type": "string", "format": "uuid"},
                    "joined": {"type": "string", "format": "date-time"},
                },
                "required": ["email", "id", "joined"],
                "additionalProperties": False,
            },
            "nickname": {"type": ["string", "null"]},
            "active": {"type": "boolean"},
            "kind": {"const": "review"},
        },
        "required": ["title", "rating", "score", "price", "mood", "tags", "author", "nickname", "active", "kind"],
        "additionalProperties": False,
    },
    {
        "$defs": {
            "Step": {
                "type": "object",
                "properties": {"explanation": {"type": "string"}, "output": {"type": "string"}},
                "required": ["explanation", "output"],
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}, "minItems": 1},
            "final_answer": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["steps", "final_answer"],
        "additionalProperties": False,
    },
    {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["name", "children"],
            }
        },
        "$ref": "#/$defs/Node",
    },
    {"type": "array", "items": {"type": "integer", "multipleOf": 5, "minimum": 7}, "minItems": 2},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}]},
]


def test_degenerate_self_referencing_schema_terminates() -> None:
    schema = {"$defs": {"Loop": {"$ref": "#/$defs/Loop"}}, "$ref": "#/$defs/Loop"}
    response_format = {"type": "json_schema", "json_schema": {"name": "loop", "schema": schema}}
    content = chat(user("loop", response_format=response_format))["choices"][0]["message"]["content"]
    assert content == "null"


@pytest.mark.parametrize("schema", SCHEMAS)
def test_json_schema_output_validates(schema: dict[str, Any]) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    for seed in range(5):
        request = user("Fill the schema", response_format=response_format, seed=seed)
        content = chat(request)["choices"][0]["message"]["content"]
        check_schema(json.loads(content), schema)  # raises on any violation
        assert chat(request)["choices"][0]["message"]["content"] == content  # and it is deterministic


class _Address(pydantic.BaseModel):
    street: str
    postcode: str
    country: Literal["FR", "DE", "US"]


class _Person(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=0, le=130)
    height_m: float
    addresses: list[_Address]
    nickname: str | None
    verified: bool


def test_json_schema_from_pydantic_model_parses_back() -> None:
    """Mirrors the SDK's ``.parse(response_format=Model)`` flow: pydantic $defs/$ref schemas must work."""
    schema = _Person.model_json_schema()
    response_format = {"type": "json_schema", "json_schema": {"name": "Person", "schema": schema}}
    content = chat(user("Who?", response_format=response_format))["choices"][0]["message"]["content"]
    person = _Person.model_validate_json(content)
    assert 0 <= person.age <= 130
    assert person.addresses and all(a.country in ("FR", "DE", "US") for a in person.addresses)
