"""The files client on the guarded aiohttp session, against the fake upstream: streamed uploads,
bounded downloads, Azure's URLs."""

import contextlib
import tempfile

import pytest

from gateway_app.core.outbound import OutboundPolicy
from gateway_app.providers.base import ProviderSpec, UpstreamError
from gateway_app.providers.files import FilesClient
from gateway_app.providers.guard import new_session


@pytest.fixture
def policy(upstream):
    return OutboundPolicy.from_config(False, f"127.0.0.1:{upstream.port}", "")


@contextlib.contextmanager
def spooled(size: int):
    """What Starlette hands a route: a spooled temporary file (on disk past 1 MB), positioned anywhere."""
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as file:
        file.write(bytes(range(256)) * (size // 256))
        yield file


async def test_upload_streams_from_the_file_with_a_length_and_leaves_it_open(upstream, policy):
    client = FilesClient(ProviderSpec(key="t:p", name="p", type="openai-compatible", base_url=upstream.url,
                                      api_key="sk-1"), new_session(policy, upstream.url))
    try:
        with spooled(3 * 1024 * 1024) as file:
            created = await client.create("big.bin", file, 3 * 1024 * 1024, "assistants")
            assert not file.closed, "the caller owns the file"
        assert created.bytes == 3 * 1024 * 1024 and created.filename == "big.bin"
        sent = upstream.calls("/v1/files")[0]
        assert int(sent.headers["Content-Length"]) > 3 * 1024 * 1024, "a known length, not chunked"
        assert await client.content(created.id) == bytes(range(256)) * (3 * 1024 * 1024 // 256)
        assert await client.delete(created.id) is True
    finally:
        await client.aclose()


async def test_download_is_bounded(upstream, policy):
    spec = ProviderSpec(key="t:p", name="p", type="openai-compatible", base_url=upstream.url)
    client = FilesClient(spec, new_session(policy, spec.base_url), content_limit=1000)
    try:
        with spooled(4096) as file:
            created = await client.create("a.bin", file, 4096, "assistants")
        with pytest.raises(UpstreamError) as info:
            await client.content(created.id)
        assert info.value.kind == "too_large" and "1000 bytes" in info.value.message
    finally:
        await client.aclose()


async def test_azure_files_use_the_openai_path_version_and_key(upstream, policy):
    spec = ProviderSpec(key="t:p", name="p", type="azure-openai", base_url=upstream.root, api_key="az-9",
                        api_version="2024-10-21")
    client = FilesClient(spec, new_session(policy, spec.base_url))
    try:
        with spooled(512) as file:
            created = await client.create("a.jsonl", file, 512, "batch")
        assert (await client.retrieve(created.id)).purpose == "batch"
    finally:
        await client.aclose()
    for call in upstream.calls("/openai/files"):
        assert call.query == {"api-version": "2024-10-21"} and call.headers["api-key"] == "az-9"
        assert "Authorization" not in call.headers
    assert [c.method for c in upstream.calls("/openai/files")] == ["POST", "GET"]


async def test_a_refused_address_is_refused_for_files_too(upstream):
    spec = ProviderSpec(key="t:p", name="p", type="openai-compatible", base_url=upstream.url)
    client = FilesClient(spec, new_session(OutboundPolicy(), spec.base_url))
    try:
        with pytest.raises(UpstreamError) as info:
            await client.retrieve("file-1")
        assert info.value.kind == "blocked"
    finally:
        await client.aclose()
    assert upstream.calls("/v1/files") == []
