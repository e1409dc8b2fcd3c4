"""Anthropic's Messages API behind the OpenAI chat-completions interface."""

from __future__ import annotations

import time

import aiohttp
import orjson

from gateway_app.providers.anthropic_translation import StreamTranslator, from_messages_response, to_messages_request
from gateway_app.providers.base import ProviderSpec, StreamStats, UpstreamError, UpstreamResult
from gateway_app.providers.http import (
    TRANSPORT_ERRORS,
    clean_text,
    json_answer,
    model_ids,
    parse_json,
    stream_answer,
    transport_error,
)

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicRuntime:
    """Calls `<base_url>/v1/messages`; answers are translated to OpenAI's shape."""

    def __init__(self, spec: ProviderSpec, session: aiohttp.ClientSession) -> None:
        self.spec = spec
        self._session = session  # on its origin's shared, policy-checked connector
        base = spec.base_url.rstrip("/")
        self._base = base[:-3] if base.endswith("/v1") else base
        self._headers = {"Content-Type": "application/json", "anthropic-version": ANTHROPIC_VERSION,
                         **dict(spec.headers)}
        if spec.api_key:
            self._headers["x-api-key"] = spec.api_key

    async def chat(self, payload: dict, upstream_model: str, *, timeout: float) -> UpstreamResult:
        request = to_messages_request({**payload, "stream": False}, upstream_model)
        try:
            async with self._session.post(f"{self._base}/v1/messages", data=orjson.dumps(request),
                                          headers=self._headers, allow_redirects=False,
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                raw = await json_answer(response)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from None
        translated = from_messages_response(parse_json(raw), upstream_model)
        return UpstreamResult(body=orjson.dumps(translated), usage=translated["usage"], model=translated["model"])

    async def chat_stream(self, payload: dict, upstream_model: str, *, timeout: float,
                          client_wants_usage: bool) -> AnthropicStream:
        request = to_messages_request({**payload, "stream": True}, upstream_model)
        try:
            response = await self._session.post(
                f"{self._base}/v1/messages", data=orjson.dumps(request), headers=self._headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=min(timeout, 10.0), sock_read=timeout))
            await stream_answer(response)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from None
        return AnthropicStream(response, StreamTranslator(upstream_model, client_wants_usage))

    async def embeddings(self, payload: dict, upstream_model: str, *, timeout: float) -> UpstreamResult:
        raise UpstreamError("Anthropic has no embeddings API", status=400, kind="http", code="unsupported")

    async def list_models(self, *, timeout: float = 10.0) -> list[str]:
        try:
            async with self._session.get(f"{self._base}/v1/models", headers=self._headers, allow_redirects=False,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                raw = await json_answer(response)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from None
        return model_ids(parse_json(raw))

    async def aclose(self) -> None:
        await self._session.close()


class AnthropicStream:
    """Reads Anthropic SSE events and yields OpenAI chunks."""

    def __init__(self, response: aiohttp.ClientResponse, translator: StreamTranslator) -> None:
        self._response = response
        self._translator = translator
        self._pending = b""
        self.stats = StreamStats()

    async def __aiter__(self):
        try:
            async for chunk in self._response.content.iter_any():
                if self.stats.first_byte_at is None:
                    self.stats.first_byte_at = time.perf_counter()
                data = (self._pending + chunk).replace(b"\r\n", b"\n")
                end = data.rfind(b"\n\n")
                if end < 0:
                    self._pending = data
                    continue
                complete, self._pending = data[:end + 2], data[end + 2:]
                out = b"".join(self._translate(event) for event in complete.split(b"\n\n") if event.strip())
                if out:
                    yield out
            self.stats.finished = True
        except TRANSPORT_ERRORS as exc:
            raise UpstreamError(f"upstream stream broke: {type(exc).__name__}", status=502, kind="stream") from None
        finally:
            self.stats.usage = self._translator.usage()
            self.stats.content_events = self._translator.content_events
            self._response.release()

    def _translate(self, event: bytes) -> bytes:
        name, data = "", b""
        for line in event.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode(errors="replace")
            elif line.startswith(b"data:"):
                data += line[5:].strip()
        try:
            parsed = orjson.loads(data) if data else {}
        except orjson.JSONDecodeError:
            return b""
        if not isinstance(parsed, dict):
            return b""
        name = name or parsed.get("type", "")
        if name == "error":
            error = parsed.get("error") if isinstance(parsed.get("error"), dict) else {}
            message = error.get("message") if isinstance(error.get("message"), str) else ""
            raise UpstreamError(clean_text(message) or "upstream stream error", status=502, kind="stream",
                                error_type=clean_text(str(error.get("type") or ""), 64) or None)
        return self._translator.event(name, parsed)

    async def aclose(self) -> None:
        self._response.release()
