"""Every error is JSON in the OpenAI error shape, with the right status; never a bare 500."""

from __future__ import annotations

import httpx

from tests.support.identity import GwUser

ERROR_FIELDS = {"message", "type", "param", "code"}


def _assert_shape(response: httpx.Response, status: int, type_: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == ERROR_FIELDS
    assert error["type"] == type_
    assert isinstance(error["message"], str) and error["message"]
    return error  # type: ignore[no-any-return]


def test_unknown_route_is_404(anon: httpx.Client) -> None:
    error = _assert_shape(anon.get("/no/such/thing"), 404, "invalid_request_error")
    assert error["code"] == "not_found"


def test_wrong_method_is_405(anon: httpx.Client) -> None:
    error = _assert_shape(anon.delete("/health"), 405, "invalid_request_error")
    assert "not allowed" in str(error["message"]).lower()


def test_malformed_json_is_400(user: GwUser) -> None:
    response = user.client.post("/user/api-keys", content=b"{not json", headers={"content-type": "application/json"})
    error = _assert_shape(response, 400, "invalid_request_error")
    assert "JSON" in str(error["message"])


def test_validation_error_names_nested_param(user: GwUser) -> None:
    response = user.client.post("/user/api-keys", json={"name": "x", "ip_allowlist": ["10.0.0.1", "bogus"]})
    error = _assert_shape(response, 400, "invalid_request_error")
    assert error["param"] == "ip_allowlist"
    assert "bogus" in str(error["message"])


def test_wrong_types_are_400_not_500(user: GwUser) -> None:
    for body in ([1, 2], "string", {"name": 5}, {"scopes": "inference"}, {"expires_at": "tomorrow"}):
        response = user.client.post("/user/api-keys", json=body)
        error = _assert_shape(response, 400, "invalid_request_error")
        assert response.status_code != 500 and error["message"], body


def test_path_parameter_validation_is_400(user: GwUser) -> None:
    error = _assert_shape(user.client.get("/user/api-keys/not-a-number"), 400, "invalid_request_error")
    assert error["param"] == "key_id"


def test_query_validation_is_400(admin: httpx.Client) -> None:
    error = _assert_shape(admin.get("/admin/users", params={"limit": 0}), 400, "invalid_request_error")
    assert error["param"] == "limit"
