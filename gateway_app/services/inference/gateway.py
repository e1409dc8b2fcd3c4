"""Chat completions, embeddings and the model list: the client API's hot path.

For each request: resolve the model (and its fallbacks) from the cached catalogue, admit it
against the quotas, call the provider through its pooled runtime with retries (before any byte
is sent) and a circuit breaker, fall back in order, then settle quotas and queue a usage record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from gateway_app.core.errors import InvalidInput, NotFound
from gateway_app.core.resilience import BreakerRegistry, CircuitOpenError, RetryPolicy
from gateway_app.core.runtime_pool import RuntimePool
from gateway_app.db.records import UsageRecord
from gateway_app.providers.base import ProviderRuntime, UpstreamError, UpstreamResult, UpstreamStream
from gateway_app.providers.factory import create_runtime
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.inference.catalog import ModelCatalog, ModelEntry
from gateway_app.services.inference.errors import UpstreamFailed, client_error
from gateway_app.services.inference.quotas import Admission, QuotaGuard, estimate_tokens
from gateway_app.services.inference.usage import UsageRecorder

_ERROR_EVENT = b"data: %s\n\ndata: [DONE]\n\n"


@dataclass(slots=True)
class Completed:
    """A whole answer to send as is."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Streaming:
    """An answer to relay as server-sent events."""

    chunks: AsyncIterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)


def _validate_chat(payload: dict) -> None:
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("'messages' must be a non-empty array", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidInput(f"messages[{index}] must be an object with a 'role'", param=f"messages[{index}]")
    if "stream" in payload and not isinstance(payload["stream"], bool):
        raise InvalidInput("'stream' must be a boolean", param="stream")
    for name in ("n", "max_tokens", "max_completion_tokens"):
        value = payload.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidInput(f"'{name}' must be a positive integer", param=name)


def _usage_numbers(usage: dict | None) -> tuple[int, int]:
    if not usage:
        return 0, 0
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


class InferenceService:
    """The client API's operations."""

    def __init__(self, catalog: ModelCatalog, quotas: QuotaGuard, usage: UsageRecorder,
                 breakers: BreakerRegistry, pool: RuntimePool) -> None:
        self.catalog = catalog
        self._quotas = quotas
        self._usage = usage
        self._breakers = breakers
        self._pool = pool

    async def models(self, identity: ClientIdentity) -> list[dict]:
        """OpenAI model objects the token may use."""
        return [{"id": m.name, "object": "model", "created": m.created, "owned_by": m.provider.name}
                for m in await self.catalog.visible(identity)]

    async def model(self, identity: ClientIdentity, name: str) -> dict:
        """One model object, or 404 model_not_found."""
        for item in await self.models(identity):
            if item["id"] == name:
                return item
        error = NotFound(f"The model '{name}' does not exist or you do not have access to it", param="model")
        error.code = "model_not_found"
        raise error

    async def _runtime(self, entry: ModelEntry) -> ProviderRuntime:
        spec = entry.provider
        return await self._pool.get(spec.key, spec.fingerprint, lambda: create_runtime(spec))

    async def _call(self, entry: ModelEntry, call: Callable[[ProviderRuntime], Awaitable]):
        """One model: retries on retryable failures, all under the provider's breaker."""
        runtime = await self._runtime(entry)
        policy = RetryPolicy(attempts=entry.provider.max_retries + 1, initial_wait=0.1, max_wait=2.0,
                             retry_after_cap=10.0)
        async for attempt in policy.retrying(lambda e: isinstance(e, UpstreamError) and e.retryable):
            with attempt:
                try:
                    with self._breakers.guard(entry.provider.key):
                        return await call(runtime)
                except CircuitOpenError:
                    raise UpstreamError("provider circuit open", status=503, kind="circuit_open") from None
        raise AssertionError("unreachable")

    async def _first_success(self, chain: list[ModelEntry], call: Callable[[ProviderRuntime, ModelEntry], Awaitable]):
        """Try the model, then its fallbacks; a request the upstream refused as invalid is not retried elsewhere."""
        last: UpstreamError | None = None
        for entry in chain:
            try:
                return entry, await self._call(entry, lambda runtime, e=entry: call(runtime, e))
            except UpstreamError as exc:
                last = exc
                if exc.kind == "http" and not exc.retryable and exc.status < 500:
                    break
        assert last is not None
        raise last

    def _headers(self, requested: str, entry: ModelEntry, admission: Admission) -> dict[str, str]:
        headers = {"x-gatehouse-model": entry.name, "x-gatehouse-upstream-model": entry.upstream_model,
                   "x-gatehouse-provider": entry.provider.name, **admission.headers}
        if entry.name != requested:
            headers["x-gatehouse-fallback"] = "true"
        return headers

    def _record(self, identity: ClientIdentity, request_id: str, kind: str, requested: str, entry: ModelEntry | None,
                started: float, *, status: int, error_type: str = "", prompt: int = 0, completion: int = 0,
                cost: float = 0.0, ttft_ms: float | None = None, stream: bool = False) -> None:
        self._usage.record(identity.tenant_slug, UsageRecord(
            request_id=request_id, model=requested, kind=kind, token_id=identity.token_id,
            project_id=identity.project_id, upstream_model=entry.upstream_model if entry else "",
            provider_id=entry.provider.key.split(":", 1)[1] if entry else "", status=status, error_type=error_type,
            prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost,
            latency_ms=(time.perf_counter() - started) * 1000, ttft_ms=ttft_ms, stream=stream,
            fallback=bool(entry and entry.name != requested)))

    async def chat(self, identity: ClientIdentity, payload: dict, request_id: str) -> Completed | Streaming:
        """POST /v1/chat/completions."""
        started = time.perf_counter()
        chain = await self.catalog.route(identity, payload.get("model"), "chat")
        _validate_chat(payload)
        requested = chain[0].name
        estimate = estimate_tokens(payload)
        admission = await self._quotas.admit(identity, chain[0], estimate)
        if payload.get("stream"):
            return await self._chat_stream(identity, payload, request_id, chain, admission, started)
        try:
            entry, result = await self._first_success(
                chain, lambda runtime, e: runtime.chat(payload, e.upstream_model, timeout=e.provider.timeout_s))
        except UpstreamError as exc:
            failure = client_error(exc, requested)
            self._record(identity, request_id, "chat", requested, None, started, status=failure.status or 502,
                         error_type=failure.error_type)
            await self._quotas.settle(admission, 0, 0.0)
            raise failure from None
        return await self._complete(identity, request_id, "chat", requested, entry, result, admission, started)

    async def _complete(self, identity: ClientIdentity, request_id: str, kind: str, requested: str, entry: ModelEntry,
                        result: UpstreamResult, admission: Admission, started: float) -> Completed:
        prompt, completion = _usage_numbers(result.usage)
        cost = entry.cost(prompt, completion)
        await self._quotas.settle(admission, prompt + completion, cost)
        self._record(identity, request_id, kind, requested, entry, started, status=200, prompt=prompt,
                     completion=completion, cost=cost)
        return Completed(body=result.body, headers=self._headers(requested, entry, admission))

    async def _chat_stream(self, identity: ClientIdentity, payload: dict, request_id: str, chain: list[ModelEntry],
                           admission: Admission, started: float) -> Streaming:
        wants_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        requested = chain[0].name
        try:
            entry, stream = await self._first_success(chain, lambda runtime, e: runtime.chat_stream(
                payload, e.upstream_model, timeout=e.provider.timeout_s, client_wants_usage=wants_usage))
        except UpstreamError as exc:
            failure = client_error(exc, requested)
            self._record(identity, request_id, "chat", requested, None, started, status=failure.status or 502,
                         error_type=failure.error_type, stream=True)
            await self._quotas.settle(admission, 0, 0.0)
            raise failure from None
        return Streaming(chunks=self._relay(identity, request_id, requested, entry, stream, admission, started,
                                            estimate_tokens({"messages": payload.get("messages"), "max_tokens": 1})),
                         headers=self._headers(requested, entry, admission))

    async def _relay(self, identity: ClientIdentity, request_id: str, requested: str, entry: ModelEntry,
                     stream: UpstreamStream, admission: Admission, started: float,
                     prompt_estimate: int) -> AsyncIterator[bytes]:
        # No retries from here on: the client may already have bytes.
        status, error_type = 200, ""
        try:
            async for chunk in stream:
                yield chunk
            if not stream.stats.finished:
                status, error_type = 502, "stream"
        except UpstreamError as exc:
            status, error_type = 502, exc.kind
            error = {"error": {"message": f"upstream stream failed: {exc.message}", "type": "api_error",
                               "param": None, "code": "upstream_error"}}
            yield _ERROR_EVENT % orjson.dumps(error)
        except (asyncio.CancelledError, GeneratorExit):
            status, error_type = 499, "client_disconnected"
            raise
        finally:
            await stream.aclose()
            stats = stream.stats
            prompt, completion = _usage_numbers(stats.usage)
            if stats.usage is None:  # upstream sent no usage: estimate from what was relayed
                prompt, completion = prompt_estimate, stats.content_events
            cost = entry.cost(prompt, completion)
            ttft = (stats.first_byte_at - started) * 1000 if stats.first_byte_at else None
            self._record(identity, request_id, "chat", requested, entry, started, status=status,
                         error_type=error_type, prompt=prompt, completion=completion, cost=cost, ttft_ms=ttft,
                         stream=True)
            try:
                await self._quotas.settle(admission, prompt + completion, cost)
            except Exception:  # noqa: BLE001 - settling is best effort once the client is gone
                pass

    async def embeddings(self, identity: ClientIdentity, payload: dict, request_id: str) -> Completed:
        """POST /v1/embeddings."""
        started = time.perf_counter()
        chain = await self.catalog.route(identity, payload.get("model"), "embedding")
        value = payload.get("input")
        if not (isinstance(value, str) and value) and not (isinstance(value, list) and value):
            raise InvalidInput("'input' must be a non-empty string or array", param="input")
        requested = chain[0].name
        admission = await self._quotas.admit(identity, chain[0], estimate_tokens({"input": value, "max_tokens": 1}))
        try:
            entry, result = await self._first_success(
                chain, lambda runtime, e: runtime.embeddings(payload, e.upstream_model, timeout=e.provider.timeout_s))
        except UpstreamError as exc:
            failure = client_error(exc, requested)
            self._record(identity, request_id, "embedding", requested, None, started, status=failure.status or 502,
                         error_type=failure.error_type)
            await self._quotas.settle(admission, 0, 0.0)
            raise failure from None
        return await self._complete(identity, request_id, "embedding", requested, entry, result, admission, started)


__all__ = ["Completed", "InferenceService", "Streaming", "UpstreamFailed"]
