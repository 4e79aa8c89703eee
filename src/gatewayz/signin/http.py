"""Outbound HTTP of sign-in (JWKS, OpenID discovery, token endpoints): one small aiohttp session,
short timeouts, bounded answers. A provider that is down or answers junk is an error, never a hang."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import aiohttp

MAX_ANSWER_BYTES = 1_048_576
TIMEOUT_SECONDS = 5.0


class FetchFailed(Exception):
    """The provider could not be reached or did not answer JSON."""


class Fetcher:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None  # made on first use

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp  # on first use: start-up does not pay for it (like providers/upstream.py)

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        return self._session

    async def _json(self, method: str, url: str, **options: Any) -> tuple[int, Any]:
        import aiohttp

        try:
            async with self._client().request(method, url, allow_redirects=False, **options) as answer:
                body = await answer.content.read(MAX_ANSWER_BYTES + 1)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise FetchFailed(f"{url}: {type(exc).__name__}") from exc
        if len(body) > MAX_ANSWER_BYTES:
            raise FetchFailed(f"{url}: answer larger than {MAX_ANSWER_BYTES} bytes")
        try:
            return status, orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise FetchFailed(f"{url}: answer is not JSON (status {status})") from exc

    async def get_json(self, url: str) -> Any:
        status, data = await self._json("GET", url, headers={"accept": "application/json"})
        if status != 200:
            raise FetchFailed(f"{url}: status {status}")
        return data

    async def post_form(self, url: str, form: dict[str, str], headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return await self._json("POST", url, data=form, headers={"accept": "application/json", **(headers or {})})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
