"""Health registry: named checks, each required or optional, run concurrently for readiness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Check = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of one subsystem check."""

    name: str
    ok: bool
    required: bool
    latency_ms: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Readiness:
    """Outcome of all checks: ready unless a required one failed."""

    ready: bool
    checks: list[CheckResult]

    def as_dict(self) -> dict:
        """JSON-friendly form for /health/ready."""
        return {
            "status": "ready" if self.ready else "unavailable",
            "checks": {
                c.name: {"status": "up" if c.ok else "down", "required": c.required,
                         "latency_ms": round(c.latency_ms, 2), **({"detail": c.detail} if c.detail else {})}
                for c in self.checks
            },
        }


class HealthRegistry:
    """Subsystems register a check; readiness runs them all with a timeout each."""

    def __init__(self, timeout: float = 2.0) -> None:
        self._checks: dict[str, tuple[Check, bool]] = {}
        self._timeout = timeout

    def register(self, name: str, check: Check, *, required: bool = True) -> None:
        """Add or replace a check. A check fails by raising."""
        self._checks[name] = (check, required)

    async def _run(self, name: str, check: Check, required: bool) -> CheckResult:
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(check(), self._timeout)
            detail = result if isinstance(result, str) else ""
            return CheckResult(name, True, required, (time.perf_counter() - started) * 1000, detail)
        except TimeoutError:
            return CheckResult(name, False, required, (time.perf_counter() - started) * 1000, "timed out")
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            return CheckResult(name, False, required, (time.perf_counter() - started) * 1000,
                               f"{type(exc).__name__}: {exc}"[:300])

    async def readiness(self) -> Readiness:
        """Run every check concurrently."""
        results = await asyncio.gather(*(self._run(n, c, r) for n, (c, r) in self._checks.items()))
        return Readiness(ready=all(r.ok for r in results if r.required), checks=list(results))
