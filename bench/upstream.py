"""A minimal, fast OpenAI-compatible upstream for benchmarks (its own process).

Chat answers are fixed; streams send 8 content chunks spaced `--chunk-ms` apart (default 1 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

CHAT = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the benchmark upstream."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}}).encode()
EMBEDDING = json.dumps({"object": "list", "model": "bench-embed",
                        "data": [{"object": "embedding", "index": 0, "embedding": [0.01] * 256}],
                        "usage": {"prompt_tokens": 4, "total_tokens": 4}}).encode()


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> bytes:
    body = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []}
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


STREAM_HEAD = _chunk({"role": "assistant", "content": ""})
STREAM_PIECES = [_chunk({"content": f"word{i} "}) for i in range(8)]
STREAM_TAIL = _chunk({}, "stop")
STREAM_USAGE = _chunk({}, usage={"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}, choices=False)


def build_app(chunk_ms: float) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            return web.Response(body=CHAT, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(STREAM_HEAD)
        for piece in STREAM_PIECES:
            if chunk_ms:
                await asyncio.sleep(chunk_ms / 1000)
            await response.write(piece)
        await response.write(STREAM_TAIL)
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(STREAM_USAGE)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def embeddings(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=EMBEDDING, content_type="application/json")

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "bench-model"}, {"id": "bench-embed"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", models)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunk-ms", type=float, default=1.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(build_app(args.chunk_ms), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
