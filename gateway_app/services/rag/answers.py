"""Grounded answers: a module's query (chat-completion shape with citations, or SSE), retrieval alone,
and any chat call grounded with `rag: {module}`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime

import orjson

from gateway_app.core.errors import GatehouseError, InvalidInput
from gateway_app.core.ids import fast_id
from gateway_app.db.records import TraceEvent, precise_now
from gateway_app.providers.sse import lead_chunk, sse_data
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.inference.gateway import Completed, InferenceService, Streaming
from gateway_app.services.prompts import PromptRenderer, RenderRequest
from gateway_app.services.rag.modules import RagModuleService
from gateway_app.services.rag.retrieval import Citation, Retriever, fit_context, question_of
from gateway_app.services.tracing import LlmTrace, TraceRecorder, automatic_event_id
from gateway_app.services.vector.search import int_param

NO_ANSWER = "I don't know: nothing in this module's sources matches the question."
PASSED_OPTIONS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "user")
INSTRUCTIONS = ("Answer the question using only the numbered sources below. Cite each source you use by its "
                "number in square brackets, like [1] or [2]. If the sources do not contain the answer, say "
                "that you don't know.")


class NoResults(GatehouseError):
    """Nothing retrieved and the module says that is an error."""

    code = "no_results"
    status = 422


def sources_text(citations: list[Citation]) -> str:
    """The numbered sources as the model reads them."""
    return "\n\n".join(f"[{c.index}] {c.filename or c.file_id or 'record'}\n{c.text}" for c in citations)


def last_user_text(messages: list) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            return content if isinstance(content, str) else ""
    return ""


def child_trace(trace: LlmTrace | None) -> LlmTrace | None:
    """Another event of the caller's trace session, next to the request's own."""
    return LlmTrace(trace.session_id, trace.parent_id, automatic_event_id()) if trace else None


class RagAnswers:
    """The client API of RAG modules."""

    def __init__(self, modules: RagModuleService, retriever: Retriever, inference: InferenceService,
                 prompts: PromptRenderer, traces: TraceRecorder) -> None:
        self._modules = modules
        self._retriever = retriever
        self._inference = inference
        self._prompts = prompts
        self._traces = traces

    async def _retrieve(self, identity: ClientIdentity, name: str, question: str, body: dict,
                        trace: LlmTrace | None, *, fit: bool = True):
        module = await self._modules.module(identity.tenant_slug, name)
        top_k = int_param(body.get("top_k"), "top_k", 1, 50, module.top_k)
        started, started_wall = time.perf_counter(), precise_now()
        try:
            citations = await self._retriever.retrieve(identity, module, question, top_k=top_k,
                                                       filters=body.get("filters"), trace=child_trace(trace))
        except GatehouseError as exc:
            self._trace_retrieval(identity, trace, module.name, question, top_k, None, exc.message, started,
                                  started_wall)
            raise
        if fit and citations:
            citations = fit_context(citations, module.max_context_tokens)
        self._trace_retrieval(identity, trace, module.name, question, top_k, citations, "", started, started_wall)
        return module, citations

    def _trace_retrieval(self, identity: ClientIdentity, trace: LlmTrace | None, module: str, question: str,
                         top_k: int, citations: list[Citation] | None, error: str, started: float,
                         started_wall: datetime) -> None:
        """The `retrieval` event of the caller's trace session (x-session-id)."""
        if trace is None:
            return
        output = {"error": error} if citations is None else {"citations": [
            {k: v for k, v in c.public().items() if k != "text"} for c in citations]}
        self._traces.record(identity.tenant_slug, TraceEvent(
            id=automatic_event_id(), session_id=trace.session_id, parent_id=trace.parent_id, type="retrieval",
            name=f"retrieval {module}", status="error" if error else "ok", input={"query": question, "top_k": top_k},
            output=output, metadata={"rag_module": module, "latency_ms": round((time.perf_counter() - started) * 1000, 2)},
            started_at=started_wall, ended_at=precise_now()))

    async def retrieve(self, identity: ClientIdentity, name: str, body: dict, trace: LlmTrace | None = None) -> dict:
        """POST /v1/rag/{module}/retrieve: the ranked chunks, no model call."""
        question = question_of(body.get("query"))
        module, citations = await self._retrieve(identity, name, question, body, trace, fit=False)
        return {"object": "rag.retrieval", "module": module.name, "query": question,
                "data": [c.public() for c in citations]}

    async def query(self, identity: ClientIdentity, name: str, body: dict, request_id: str,
                    trace: LlmTrace | None = None) -> Completed | Streaming:
        """POST /v1/rag/{module}/query: the module's model answers from the retrieved sources."""
        question = question_of(body.get("query"))
        history = body.get("messages") or []
        if not isinstance(history, list) or len(history) > 100:
            raise InvalidInput("'messages' must be a list of at most 100 chat messages", param="messages")
        stream = bool(body.get("stream"))
        module, citations = await self._retrieve(identity, name, question, body, trace)
        headers = {"x-gatehouse-rag-module": module.name}
        if not citations:
            return self._nothing_found(module, "this query", module.model, stream, headers)
        messages = await self._messages(identity, module, question, history, citations)
        payload = {"model": module.model, "messages": messages, "stream": stream,
                   **{k: body[k] for k in PASSED_OPTIONS if k in body}}
        if stream:
            payload["stream_options"] = {"include_usage": True}
        outcome = await self._inference.chat(identity, payload, request_id, trace, rag_module=module.name)
        return self._with_citations(outcome, citations, module.name, module.model, headers)

    async def ground_chat(self, identity: ClientIdentity, payload: dict, request_id: str, trace=None
                          ) -> Completed | Streaming:
        """A chat completion with `rag: {module, filters?, top_k?}`: the sources go in a system message."""
        identity.require_feature("rag")
        options = payload.pop("rag")
        if not isinstance(options, dict) or not isinstance(options.get("module"), str):
            raise InvalidInput("'rag' must be an object with the module's name: {\"module\": \"handbook\"}",
                               param="rag")
        messages = payload.get("messages")
        question = question_of(last_user_text(messages) if isinstance(messages, list) else None, "messages")
        module, citations = await self._retrieve(identity, options["module"], question, options, trace)
        headers = {"x-gatehouse-rag-module": module.name}
        if not citations:
            return self._nothing_found(module, "the last user message", str(payload.get("model") or module.model),
                                       bool(payload.get("stream")), headers)
        system = {"role": "system", "content": f"{INSTRUCTIONS}\n\nSources:\n{sources_text(citations)}"}
        payload["messages"] = [system, *messages]
        outcome = await self._inference.chat(identity, payload, request_id, trace, rag_module=module.name)
        return self._with_citations(outcome, citations, module.name, str(payload.get("model") or ""), headers)

    async def _messages(self, identity: ClientIdentity, module, question: str, history: list,
                        citations: list[Citation]) -> list[dict]:
        context = sources_text(citations)
        if module.prompt:
            rendered = await self._prompts.render(identity.tenant_slug, module.prompt["name"], RenderRequest(
                version=module.prompt.get("version"), label=module.prompt.get("label"),
                variables={"context": context, "question": question,
                           "citations": orjson.dumps([c.public() for c in citations]).decode()}))
            return [*history, *rendered.messages] if history else rendered.messages
        return [{"role": "system", "content": f"{INSTRUCTIONS}\n\nSources:\n{context}"}, *history,
                {"role": "user", "content": question}]

    @staticmethod
    def _with_citations(outcome: Completed | Streaming, citations: list[Citation], module: str, model: str,
                        headers: dict) -> Completed | Streaming:
        public = [c.public() for c in citations]
        if isinstance(outcome, Completed):
            answer = orjson.loads(outcome.body)
            answer["citations"] = public
            answer["rag"] = {"module": module}
            return Completed(orjson.dumps(answer), {**outcome.headers, **headers})

        async def chunks() -> AsyncIterator[bytes]:
            # The citations come first, in a chunk of their own (no choices), before any token.
            yield lead_chunk(model, {"citations": public, "rag": {"module": module}})
            upstream = outcome.chunks
            try:
                async for chunk in upstream:
                    yield chunk
            finally:
                await upstream.aclose()  # type: ignore[attr-defined]  # records usage, releases the upstream

        return Streaming(chunks(), {**outcome.headers, **headers})

    @classmethod
    def _nothing_found(cls, module, asked: str, model: str, stream: bool, headers: dict) -> Completed | Streaming:
        """The module's no_results behaviour: an error, or its "I don't know"."""
        if module.no_results == "error":
            raise NoResults(f"RAG module {module.name!r} found nothing for {asked}")
        return cls._no_answer(model, stream, headers)

    @staticmethod
    def _no_answer(model: str, stream: bool, headers: dict) -> Completed | Streaming:
        """The module's "I don't know" without a model call."""
        created, answer_id = int(time.time()), fast_id("chatcmpl")
        if not stream:
            return Completed(orjson.dumps({
                "id": answer_id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": NO_ANSWER},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}, "citations": []}), headers)

        async def chunks() -> AsyncIterator[bytes]:
            base = {"id": answer_id, "object": "chat.completion.chunk", "created": created, "model": model}
            yield sse_data({**base, "choices": [], "citations": []})
            yield sse_data({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": NO_ANSWER},
                                             "finish_reason": None}]})
            yield sse_data({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            yield b"data: [DONE]\n\n"

        return Streaming(chunks(), headers)
