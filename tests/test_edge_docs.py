"""The API docs work offline: every script, style and icon comes from the gateway itself."""

from __future__ import annotations

import re

import httpx
import pytest

REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")
EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


@pytest.mark.parametrize(("page", "marker"), [("/docs", "SwaggerUIBundle"), ("/redoc", "<redoc")])
def test_docs_pages_reference_only_local_assets_that_are_served(anon: httpx.Client, page: str, marker: str) -> None:
    response = anon.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert marker in html
    assert re.findall(r"https?://|//cdn|fonts\.googleapis", html) == []  # nothing from elsewhere
    references = {a or b for a, b in REFERENCE.findall(html)}
    assert "/openapi.json" in references
    assert any(ref.endswith(".js") for ref in references)
    for ref in references:
        assert ref.startswith("/") and not ref.startswith("//"), ref
        asset = anon.get(ref)
        assert asset.status_code == 200, ref
        suffix = ref[ref.rfind(".") :]
        assert asset.headers["content-type"].startswith(EXPECTED_TYPES[suffix]), (ref, asset.headers["content-type"])
        assert len(asset.content) > 100


def test_unknown_docs_assets_are_json_404(anon: httpx.Client) -> None:
    for path in ("/static/docs/nothing.js", "/static/docs/../../settings.py"):
        response = anon.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
