"""Helpers shared by the console states."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import anyio
import reflex as rx
from pydantic import BaseModel, ValidationError

from gateway_app.core.errors import AuthenticationFailed
from gateway_app.services.platform import Platform, current_platform

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def platform() -> Platform:
    """The running platform (started by the app's lifespan)."""
    return current_platform()


def counted(n: int, noun: str) -> str:
    """'1 event', '2 events' (nouns of this console take an s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


LOGIN_AND_BACK = ("window.location.pathname.startsWith('/login') || window.location.assign('/login' + "
                  "(window.location.pathname === '/' ? '' : '?next=' + "
                  "encodeURIComponent(window.location.pathname + window.location.search)))")


def failure(exc: Exception):
    """What a console event shows for a failed service call: a toast, or the login page when the
    session is gone (a page's data loads run next to the login check; no "invalid token" toast)."""
    if isinstance(exc, AuthenticationFailed):
        # To the login page and back to this page afterwards (the browser knows where it is; a
        # plain redirect here used to override the page's own `/login?next=...`).
        return rx.call_script(LOGIN_AND_BACK)
    return rx.toast.error(getattr(exc, "message", None) or str(exc))


async def in_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """Run a blocking service call off the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def parse_form(schema: type[M], form: dict, *, keep_none: bool = False) -> tuple[M | None, dict[str, str]]:
    """Validate a submitted form with a service's input schema (empty fields count as omitted;
    with keep_none, None values are sent, to clear a field)."""
    dropped = ("",) if keep_none else ("", None)
    try:
        return schema(**{k: v for k, v in form.items() if v not in dropped}), {}
    except ValidationError as exc:
        return None, field_errors(exc)


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Validation errors by field name, with messages fit to show under the field."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(p) for p in error.get("loc", ())) or "form"
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        errors.setdefault(name, message[0].upper() + message[1:] if message else message)
    return errors
