"""Servers an attacker would point a provider at: a fake cloud-metadata service and a redirector.

Both are real HTTP servers on loopback, each in its own thread. The metadata server answers
everything with SECRET in some form (JSON model lists, chat bodies, plain-text streams, error
text); the redirector answers everything with a 302 to the metadata server.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from tests.support.processes import free_port

SECRET = "AKIA-METADATA-SECRET-7f3c"


class LoopbackServer:
    """An aiohttp application served on 127.0.0.1:<free port> from a background thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[tuple[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=type(self).__name__, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def root(self) -> str:
        """http://127.0.0.1:port"""
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        """The application to serve (subclasses add routes)."""
        raise NotImplementedError

    def start(self):
        """Serve in the background; returns self."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class MetadataServer(LoopbackServer):
    """Answers every path with the secret; `mode` picks the form: json, text or error."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "json"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        return app

    async def _any(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.can_read_body:
            await request.read()
        if self.mode == "error":
            return web.json_response({"error": f"internal: {SECRET}"}, status=500)
        if self.mode == "text" or request.path.endswith("/content"):
            return await self._text_stream(request)
        if request.path.endswith("/models"):
            return web.json_response({"object": "list", "data": [{"id": f"{SECRET}-model", "object": "model"}]})
        if request.path.endswith("/files") or "/files/" in request.path:
            return web.json_response({"id": f"file-{SECRET}", "object": "file", "bytes": 1, "created_at": 1,
                                      "filename": SECRET, "purpose": "assistants", "deleted": True})
        return web.json_response({
            "id": "chatcmpl-meta", "object": "chat.completion", "created": 1, "model": SECRET,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": SECRET}, "finish_reason": "stop"}],
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    async def _text_stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for line in ("ami-id: i-123\n", f"security-credentials: {SECRET}\n", f"data: {SECRET}\n\n"):
            await response.write(line.encode())
        await response.write_eof()
        return response

    def reset(self) -> None:
        """JSON mode, no recorded requests."""
        self.mode = "json"
        self.requests.clear()


class Redirector(LoopbackServer):
    """Answers every request with a 302 to the same path on `target`."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        return app

    async def _any(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.can_read_body:
            await request.read()
        location = f"{self.target}{request.path_qs}"
        return web.Response(status=302, headers={"Location": location},
                            text=f"<html><body>Moved to <a href='{location}'>{location}</a></body></html>",
                            content_type="text/html")
