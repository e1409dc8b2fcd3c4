"""POST/GET/DELETE /v1/responses over the chat pipeline, with conversation state and file_search.

A response is translated to a chat completion (services/frontdoors/responses.py) and goes through
the one pipeline: quotas, guardrails, fallbacks, usage and traces as for chat. With `store` (the
default, as OpenAI's) the answer, its input items and the conversation as chat messages are kept
in the tenant's database, written before the answer is returned (a client may chain the next turn
at once); `previous_response_id` continues from there.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
import orjson

from gateway_app.core.errors import GatehouseError, InvalidInput, NotFound
from gateway_app.core.ids import fast_id
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import StoredResponseRecord, utcnow
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.frontdoors import responses as tr
from gateway_app.services.frontdoors.relay import translated
from gateway_app.services.inference.gateway import Completed, InferenceService, Streaming
from gateway_app.services.tracing import LlmTrace
from gateway_app.services.vector.search import VectorSearch

SWEEP_SECONDS = 3600.0  # how often expired responses are deleted
SEARCH_RESULTS = 10  # file_search results given to the model, over every vector store of the tool
CONTEXT_CHARS = 24_000  # retrieved text given to the model, at most


def _last_user_text(conversation: list[dict]) -> str:
    for message in reversed(conversation):
        if message["role"] == "user":
            content = message["content"]
            return content if isinstance(content, str) else " ".join(
                p.get("text", "") for p in content if p.get("type") == "text")
    return ""


class ResponsesDoor:
    """The Responses API's operations for one client token's tenant."""

    def __init__(self, inference: InferenceService, store: DataStore, search: VectorSearch,
                 retention_days: int = 30) -> None:
        self._inference, self._store, self._search = inference, store, search
        self._retention = timedelta(days=retention_days) if retention_days else None
        self._active: set[str] = set()  # tenants this process stored responses for (the sweep's work)
        self._swept = -SWEEP_SECONDS

    def sweep(self) -> int:
        """Housekeeping (at most every SWEEP_SECONDS): delete the stored responses past the retention."""
        if self._retention is None or time.monotonic() - self._swept < SWEEP_SECONDS:
            return 0
        self._swept, done, cutoff = time.monotonic(), 0, utcnow() - self._retention
        for tenant in list(self._active):
            try:
                with self._store.tenant(tenant) as uow:
                    done += uow.responses.delete_created_before(cutoff)
                    uow.commit()
            except Exception:  # noqa: BLE001 - a deleted tenant is dropped from the set
                self._active.discard(tenant)
        return done

    # storage ---------------------------------------------------------------------------------

    async def _load(self, identity: ClientIdentity, response_id: str) -> StoredResponseRecord:
        def load() -> StoredResponseRecord | None:
            with self._store.tenant(identity.tenant_slug) as uow:
                return uow.responses.get(response_id)

        record = await anyio.to_thread.run_sync(load) if isinstance(response_id, str) and response_id else None
        if record is None:
            raise NotFound(f"No response with id '{response_id}' found.", param="response_id")
        return record

    async def _keep(self, identity: ClientIdentity, record: StoredResponseRecord) -> None:
        def keep() -> None:
            with self._store.tenant(identity.tenant_slug) as uow:
                uow.responses.add(record)
                uow.commit()

        await anyio.to_thread.run_sync(keep)
        self._active.add(identity.tenant_slug)

    async def get(self, identity: ClientIdentity, response_id: str) -> dict:
        """GET /v1/responses/{id}."""
        return (await self._load(identity, response_id)).body

    async def delete(self, identity: ClientIdentity, response_id: str) -> dict:
        """DELETE /v1/responses/{id}."""
        await self._load(identity, response_id)

        def delete() -> None:
            with self._store.tenant(identity.tenant_slug) as uow:
                uow.responses.delete(response_id)
                uow.commit()

        await anyio.to_thread.run_sync(delete)
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(self, identity: ClientIdentity, response_id: str, limit: int = 20, order: str = "desc",
                          after: str | None = None) -> dict:
        """GET /v1/responses/{id}/input_items: the items given to this response, as a cursor page."""
        if order not in ("asc", "desc"):
            raise InvalidInput("'order' must be asc or desc", param="order")
        items = list((await self._load(identity, response_id)).input_items)
        if order == "desc":
            items.reverse()
        if after:
            ids = [i.get("id") for i in items]
            if after not in ids:
                raise InvalidInput(f"no input item '{after}' in this response", param="after")
            items = items[ids.index(after) + 1:]
        page = items[:limit]
        return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit}

    # file_search -----------------------------------------------------------------------------

    async def _file_search(self, identity: ClientIdentity, tools: list[dict], query: str,
                           with_results: bool) -> tuple[dict, list[dict], str]:
        """The file_search_call item, the citations and the context text for the model."""
        hits: list[dict] = []
        for tool in tools:
            body = {"query": query or " ", "max_num_results": min(int(tool.get("max_num_results") or 10), 50)}
            if tool.get("filters") is not None:
                body["filters"] = tool["filters"]
            if tool.get("ranking_options"):
                body["ranking_options"] = tool["ranking_options"]
            for store_id in tool["vector_store_ids"]:
                hits += (await self._search.search(identity, store_id, body))["data"]
        hits = sorted(hits, key=lambda h: -h["score"])[:SEARCH_RESULTS]
        results = [{"file_id": h["file_id"], "filename": h["filename"], "score": h["score"],
                    "attributes": h["attributes"], "text": h["content"][0]["text"]} for h in hits]
        item = {"type": "file_search_call", "id": fast_id("fs"), "status": "completed", "queries": [query],
                "results": results if with_results else None}
        sources, used = [], 0
        for n, hit in enumerate(results, 1):
            text = hit["text"][:max(0, CONTEXT_CHARS - used)]
            used += len(text)
            sources.append(f"[{n}] {hit['filename'] or hit['file_id'] or 'source'}:\n{text}")
        context = ("Answer from these sources found by file search; say so when they do not hold the answer.\n\n"
                   + "\n\n".join(sources)) if sources else "File search found nothing relevant for this question."
        cited, citations = set(), []
        for hit in results:
            if hit["file_id"] and hit["file_id"] not in cited:
                cited.add(hit["file_id"])
                citations.append({"type": "file_citation", "file_id": hit["file_id"], "filename": hit["filename"],
                                  "index": 0})
        return item, citations, context

    # create ----------------------------------------------------------------------------------

    async def create(self, identity: ClientIdentity, payload: dict, request_id: str,
                     trace: LlmTrace | None = None) -> Completed | Streaming:
        """POST /v1/responses: a response object, or its typed event stream."""
        ignored = tr.check_request(payload)
        items = tr.input_items(payload.get("input"))
        functions, searches = tr.function_tools(payload.get("tools") or [])
        history: list[dict] = []
        if payload.get("previous_response_id"):
            history = list((await self._load(identity, payload["previous_response_id"])).messages)
        conversation = history + tr.chat_messages(items)
        lead, citations, context = [], [], ""
        if searches:
            include = "file_search_call.results" in (payload.get("include") or [])
            item, citations, context = await self._file_search(identity, searches, _last_user_text(conversation),
                                                               include)
            lead = [item]
        chat = tr.to_chat(payload, conversation, functions, context)
        outcome = await self._inference.chat(identity, chat, request_id, trace)
        headers = {**outcome.headers, **({"x-gatehouse-ignored": ",".join(ignored)} if ignored else {})}
        response_id = fast_id("resp")
        store = payload.get("store", True) is not False
        if isinstance(outcome, Completed):
            answer = orjson.loads(outcome.body)
            output, finish = tr.output_of(answer)
            for entry in output:
                if entry["type"] == "message" and citations:
                    text = entry["content"][0]["text"]
                    entry["content"][0]["annotations"] = [{**c, "index": len(text)} for c in citations]
            body = tr.response_object(response_id, payload, lead + output, answer.get("usage") or {}, finish)
            if store:
                await self._keep(identity, StoredResponseRecord(
                    id=response_id, model=payload["model"], body=body, input_items=items,
                    messages=tr.history_after(conversation, output)))
            return Completed(orjson.dumps(body), headers)
        events = tr.ResponseEvents(payload, response_id, lead)
        relay = self._relay(identity, outcome.chunks, events, citations, store, payload["model"], items, conversation)
        return Streaming(relay, headers)

    async def _relay(self, identity: ClientIdentity, chunks: AsyncIterator[bytes], events: tr.ResponseEvents,
                     citations: list[dict], store: bool, model: str, items: list[dict],
                     conversation: list[dict]) -> AsyncIterator[bytes]:
        async for piece in translated(chunks, events.start, events.feed, lambda: events.end(citations)):
            yield piece
        body = events.response
        if store and body.get("status") in ("completed", "incomplete"):
            output = [i for i in body["output"] if i["type"] != "file_search_call"]
            try:
                await self._keep(identity, StoredResponseRecord(
                    id=body["id"], model=model, body=body, input_items=items,
                    messages=tr.history_after(conversation, output)))
            except GatehouseError:
                pass  # the client has its answer; only a later previous_response_id will miss it
