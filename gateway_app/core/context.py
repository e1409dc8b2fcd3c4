"""Per-request context carried in a contextvar, read by logs and services."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class RequestContext:
    """Who and what a request is about.

    One mutable object per request: code deeper in the stack (auth dependencies, threads started
    with a copied context) fills in fields and everyone holding the context sees them.
    """

    request_id: str = ""
    tenant_id: str = ""
    user_id: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("gatehouse_request", default=None)


def current_context() -> RequestContext | None:
    """The context of the running request, if any."""
    return _current.get()


def begin_request(request_id: str) -> tuple[RequestContext, object]:
    """Start a context for a request; returns it and the token to end it with."""
    ctx = RequestContext(request_id=request_id)
    return ctx, _current.set(ctx)


def end_request(token: object) -> None:
    """Restore the context that was active before begin_request."""
    _current.reset(token)  # type: ignore[arg-type]


def bind(*, tenant_id: str | None = None, user_id: str | None = None) -> None:
    """Record tenant and user on the current request (no-op outside a request)."""
    ctx = _current.get()
    if ctx is None:
        return
    if tenant_id is not None:
        ctx.tenant_id = tenant_id
    if user_id is not None:
        ctx.user_id = user_id
