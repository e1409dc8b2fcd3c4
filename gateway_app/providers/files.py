"""Files through the official openai SDK (httpx underneath: files are not a hot path)."""

from __future__ import annotations

import httpx
import openai

from gateway_app.providers.base import FileObject, ProviderSpec, UpstreamError


def _error(exc: Exception) -> UpstreamError:
    if isinstance(exc, openai.APIStatusError):
        retryable = exc.status_code in (429, 500, 502, 503, 504)
        return UpstreamError(str(getattr(exc, "message", exc)), status=exc.status_code, kind="http",
                             retryable=retryable)
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamError("upstream timed out", status=504, kind="timeout", retryable=True)
    return UpstreamError(f"upstream unreachable: {type(exc).__name__}", status=502, kind="connect", retryable=True)


def _file(obj) -> FileObject:
    return FileObject(id=obj.id, filename=obj.filename, purpose=obj.purpose, bytes=obj.bytes or 0,
                      created_at=obj.created_at, status=getattr(obj, "status", None) or "processed")


class FilesClient:
    """Upload, list, read and delete a provider's files."""

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec
        kwargs = dict(api_key=spec.api_key or "unused", timeout=spec.timeout_s, max_retries=spec.max_retries,
                      default_headers=dict(spec.headers), http_client=httpx.AsyncClient(timeout=spec.timeout_s))
        if spec.type == "azure-openai":
            self._client = openai.AsyncAzureOpenAI(azure_endpoint=spec.base_url, api_version=spec.api_version,
                                                   **kwargs)
        else:
            self._client = openai.AsyncOpenAI(base_url=spec.base_url, **kwargs)

    async def create(self, filename: str, content: bytes, purpose: str) -> FileObject:
        try:
            return _file(await self._client.files.create(file=(filename, content), purpose=purpose))
        except openai.OpenAIError as exc:
            raise _error(exc) from None

    async def retrieve(self, file_id: str) -> FileObject:
        try:
            return _file(await self._client.files.retrieve(file_id))
        except openai.OpenAIError as exc:
            raise _error(exc) from None

    async def content(self, file_id: str) -> bytes:
        try:
            response = await self._client.files.content(file_id)
            return response.content
        except openai.OpenAIError as exc:
            raise _error(exc) from None

    async def delete(self, file_id: str) -> bool:
        try:
            return bool((await self._client.files.delete(file_id)).deleted)
        except openai.OpenAIError as exc:
            raise _error(exc) from None

    async def aclose(self) -> None:
        await self._client.close()
