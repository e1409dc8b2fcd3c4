"""What every provider runtime offers, and the errors and results it returns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

PROVIDER_TYPES = ("openai", "openai-compatible", "azure-openai", "anthropic")


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Everything a runtime needs to call one configured provider (the key decrypted, in memory only)."""

    key: str  # "<tenant>:<provider id>": pool and breaker key
    name: str
    type: str
    base_url: str
    api_key: str | None = None
    api_version: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 2
    headers: tuple[tuple[str, str], ...] = ()
    fingerprint: str = ""  # changes whenever the configuration changes

    def __repr__(self) -> str:  # never show the key in logs or tracebacks
        return f"ProviderSpec(key={self.key!r}, name={self.name!r}, type={self.type!r}, base_url={self.base_url!r})"


class UpstreamError(Exception):
    """A failed upstream call. `status` 0 means no HTTP answer (connection refused, reset, timeout)."""

    def __init__(self, message: str, *, status: int = 0, kind: str = "http", retryable: bool = False,
                 retry_after: float | None = None, code: str | None = None, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        # http | connect | timeout | malformed | circuit_open | stream | blocked | redirect | content_type | too_large
        self.kind = kind
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code
        self.error_type = error_type


@dataclass(slots=True)
class UpstreamResult:
    """A complete (non-streamed) answer: the body to forward as is, and what we read from it."""

    body: bytes
    usage: dict | None = None
    model: str | None = None


@dataclass(slots=True)
class StreamStats:
    """What a stream told us by the time it ended."""

    usage: dict | None = None
    content_events: int = 0
    first_byte_at: float | None = None
    finished: bool = False


class UpstreamStream(Protocol):
    """An open streamed answer: iterate it for OpenAI-format SSE bytes, then read stats."""

    stats: StreamStats

    def __aiter__(self) -> AsyncIterator[bytes]: ...
    async def aclose(self) -> None: ...


class ProviderRuntime(Protocol):
    """One provider, with a pooled HTTP client."""

    spec: ProviderSpec

    async def chat(self, payload: dict, upstream_model: str, *, timeout: float) -> UpstreamResult: ...
    async def chat_stream(self, payload: dict, upstream_model: str, *, timeout: float,
                          client_wants_usage: bool) -> UpstreamStream: ...
    async def embeddings(self, payload: dict, upstream_model: str, *, timeout: float) -> UpstreamResult: ...
    async def list_models(self, *, timeout: float = 10.0) -> list[str]: ...
    async def aclose(self) -> None: ...


@dataclass(slots=True)
class FileObject:
    """A provider's file, in OpenAI's shape."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    status: str = "processed"
    extra: dict = field(default_factory=dict)
