"""Vector stores through the official openai SDK: upload_and_poll, batches, search, filters, records,
failures and isolation, on embedded Chroma with the fake upstream's word-hash embeddings."""

import io

import openai
import pytest

from tests.api.conftest import sdk_for
from tests.support.documents import docx_bytes, pdf_bytes

POLL = 20  # ms between the SDK's polls (the gateway suggests 500 in openai-poll-after-ms)

HANDBOOK = """# Employee handbook

## Holidays
Every employee gets twenty seven days of paid holiday per year, plus public holidays.

## Expenses
Travel expenses are reimbursed within fourteen days when the receipt is uploaded.

## Security
Laptops must use full disk encryption and a screen lock after five minutes.
"""


async def _store(sdk, **fields):
    return await sdk.vector_stores.create(name=fields.pop("name", "docs"), **fields)


async def test_upload_and_poll_then_search_finds_the_chunk_with_the_answer(sdk, upstream):
    store = await _store(sdk, metadata={"team": "people"})
    assert store.object == "vector_store" and store.status == "completed" and store.metadata == {"team": "people"}
    assert store.model_extra["embedding_model"] == "embed-test"
    done = await sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("handbook.md", HANDBOOK.encode()), poll_interval_ms=POLL,
        chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}})
    assert done.status == "completed", done.last_error
    assert done.chunking_strategy.static.max_chunk_size_tokens == 100 and done.usage_bytes > 0
    await sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("other.txt", b"The cafeteria serves soup on Mondays and fish on Fridays."),
        poll_interval_ms=POLL)

    page = await sdk.vector_stores.search(vector_store_id=store.id, query="how many days of paid holiday")
    assert page.data, "no results"
    best = page.data[0]
    assert best.filename == "handbook.md" and "twenty seven days of paid holiday" in best.content[0].text
    assert best.score > page.data[-1].score or len(page.data) == 1
    soup = await sdk.vector_stores.search(vector_store_id=store.id, query="soup mondays", max_num_results=1)
    assert len(soup.data) == 1 and soup.data[0].filename == "other.txt"

    refreshed = await sdk.vector_stores.retrieve(store.id)
    assert refreshed.file_counts.completed == 2 and refreshed.file_counts.total == 2
    assert refreshed.usage_bytes > 0
    # The embeddings went through the inference service: they are billed like any other call.
    assert len(upstream.calls("/v1/embeddings")) >= 4


async def test_every_supported_file_type_is_indexed_and_found(sdk):
    store = await _store(sdk)
    files = {
        "notes.txt": b"The spare key is under the blue flowerpot.",
        "guide.md": b"# Guide\n\nThe wifi password is printed on the router label.",
        "page.html": b"<html><head><script>var hidden='javascript secret';</script></head>"
                     b"<body><h1>Parking</h1><p>Visitors park on level minus two.</p></body></html>",
        "config.json": b'{"service": {"owner": "platform team", "pager": "rotation alpha"}}',
        "people.csv": b"name,desk\nIngrid,desk forty two\nOmar,desk seven\n",
        "report.pdf": pdf_bytes(["Quarterly revenue grew by eleven percent.", "Churn fell below two percent."]),
        "memo.docx": docx_bytes(["The offsite takes place in Lisbon in October."]),
    }
    batch = await sdk.vector_stores.file_batches.upload_and_poll(
        vector_store_id=store.id, files=[(name, data) for name, data in files.items()], poll_interval_ms=POLL)
    assert batch.status == "completed" and batch.file_counts.completed == len(files), batch.file_counts
    listed = await sdk.vector_stores.file_batches.list_files(vector_store_id=store.id, batch_id=batch.id, limit=20)
    assert {f.status for f in listed.data} == {"completed"} and len(listed.data) == len(files)

    expectations = {"spare key flowerpot": "notes.txt", "wifi password router": "guide.md",
                    "where do visitors park": "page.html", "pager rotation owner": "config.json",
                    "which desk is omar": "people.csv", "quarterly revenue grew": "report.pdf",
                    "churn fell": "report.pdf", "offsite lisbon october": "memo.docx"}
    for query, filename in expectations.items():
        page = await sdk.vector_stores.search(vector_store_id=store.id, query=query, max_num_results=3)
        assert page.data and page.data[0].filename == filename, (query, [d.filename for d in page.data])
    hits = await sdk.vector_stores.search(vector_store_id=store.id, query="javascript secret hidden")
    assert all("javascript secret" not in d.content[0].text for d in hits.data)

    # The parsed text of a file, page by page (the PDF has two).
    pdf_id = next(f.id for f in (await sdk.files.list()).data if f.filename == "report.pdf")
    content = await sdk.vector_stores.files.content(vector_store_id=store.id, file_id=pdf_id)
    pages = [part.text for part in content.data]
    assert len(pages) == 2 and "eleven percent" in pages[0] and "two percent" in pages[1]


async def test_bad_files_fail_with_the_reason_and_nothing_is_left_half_indexed(sdk, client):
    store = await _store(sdk)
    corrupt = await sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("broken.pdf", b"%PDF-1.7 this is not really a pdf"), poll_interval_ms=POLL)
    assert corrupt.status == "failed" and corrupt.last_error.code == "invalid_file", corrupt.last_error
    unsupported = await sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("tool.exe", b"MZ\x90\x00binary"), poll_interval_ms=POLL)
    assert unsupported.status == "failed" and unsupported.last_error.code == "unsupported_file"
    assert ".exe" in unsupported.last_error.message
    bad_json = await sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("data.json", b'{"open": '), poll_interval_ms=POLL)
    assert bad_json.status == "failed" and bad_json.last_error.code == "invalid_file"
    with pytest.raises(openai.BadRequestError):  # the files API refuses an empty upload outright
        await sdk.files.create(file=("empty.txt", b""), purpose="assistants")
    counts = (await sdk.vector_stores.retrieve(store.id)).file_counts
    assert (counts.failed, counts.completed, counts.in_progress) == (3, 0, 0)
    ready = (await client.get("/health/ready")).json()["vector_ingestion"]  # operators see it too
    assert ready["failed"] == 3 and ready["queued"] == 0 and ready["ingested"] == 0
    failed = await sdk.vector_stores.files.list(vector_store_id=store.id, filter="failed")
    assert len(failed.data) == 3
    assert (await sdk.vector_stores.search(vector_store_id=store.id, query="pdf binary open")).data == []


async def test_an_embedding_failure_marks_the_file_failed(sdk, upstream):
    from tests.support.fake_upstream import Behaviour

    store = await _store(sdk)
    upstream.always(Behaviour(status=500))
    try:
        failed = await sdk.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=("a.txt", b"some words to embed"), poll_interval_ms=POLL)
    finally:
        upstream.reset()
    assert failed.status == "failed" and failed.last_error.code == "server_error"
    assert "embed-test" in failed.last_error.message or "upstream" in failed.last_error.message.lower()


async def test_filters_and_score_threshold(sdk):
    store = await _store(sdk)
    docs = [("eu.txt", b"Refund policy: refunds within thirty days.", {"region": "eu", "year": 2024, "public": True}),
            ("us.txt", b"Refund policy: refunds within sixty days.", {"region": "us", "year": 2025, "public": True}),
            ("apac.txt", b"Refund policy: refunds within ninety days.", {"region": "apac", "year": 2026,
                                                                          "public": False})]
    for name, data, attributes in docs:
        uploaded = await sdk.files.create(file=(name, data), purpose="assistants")
        done = await sdk.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=uploaded.id,
                                                             attributes=attributes, poll_interval_ms=POLL)
        assert done.status == "completed" and done.attributes == attributes

    async def names(filters=None, **kw):
        page = await sdk.vector_stores.search(vector_store_id=store.id, query="refund policy", filters=filters, **kw)
        return sorted(d.filename for d in page.data)

    assert await names() == ["apac.txt", "eu.txt", "us.txt"]
    assert await names({"type": "eq", "key": "region", "value": "eu"}) == ["eu.txt"]
    assert await names({"type": "ne", "key": "region", "value": "eu"}) == ["apac.txt", "us.txt"]
    assert await names({"type": "gte", "key": "year", "value": 2025}) == ["apac.txt", "us.txt"]
    assert await names({"type": "in", "key": "region", "value": ["us", "apac"]}) == ["apac.txt", "us.txt"]
    assert await names({"type": "and", "filters": [{"type": "eq", "key": "public", "value": True},
                                                   {"type": "lt", "key": "year", "value": 2025}]}) == ["eu.txt"]
    assert await names({"type": "or", "filters": [{"type": "eq", "key": "region", "value": "eu"},
                                                  {"type": "eq", "key": "year", "value": 2026}]}) == ["apac.txt",
                                                                                                  "eu.txt"]
    # Attributes changed later are what filters see.
    eu = next(f for f in (await sdk.vector_stores.files.list(vector_store_id=store.id)).data
              if f.attributes.get("region") == "eu")
    await sdk.vector_stores.files.update(vector_store_id=store.id, file_id=eu.id, attributes={"region": "latam"})
    assert await names({"type": "eq", "key": "region", "value": "latam"}) == ["eu.txt"]
    assert await names({"type": "eq", "key": "region", "value": "eu"}) == []

    everything = await sdk.vector_stores.search(vector_store_id=store.id, query="refund policy")
    top = everything.data[0].score
    strict = await sdk.vector_stores.search(vector_store_id=store.id, query="refund policy",
                                            ranking_options={"score_threshold": min(1.0, top + 0.0001)})
    assert strict.data == []
    assert all(d.score >= 0.5 for d in (await sdk.vector_stores.search(
        vector_store_id=store.id, query="refund policy", ranking_options={"score_threshold": 0.5})).data)

    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.vector_stores.search(vector_store_id=store.id, query="x",
                                       filters={"type": "gt", "key": "year", "value": "2020"})
    assert bad.value.body["param"] == "filters" and "numbers" in bad.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        await sdk.vector_stores.search(vector_store_id=store.id, query="x", filters={"type": "like", "key": "a"})


async def test_removing_a_file_or_the_store_removes_its_vectors(sdk):
    store = await _store(sdk)
    keep = await sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, poll_interval_ms=POLL,
                                                         file=("keep.txt", b"Apples are green or red."))
    gone = await sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, poll_interval_ms=POLL,
                                                         file=("gone.txt", b"Bananas are yellow when ripe."))
    assert (await sdk.vector_stores.search(vector_store_id=store.id, query="bananas yellow")).data[0].file_id \
        == gone.id
    deleted = await sdk.vector_stores.files.delete(vector_store_id=store.id, file_id=gone.id)
    assert deleted.deleted
    results = (await sdk.vector_stores.search(vector_store_id=store.id, query="bananas yellow")).data
    assert [d.file_id for d in results] == [keep.id]
    with pytest.raises(openai.NotFoundError):
        await sdk.vector_stores.files.retrieve(vector_store_id=store.id, file_id=gone.id)
    assert (await sdk.files.retrieve(gone.id)).id == gone.id  # the uploaded file itself stays

    assert (await sdk.vector_stores.delete(store.id)).deleted
    with pytest.raises(openai.NotFoundError):
        await sdk.vector_stores.retrieve(store.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.vector_stores.search(vector_store_id=store.id, query="apples")


async def test_another_tenant_cannot_reach_a_store_or_its_files(sdk, admin, platform, upstream):
    from tests.support.api import configure_gateway

    store = await _store(sdk)
    done = await sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, poll_interval_ms=POLL,
                                                         file=("secret.txt", b"The vault code is 4711."))
    other_setup = await configure_gateway(admin, upstream.url, tenant="rival")
    other = sdk_for(platform, other_setup["token"])
    try:
        assert (await other.vector_stores.list()).data == []
        for call in (lambda: other.vector_stores.retrieve(store.id),
                     lambda: other.vector_stores.search(vector_store_id=store.id, query="vault code"),
                     lambda: other.vector_stores.update(store.id, name="mine"),
                     lambda: other.vector_stores.files.retrieve(vector_store_id=store.id, file_id=done.id),
                     lambda: other.vector_stores.files.list(vector_store_id=store.id),
                     lambda: other.vector_stores.files.delete(vector_store_id=store.id, file_id=done.id),
                     lambda: other.vector_stores.delete(store.id)):
            with pytest.raises(openai.NotFoundError):
                await call()
        # Its own store cannot take the first tenant's file either.
        mine = await other.vector_stores.create(name="mine")
        with pytest.raises(openai.NotFoundError):
            await other.vector_stores.files.create(vector_store_id=mine.id, file_id=done.id)
    finally:
        await other.close()
    page = await sdk.vector_stores.search(vector_store_id=store.id, query="vault code")
    assert page.data[0].file_id == done.id


async def test_raw_records_upsert_query_and_delete(sdk, client, gateway):
    store = await _store(sdk)
    headers = {"Authorization": f"Bearer {gateway['token']}"}
    base = f"/v1/vector_stores/{store.id}"
    records = [{"id": "r1", "text": "north", "embedding": [1.0, 0.0, 0.0], "attributes": {"kind": "a"}},
               {"id": "r2", "text": "east", "embedding": [0.0, 1.0, 0.0], "attributes": {"kind": "b"}},
               {"id": "r3", "text": "up", "embedding": [0.0, 0.0, 1.0], "attributes": {"kind": "a"}}]
    upserted = await client.post(base + "/records", headers=headers, json={"records": records})
    assert upserted.status_code == 200, upserted.text
    assert upserted.json()["dimensions"] == 3
    found = await client.post(base + "/query", headers=headers, json={"embedding": [0.9, 0.1, 0.0], "top_k": 2})
    assert [d["id"] for d in found.json()["data"]] == ["r1", "r2"]
    filtered = await client.post(base + "/query", headers=headers,
                                 json={"embedding": [0.0, 1.0, 0.0], "top_k": 3,
                                       "filters": {"type": "eq", "key": "kind", "value": "a"}})
    assert {d["id"] for d in filtered.json()["data"]} == {"r1", "r3"}
    wrong = await client.post(base + "/records", headers=headers,
                              json={"records": [{"id": "r4", "text": "x", "embedding": [1.0, 0.0]}]})
    assert wrong.status_code == 400 and "dimensions" in wrong.json()["error"]["message"]
    wrong_query = await client.post(base + "/query", headers=headers, json={"embedding": [1.0, 0.0]})
    assert wrong_query.status_code == 400
    # A text without an embedding is embedded with the store's model (256 dimensions here: refused).
    text_only = await client.post(base + "/records", headers=headers, json={"records": [{"id": "r5", "text": "y"}]})
    assert text_only.status_code == 400 and "3" in text_only.json()["error"]["message"]
    removed = await client.request("DELETE", base + "/records", headers=headers, json={"ids": ["r1"]})
    assert removed.status_code == 200
    after = await client.post(base + "/query", headers=headers, json={"embedding": [1.0, 0.0, 0.0], "top_k": 3})
    assert "r1" not in {d["id"] for d in after.json()["data"]}


async def test_bad_requests_are_400s_naming_the_field(sdk, gateway):
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.vector_stores.create(name="x", extra_body={"embedding_model": "gpt-test"})
    assert bad.value.body["param"] == "embedding_model" and "embed-test" in bad.value.body["message"]
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.vector_stores.create(name="x", metadata={f"k{i}": "v" for i in range(17)})
    assert bad.value.body["param"] == "metadata"
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.vector_stores.create(name="x", expires_after={"anchor": "last_active_at", "days": 0})
    assert bad.value.body["param"] == "expires_after"
    store = await _store(sdk)
    uploaded = await sdk.files.create(file=("a.txt", b"hello there"), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id, chunking_strategy={
            "type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 150}})
    assert bad.value.body["param"] == "chunking_strategy"
    with pytest.raises(openai.NotFoundError):
        await sdk.vector_stores.files.create(vector_store_id=store.id, file_id="file-doesnotexist")
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id,
                                             attributes={"k": {"nested": 1}})
    assert bad.value.body["param"] == "attributes"
    provider_file = await sdk.files.create(file=("train.jsonl", b'{"a": 1}\n'), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.vector_stores.files.create(vector_store_id=store.id, file_id=provider_file.id)
    assert "assistants" in bad.value.body["message"]
    assert (await sdk.vector_stores.files.list(vector_store_id=store.id)).data == []  # nothing half-added


async def test_lists_page_with_cursors_and_polled_objects_carry_the_poll_header(sdk, client, gateway):
    ids = [(await _store(sdk, name=f"s{i}")).id for i in range(3)]
    first = await sdk.vector_stores.list(limit=2)
    assert first.has_more and len(first.data) == 2
    rest = await sdk.vector_stores.list(limit=2, after=first.data[-1].id)
    assert not rest.has_more
    assert sorted([s.id for s in first.data] + [s.id for s in rest.data]) == sorted(ids)
    oldest_first = await sdk.vector_stores.list(order="asc", limit=3)
    assert [s.id for s in oldest_first.data] == [s.id for s in reversed(first.data + rest.data)]
    everything = [s.id async for s in sdk.vector_stores.list(limit=1)]  # the SDK's auto-pagination
    assert sorted(everything) == sorted(ids)

    uploaded = await sdk.files.create(file=("a.txt", b"poll me"), purpose="assistants")
    created = await client.post(f"/v1/vector_stores/{ids[0]}/files", json={"file_id": uploaded.id},
                                headers={"Authorization": f"Bearer {gateway['token']}"})
    assert created.json()["status"] == "in_progress" and created.headers["openai-poll-after-ms"] == "500"


async def test_a_file_uploaded_for_assistants_stays_with_the_gateway(sdk, upstream, platform):
    uploaded = await sdk.files.create(file=("local.txt", b"kept by the gateway"), purpose="assistants")
    assert uploaded.id.startswith("file-") and uploaded.bytes == len(b"kept by the gateway")
    assert upstream.calls("/v1/files") == []
    assert (await sdk.files.content(uploaded.id)).content == b"kept by the gateway"
    assert uploaded.id in {f.id for f in (await sdk.files.list()).data}
    await sdk.files.delete(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.files.retrieve(uploaded.id)
    assert not (platform.settings.data_dir / "files" / "acme" / uploaded.id).exists()


def test_documents_helper_builds_real_files():
    from docx import Document
    from pypdf import PdfReader

    assert "Lisbon" in Document(io.BytesIO(docx_bytes(["Lisbon"]))).paragraphs[0].text
    assert "eleven" in PdfReader(io.BytesIO(pdf_bytes(["eleven"]))).pages[0].extract_text()


async def test_deleting_the_tenant_removes_its_vectors_and_files(sdk, admin, platform):
    store = await _store(sdk)
    done = await sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, poll_interval_ms=POLL,
                                                         file=("a.txt", b"words that will be gone"))
    vectors, files = platform.settings.data_dir / "vectors" / "acme", platform.settings.data_dir / "files" / "acme"
    assert vectors.is_dir() and (files / done.id).is_file()
    await admin.call("DELETE", "/tenants/acme", expect=204)
    assert not vectors.exists() and not files.exists()


async def test_console_members_read_stores_but_cannot_change_them(sdk, admin, platform):
    from gateway_app.core.errors import PermissionDenied

    store = await _store(sdk, name="team docs")
    await admin.create_user("acme", "reader@acme.test", role="member", password="member-pass-123")
    member = platform.auth.authenticate((await platform.auth.login("reader@acme.test", "member-pass-123")).access_token)
    service = platform.vector_stores
    reading = service.console_identity(member, None)
    assert [s["name"] for s in (await service.list(reading))["data"]] == ["team docs"]
    with pytest.raises(PermissionDenied):
        service.console_identity(member, None, write=True)
    assert (await sdk.vector_stores.retrieve(store.id)).name == "team docs"
