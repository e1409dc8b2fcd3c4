"""Request body limits, enforced before buffering: on Content-Length, and while a body streams in.

JSON routes take up to MAX_REQUEST_BYTES, file uploads (POST /v1/files) up to MAX_UPLOAD_BYTES.
A declared length over the limit is refused before a byte is read. A chunked body that grows past
it is refused the moment it does: the 413 goes out at once, the app then sees the client as gone
(and whatever it answers is discarded), so at most one limit's worth is ever held.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import client_error_body, is_client_path

UPLOAD_PATHS = ("/v1/files",)
_CLOSE = [(b"connection", b"close")]


def _too_large_body(path: str, limit: int) -> bytes:
    message = f"the request body is larger than {limit} bytes; send less (this gateway's limit)"
    if is_client_path(path):
        return client_error_body(path, message, 413, code="request_too_large")
    return json.dumps({"detail": message, "code": "request_too_large"}).encode()


class BodyLimitMiddleware:
    """413 for bodies over the route's limit on /v1 and /admin; other paths pass untouched."""

    def __init__(self, app: ASGIApp, max_request_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_request = max_request_bytes
        self.max_upload = max_upload_bytes

    def limit_for(self, scope: Scope) -> int | None:
        """The byte limit of this request, or None when it is not ours to limit."""
        if scope["type"] != "http":
            return None
        path: str = scope["path"]
        if not (is_client_path(path) or path.startswith("/admin/")):
            return None
        if scope["method"] == "POST" and path in UPLOAD_PATHS:
            return self.max_upload
        return self.max_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                await _refuse(send, scope["path"], limit)
            else:
                # The HTTP parser delivers exactly Content-Length bytes: nothing to count (the hot path's case).
                await self.app(scope, receive, send)
            return
        state = {"received": 0, "refused": False, "started": False}

        async def limited_receive() -> Message:
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["refused"] = True
                    if not state["started"]:
                        state["started"] = True
                        await _refuse(send, scope["path"], limit)
                    return {"type": "http.disconnect"}  # the app stops reading; nothing more is buffered
            return message

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return  # the 413 is the answer; the app's reaction to the "disconnect" is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not state["refused"]:
                raise  # only the app's reaction to our own cut-off is ours to swallow


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, path: str, limit: int) -> None:
    body = _too_large_body(path, limit)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *_CLOSE]})
    await send({"type": "http.response.body", "body": body})
