"""Chat completions, embeddings and the model list: the client API's hot path.

For each request: render a prompt reference if any, resolve the model (and its fallbacks) from
the cached catalogue, check input guardrails, admit it against the quotas, call the provider
through its pooled runtime with retries (before any byte is sent) and a circuit breaker, fall back
in order, check output guardrails, then settle quotas and queue the usage record (and the trace
event when the client sent x-session-id).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from gateway_app.core.errors import GatehouseError, InvalidInput, NotFound
from gateway_app.core.resilience import BreakerRegistry, CircuitOpenError, RetryPolicy
from gateway_app.core.runtime_pool import RuntimePool
from gateway_app.db.records import UsageRecord, precise_now
from gateway_app.providers.base import ProviderRuntime, UpstreamError, UpstreamResult
from gateway_app.providers.factory import RuntimeFactory
from gateway_app.providers.sse import parse_sse, sse_data
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.inference.catalog import ModelCatalog, ModelEntry
from gateway_app.services.inference.errors import client_error
from gateway_app.services.inference.guarding import CallContext, Guarding
from gateway_app.services.inference.quotas import Admission, QuotaGuard, estimate_tokens
from gateway_app.services.inference.usage import UsageRecorder
from gateway_app.services.tracing import LlmTrace

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


_DONE_EVENT = b"data: [DONE]\n\n"


def _stream_usage(stats, request: dict) -> tuple[int, int]:
    """Prompt and completion tokens of a stream: the upstream's, or estimated from what was relayed."""
    if stats.usage is not None:
        return _usage_numbers(stats.usage)
    messages = request.get("messages") or []
    # ~4 characters a token, plus the chat format's own tokens (about 4 a message and 3 to prime the
    # reply, as OpenAI counts them); the output is about a token per event, never past the cap asked.
    prompt = estimate_tokens({"messages": messages, "max_tokens": 1}) - 1 + 4 * len(messages) + 3
    cap = request.get("max_completion_tokens") or request.get("max_tokens")
    completion = stats.content_events if not isinstance(cap, int) else min(stats.content_events, cap)
    return prompt, completion


def _estimated_usage_event(request_id: str, model: str, prompt: int, completion: int) -> bytes:
    """A usage-only chunk like OpenAI's last one, with `estimated: true` in its usage."""
    chunk = {"id": f"chatcmpl-{request_id}", "object": "chat.completion.chunk", "created": int(time.time()),
             "model": model, "choices": [],
             "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                       "total_tokens": prompt + completion, "estimated": True}}
    return sse_data(chunk)


def _usage_numbers(usage: dict | None) -> tuple[int, int]:
    if not usage:
        return 0, 0
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def _answer_of(body: bytes) -> object:
    try:
        choices = orjson.loads(body).get("choices") or []
        return choices[0].get("message") if choices else None
    except (orjson.JSONDecodeError, AttributeError):
        return None


class InferenceService:
    """The client API's operations."""

    def __init__(self, catalog: ModelCatalog, quotas: QuotaGuard, usage: UsageRecorder,
                 breakers: BreakerRegistry, pool: RuntimePool, guarding: Guarding, runtimes: RuntimeFactory) -> None:
        self.catalog = catalog
        self._quotas = quotas
        self._usage = usage
        self._breakers = breakers
        self._pool = pool
        self._guarding = guarding
        self.runtimes = runtimes

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
        return await self._pool.get(spec.key, spec.fingerprint, lambda: self.runtimes.runtime(spec))

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
                exc.entry = entry  # the usage row names the provider that failed last (provider health, alerts)
                if exc.kind == "http" and not exc.retryable and exc.status < 500:
                    break
        assert last is not None
        raise last

    def judge_for(self, tenant: str):
        """The LLM-judge call of guardrails: a model of the tenant, no quotas, usage as 'guardrail-judge'."""
        async def judge(model: str, messages: list[dict], timeout: float) -> str:
            catalog = await self.catalog.for_tenant(tenant)
            entry = catalog.models.get(model)
            if entry is None or entry.kind != "chat":
                raise NotFound(f"judge model '{model}' not found")
            started = time.perf_counter()
            runtime = await self._runtime(entry)
            with self._breakers.guard(entry.provider.key):
                result = await runtime.chat({"messages": messages, "temperature": 0, "max_tokens": 200},
                                            entry.upstream_model, timeout=timeout)
            prompt, completion = _usage_numbers(result.usage)
            self._usage.record(tenant, UsageRecord(
                request_id="", model=entry.name, token_id="guardrail-judge", upstream_model=entry.upstream_model,
                provider_id=entry.provider.key.split(":", 1)[1], prompt_tokens=prompt, completion_tokens=completion,
                cost_usd=entry.cost(prompt, completion), latency_ms=(time.perf_counter() - started) * 1000))
            message = _answer_of(result.body) or {}
            return str(message.get("content") or "") if isinstance(message, dict) else ""
        return judge

    def _headers(self, ctx: CallContext, requested: str, entry: ModelEntry, admission: Admission) -> dict[str, str]:
        headers = {"x-gatehouse-model": entry.name, "x-gatehouse-upstream-model": entry.upstream_model,
                   "x-gatehouse-provider": entry.provider.name, **admission.headers}
        if entry.name != requested:
            headers["x-gatehouse-fallback"] = "true"
        if ctx.trace is not None:
            headers["x-gatehouse-event-id"] = ctx.trace.event_id
        if ctx.prompt:
            headers["x-gatehouse-prompt"] = ctx.prompt
        return headers

    def _record(self, ctx: CallContext, kind: str, requested: str, entry: ModelEntry | None, started: float, *,
                status: int, error_type: str = "", prompt: int = 0, completion: int = 0, cost: float = 0.0,
                ttft_ms: float | None = None, stream: bool = False) -> None:
        identity = ctx.identity
        self._usage.record(identity.tenant_slug, UsageRecord(
            request_id=ctx.request_id, model=requested, kind=kind, token_id=identity.token_id,
            project_id=identity.project_id, upstream_model=entry.upstream_model if entry else "",
            provider_id=entry.provider.key.split(":", 1)[1] if entry else "", status=status, error_type=error_type,
            prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost,
            latency_ms=(time.perf_counter() - started) * 1000, ttft_ms=ttft_ms, stream=stream,
            fallback=bool(entry and entry.name != requested), prompt=ctx.prompt, guardrail=ctx.guardrail,
            rag_module=ctx.rag_module, memory_store=ctx.memory_store))

    async def _fail(self, ctx: CallContext, kind: str, requested: str, entry: ModelEntry | None, started: float,
                    admission: Admission | None, error: GatehouseError, *, stream: bool = False,
                    request: dict | None = None, started_wall=None) -> GatehouseError:
        status = error.status or 400
        self._record(ctx, kind, requested, entry, started, status=status,
                     error_type=getattr(error, "error_type", "") or error.code, stream=stream)
        if admission is not None:
            await self._quotas.settle(admission, 0, 0.0)
        if request is not None:
            self._guarding.trace_llm(ctx, kind, requested, entry.upstream_model if entry else "", request,
                                     {"error": error.message}, status=status, prompt_tokens=0, completion_tokens=0,
                                     cost=0.0, started_wall=started_wall, latency_ms=(time.perf_counter() - started) * 1000)
        return error

    async def chat(self, identity: ClientIdentity, payload: dict, request_id: str,
                   trace: LlmTrace | None = None, rag_module: str = "", memory_store: str = ""
                   ) -> Completed | Streaming:
        """POST /v1/chat/completions."""
        started, started_wall = time.perf_counter(), precise_now()
        ctx = CallContext(identity, request_id, trace, rag_module=rag_module, memory_store=memory_store)
        payload = await self._guarding.apply_prompt(ctx, payload)
        chain = await self.catalog.route(identity, payload.get("model"), "chat")
        _validate_chat(payload)
        requested = chain[0].name
        policies = await self._guarding.policies(identity, chain[0].guardrails)
        judge = self.judge_for(identity.tenant_slug) if policies else None
        if policies:
            try:
                payload = await self._guarding.check_input(ctx, policies, payload, requested, judge)
            except GatehouseError as exc:
                raise await self._fail(ctx, "chat", requested, None, started, None, exc, request=payload,
                                       started_wall=started_wall) from None
        admission = await self._quotas.admit(identity, chain[0], estimate_tokens(payload))
        if payload.get("stream"):
            return await self._chat_stream(ctx, payload, chain, admission, started, started_wall, policies, judge)
        try:
            entry, result = await self._first_success(
                chain, lambda runtime, e: runtime.chat(payload, e.upstream_model, timeout=e.provider.timeout_s))
        except UpstreamError as exc:
            raise await self._fail(ctx, "chat", requested, getattr(exc, "entry", None), started, admission, client_error(exc, requested),
                                   request=payload, started_wall=started_wall) from None
        if policies:
            try:
                result.body = await self._guarding.check_output(ctx, policies, result.body, requested, judge)
            except GatehouseError as exc:
                raise await self._fail(ctx, "chat", requested, entry, started, admission, exc, request=payload,
                                       started_wall=started_wall) from None
        return await self._complete(ctx, "chat", requested, entry, result, admission, started, payload, started_wall)

    async def _complete(self, ctx: CallContext, kind: str, requested: str, entry: ModelEntry, result: UpstreamResult,
                        admission: Admission, started: float, request: dict, started_wall) -> Completed:
        prompt, completion = _usage_numbers(result.usage)
        cost = entry.cost(prompt, completion)
        await self._quotas.settle(admission, prompt + completion, cost)
        self._record(ctx, kind, requested, entry, started, status=200, prompt=prompt, completion=completion,
                     cost=cost)
        if ctx.trace is not None:
            output = _answer_of(result.body) if kind == "chat" else {"embeddings": len(
                orjson.loads(result.body).get("data") or [])}
            self._guarding.trace_llm(ctx, kind, requested, entry.upstream_model, request, output, status=200,
                                     prompt_tokens=prompt, completion_tokens=completion, cost=cost,
                                     started_wall=started_wall, latency_ms=(time.perf_counter() - started) * 1000)
        return Completed(body=result.body, headers=self._headers(ctx, requested, entry, admission))

    async def _chat_stream(self, ctx: CallContext, payload: dict, chain: list[ModelEntry], admission: Admission,
                           started: float, started_wall, policies, judge) -> Streaming:
        wants_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        requested = chain[0].name
        try:
            entry, stream = await self._first_success(chain, lambda runtime, e: runtime.chat_stream(
                payload, e.upstream_model, timeout=e.provider.timeout_s, client_wants_usage=wants_usage))
        except UpstreamError as exc:
            raise await self._fail(ctx, "chat", requested, getattr(exc, "entry", None), started, admission, client_error(exc, requested),
                                   stream=True, request=payload, started_wall=started_wall) from None
        stream = self._guarding.guard_stream(ctx, policies, stream, requested, judge)
        relay = self._relay(ctx, requested, entry, stream, admission, started, started_wall, payload, wants_usage)
        return Streaming(chunks=relay, headers=self._headers(ctx, requested, entry, admission))

    async def _relay(self, ctx: CallContext, requested: str, entry: ModelEntry, stream, admission: Admission,
                     started: float, started_wall, request: dict, wants_usage: bool) -> AsyncIterator[bytes]:
        # No retries from here on: the client may already have bytes.
        status, error_type, text = 200, "", []
        try:
            async for chunk in stream:
                if ctx.trace is not None:
                    text.append(parse_sse(chunk)[0])
                if (wants_usage and stream.stats.usage is None and chunk.endswith(_DONE_EVENT)
                        and parse_sse(chunk)[1] is None):  # (a translated stream may carry it with [DONE])
                    # The client asked for usage and the upstream sent none (llama.cpp does not):
                    # send the figures the gateway records, marked as an estimate.
                    if len(chunk) > len(_DONE_EVENT):
                        yield chunk[:-len(_DONE_EVENT)]
                    yield _estimated_usage_event(ctx.request_id, requested, *_stream_usage(stream.stats, request))
                    yield _DONE_EVENT
                    continue
                yield chunk
            if getattr(stream, "blocked_by", None):
                status, error_type = 400, "guardrail_violation"
            elif not stream.stats.finished:
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
            self._guarding.finish_stream(ctx, stream, requested)
            stats = stream.stats
            prompt, completion = _stream_usage(stats, request)
            cost = entry.cost(prompt, completion)
            ttft = (stats.first_byte_at - started) * 1000 if stats.first_byte_at else None
            self._record(ctx, "chat", requested, entry, started, status=status, error_type=error_type,
                         prompt=prompt, completion=completion, cost=cost, ttft_ms=ttft, stream=True)
            self._guarding.trace_llm(ctx, "chat", requested, entry.upstream_model, request,
                                     {"role": "assistant", "content": "".join(text)}, status=status,
                                     prompt_tokens=prompt, completion_tokens=completion, cost=cost,
                                     started_wall=started_wall, latency_ms=(time.perf_counter() - started) * 1000)
            try:
                await self._quotas.settle(admission, prompt + completion, cost)
            except Exception:  # noqa: BLE001 - settling is best effort once the client is gone
                pass

    async def embeddings(self, identity: ClientIdentity, payload: dict, request_id: str,
                         trace: LlmTrace | None = None, rag_module: str = "", memory_store: str = ""
                         ) -> Completed:
        """POST /v1/embeddings."""
        started, started_wall = time.perf_counter(), precise_now()
        ctx = CallContext(identity, request_id, trace, rag_module=rag_module, memory_store=memory_store)
        chain = await self.catalog.route(identity, payload.get("model"), "embedding")
        value = payload.get("input")
        if not (isinstance(value, str) and value) and not (isinstance(value, list) and value):
            raise InvalidInput("'input' must be a non-empty string or array", param="input")
        requested = chain[0].name
        policies = await self._guarding.policies(identity, chain[0].guardrails)
        if policies:
            try:
                payload = await self._guarding.check_input(ctx, policies, payload, requested,
                                                           self.judge_for(identity.tenant_slug), field_name="input")
            except GatehouseError as exc:
                raise await self._fail(ctx, "embedding", requested, None, started, None, exc) from None
        admission = await self._quotas.admit(identity, chain[0], estimate_tokens({"input": value, "max_tokens": 1}))
        try:
            entry, result = await self._first_success(
                chain, lambda runtime, e: runtime.embeddings(payload, e.upstream_model, timeout=e.provider.timeout_s))
        except UpstreamError as exc:
            raise await self._fail(ctx, "embedding", requested, getattr(exc, "entry", None), started, admission,
                                   client_error(exc, requested)) from None
        return await self._complete(ctx, "embedding", requested, entry, result, admission, started, payload,
                                    started_wall)
