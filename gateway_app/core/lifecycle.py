"""Process lifecycle: signals, draining in-flight requests and ordered teardown."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Awaitable, Callable

from gateway_app.core.logging import get_logger

log = get_logger("lifecycle")
ShutdownHook = Callable[[], Awaitable[None] | None]


class Lifecycle:
    """Tracks in-flight requests and runs shutdown hooks in registration order.

    On SIGTERM/SIGINT it starts draining (new requests get 503 + Retry-After, readiness fails)
    and then hands the signal to the server's own handler, which stops listening and waits for
    open requests before our hooks run.
    """

    def __init__(self, retry_after_seconds: int = 5) -> None:
        self.retry_after_seconds = retry_after_seconds
        self._draining = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._hooks: list[tuple[str, ShutdownHook]] = []
        self._previous_handlers: dict[int, object] = {}
        self.stopped = False

    @property
    def draining(self) -> bool:
        """True once shutdown started: new requests are refused."""
        return self._draining

    @property
    def in_flight(self) -> int:
        """Requests being served right now."""
        return self._in_flight

    def request_started(self) -> None:
        """Count a request in (called by the middleware)."""
        self._in_flight += 1
        self._idle.clear()

    def request_finished(self) -> None:
        """Count a request out."""
        self._in_flight -= 1
        if self._in_flight <= 0:
            self._in_flight = 0
            self._idle.set()

    def begin_draining(self, reason: str = "shutdown") -> None:
        """Stop accepting new requests."""
        if not self._draining:
            self._draining = True
            log.info("draining: refusing new requests", extra={"reason": reason, "in_flight": self._in_flight})

    def on_shutdown(self, name: str, hook: ShutdownHook) -> None:
        """Register a teardown step; steps run in the order registered."""
        self._hooks.append((name, hook))

    def install_signal_handlers(self) -> bool:
        """Chain SIGTERM/SIGINT: mark draining, then call the server's handler. Main thread only."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            self._previous_handlers[sig] = previous

            def handler(signum, frame, _previous=previous):
                self.begin_draining(signal.Signals(signum).name)
                if callable(_previous):
                    _previous(signum, frame)
                elif _previous == signal.SIG_DFL and signum == signal.SIGINT:
                    raise KeyboardInterrupt

            signal.signal(sig, handler)
        return True

    def restore_signal_handlers(self) -> None:
        """Put back the handlers that were there before install_signal_handlers."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous_handlers.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous_handlers.clear()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if the timeout passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def shutdown(self, grace_seconds: float) -> None:
        """Drain, then run every hook in order; a failing hook is logged and the rest still run."""
        self.begin_draining()
        started = time.monotonic()
        if not await self.wait_idle(grace_seconds):
            log.warning("shutdown grace period over with requests in flight", extra={"in_flight": self._in_flight})
        for name, hook in self._hooks:
            try:
                result = hook()
                if asyncio.iscoroutine(result):
                    await result
                log.debug("shutdown step done", extra={"step": name})
            except Exception:  # noqa: BLE001
                log.exception("shutdown step failed", extra={"step": name})
        self.stopped = True
        self.restore_signal_handlers()
        log.info("shutdown complete", extra={"seconds": round(time.monotonic() - started, 3)})
