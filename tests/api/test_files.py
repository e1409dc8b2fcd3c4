"""The files API through the provider, recorded per tenant."""

import openai
import pytest

from tests.api.conftest import sdk_for


async def test_upload_list_retrieve_content_delete(sdk, upstream):
    created = await sdk.files.create(file=("train.jsonl", b'{"prompt": "a"}\n'), purpose="fine-tune")
    assert created.id.startswith("file-") and created.filename == "train.jsonl" and created.bytes == 16
    assert upstream.calls("/v1/files")[0].headers["Authorization"] == "Bearer sk-upstream-secret-0001"
    listed = await sdk.files.list()
    assert [f.id for f in listed.data] == [created.id]
    assert (await sdk.files.retrieve(created.id)).purpose == "fine-tune"
    content = await sdk.files.content(created.id)
    assert content.content == b'{"prompt": "a"}\n'
    deleted = await sdk.files.delete(created.id)
    assert deleted.deleted
    with pytest.raises(openai.NotFoundError):
        await sdk.files.retrieve(created.id)


async def test_other_tenants_cannot_see_a_file(sdk, admin, platform, upstream):
    created = await sdk.files.create(file=("a.txt", b"secret"), purpose="assistants")
    await admin.create_tenant("other")
    await admin.call("POST", "/providers", tenant="other", expect=201,
                     json={"name": "fake", "type": "openai-compatible", "base_url": upstream.url})
    token = await admin.create_token("other")
    other = sdk_for(platform, token["token"])
    try:
        with pytest.raises(openai.NotFoundError):
            await other.files.retrieve(created.id)
        with pytest.raises(openai.NotFoundError):
            await other.files.content(created.id)
        with pytest.raises(openai.NotFoundError):
            await other.files.delete(created.id)
        assert (await other.files.list()).data == []
    finally:
        await other.close()
    assert (await sdk.files.retrieve(created.id)).id == created.id


async def test_bad_purpose_and_empty_file(sdk):
    with pytest.raises(openai.BadRequestError) as info:
        await sdk.files.create(file=("a.txt", b"x"), purpose="nonsense")
    assert info.value.body["param"] == "purpose"
    with pytest.raises(openai.BadRequestError):
        await sdk.files.create(file=("a.txt", b""), purpose="assistants")


async def test_a_large_upload_streams_through_from_the_spooled_file(sdk, upstream):
    # Past Starlette's 1 MB spool threshold the upload sits in a temporary file; it is streamed from there.
    content = bytes(range(256)) * (3 * 1024 * 1024 // 256)
    created = await sdk.files.create(file=("big.bin", content), purpose="batch")
    assert created.bytes == len(content)
    assert int(upstream.calls("/v1/files")[0].headers["Content-Length"]) > len(content)
    assert (await sdk.files.content(created.id)).content == content
