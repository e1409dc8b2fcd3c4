"""The OpenAI files API (and Azure's `/openai/files?api-version=` variant) on a guarded aiohttp session.

Same rules as the runtimes: connections checked by the outbound policy, redirects not followed,
JSON answers only where JSON is expected, error text sanitised. Uploads stream from a file
object; downloads are held in memory up to CONTENT_LIMIT and refused beyond.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import BinaryIO, TypeVar
from urllib.parse import quote

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

from gateway_app.core.resilience import RetryPolicy
from gateway_app.providers.base import FileObject, ProviderSpec, UpstreamError
from gateway_app.providers.http import (
    TRANSPORT_ERRORS,
    clean_text,
    error_of,
    json_answer,
    parse_json,
    read_bounded,
    transport_error,
)

CONTENT_LIMIT = 512 * 1024 * 1024
CHUNK = 256 * 1024
_FILE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
T = TypeVar("T")


class FilePayload(Payload):
    """Streams a caller's file from its start, in chunks read on a worker thread.

    aiohttp closes the file payloads it sends; this one leaves the file open (the caller owns it,
    and a retry reads it again).
    """

    _autoclose = True

    def __init__(self, file: BinaryIO, size: int) -> None:
        super().__init__(file, content_type="application/octet-stream")
        self._size = size

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a file payload is not text")

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: AbstractStreamWriter, content_length: int | None) -> None:
        loop = asyncio.get_running_loop()
        remaining = self._size if content_length is None else min(self._size, content_length)
        await loop.run_in_executor(None, self._value.seek, 0)
        while remaining > 0:
            chunk = await loop.run_in_executor(None, self._value.read, min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            await writer.write(chunk)


def _file(obj: dict) -> FileObject:
    file_id = obj.get("id")
    if not isinstance(file_id, str) or not _FILE_ID.fullmatch(file_id):
        raise UpstreamError("upstream answer is not a file object", status=502, kind="malformed")

    def number(name: str) -> int:
        value = obj.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0

    def text(name: str, limit: int) -> str:
        value = obj.get(name)
        return clean_text(value, limit) if isinstance(value, str) else ""

    return FileObject(id=file_id, filename=text("filename", 255), purpose=text("purpose", 40),
                      bytes=number("bytes"), created_at=number("created_at"),
                      status=text("status", 40) or "processed")


class FilesClient:
    """Upload, read and delete a provider's files."""

    def __init__(self, spec: ProviderSpec, session: aiohttp.ClientSession, *,
                 content_limit: int = CONTENT_LIMIT) -> None:
        self.spec = spec
        self._session = session
        self._content_limit = content_limit
        base = spec.base_url.rstrip("/")
        self._headers = dict(spec.headers)
        if spec.type == "azure-openai":
            self._root, self._query = f"{base}/openai/files", {"api-version": spec.api_version or ""}
            if spec.api_key:
                self._headers["api-key"] = spec.api_key
        else:
            self._root, self._query = f"{base}/files", {}
            if spec.api_key:
                self._headers["Authorization"] = f"Bearer {spec.api_key}"
        self._retry = RetryPolicy(attempts=spec.max_retries + 1, initial_wait=0.2, max_wait=5.0)
        # Whole-call timeout for small JSON calls; per-read for transfers, whose length we do not cap in time.
        self._small = aiohttp.ClientTimeout(total=spec.timeout_s)
        self._transfer = aiohttp.ClientTimeout(total=None, sock_connect=min(spec.timeout_s, 10.0),
                                               sock_read=spec.timeout_s)

    def _url(self, file_id: str, suffix: str = "") -> str:
        return f"{self._root}/{quote(file_id, safe='')}{suffix}"

    async def _call(self, method: str, url: str, read: Callable[[aiohttp.ClientResponse], Awaitable[T]], *,
                    body: Callable[[], aiohttp.MultipartWriter] | None = None,
                    timeout: aiohttp.ClientTimeout | None = None) -> T:
        async for attempt in self._retry.retrying(lambda e: isinstance(e, UpstreamError) and e.retryable):
            with attempt:
                try:
                    async with self._session.request(method, url, params=self._query, headers=self._headers,
                                                     data=body() if body else None, allow_redirects=False,
                                                     timeout=timeout or self._small) as response:
                        return await read(response)
                except TRANSPORT_ERRORS as exc:
                    raise transport_error(exc) from None
        raise AssertionError("unreachable")

    async def create(self, filename: str, file: BinaryIO, size: int, purpose: str) -> FileObject:
        """Upload `size` bytes of `file` (from its start) as multipart form data."""
        def form() -> aiohttp.MultipartWriter:
            writer = aiohttp.MultipartWriter("form-data")
            writer.append(purpose).set_content_disposition("form-data", name="purpose")
            writer.append_payload(FilePayload(file, size)).set_content_disposition(
                "form-data", name="file", filename=filename)
            return writer

        return _file(await self._call("POST", self._root, _json_object, body=form, timeout=self._transfer))

    async def retrieve(self, file_id: str) -> FileObject:
        """The provider's file object."""
        return _file(await self._call("GET", self._url(file_id), _json_object))

    async def content(self, file_id: str) -> bytes:
        """The file's bytes (any content type: a file is whatever was uploaded), at most content_limit."""
        async def read(response: aiohttp.ClientResponse) -> bytes:
            if not 200 <= response.status < 300:
                raise await error_of(response)
            return await read_bounded(response, self._content_limit)

        return await self._call("GET", self._url(file_id, "/content"), read, timeout=self._transfer)

    async def delete(self, file_id: str) -> bool:
        """True when the provider deleted it."""
        return (await self._call("DELETE", self._url(file_id), _json_object)).get("deleted") is True

    async def aclose(self) -> None:
        await self._session.close()


async def _json_object(response: aiohttp.ClientResponse) -> dict:
    return parse_json(await json_answer(response))
