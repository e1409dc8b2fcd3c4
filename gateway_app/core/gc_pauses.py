"""How long the garbage collector stops the process, per generation (gc.callbacks).

A full (generation 2) collection walks every tracked object that start-up did not freeze: with many
tenants' cached identities, catalogues and clients that is the longest stall the event loop sees,
so it is measured where it happens and shown in /health/ready.
"""

from __future__ import annotations

import gc
import time
from collections import deque


class GcPauses:
    """Collects the duration of each collection, kept per generation (the last 1,024 of each)."""

    def __init__(self) -> None:
        self._started = 0.0
        self._pauses = [deque(maxlen=1024) for _ in range(3)]
        self.counts = [0, 0, 0]
        self._installed = False

    def install(self) -> None:
        """Start measuring (idempotent)."""
        if not self._installed:
            gc.callbacks.append(self._callback)
            self._installed = True

    def uninstall(self) -> None:
        """Stop measuring."""
        if self._installed:
            gc.callbacks.remove(self._callback)
            self._installed = False

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info.get("generation", 0)
        self._pauses[generation].append(time.perf_counter() - self._started)
        self.counts[generation] += 1

    def stats(self) -> dict[str, dict[str, float]]:
        """Per generation: collections so far, and the p99 and longest pause (ms) among the recent ones."""
        out = {}
        for generation, pauses in enumerate(self._pauses):
            ordered = sorted(pauses)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
            out[f"gen{generation}"] = {"collections": self.counts[generation], "p99_ms": round(p99 * 1000, 2),
                                       "max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 2)}
        return out
