"""Chat with memory: `memory: {store, user_id, agent_id?, run_id?, top_k?, write?}` on a chat completion
injects the scope's relevant memories as a system message, returns their ids in a `memory` extension
field, and with `write` adds the exchange to the store after the answer, off the request path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import orjson

from gateway_app.core.errors import InvalidInput
from gateway_app.providers.sse import lead_chunk, parse_sse
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.inference.gateway import Completed, Streaming
from gateway_app.services.memory.adds import AddRequest
from gateway_app.services.memory.memories import MemoryService
from gateway_app.services.memory.vectors import scope_of
from gateway_app.services.rag.answers import last_user_text
from gateway_app.services.tracing import LlmTrace
from gateway_app.services.vector.search import int_param

Answer = Callable[[dict], Awaitable[Completed | Streaming]]
MEMORY_PREAMBLE = ("What you remember about this user from earlier conversations (use it when it helps, do not "
                   "mention that you were told):")
MAX_ANSWER_CHARS = 20_000  # of the answer, written back


class MemoryChat:
    """Wraps a chat completion (plain or RAG-grounded) with a memory store's recall and write-back."""

    def __init__(self, memory: MemoryService) -> None:
        self._memory = memory

    async def chat(self, identity: ClientIdentity, payload: dict, trace: LlmTrace | None, answer: Answer
                   ) -> Completed | Streaming:
        """Recall, answer with `answer(payload)`, then (with write) queue the exchange as an add."""
        identity.require_feature("memory")
        options = payload.pop("memory")
        if not isinstance(options, dict) or not isinstance(options.get("store"), str):
            raise InvalidInput("'memory' must be an object naming the store: {\"store\": \"assistant\", "
                               "\"user_id\": \"u1\"}", param="memory")
        write = options.get("write", False)
        if not isinstance(write, bool):
            raise InvalidInput("'memory.write' must be true or false", param="memory")
        scope = scope_of(options, required=True)
        store = await self._memory.store_for(identity, options["store"])
        top_k = int_param(options.get("top_k"), "top_k", 1, 100, store.top_k)
        messages = payload.get("messages")
        if not isinstance(messages, list):
            raise InvalidInput("'messages' must be a list of chat messages", param="messages")
        question = last_user_text(messages)
        recalled = []
        if question.strip():
            recalled = await self._memory.ranked(identity, store, question[:8000], scope, top_k)
        if recalled:
            lines = "\n".join(f"- {record.text}" for record, _ in recalled)
            payload["messages"] = [{"role": "system", "content": f"{MEMORY_PREAMBLE}\n{lines}"}, *messages]
        used = {"store": store.name, "ids": [record.id for record, _ in recalled]}
        outcome = await answer(payload)

        async def write_back(reply: str) -> None:
            if not (write and question.strip() and reply.strip()):
                return
            request = AddRequest(scope=scope, messages=[{"role": "user", "content": question[:20_000]},
                                                        {"role": "assistant", "content": reply[:MAX_ANSWER_CHARS]}])
            await self._memory.jobs.submit(identity.tenant_slug, store.id, identity.token_id,
                                           lambda: self._memory.writer.add(identity, store, request, trace))

        if isinstance(outcome, Completed):
            body = orjson.loads(outcome.body)
            try:
                reply = body["choices"][0]["message"]["content"] or ""
            except (KeyError, IndexError, TypeError):
                reply = ""
            body["memory"] = used
            await write_back(reply if isinstance(reply, str) else "")
            return Completed(orjson.dumps(body), {**outcome.headers, "x-gatehouse-memory-store": store.name})

        async def chunks() -> AsyncIterator[bytes]:
            # The memory ids first, in a chunk of their own (no choices), as RAG sends its citations.
            yield lead_chunk(str(payload.get("model") or ""), {"memory": used})
            upstream, text = outcome.chunks, []
            try:
                async for chunk in upstream:
                    text.append(parse_sse(chunk)[0])
                    yield chunk
            finally:
                await upstream.aclose()  # type: ignore[attr-defined]
            await write_back("".join(text))

        return Streaming(chunks(), {**outcome.headers, "x-gatehouse-memory-store": store.name})
