"""/docs (Swagger UI) and /redoc, with their scripts and styles served from the package.

FastAPI's default pages load them from a CDN (and a favicon and Google Fonts from elsewhere), so
the docs of a gateway running offline or behind a strict egress policy are blank. The files under
static/ are the unmodified minified bundles of the npm packages `swagger-ui-dist` and `redoc`,
with their licences.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse

from gatewayz.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static/docs"
CACHE_CONTROL = "public, max-age=86400"
ASSETS: dict[str, str] = {
    "swagger-ui/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui/swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui/favicon-32x32.png": "image/png",
    "redoc/redoc.standalone.js": "text/javascript; charset=utf-8",
}
FAVICON = f"{STATIC_PREFIX}/swagger-ui/favicon-32x32.png"

router = APIRouter(include_in_schema=False)


def _title(request: Request) -> str:
    return f"{request.app.title} - API docs"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=_title(request),
        swagger_js_url=f"{STATIC_PREFIX}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_PREFIX}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=FAVICON,
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=_title(request),
        redoc_js_url=f"{STATIC_PREFIX}/redoc/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )


@router.get(STATIC_PREFIX + "/{name:path}")
async def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"No such documentation asset: {name!r}.")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"cache-control": CACHE_CONTROL})
