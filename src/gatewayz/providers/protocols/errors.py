"""Errors raised while translating an upstream's native protocol."""

from __future__ import annotations


class UpstreamStreamError(Exception):
    """An upstream reported an error *inside* a stream that already started with HTTP 200.

    The HTTP status is long gone by then, so the caller needs the upstream's own error type
    (e.g. Anthropic ``overloaded_error``, Gemini ``RESOURCE_EXHAUSTED``) to decide how to
    report it to the client (an SSE error frame) and whether the failure is retryable.
    """

    def __init__(self, message: str, type: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = type

    @property
    def type(self) -> str:
        """The upstream's error type string, kept under the name the constructor uses."""
        return self.error_type

    def __repr__(self) -> str:
        return f"UpstreamStreamError({self.message!r}, {self.error_type!r})"
