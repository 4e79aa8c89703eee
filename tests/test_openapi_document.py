"""The OpenAPI document describes the API as it answers, and inputs are parsed as strictly as it says.

- The inference operations document their real request and response bodies (not `{}`/`object`).
- No operation documents FastAPI's 422: a malformed request is a 400 in the OpenAI error shape, and
  every documented error response carries that shape.
- Integers are integers, booleans are booleans (`true|false` in a query string), date-times are
  RFC 3339; anything else is a 400 naming the parameter.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.identity import GwUser

ANTHROPIC_ERROR_REF = "#/components/schemas/AnthropicError"
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def document(gateway: Any) -> dict[str, Any]:
    response = httpx.get(gateway.url + "/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


@pytest.mark.parametrize(
    ("path", "method", "request_fields", "response_fields"),
    [
        ("/v1/chat/completions", "post", {"model", "messages", "tools", "stream", "provider", "models"}, {"choices"}),
        ("/v1/embeddings", "post", {"model", "input"}, {"data", "usage"}),
        ("/v1/models", "get", set(), {"object", "data"}),
        ("/v1/models/{model_id}", "get", set(), {"id", "owned_by"}),
    ],
)
def test_inference_operations_document_their_bodies(
    document: dict[str, Any], path: str, method: str, request_fields: set[str], response_fields: set[str]
) -> None:
    operation = document["paths"][path][method]
    if request_fields:
        body = _resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
        assert request_fields <= set(body["properties"]), body
        assert {"model"} <= set(body["required"])
    ok = _resolve(document, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert response_fields <= set(ok["properties"]), ok
    if path == "/v1/chat/completions":
        assert "text/event-stream" in operation["responses"]["200"]["content"]
        usage = _resolve(document, ok["properties"]["usage"])
        assert "cost" in usage["properties"]  # what the gateway adds
        message = body["properties"]["messages"]["items"]
        assert {"system", "user", "assistant", "tool"} <= set(message["properties"]["role"]["enum"])


PUBLIC_PAYMENT_PATHS = ("/api/stripe/webhook", "/api/stripe/packages", "/r/{code}")


def test_no_422_anywhere_and_every_error_has_the_error_shape(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        # Anthropic's SDK reads the errors of its own face: those are in Anthropic's shape
        expected = ANTHROPIC_ERROR_REF if path.startswith("/v1/messages") else ERROR_REF
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": expected}, (method, path, status)
        if operation.get("parameters") or "requestBody" in operation:
            assert "400" in responses, (method, path)
        if not path.startswith(("/health", "/ping", "/auth/")) and path not in PUBLIC_PAYMENT_PATHS:
            # /auth/: sign-in, before any credential; Stripe's webhook is signed, not authenticated
            assert {"401", "403"} <= set(responses), (method, path)
        if "requestBody" in operation:
            assert {"413", "415"} <= set(responses), (method, path)
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == {"message", "type", "param", "code"}


def test_documented_statuses_where_they_occur(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert {"402", "404", "429"} <= set(paths["/v1/chat/completions"]["post"]["responses"])
    assert "409" in paths["/admin/users"]["post"]["responses"]
    assert "404" in paths["/admin/users/{user_id}"]["get"]["responses"]
    assert "503" in paths["/health/ready"]["get"]["responses"]


def test_optional_query_parameters_are_their_type_not_or_null(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/user/credit-transactions"]["get"]["parameters"]}
    assert params["since"]["schema"]["type"] == "string" and params["since"]["schema"]["format"] == "date-time"
    assert params["before_id"]["schema"]["type"] == "integer"


def test_the_email_schema_says_what_the_handler_accepts(document: dict[str, Any], admin: httpx.Client) -> None:
    email = document["components"]["schemas"]["UserCreate"]["properties"]["email"]
    assert "pattern" in email
    response = admin.post("/admin/users", json={"email": ""})
    assert response.status_code == 400 and response.json()["error"]["param"] == "email"
    response = admin.post("/admin/users", json={"email": "  Someone.Padded@Example.com "})
    assert response.status_code == 201 and response.json()["user"]["email"] == "someone.padded@example.com"


def assert_refused(response: httpx.Response, param: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error", error


def test_a_malformed_body_is_400_never_422(admin: httpx.Client) -> None:
    response = admin.post("/admin/users", json={})
    assert_refused(response, "email")
    response = admin.post("/admin/credits", json={"user_id": 1, "reason": "x"})
    assert_refused(response, "amount")


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/admin/security-events", {"since": "0.5"}, "since"),
        ("/user/credit-transactions", {"until": "-8608555178"}, "until"),
        ("/user/usage", {"since": "1700000000"}, "since"),
        ("/user/api-keys", {"include_revoked": "1"}, "include_revoked"),
        ("/user/api-keys", {"include_revoked": "yes"}, "include_revoked"),
        ("/admin/users", {"limit": "1.0"}, "limit"),
        ("/admin/users", {"offset": "false"}, "offset"),
        ("/user/credit-transactions", {"since": "0001-01-01T00:00:00+01:00"}, "since"),
    ],
)
def test_loose_query_values_are_refused(admin: httpx.Client, path: str, params: dict[str, str], param: str) -> None:
    assert_refused(admin.get(path, params=params), param)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/admin/security-events", {"since": "2026-01-01T00:00:00Z"}),
        ("/admin/security-events", {"since": "2026-01-01T00:00:00"}),
        ("/user/credit-transactions", {"until": "2026-01-01T00:00:00.5+02:00"}),
        ("/user/api-keys", {"include_revoked": "true"}),
        ("/admin/users", {"limit": "10", "offset": "0"}),
    ],
)
def test_the_accepted_forms_are_accepted(admin: httpx.Client, path: str, params: dict[str, str]) -> None:
    response = admin.get(path, params=params)
    assert response.status_code == 200, response.text


def test_loose_body_values_are_refused(user: GwUser, admin: httpx.Client) -> None:
    assert_refused(user.client.post("/user/api-keys", json={"expires_at": 0}), "expires_at")
    assert_refused(user.client.post("/user/api-keys", json={"expires_at": "1700000000"}), "expires_at")
    assert_refused(user.client.post("/user/api-keys", json={"expires_in_days": 1.0}), "expires_in_days")
    assert_refused(user.client.post("/user/api-keys", json={"max_requests": "5"}), "max_requests")
    assert_refused(user.client.post(f"/user/api-keys/{user.key_id}/rotate", json={"grace_period_seconds": False}),
         "grace_period_seconds")
    assert_refused(admin.patch(f"/admin/users/{user.id}", json={"is_active": 0}), "is_active")
    assert_refused(admin.post("/admin/credits", json={"user_id": True, "amount": "1", "reason": "x"}), "user_id")
    limits = admin.put(f"/admin/users/{user.id}/rate-limits", json={"requests_per_minute": True})
    assert_refused(limits, "requests_per_minute")
    # the accepted forms still work
    created = user.client.post("/user/api-keys", json={"expires_at": "2099-01-01T00:00:00", "max_requests": 5})
    assert created.status_code == 201, created.text
    assert created.json()["expires_at"].startswith("2099-01-01T00:00:00")


def test_rate_limit_values_are_bounded(user: GwUser, admin: httpx.Client) -> None:
    """A limit beyond 64 bits was stored as JSON the database (or orjson) cannot hold: a 500."""
    assert_refused(admin.put(f"/admin/users/{user.id}/rate-limits", json={"tokens_per_day": 2**64}), "tokens_per_day")
    assert_refused(user.client.post("/user/api-keys", json={"rate_limits": {"requests_per_second": 10**13}}),
         "rate_limits.requests_per_second")
    assert_refused(admin.put(f"/admin/users/{user.id}/rate-limits", json={"models": {"": {"requests_per_minute": 1}}}),
         "models")
    fine = admin.put(f"/admin/users/{user.id}/rate-limits", json={"tokens_per_day": 10**12})
    assert fine.status_code == 200, fine.text


def test_options_is_a_json_405_that_lists_the_allowed_methods(admin: httpx.Client) -> None:
    """No CORS layer, so OPTIONS is not a method of any route: a JSON 405 whose Allow header says
    what the path does accept (the same answer as any other method a path does not take)."""
    response = admin.options("/user/api-keys/1")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}
    assert response.json()["error"]["code"] == "method_not_allowed"
    response = admin.options("/v1/chat/completions")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
