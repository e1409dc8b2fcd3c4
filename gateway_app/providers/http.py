"""The pooled aiohttp session and the mapping of failures to UpstreamError."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from gateway_app.core.resilience import parse_retry_after
from gateway_app.providers.base import UpstreamError

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def new_session(limit: int = 256) -> aiohttp.ClientSession:
    """One long-lived session per provider: keep-alive connections, DNS cached, no cookie jar."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, ttl_dns_cache=300,
                                     keepalive_timeout=30, enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                 auto_decompress=True, raise_for_status=False)


def http_error(status: int, body: bytes, headers) -> UpstreamError:
    """An UpstreamError from an HTTP error answer, keeping the upstream's message when it has one."""
    message, code, error_type = f"upstream answered HTTP {status}", None, None
    try:
        parsed = orjson.loads(body)
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            code = error.get("code")
            error_type = error.get("type")
        elif isinstance(error, str):
            message = error
    except orjson.JSONDecodeError:
        pass
    return UpstreamError(message, status=status, kind="http", retryable=status in RETRYABLE_STATUS,
                         retry_after=parse_retry_after(headers.get("retry-after")), code=code,
                         error_type=error_type)


def transport_error(exc: BaseException) -> UpstreamError:
    """An UpstreamError for a failure with no HTTP answer."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamError("upstream timed out", status=504, kind="timeout", retryable=True)
    return UpstreamError(f"upstream unreachable: {type(exc).__name__}", status=502, kind="connect", retryable=True)


TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)


def parse_json(body: bytes) -> dict:
    """Parse an upstream JSON body or raise a retryable 'malformed' UpstreamError."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamError("upstream sent malformed JSON", status=502, kind="malformed", retryable=True) from None
    if not isinstance(parsed, dict):
        raise UpstreamError("upstream sent an unexpected JSON value", status=502, kind="malformed", retryable=True)
    return parsed
