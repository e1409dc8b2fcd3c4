"""Error responses: OpenAI's shape on /v1, a readable `detail` on /admin, and a request id on both."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway_app.core.errors import (
    AuthenticationFailed,
    Conflict,
    GatehouseError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from gateway_app.core.logging import get_logger

log = get_logger("api.errors")

STATUS_BY_ERROR: tuple[tuple[type[GatehouseError], int], ...] = (
    (InvalidInput, 400),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
)
OPENAI_TYPE_BY_STATUS = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "invalid_request_error", 405: "invalid_request_error", 409: "invalid_request_error",
    413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
    503: "service_unavailable",
}


def is_client_path(path: str) -> bool:
    """True for the OpenAI-compatible client API."""
    return path == "/v1" or path.startswith("/v1/")


ANTHROPIC_TYPE_BY_STATUS = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error", 503: "overloaded_error",
    529: "overloaded_error",
}


def is_messages_path(path: str) -> bool:
    """True for Anthropic's Messages API, whose errors have Anthropic's shape."""
    return path == "/v1/messages" or path.startswith("/v1/messages/")


def client_error(path: str, message: str, status: int, *, code: str | None = None,
                 param: str | None = None) -> dict:
    """The error object of a client API path: Anthropic's on /v1/messages, OpenAI's elsewhere."""
    if is_messages_path(path):
        return {"type": "error", "error": {"type": ANTHROPIC_TYPE_BY_STATUS.get(status, "api_error"),
                                           "message": message}}
    return openai_error(message, status, code=code, param=param)


def client_error_body(path: str, message: str, status: int, *, code: str | None = None) -> bytes:
    """The same, serialised (for pure ASGI middleware)."""
    return json.dumps(client_error(path, message, status, code=code)).encode()


def client_error_response(path: str, exc: GatehouseError) -> JSONResponse:
    """A domain error as the client API path's error response."""
    status = status_for(exc)
    return JSONResponse(client_error(path, exc.message, status, code=exc.code, param=exc.param),
                        status_code=status, headers=getattr(exc, "headers", None))


def openai_error(message: str, status: int, *, code: str | None = None, param: str | None = None,
                 type_: str | None = None) -> dict:
    """The error object OpenAI clients expect."""
    return {"error": {"message": message, "type": type_ or OPENAI_TYPE_BY_STATUS.get(status, "api_error"),
                      "param": param, "code": code}}


def openai_error_body(message: str, status: int, *, code: str | None = None, param: str | None = None,
                      type_: str | None = None) -> bytes:
    """The same, serialised (for pure ASGI middleware)."""
    return json.dumps(openai_error(message, status, code=code, param=param, type_=type_)).encode()


def status_for(exc: GatehouseError) -> int:
    """HTTP status of a domain error."""
    if exc.status is not None:
        return exc.status
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 400


def _respond(request: Request, status: int, message: str, *, code: str | None, param: str | None,
             extra: dict | None = None, headers: dict | None = None) -> JSONResponse:
    if is_client_path(request.url.path):
        content = client_error(request.url.path, message, status, code=code, param=param)
    else:
        content = {"detail": message, **({"code": code} if code else {}), **({"field": param} if param else {}),
                   **(extra or {})}
        if status == 422:  # a service's own validation (a reference that does not exist): the same shape as pydantic's
            content.setdefault("errors", [{"field": param or "body", "message": message, "type": code or "invalid"}])
    return JSONResponse(content, status_code=status, headers=headers)


def _field_of(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _gatehouse_error(request: Request, exc: GatehouseError) -> JSONResponse:
    return _respond(request, status_for(exc), exc.message, code=exc.code, param=exc.param,
                    headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    messages = [f"{_field_of(tuple(e.get('loc', ())))}: {str(e.get('msg', '')).removeprefix('Value error, ')}"
                for e in errors]
    message = "; ".join(messages) or "invalid request"
    if is_client_path(request.url.path):
        return _respond(request, 400, message, code="invalid_request", param=_field_of(tuple(first.get("loc", ()))))
    details = [{"field": _field_of(tuple(e.get("loc", ()))), "message": m.split(": ", 1)[-1], "type": e.get("type")}
               for e, m in zip(errors, messages, strict=True)]
    return JSONResponse({"detail": message, "errors": details}, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route for {request.method} {request.url.path}"
    return _respond(request, exc.status_code, message, code=code, param=None,
                    headers=getattr(exc, "headers", None))


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return _respond(request, 500, "internal error; quote the x-request-id header when reporting it",
                    code="internal_error", param=None)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(GatehouseError, _gatehouse_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled)
