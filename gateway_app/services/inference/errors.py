"""How upstream failures reach the client: status, OpenAI error type and code."""

from __future__ import annotations

from gateway_app.core.errors import GatehouseError
from gateway_app.providers.base import UpstreamError


class UpstreamFailed(GatehouseError):
    """The upstream (and every fallback) failed; carries the status to answer with."""

    def __init__(self, message: str, *, status: int, code: str, error_type: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.error_type = error_type or code


def client_error(error: UpstreamError, model: str) -> UpstreamFailed:
    """The client-facing error for the last upstream failure."""
    if error.kind == "circuit_open":
        return UpstreamFailed(f"model '{model}' is temporarily unavailable (provider circuit open)", status=503,
                              code="upstream_unavailable")
    if error.kind == "timeout":
        return UpstreamFailed(f"model '{model}' timed out upstream", status=504, code="upstream_timeout")
    if error.kind == "blocked":
        # The admin-facing text names addresses and settings; the API client learns only this.
        return UpstreamFailed(f"model '{model}' failed upstream: the provider's address is not allowed", status=502,
                              code="upstream_error", error_type="blocked")
    if error.kind in ("connect", "malformed", "stream", "redirect", "content_type", "too_large"):
        return UpstreamFailed(f"model '{model}' failed upstream: {error.message}", status=502, code="upstream_error",
                              error_type=error.kind)
    if error.status == 429:
        return UpstreamFailed(f"model '{model}' is rate limited upstream: {error.message}", status=429,
                              code="upstream_rate_limited")
    if error.status >= 500:
        return UpstreamFailed(f"model '{model}' failed upstream: {error.message}", status=502, code="upstream_error",
                              error_type=f"http_{error.status}")
    # The upstream refused the request itself (e.g. context too long): the client's to fix.
    return UpstreamFailed(error.message, status=error.status or 400, code=error.code or "upstream_invalid_request",
                          error_type=f"http_{error.status}")
