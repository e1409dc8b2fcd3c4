"""A fake OpenAI-compatible upstream (plus Anthropic Messages and Azure routes): a real HTTP server on
loopback, in its own thread, whose answers each test can script (latency, errors, drops, slow streams)."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.processes import free_port


@dataclass(frozen=True)
class Raw:
    """An answer sent exactly as given (for redirects, HTML error pages, wrong content types)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def word_vector(text: str, dims: int) -> list[float]:
    """A deterministic embedding: hashed word counts, normalised (texts sharing words are near)."""
    counts = [0.0] * dims
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        counts[zlib.crc32(word.encode()) % dims] += 1.0
    norm = math.sqrt(sum(c * c for c in counts)) or 1.0
    return [round(c / norm, 6) if any(counts) else 1.0 / math.sqrt(dims) for c in counts]


@dataclass
class Behaviour:
    """How to answer one request (defaults: a normal, fast answer)."""

    status: int | None = None  # answer with this HTTP error
    retry_after: str | None = None
    delay: float = 0.0  # before answering
    drop: bool = False  # close the connection without an answer
    malformed: bool = False  # send invalid JSON with status 200
    chunks: int = 4  # streamed content chunks
    chunk_delay: float = 0.0  # between streamed chunks
    break_after: int | None = None  # cut the stream after this many chunks
    content: str | None = None  # answer text (default: echo of the last user message)
    usage_in_stream: bool = True  # honour stream_options.include_usage
    raw: Raw | None = None  # answer this instead
    stream_content_type: str = "text/event-stream"


@dataclass
class Recorded:
    """A request the fake received."""

    method: str
    path: str
    headers: dict
    body: dict | None
    query: dict = field(default_factory=dict)


class FakeUpstream:
    """Scriptable upstream. `script(b1, b2)` answers the next requests with b1 then b2; `always(b)` sets the default."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Recorded] = []
        self._script: deque[Behaviour] = deque()
        self._default = Behaviour()
        self._files: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-upstream", daemon=True)
        self.models = ["fake-chat", "fake-chat-2", "fake-embed"]

    @property
    def url(self) -> str:
        """OpenAI-style base URL (with /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        """Base URL without /v1 (Azure, Anthropic)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeUpstream:
        """Serve on 127.0.0.1:port in a background thread."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/messages/models", self._models)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        app.router.add_post("/openai/deployments/{deployment}/embeddings", self._embeddings)
        app.router.add_get("/openai/models", self._models)
        app.router.add_post("/v1/files", self._file_create)
        app.router.add_get("/v1/files", self._file_list)
        app.router.add_get("/v1/files/{id}", self._file_get)
        app.router.add_get("/v1/files/{id}/content", self._file_content)
        app.router.add_delete("/v1/files/{id}", self._file_delete)
        app.router.add_post("/openai/files", self._file_create)  # Azure: /openai/files?api-version=...
        app.router.add_get("/openai/files/{id}", self._file_get)
        app.router.add_get("/openai/files/{id}/content", self._file_content)
        app.router.add_delete("/openai/files/{id}", self._file_delete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        """Stop the server and its thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # scripting -------------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with these behaviours, in order."""
        self._script.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        """Answer every request this way (after any scripted ones)."""
        self._default = behaviour

    def reset(self) -> None:
        """Forget scripts, defaults and recorded requests."""
        self._script.clear()
        self._default = Behaviour()
        self.requests.clear()

    def calls(self, path_part: str) -> list[Recorded]:
        """Recorded requests whose path contains path_part."""
        return [r for r in self.requests if path_part in r.path]

    async def _begin(self, request: web.Request, parse: bool = True) -> tuple[Behaviour, dict | None]:
        body = None
        if parse and request.can_read_body and request.content_type == "application/json":
            body = await request.json()
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body, dict(request.query)))
        behaviour = self._script.popleft() if self._script else self._default
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        return behaviour, body

    @staticmethod
    def _failure(request: web.Request, behaviour: Behaviour) -> web.StreamResponse | None:
        if behaviour.raw is not None:
            raw = behaviour.raw
            return web.Response(status=raw.status, body=raw.body,
                                headers={"Content-Type": raw.content_type, **dict(raw.headers)})
        if behaviour.drop:
            request.transport.close()
            return web.Response(status=500)
        if behaviour.status:
            headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
            error = {"error": {"message": f"scripted failure {behaviour.status}", "type": "server_error",
                               "code": None, "param": None}}
            return web.json_response(error, status=behaviour.status, headers=headers)
        if behaviour.malformed:
            return web.Response(body=b'{"id": "broken", "choices": [', content_type="application/json")
        return None

    # OpenAI routes ---------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        behaviour, _ = await self._begin(request, parse=False)
        failure = self._failure(request, behaviour)
        if failure is not None:
            return failure
        return web.json_response({"object": "list", "data": [{"id": m, "object": "model", "created": 1,
                                                              "owned_by": "fake"} for m in self.models]})

    @staticmethod
    def _answer_text(body: dict, behaviour: Behaviour) -> str:
        if behaviour.content is not None:
            return behaviour.content
        for message in reversed(body.get("messages", [])):
            if message.get("role") == "user":
                content = message.get("content")
                return f"echo: {content if isinstance(content, str) else json.dumps(content)}"
        return "hello"

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        behaviour, body = await self._begin(request)
        failure = self._failure(request, behaviour)
        if failure is not None:
            return failure
        body = body or {}
        text = self._answer_text(body, behaviour)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", [])) or 1
        model = request.match_info.get("deployment") or body.get("model", "unknown")
        if not body.get("stream"):
            message: dict = {"role": "assistant", "content": text}
            finish = "stop"
            if self._calls_tool(body):
                tool = body["tools"][0]["function"]["name"]
                message = {"role": "assistant", "content": None,
                           "tool_calls": [{"id": "call_1", "type": "function",
                                           "function": {"name": tool, "arguments": "{\"city\": \"Paris\"}"}}]}
                finish = "tool_calls"
            completion_tokens = len(text.split())
            return web.json_response({
                "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion", "created": int(time.time()),
                "model": model, "system_fingerprint": "fake",
                "choices": [{"index": i, "message": message, "finish_reason": finish}
                            for i in range(int(body.get("n") or 1))],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}})
        return await self._stream_chat(request, body, behaviour, text, prompt_tokens, model)

    @staticmethod
    def _calls_tool(body: dict) -> bool:
        """Given tools, the fake calls the first one, unless the last message is a tool's result (it answers)."""
        messages = body.get("messages") or [{}]
        return bool(body.get("tools")) and messages[-1].get("role") != "tool" and body.get("tool_choice") != "none"

    async def _stream_chat(self, request, body, behaviour, text, prompt_tokens, model) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": behaviour.stream_content_type})
        await response.prepare(request)
        words = text.split() or ["..."]
        size = max(1, -(-len(words) // max(1, behaviour.chunks)))
        pieces = [" ".join(words[i:i + size]) for i in range(0, len(words), size)] or ["..."]
        identifier = f"chatcmpl-{next(self._ids)}"
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage")) and behaviour.usage_in_stream

        def event(delta: dict, finish: str | None = None) -> bytes:
            chunk = {"id": identifier, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if wants_usage:
                chunk["usage"] = None
            return f"data: {json.dumps(chunk)}\n\n".encode()

        await response.write(event({"role": "assistant", "content": ""}))
        if self._calls_tool(body):  # the call streamed as OpenAI does: id and name first, then the arguments
            name = body["tools"][0]["function"]["name"]
            await response.write(event({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                        "function": {"name": name, "arguments": ""}}]}))
            for part in ('{"city": ', '"Paris"}'):
                await response.write(event({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}))
            pieces = []
        for index, piece in enumerate(pieces):
            if behaviour.break_after is not None and index >= behaviour.break_after:
                request.transport.close()
                return response
            if behaviour.chunk_delay:
                await asyncio.sleep(behaviour.chunk_delay)
            await response.write(event({"content": piece + (" " if index < len(pieces) - 1 else "")}))
        await response.write(event({}, "tool_calls" if not pieces else "stop"))
        if wants_usage:
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces) or 4,
                     "total_tokens": prompt_tokens + len(pieces)}
            tail = {"id": identifier, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                    "choices": [], "usage": usage}
            await response.write(f"data: {json.dumps(tail)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        behaviour, body = await self._begin(request)
        failure = self._failure(request, behaviour)
        if failure is not None:
            return failure
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dims = int(body.get("dimensions") or 256)
        data = [{"object": "embedding", "index": i, "embedding": word_vector(str(text), dims)}
                for i, text in enumerate(inputs)]
        tokens = sum(len(str(t).split()) for t in inputs)
        return web.json_response({"object": "list", "data": data, "model": body.get("model"),
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    # Anthropic Messages ----------------------------------------------------------------------

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        behaviour, body = await self._begin(request)
        failure = self._failure(request, behaviour)
        if failure is not None:
            return failure
        last = next((m for m in reversed(body["messages"]) if m["role"] == "user"), {"content": []})
        content = last["content"]
        user_text = content if isinstance(content, str) else " ".join(
            b.get("text", "") for b in content if b.get("type") == "text")
        text = behaviour.content if behaviour.content is not None else f"echo: {user_text}"
        usage = {"input_tokens": len(user_text.split()) or 1, "output_tokens": len(text.split())}
        if not body.get("stream"):
            blocks: list[dict] = [{"type": "text", "text": text}]
            stop = "end_turn"
            if body.get("tools"):
                blocks = [{"type": "tool_use", "id": "toolu_1", "name": body["tools"][0]["name"],
                           "input": {"city": "Paris"}}]
                stop = "tool_use"
            return web.json_response({"id": f"msg_{next(self._ids)}", "type": "message", "role": "assistant",
                                      "model": body["model"], "content": blocks, "stop_reason": stop,
                                      "usage": usage})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(name: str, data: dict) -> None:
            if behaviour.chunk_delay:
                await asyncio.sleep(behaviour.chunk_delay)
            await response.write(f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode())

        await send("message_start", {"message": {"id": f"msg_{next(self._ids)}", "type": "message",
                                                  "role": "assistant", "model": body["model"], "content": [],
                                                  "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}})
        await send("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        for word in text.split():
            await send("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word + " "}})
        await send("content_block_stop", {"index": 0})
        await send("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": usage["output_tokens"]}})
        await send("message_stop", {})
        await response.write_eof()
        return response

    # Files -----------------------------------------------------------------------------------

    async def _file_create(self, request: web.Request) -> web.StreamResponse:
        behaviour, _ = await self._begin(request, parse=False)
        failure = self._failure(request, behaviour)
        if failure is not None:
            return failure
        form = await request.post()
        upload = form["file"]
        content = upload.file.read()
        file_id = f"file-fake{next(self._ids)}"
        self._files[file_id] = {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                                "filename": upload.filename, "purpose": form["purpose"], "status": "processed",
                                "_content": content}
        return web.json_response({k: v for k, v in self._files[file_id].items() if not k.startswith("_")})

    async def _file_list(self, request: web.Request) -> web.StreamResponse:
        behaviour, _ = await self._begin(request, parse=False)
        failure = self._failure(request, behaviour)
        if failure is not None:
            return failure
        return web.json_response({"object": "list", "data": [
            {k: v for k, v in f.items() if not k.startswith("_")} for f in self._files.values()]})

    async def _file_get(self, request: web.Request) -> web.StreamResponse:
        behaviour, _ = await self._begin(request, parse=False)
        failure = self._failure(request, behaviour)
        if failure is not None:
            return failure
        found = self._files.get(request.match_info["id"])
        if found is None:
            return web.json_response({"error": {"message": "No such File object"}}, status=404)
        return web.json_response({k: v for k, v in found.items() if not k.startswith("_")})

    async def _file_content(self, request: web.Request) -> web.StreamResponse:
        behaviour, _ = await self._begin(request, parse=False)
        failure = self._failure(request, behaviour)
        if failure is not None:
            return failure
        found = self._files.get(request.match_info["id"])
        if found is None:
            return web.json_response({"error": {"message": "No such File object"}}, status=404)
        return web.Response(body=found["_content"], content_type="application/octet-stream")

    async def _file_delete(self, request: web.Request) -> web.StreamResponse:
        behaviour, _ = await self._begin(request, parse=False)
        failure = self._failure(request, behaviour)
        if failure is not None:
            return failure
        found = self._files.pop(request.match_info["id"], None)
        if found is None:
            return web.json_response({"error": {"message": "No such File object"}}, status=404)
        return web.json_response({"id": found["id"], "object": "file", "deleted": True})
