"""HTTP to the providers: one aiohttp session (connection pool) per provider, created on first use.

aiohttp was chosen by measurement: as a proxy's upstream client it served ~14x the requests/s of
httpx on this class of machine (bench/upstream_clients.py; figures in bench/README.md).
"""

from __future__ import annotations

import math
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import orjson
import structlog

from gatewayz.providers.adapters import UpstreamCall
from gatewayz.providers.registry import ProviderSpec

if TYPE_CHECKING:
    import aiohttp

log = structlog.get_logger("gatewayz.providers.upstream")
_aiohttp: Any = None


def aiohttp_module() -> Any:
    """aiohttp, imported on first use: it costs ~0.17 s of start-up that serving /health need not pay."""
    global _aiohttp
    if _aiohttp is None:
        import aiohttp as module

        _aiohttp = module
    return _aiohttp


def transport_errors() -> tuple[type[BaseException], ...]:
    """What a broken or slow upstream connection raises (for `except` clauses)."""
    return (TimeoutError, OSError, aiohttp_module().ClientError)


MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a whole (non-streamed) provider answer; more is that provider's failure
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


class UpstreamFailure(Exception):
    """A provider attempt that did not produce a usable answer."""

    def __init__(
        self,
        provider: str,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        upstream_type: str = "",
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.kind = kind  # connect | timeout | status | protocol | redirect | unsupported
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.upstream_type = upstream_type

    @property
    def retryable(self) -> bool:
        if self.kind in ("connect", "timeout", "protocol"):
            return True
        return self.status in RETRYABLE_STATUSES

    @property
    def counts_against_health(self) -> bool:
        """Failures that say the provider is unwell (not that our request or quota was bad)."""
        if self.kind != "status":
            return True
        return self.status is not None and self.status >= 500


MAX_RETRY_AFTER_SECONDS = 86_400.0


def parse_retry_after(headers: Any) -> float | None:
    """The provider's wait, in seconds; "inf", "nan" or absurd values are not believed (input like
    any other: they would reach our own `retry-after` header and the backoff)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                seconds = float(value) * scale
            except ValueError:
                continue
            if math.isfinite(seconds):
                return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)
    return None


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        try:
            return orjson.loads(self.body) if self.body else None
        except orjson.JSONDecodeError:
            return None


class UpstreamClients:
    """The connection pools, one per provider, shared by every request of this process."""

    def __init__(self, limit_per_provider: int = 1000) -> None:
        self.limit = limit_per_provider
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def session(self, spec: ProviderSpec) -> aiohttp.ClientSession:
        session = self._sessions.get(spec.name)
        if session is None or session.closed:
            aiohttp = aiohttp_module()
            connector = aiohttp.TCPConnector(
                limit=self.limit, ttl_dns_cache=300, keepalive_timeout=60, enable_cleanup_closed=True
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, connect=spec.connect_timeout),
                json_serialize=lambda obj: orjson.dumps(obj).decode(),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
            self._sessions[spec.name] = session
        return session

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    @staticmethod
    def _timeout(spec: ProviderSpec) -> aiohttp.ClientTimeout:
        # sock_read bounds the wait for the first byte and every gap between chunks.
        return aiohttp_module().ClientTimeout(
            total=spec.total_timeout, sock_connect=spec.connect_timeout, sock_read=spec.first_byte_timeout
        )

    @staticmethod
    def _failure(spec: ProviderSpec, exc: BaseException) -> UpstreamFailure:
        return transport_failure(spec, exc)

    async def request(self, spec: ProviderSpec, call: UpstreamCall) -> UpstreamResponse:
        """A whole (non-streaming) exchange."""
        try:
            async with self.session(spec).request(
                call.method, call.url, data=call.body, headers=call.headers, timeout=self._timeout(spec),
                allow_redirects=False,
            ) as response:
                body = await read_capped(spec, response)
                return UpstreamResponse(response.status, response.headers, body)
        except transport_errors() as exc:
            raise transport_failure(spec, exc) from exc

    async def open(self, spec: ProviderSpec, call: UpstreamCall) -> aiohttp.ClientResponse:
        """Start a streaming exchange: returns once the response headers arrived."""
        try:
            return await self.session(spec).request(
                call.method, call.url, data=call.body, headers=call.headers, timeout=self._timeout(spec),
                allow_redirects=False,
            )
        except transport_errors() as exc:
            raise transport_failure(spec, exc) from exc


def transport_reason(exc: BaseException) -> tuple[str, str]:
    """(failure kind, reason a client may read) for a transport exception.

    The reason never contains the exception's text: that names our upstream hosts, ports and
    URLs (with any key sent as a query parameter), which are the operator's business only.
    """
    aiohttp = aiohttp_module()
    if isinstance(exc, TimeoutError):
        return "timeout", "timed out"
    if isinstance(exc, aiohttp.ClientConnectorDNSError | socket.gaierror):
        return "connect", "DNS failure"
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError | ssl.SSLError):
        return "connect", "TLS error"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connect", "connection refused"
        return "connect", "could not connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connect", "closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "connect", "sent a broken response body"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "connect", "sent an invalid HTTP response"
    if isinstance(exc, ConnectionResetError | aiohttp.ClientConnectionResetError):
        return "connect", "reset the connection"
    return "connect", "connection failed"


def scrubbed(spec: ProviderSpec, text: str) -> str:
    """`text` without the provider's query-parameter credentials (exception texts quote URLs)."""
    for value in spec.auth_params.values():
        if value:
            text = text.replace(value, "***").replace(quote_plus(value), "***")
    return text


def transport_failure(spec: ProviderSpec, exc: BaseException) -> UpstreamFailure:
    """The failure a client sees (provider + reason); the details go to the log."""
    kind, reason = transport_reason(exc)
    log.warning(
        "upstream_transport_error",
        provider=spec.name,
        reason=reason,
        error=scrubbed(spec, f"{type(exc).__name__}: {exc}"),
    )
    return UpstreamFailure(spec.name, kind, f"{spec.name} timed out" if kind == "timeout" else reason)


async def read_capped(spec: ProviderSpec, response: aiohttp.ClientResponse, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """A whole answer body, refused past `limit` (a provider must not exhaust the gateway's memory)."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise UpstreamFailure(spec.name, "protocol", f"answered with a body over {limit // (1024 * 1024)} MiB")
        return await response.read()  # bounded by the declared length
    parts, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise UpstreamFailure(spec.name, "protocol", f"answered with a body over {limit // (1024 * 1024)} MiB")
        parts.append(chunk)
    return b"".join(parts)
