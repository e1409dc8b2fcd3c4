"""Reading upstream answers, and mapping every failure to an UpstreamError with sanitised text.

An answer is used only when it has the type asked for: a JSON body (`application/json`, `+json`)
or a `text/event-stream`. Redirects are errors (never followed). Error text from upstream reaches
anyone only as the `error.message` of a JSON body in OpenAI's or Anthropic's error shape, cleaned
and capped; any other error body is not even read.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata

import aiohttp
import orjson

from gateway_app.core.outbound import BlockedAddress
from gateway_app.core.resilience import parse_retry_after
from gateway_app.providers.base import UpstreamError

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
JSON_BODY_LIMIT = 64 * 1024 * 1024  # a whole answer held in memory (embeddings of big batches are large)
ERROR_BODY_LIMIT = 64 * 1024
MESSAGE_LIMIT = 240
SSE = "text/event-stream"
TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)
_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def clean_text(value: str, limit: int = MESSAGE_LIMIT) -> str:
    """Printable text only: control and format characters dropped, whitespace collapsed, capped at limit."""
    kept = []
    for char in value[:limit * 4]:
        category = unicodedata.category(char)
        if category[0] == "Z" or char in "\t\n\r":
            kept.append(" ")
        elif category[0] != "C":
            kept.append(char)
    text = " ".join("".join(kept).split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _token(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def is_json(content_type: str) -> bool:
    """application/json or any +json type (aiohttp gives the type lower-cased, without parameters)."""
    return content_type == "application/json" or content_type.endswith("+json")


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit} bytes"


def too_large(limit: int) -> UpstreamError:
    """The answer is bigger than we hold in memory."""
    return UpstreamError(f"upstream answer is larger than {_size(limit)}", status=502, kind="too_large")


def wrong_type(content_type: str, expected: str) -> UpstreamError:
    """The answer is not of the type asked for; its body is not read."""
    shown = clean_text(content_type or "none", 80)
    return UpstreamError(f"upstream answered Content-Type '{shown}' where {expected} was expected", status=502,
                         kind="content_type")


async def read_bounded(response: aiohttp.ClientResponse, limit: int, *, truncate: bool = False) -> bytes:
    """The body, never more than limit bytes in memory (decompressed); too_large or truncated beyond."""
    length = response.content_length
    if length is not None and length <= limit and not response.headers.get("Content-Encoding"):
        return await response.read()
    chunks, total = [], 0
    async for chunk in response.content.iter_any():
        total += len(chunk)
        if total > limit:
            if not truncate:
                raise too_large(limit)
            chunks.append(chunk[:len(chunk) - (total - limit)])
            break
        chunks.append(chunk)
    return b"".join(chunks)


def http_error(status: int, body: bytes, headers) -> UpstreamError:
    """An UpstreamError for an HTTP error answer; `body` is a JSON error body or empty."""
    message = code = error_type = None
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        error = parsed.get("error") if isinstance(parsed, dict) else None
        # OpenAI {"error": {"message", "type", "code"}} and Anthropic {"type": "error", "error": {...}}.
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message = clean_text(error["message"]) or None
            code, error_type = _token(error.get("code")), _token(error.get("type"))
    text = f"upstream answered HTTP {status}: {message}" if message else f"upstream answered HTTP {status}"
    return UpstreamError(text, status=status, kind="http", retryable=status in RETRYABLE_STATUS,
                         retry_after=parse_retry_after(headers.get("retry-after")), code=code,
                         error_type=error_type)


async def error_of(response: aiohttp.ClientResponse) -> UpstreamError:
    """The UpstreamError for an answer that is not a 2xx (reads at most 64 KB, and only of a JSON body)."""
    status = response.status
    if 300 <= status < 400:
        # Neither Location nor body: where a redirect points is exactly what must not leak.
        return UpstreamError(f"upstream answered a redirect (HTTP {status}); redirects are not followed",
                             status=502, kind="redirect")
    body = b""
    if is_json(response.content_type):
        try:
            body = await read_bounded(response, ERROR_BODY_LIMIT, truncate=True)
        except TRANSPORT_ERRORS:
            body = b""
    return http_error(status, body, response.headers)


async def json_answer(response: aiohttp.ClientResponse, limit: int = JSON_BODY_LIMIT) -> bytes:
    """The body of a 2xx JSON answer; anything else raises UpstreamError."""
    if not 200 <= response.status < 300:
        raise await error_of(response)
    if not is_json(response.content_type):
        raise wrong_type(response.content_type, "application/json")
    return await read_bounded(response, limit)


async def stream_answer(response: aiohttp.ClientResponse) -> None:
    """Return when the answer is a 2xx event stream; otherwise release it and raise UpstreamError."""
    if 200 <= response.status < 300 and response.content_type == SSE:
        return
    try:
        if not 200 <= response.status < 300:
            raise await error_of(response)
        raise wrong_type(response.content_type, SSE)
    finally:
        response.release()


def transport_error(exc: BaseException) -> UpstreamError:
    """An UpstreamError for a failure with no HTTP answer; a refused address is its own, non-retryable kind."""
    cause = getattr(exc, "os_error", None)
    if isinstance(cause, BlockedAddress):
        return UpstreamError(cause.description, status=0, kind="blocked")
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamError("upstream timed out", status=504, kind="timeout", retryable=True)
    return UpstreamError(f"upstream unreachable: {type(exc).__name__}", status=502, kind="connect", retryable=True)


def parse_json(body: bytes) -> dict:
    """Parse an upstream JSON body or raise a retryable 'malformed' UpstreamError."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamError("upstream sent malformed JSON", status=502, kind="malformed", retryable=True) from None
    if not isinstance(parsed, dict):
        raise UpstreamError("upstream sent an unexpected JSON value", status=502, kind="malformed", retryable=True)
    return parsed


def model_ids(parsed: dict, limit: int = 2000) -> list[str]:
    """Model names from a model list ({"data": [{"id": ...}]}), cleaned; anything else is malformed."""
    data = parsed.get("data")
    if not isinstance(data, list):
        raise UpstreamError("upstream answer is not a model list (no 'data' array)", status=502, kind="malformed")
    ids = {clean_text(m["id"], 200) for m in data[:limit] if isinstance(m, dict) and isinstance(m.get("id"), str)}
    return sorted(i for i in ids if i)
