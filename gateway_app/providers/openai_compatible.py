"""OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp, Groq, Together, ...), and Azure OpenAI.

Request bodies are the client's own JSON with `model` rewritten; answers are forwarded as the
bytes the upstream sent. Only `usage` is read out of them.
"""

from __future__ import annotations

import time

import aiohttp
import orjson

from gateway_app.providers.base import ProviderSpec, StreamStats, UpstreamError, UpstreamResult
from gateway_app.providers.http import (
    TRANSPORT_ERRORS,
    json_answer,
    model_ids,
    parse_json,
    stream_answer,
    transport_error,
)

_USAGE_MARKS = (b'"usage":{', b'"usage": {')  # compact JSON (OpenAI) and Python-style spacing


def _has_usage(data: bytes) -> bool:
    return _USAGE_MARKS[0] in data or _USAGE_MARKS[1] in data

_DATA = b"data:"


class OpenAICompatibleRuntime:
    """Calls `<base_url>/chat/completions`, `/embeddings`, `/models` with a bearer key."""

    def __init__(self, spec: ProviderSpec, session: aiohttp.ClientSession) -> None:
        self.spec = spec
        self._session = session  # on its origin's shared, policy-checked connector
        self._base = spec.base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json", **dict(spec.headers)}
        if spec.api_key:
            self._headers.update(self._auth_headers(spec.api_key))

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def _url(self, operation: str, upstream_model: str) -> str:
        return f"{self._base}/{operation}"

    async def _post(self, operation: str, body: dict, upstream_model: str, timeout: float) -> UpstreamResult:
        data = orjson.dumps(body)
        try:
            async with self._session.post(self._url(operation, upstream_model), data=data, headers=self._headers,
                                          allow_redirects=False,
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                raw = await json_answer(response)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from None
        parsed = parse_json(raw)
        return UpstreamResult(body=raw, usage=parsed.get("usage"), model=parsed.get("model"))

    async def chat(self, payload: dict, upstream_model: str, *, timeout: float) -> UpstreamResult:
        return await self._post("chat/completions", {**payload, "model": upstream_model}, upstream_model, timeout)

    async def embeddings(self, payload: dict, upstream_model: str, *, timeout: float) -> UpstreamResult:
        return await self._post("embeddings", {**payload, "model": upstream_model}, upstream_model, timeout)

    async def chat_stream(self, payload: dict, upstream_model: str, *, timeout: float,
                          client_wants_usage: bool) -> SseRelay:
        body = {**payload, "model": upstream_model, "stream": True,
                "stream_options": {**(payload.get("stream_options") or {}), "include_usage": True}}
        try:
            response = await self._session.post(
                self._url("chat/completions", upstream_model), data=orjson.dumps(body), headers=self._headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=min(timeout, 10.0), sock_read=timeout))
            await stream_answer(response)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from None
        return SseRelay(response, client_wants_usage)

    async def list_models(self, *, timeout: float = 10.0) -> list[str]:
        try:
            async with self._session.get(self._models_url(), headers=self._headers, allow_redirects=False,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                raw = await json_answer(response)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from None
        return model_ids(parse_json(raw))

    def _models_url(self) -> str:
        return f"{self._base}/models"

    async def aclose(self) -> None:
        await self._session.close()


class AzureOpenAIRuntime(OpenAICompatibleRuntime):
    """Azure OpenAI: the model is a deployment in the URL, the key goes in `api-key`."""

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"api-key": api_key}

    def _url(self, operation: str, upstream_model: str) -> str:
        return f"{self._base}/openai/deployments/{upstream_model}/{operation}?api-version={self.spec.api_version}"

    def _models_url(self) -> str:
        return f"{self._base}/openai/models?api-version={self.spec.api_version}"


class SseRelay:
    """Relays an OpenAI-format SSE stream chunk by chunk, reading usage from the final event.

    Gatehouse always asks the upstream for usage; when the client did not, the usage-only event is
    dropped so the client sees exactly what it asked for. Chunks that hold no usage pass through as
    the same bytes.
    """

    def __init__(self, response: aiohttp.ClientResponse, client_wants_usage: bool) -> None:
        self._response = response
        self._wants_usage = client_wants_usage
        self._pending = b""
        self.stats = StreamStats()

    async def __aiter__(self):
        try:
            async for chunk in self._response.content.iter_any():
                if self.stats.first_byte_at is None:
                    self.stats.first_byte_at = time.perf_counter()
                out = self._feed(chunk)
                if out:
                    yield out
            if self._pending.strip():
                out = self._events(self._pending + b"\n\n")
                self._pending = b""
                if out:
                    yield out
            self.stats.finished = True
        except TRANSPORT_ERRORS as exc:
            raise UpstreamError(f"upstream stream broke: {type(exc).__name__}", status=502, kind="stream") from None
        finally:
            self._response.release()

    def _feed(self, chunk: bytes) -> bytes:
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        data = self._pending + chunk if self._pending else chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            self._pending = data
            return b""
        complete, self._pending = data[:end + 2], data[end + 2:]
        if not _has_usage(complete):
            self.stats.content_events += complete.count(_DATA)
            return complete
        return self._events(complete)

    def _events(self, complete: bytes) -> bytes:
        out = []
        for event in complete.split(b"\n\n"):
            if not event.strip():
                continue
            if _has_usage(event):
                start = event.find(_DATA)
                try:
                    parsed = orjson.loads(event[start + len(_DATA):].strip())
                except orjson.JSONDecodeError:
                    parsed = {}
                if isinstance(parsed, dict) and isinstance(parsed.get("usage"), dict):
                    self.stats.usage = parsed["usage"]
                    if not self._wants_usage and not parsed.get("choices"):
                        continue
            else:
                self.stats.content_events += 1
            out.append(event + b"\n\n")
        return b"".join(out)

    async def aclose(self) -> None:
        self._response.release()
