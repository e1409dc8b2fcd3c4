"""The published OpenAPI document, made to say what the API really answers.

FastAPI documents every validation error as its own `HTTPValidationError` (a 422 whose `detail`
is an array). Gatehouse answers differently (api/errors.py): on /admin a 422 whose `detail` is a
readable string plus an `errors` list, on /v1 OpenAI's error object with status 400. This module
rewrites the generated document once, after FastAPI builds it: the real error schemas, the error
statuses each face returns, and the client API's bearer token.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter

from api.errors import is_client_path, is_messages_path

_REF = "#/components/schemas/{model}"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_WRITES = ("post", "put", "patch", "delete")

ERROR_SCHEMAS: dict[str, dict] = {
    "AdminError": {
        "title": "AdminError", "type": "object", "required": ["detail"],
        "description": "An error of the management API.",
        "properties": {
            "detail": {"type": "string", "description": "what went wrong, in words"},
            "code": {"type": "string", "description": "machine-readable reason, e.g. not_found, conflict"},
            "field": {"type": "string", "description": "the input field at fault, when there is one"},
        },
    },
    "FieldError": {
        "title": "FieldError", "type": "object", "required": ["field", "message", "type"],
        "properties": {
            "field": {"type": "string", "description": "dotted path of the field, e.g. limits.rpm"},
            "message": {"type": "string"},
            "type": {"type": "string", "description": "pydantic's error type, e.g. missing, less_than_equal"},
        },
    },
    "AdminValidationError": {
        "title": "AdminValidationError", "type": "object", "required": ["detail", "errors"],
        "description": "The request did not validate (management API).",
        "properties": {
            "detail": {"type": "string", "description": "every problem, '; '-separated"},
            "errors": {"type": "array", "items": {"$ref": _REF.format(model="FieldError")}},
        },
    },
    "OpenAIError": {
        "title": "OpenAIError", "type": "object", "required": ["error"],
        "description": "An error of the client API, in OpenAI's shape (validation errors are 400s).",
        "properties": {"error": {
            "type": "object", "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string", "description": "e.g. invalid_request_error, rate_limit_error"},
                "param": {"type": ["string", "null"], "description": "the input field at fault"},
                "code": {"type": ["string", "null"], "description": "e.g. invalid_request, model_not_found"},
            },
        }},
    },
    "AnthropicError": {
        "title": "AnthropicError", "type": "object", "required": ["type", "error"],
        "description": "An error of the Messages API (/v1/messages), in Anthropic's shape.",
        "properties": {
            "type": {"const": "error"},
            "error": {"type": "object", "required": ["type", "message"], "properties": {
                "type": {"type": "string", "description": "e.g. invalid_request_error, not_found_error"},
                "message": {"type": "string"},
            }},
        },
    },
}

ADMIN_ERRORS = {
    400: "Invalid input that passed validation (the field is named)",
    401: "Missing, invalid or expired bearer JWT",
    403: "The caller's role or tenant may not do this",
    404: "Not found (an unknown X-Tenant-Id too)",
    409: "Conflicts with the current state (duplicate name, still in use)",
    422: "The request did not validate",
    503: "The gateway is starting or shutting down (see Retry-After)",
}
CLIENT_ERRORS = {
    400: "Invalid request, validation errors included (`param` names the field)",
    401: "Missing, unknown, expired or revoked API token",
    403: "The token's scopes or the tenant's license do not allow this",
    404: "Not found, or not visible to this token",
    503: "The gateway is starting or shutting down (see Retry-After)",
}
# Declared by the routes that can answer them (responses=...).
UPSTREAM_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "The upstream refused the request (its status and message are relayed)"},
    429: {"description": "A quota of the token, project or tenant, or the upstream's rate limit"},
    502: {"description": "The upstream failed or answered something unusable"},
    503: {"description": "The provider's circuit is open, or the gateway is starting or shutting down"},
    504: {"description": "The upstream timed out"},
}
TOO_LARGE: dict[int | str, dict[str, Any]] = {413: {"description": "The request body is over the limit"}}


def json_body(annotation: Any) -> dict:
    """`openapi_extra` documenting the JSON body of a route that reads and validates it itself."""
    schema = TypeAdapter(annotation).json_schema(ref_template=_REF)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # A named component rather than an inline copy, like the bodies FastAPI documents itself.
        definitions = schema.pop("$defs", {})
        definitions[annotation.__name__] = schema
        schema = {"$ref": _REF.format(model=annotation.__name__), "$defs": definitions}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _error_ref(face: str, status: str) -> str:
    if face == "messages":
        return _REF.format(model="AnthropicError")
    if face == "client":
        return _REF.format(model="OpenAIError")
    return _REF.format(model="AdminValidationError" if status == "422" else "AdminError")


def _hoist_definitions(operation: dict, schemas: dict) -> None:
    # json_body() inlines a model with its nested models under "$defs": move them to components.
    for media in operation.get("requestBody", {}).get("content", {}).values():
        for name, definition in media.get("schema", {}).pop("$defs", {}).items():
            schemas.setdefault(name, definition)


def _admin_statuses(method: str, operation: dict) -> set[int]:
    # 422 is documented by FastAPI where there is something to validate; the rest follow from
    # the route's shape: a login can only fail its credentials, a lookup by path or by tenant
    # header can miss, a write can conflict.
    secured = bool(operation.get("security"))
    looks_up = any(p.get("in") in ("path", "header") for p in operation.get("parameters", []))
    statuses = {401, 403, 503}
    if "requestBody" in operation:
        statuses.add(400)  # a body that is not JSON (or not UTF-8) at all
    if secured:
        statuses |= {400, 409} if method in _WRITES else {400}
    if looks_up:
        statuses.add(404)
    return statuses


def _document_errors(path: str, method: str, operation: dict) -> None:
    face = "client" if is_client_path(path) else "admin" if path.startswith("/admin/") else ""
    if not face:
        return
    responses: dict = operation.setdefault("responses", {})
    if face == "client":  # the errors of the Messages API have Anthropic's shape
        face = "messages" if is_messages_path(path) else face
        # The client API answers validation errors as a 400, never as a 422.
        responses.pop("422", None)
        operation.setdefault("security", [{"ApiToken": []}])
        statuses = CLIENT_ERRORS
    else:
        statuses = {s: d for s, d in ADMIN_ERRORS.items() if s in _admin_statuses(method, operation)}
    for status, description in statuses.items():
        responses.setdefault(str(status), {"description": description})
    for status, response in responses.items():
        if status[0] in "45":
            response["content"] = {"application/json": {"schema": {"$ref": _error_ref(face, status)}}}


def publish(schema: dict) -> dict:
    """Rewrite FastAPI's generated document in place (and return it)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(ERROR_SCHEMAS)
    components.setdefault("securitySchemes", {})["ApiToken"] = {
        "type": "http", "scheme": "bearer",
        "description": "An API token (gh-...) created in the console or with POST /admin/v1/api-tokens"}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                _hoist_definitions(operation, schemas)
                _document_errors(path, method, operation)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the rewritten document at the app's openapi_url (built once, like FastAPI's own)."""
    generate = app.openapi
    published: dict[str, dict] = {}

    def openapi() -> dict:
        generated = generate()  # FastAPI caches it and rebuilds only when the routes change
        if published.get("source") is not generated:
            published["source"] = generated
            published["document"] = publish(generated)
        return published["document"]

    app.openapi = openapi  # type: ignore[method-assign]
