"""RAG modules: management (validated, per tenant), grounded answers with citations through the official
openai SDK, retrieval alone, rerank, streaming, no-results behaviour and retrieval failures."""

import openai
import pytest
from openai.types.chat import ChatCompletion

from tests.api.conftest import sdk_for
from tests.support.api import configure_gateway
from tests.support.fake_upstream import Behaviour

POLL = 20
STATIC = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}
HOLIDAYS = "Every employee gets twenty seven days of paid holiday per year, plus public holidays."
EXPENSES = "Travel expenses are reimbursed within fourteen days when the receipt is uploaded."
SECURITY = "Laptops must use full disk encryption and a screen lock after five minutes."


async def _store_with(sdk, files: dict[str, str], attributes: dict | None = None):
    store = await sdk.vector_stores.create(name="handbook")
    for name, text in files.items():
        done = await sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=(name, text.encode()),
                                                            poll_interval_ms=POLL, chunking_strategy=STATIC)
        assert done.status == "completed", done.last_error
        if attributes and name in attributes:
            await sdk.vector_stores.files.update(file_id=done.id, vector_store_id=store.id, attributes=attributes[name])
    return store


async def _module(admin, store_ids: list[str], expect: int = 201, tenant: str = "acme", **fields):
    body = {"name": fields.pop("name", "handbook"), "vector_store_ids": store_ids, "model": "gpt-test", **fields}
    return (await admin.call("POST", "/rag-modules", tenant=tenant, json=body, expect=expect)).json()


async def _query(sdk, module: str, **body) -> ChatCompletion:
    return await sdk.post(f"/rag/{module}/query", body=body, cast_to=ChatCompletion)


@pytest.fixture
async def handbook(sdk, admin):
    store = await _store_with(sdk, {"holidays.txt": HOLIDAYS, "expenses.txt": EXPENSES, "security.txt": SECURITY})
    module = await _module(admin, [store.id], top_k=2)
    return store, module


async def test_a_module_query_answers_from_the_top_chunks_in_order_and_returns_them_as_citations(
        sdk, upstream, handbook):
    store, module = handbook
    upstream.reset()
    answer = await _query(sdk, "handbook", query="how many days of paid holiday per year")
    citations = answer.model_extra["citations"]
    assert [c["filename"] for c in citations][0] == "holidays.txt" and len(citations) == 2
    assert [c["index"] for c in citations] == [1, 2] and citations[0]["score"] >= citations[1]["score"]
    assert citations[0]["vector_store_id"] == store.id and citations[0]["text"] == HOLIDAYS
    # The model saw exactly these sources, numbered as cited, best first, then the question.
    sent = upstream.calls("/v1/chat/completions")[-1].body
    system, question = sent["messages"][0]["content"], sent["messages"][-1]
    assert sent["model"] == "fake-chat" and question == {"role": "user", "content": "how many days of paid holiday per year"}
    assert f"[1] holidays.txt\n{HOLIDAYS}" in system and f"[2] {citations[1]['filename']}" in system
    assert system.index("[1] holidays.txt") < system.index("[2] ") and SECURITY not in system or \
        citations[1]["text"] == SECURITY
    assert answer.choices[0].message.content == "echo: how many days of paid holiday per year"  # the fake echoes
    assert answer.usage.total_tokens > 0 and answer.model_extra["rag"] == {"module": "handbook"}


async def test_retrieve_returns_the_ranked_chunks_without_a_model_call(sdk, upstream, handbook):
    upstream.reset()
    found = await sdk.post("/rag/handbook/retrieve", body={"query": "receipt travel expenses reimbursed", "top_k": 3},
                           cast_to=object)
    assert found["object"] == "rag.retrieval" and found["data"][0]["filename"] == "expenses.txt"
    assert len(found["data"]) == 3 and not upstream.calls("/v1/chat/completions")


async def test_any_chat_call_is_grounded_with_extra_body_rag(sdk, upstream, handbook):
    upstream.reset()
    raw = await sdk.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "what disk encryption do laptops need"}],
        extra_body={"rag": {"module": "handbook", "top_k": 1}})
    answer = raw.parse()
    assert raw.headers["x-gatehouse-rag-module"] == "handbook"
    assert [c["filename"] for c in answer.model_extra["citations"]] == ["security.txt"]
    sent = upstream.calls("/v1/chat/completions")[-1].body
    assert "rag" not in sent and sent["messages"][0]["role"] == "system" and SECURITY in sent["messages"][0]["content"]
    assert sent["messages"][-1]["content"] == "what disk encryption do laptops need"


async def test_a_stream_sends_the_citations_first_then_the_tokens(sdk, handbook):
    stream = await sdk.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "paid holiday days"}], stream=True,
        extra_body={"rag": {"module": "handbook"}})
    chunks = [chunk async for chunk in stream]
    assert chunks[0].model_extra["citations"][0]["filename"] == "holidays.txt" and not chunks[0].choices
    assert all("citations" not in (c.model_extra or {}) for c in chunks[1:])
    assert "".join(c.choices[0].delta.content or "" for c in chunks[1:] if c.choices) == "echo: paid holiday days"

    raw = await sdk.post("/rag/handbook/query", body={"query": "paid holiday days", "stream": True}, cast_to=object,
                         stream=True, stream_cls=openai.AsyncStream[object])
    events = [event async for event in raw]
    assert events[0]["citations"] and events[0]["choices"] == []
    assert any(e.get("usage") for e in events[1:])  # usage at the end, as with include_usage


async def test_the_threshold_and_no_results_answer_or_fail_without_calling_the_model(sdk, admin, upstream, handbook):
    store, _ = handbook
    await _module(admin, [store.id], name="strict", score_threshold=0.99)
    await _module(admin, [store.id], name="strict-error", score_threshold=0.99, no_results="error")
    upstream.reset()
    answer = await _query(sdk, "strict", query="holiday")
    assert answer.model_extra["citations"] == [] and "don't know" in answer.choices[0].message.content
    with pytest.raises(openai.UnprocessableEntityError) as failed:
        await _query(sdk, "strict-error", query="holiday")
    assert failed.value.code == "no_results" and "strict-error" in failed.value.message
    assert not upstream.calls("/v1/chat/completions")


async def test_module_and_request_filters_restrict_the_sources(sdk, admin):
    store = await _store_with(sdk, {"holidays.txt": HOLIDAYS, "security.txt": SECURITY},
                              attributes={"holidays.txt": {"team": "people"}, "security.txt": {"team": "it"}})
    await _module(admin, [store.id], name="it-only", filters={"type": "eq", "key": "team", "value": "it"})
    answer = await _query(sdk, "it-only", query="paid holiday per year")
    assert {c["filename"] for c in answer.model_extra["citations"]} == {"security.txt"}
    answer = await _query(sdk, "it-only", query="paid holiday per year",
                          filters={"type": "eq", "key": "team", "value": "people"})
    assert {c["filename"] for c in answer.model_extra["citations"]} == {"holidays.txt"}


async def test_a_rerank_model_reorders_the_candidates(sdk, admin, upstream, handbook):
    store, _ = handbook
    await _module(admin, [store.id], name="reranked", top_k=3, rerank_model="gpt-test")
    plain = await sdk.post("/rag/handbook/retrieve", body={"query": "holiday expenses laptops", "top_k": 3},
                           cast_to=object)
    order = [c["filename"] for c in plain["data"]]
    upstream.reset()
    upstream.script(Behaviour(), Behaviour(content="[3, 1]"))  # the query embedding, then the rerank call
    answer = await _query(sdk, "reranked", query="holiday expenses laptops")
    assert [c["filename"] for c in answer.model_extra["citations"]] == [order[2], order[0], order[1]]
    assert [c["index"] for c in answer.model_extra["citations"]] == [1, 2, 3]
    rerank, final = upstream.calls("/v1/chat/completions")
    assert "Passages:" in rerank.body["messages"][-1]["content"]
    assert final.body["messages"][0]["content"].index(order[2]) < final.body["messages"][0]["content"].index(order[0])


async def test_a_store_that_cannot_be_searched_is_an_error_never_an_ungrounded_answer(sdk, upstream, handbook):
    store, _ = handbook
    await sdk.vector_stores.delete(store.id)
    upstream.reset()
    with pytest.raises(openai.InternalServerError) as failed:
        await _query(sdk, "handbook", query="holiday")
    assert failed.value.status_code == 503 and store.id in failed.value.message
    assert not upstream.calls("/v1/chat/completions")


async def test_bad_requests_are_clear_errors(sdk, handbook):
    with pytest.raises(openai.BadRequestError) as empty:
        await _query(sdk, "handbook", query="  ")
    assert empty.value.param == "query"
    with pytest.raises(openai.NotFoundError) as unknown:
        await _query(sdk, "nope", query="holiday")
    assert "nope" in unknown.value.message
    with pytest.raises(openai.BadRequestError):
        await _query(sdk, "handbook", query="holiday", top_k=0)


async def test_modules_are_validated_and_belong_to_one_tenant(sdk, admin, upstream, platform, handbook):
    store, module = handbook
    for body, param in (({"vector_store_ids": ["vs_missing"]}, "vs_missing"), ({"model": "nope"}, "nope"),
                        ({"model": "embed-test"}, "embed-test"), ({"prompt": {"name": "missing"}}, "missing")):
        failed = await _module(admin, [store.id], expect=422, name="bad", **body)
        assert param in str(failed), failed
    await _module(admin, [store.id], expect=409)
    listed = (await admin.call("GET", "/rag-modules", tenant="acme")).json()
    assert [m["name"] for m in listed] == ["handbook"]
    changed = (await admin.call("PATCH", f"/rag-modules/{module['id']}", tenant="acme",
                                json={"top_k": 1}, expect=200)).json()
    assert changed["top_k"] == 1
    answer = await _query(sdk, "handbook", query="paid holiday")  # the change is seen at once
    assert len(answer.model_extra["citations"]) == 1

    # Another tenant can neither reference acme's store nor query acme's module.
    other = await configure_gateway(admin, upstream.url, tenant="globex")
    failed = await _module(admin, [store.id], expect=422, tenant="globex")
    assert store.id in str(failed)
    stranger = sdk_for(platform, other["token"])
    with pytest.raises(openai.NotFoundError):
        await _query(stranger, "handbook", query="holiday")
    await stranger.close()

    await admin.call("DELETE", f"/rag-modules/{module['id']}", tenant="acme", expect=204)
    with pytest.raises(openai.NotFoundError):
        await _query(sdk, "handbook", query="holiday")
    assert (await sdk.vector_stores.retrieve(store.id)).id == store.id  # the store stays


async def test_retrieval_rerank_and_answer_are_events_of_the_callers_trace_session(sdk, admin, platform, upstream,
                                                                                  handbook):
    store, _ = handbook
    await _module(admin, [store.id], name="traced", top_k=2, rerank_model="gpt-test")
    upstream.script(Behaviour(), Behaviour(content="[2, 1]"))
    await sdk.post("/rag/traced/query", body={"query": "paid holiday per year"}, cast_to=ChatCompletion,
                   options={"headers": {"x-session-id": "rag-run", "x-parent-event-id": "step-1"}})
    platform.trace_recorder.writer.flush()
    detail = (await admin.call("GET", "/traces/sessions/rag-run", tenant="acme", expect=200)).json()
    events = detail["event_list"]
    retrieval = [e for e in events if e["type"] == "retrieval"]
    assert len(retrieval) == 1 and retrieval[0]["name"] == "retrieval traced"
    assert retrieval[0]["input"]["query"] == "paid holiday per year" and retrieval[0]["parent_id"] == "step-1"
    assert [c["index"] for c in retrieval[0]["output"]["citations"]] == [1, 2]
    llm = [e for e in events if e["type"] == "llm"]
    assert len(llm) == 2  # the rerank and the answer
    assert any("Passages:" in str(e["input"]) for e in llm) and any("Sources:" in str(e["input"]) for e in llm)


async def test_usage_rows_name_the_module_for_every_model_call_it_made(sdk, admin, platform, handbook):
    store, _ = handbook
    await _module(admin, [store.id], name="billed", rerank_model="gpt-test")
    await _query(sdk, "billed", query="paid holiday")
    await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "plain call"}])
    platform.usage_recorder.writer.flush()
    rows = (await admin.call("GET", "/usage/requests", tenant="acme", expect=200)).json()
    rows = rows["items"] if isinstance(rows, dict) else rows
    named = [(r["model"], r["rag_module"]) for r in rows if r["rag_module"]]
    assert sorted(named) == [("embed-test", "billed"), ("gpt-test", "billed"), ("gpt-test", "billed")]
    assert any(r["model"] == "gpt-test" and r["rag_module"] == "" for r in rows)  # the plain call


async def test_usage_requests_filtered_by_rag_module_list_only_that_modules_calls(sdk, admin, platform, handbook):
    store, _ = handbook
    await _module(admin, [store.id], name="travel")
    await _query(sdk, "handbook", query="paid holiday")
    await _query(sdk, "travel", query="travel expenses")
    await _query(sdk, "travel", query="receipts")
    await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "plain call"}])
    platform.usage_recorder.writer.flush()
    rows = (await admin.call("GET", "/usage/requests", tenant="acme", params={"rag_module": "travel"},
                             expect=200)).json()
    # Two queries, each a query embedding and an answer; nothing of the other module or the plain call.
    assert sorted(r["model"] for r in rows) == ["embed-test", "embed-test", "gpt-test", "gpt-test"]
    assert {r["rag_module"] for r in rows} == {"travel"}
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)  # newest first
    limited = (await admin.call("GET", "/usage/requests", tenant="acme",
                                params={"rag_module": "travel", "limit": 1}, expect=200)).json()
    assert [r["id"] for r in limited] == [rows[0]["id"]]
    other = (await admin.call("GET", "/usage/requests", tenant="acme", params={"rag_module": "handbook"},
                              expect=200)).json()
    assert len(other) == 2 and {r["rag_module"] for r in other} == {"handbook"}
    none = await admin.call("GET", "/usage/requests", tenant="acme", params={"rag_module": "missing"}, expect=200)
    assert none.json() == []
    everything = (await admin.call("GET", "/usage/requests", tenant="acme", expect=200)).json()
    assert any(r["rag_module"] == "" for r in everything)  # the plain call (and the ingestion) are left out above


async def test_a_token_without_the_rag_feature_cannot_ground_or_query(sdk, admin, platform, upstream, handbook):
    token = await admin.create_token("acme", name="chat-only", scopes={"features": ["chat"]})
    limited = sdk_for(platform, token["token"])
    try:
        with pytest.raises(openai.PermissionDeniedError) as grounded:
            await limited.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "holiday"}],
                                                  extra_body={"rag": {"module": "handbook"}})
        assert grounded.value.code == "feature_disabled"
        with pytest.raises(openai.PermissionDeniedError):
            await _query(limited, "handbook", query="holiday")
        plain = await limited.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        assert plain.choices[0].message.content == "echo: hi"
    finally:
        await limited.close()
