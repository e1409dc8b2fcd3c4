"""The batch writer: one mechanism for everything written off the request path (usage, traces, verdicts, last-used).

Requests only enqueue `(tenant, record)` (put_nowait, no waiting). A collector thread groups the
queue per tenant and hands each tenant's batch to a small shared pool of write threads, one batch
per tenant at a time (so order per tenant is kept). A tenant's batch goes when it is full or when
its oldest record has waited `interval` seconds, each tenant on its own clock: with a thousand
tenants a round for all of them every interval wrote many one-record batches in one burst, while
a batch that waits for its oldest record's deadline holds everything that came meanwhile. A
tenant whose last batch failed is retried on the retry lane when there is one (a pool of its
own), so a locked database waits there and holds back no healthy tenant. A failed batch is classified by what the sink raised:

- `DropBatch` (the tenant is gone): counted as dropped.
- `Unavailable` / `OSError` (locked, busy, unreachable): retried with back-off for `retry_for`
  seconds, then appended to this process's spill file under DATA_DIR/spill, replayed at start.
- anything else (a record the database refuses): the batch is split in halves until the bad
  record is alone; it goes to `spill/rejected/<writer>.jsonl` and the rest is written.

Stopping makes one last attempt for every tenant and spills what still fails: nothing queued
is lost on a clean shutdown.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from gateway_app.core.errors import Unavailable
from gateway_app.core.logging import get_logger
from gateway_app.core.spill import ClaimedSpill, RecordCodec, SpillFile, claim_orphans, write_rejected

log = get_logger("tasks")
T = TypeVar("T")
Sink = Callable[[str, list], None]  # (tenant, records) -> None; one tenant, one transaction
TRANSIENT = (Unavailable, OSError)


class DropBatch(Exception):
    """Raised by a sink when these records can never be written (their tenant no longer exists)."""


@dataclass(slots=True)
class _TenantQueue:
    items: list = field(default_factory=list)
    times: list = field(default_factory=list)  # when each item was queued (monotonic), aligned with items
    in_flight: bool = False
    in_flight_count: int = 0  # records of the batch being written
    attempts: int = 0
    failing_since: float | None = None
    next_attempt: float = 0.0


class BatchWriter(Generic[T]):
    """A bounded queue, grouped per tenant, written in batches off the caller's thread."""

    def __init__(self, name: str, sink: Sink, *, codec: RecordCodec | None = None, max_queue: int = 100_000,
                 batch_size: int = 500, interval: float = 0.5, retry_for: float = 120.0,
                 max_backlog: int = 50_000, warn_every: float = 10.0) -> None:
        self.name = name
        self._sink = sink
        self._codec = codec
        # A plain deque: append and popleft are atomic, so the hot path pays no lock and wakes no thread.
        self._queue: deque = deque()
        self._max_queue = max_queue
        self._wakeup = threading.Event()
        self._batch_size = batch_size
        self._interval = interval
        self._retry_for = retry_for
        self._max_backlog = max_backlog
        self._warn_every = warn_every
        self._spill_dir: Path | None = None
        self._spill: SpillFile | None = None
        self._spill_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._retry_pool: ThreadPoolExecutor | None = None
        self._own_pool = False
        self._lock = threading.Condition()
        self._tenants: dict[str, _TenantQueue] = {}  # tenants holding records, writing them, or failing
        # So that a wake costs what is due, not a pass over every tenant: tenants holding a full
        # batch, and failing tenants by their next attempt (neither includes one in flight).
        self._full: set[str] = set()
        self._backoff: dict[str, float] = {}
        self._due: list[tuple[float, str]] = []  # heap of (due, tenant); stale entries are skipped on pop
        # The collector also wakes this often to group the queue (it learns a tenant's due only then),
        # and a wake takes every batch falling due within `_slack` with it: a wake per tenant batch
        # (a thousand a second) cost more than the batches it saved.
        self._tick = min(0.25, interval / 4)
        self._slack = min(0.05, interval / 10)
        self._replays: list[ClaimedSpill] = []
        self._flush_waiters: list[threading.Event] = []
        self._lags: deque[float] = deque(maxlen=4096)  # seconds, per written batch (its oldest record)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_drop_log = 0.0
        self._drops_unlogged = 0
        self.submitted = self.written = self.dropped = self.retried = self.spilled = self.replayed = 0
        self.rejected = 0
        self.batches = 0
        self.cpu_seconds = 0.0

    # -- wiring -------------------------------------------------------------------------------

    def bind(self, *, spill_dir: Path | None = None, pool: ThreadPoolExecutor | None = None,
             retry_pool: ThreadPoolExecutor | None = None) -> None:
        """Where to spill, which write threads to use and where failing tenants retry (set by the registry)."""
        self._spill_dir = spill_dir
        self._pool = pool
        self._retry_pool = retry_pool

    def start(self) -> None:
        """Start the collector thread (idempotent); orphaned spill files are replayed first."""
        if self._thread is not None and self._thread.is_alive():
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"batch-{self.name}")
            self._own_pool = True
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"batch-{self.name}", daemon=True)
        self._thread.start()

    # -- the caller's side --------------------------------------------------------------------

    def submit(self, tenant: str, item: T, queued_at: float | None = None) -> bool:
        """Queue a record without waiting; False (counted, logged now and then) when the queue is full.

        `queued_at` (time.monotonic(), the same clock in every process) is when the record was
        first queued, for a record handed over by another process's queue.
        """
        if len(self._queue) >= self._max_queue:
            self.dropped += 1
            self._drops_unlogged += 1
            now = time.monotonic()
            if now - self._last_drop_log >= self._warn_every:
                log.warning("queue full, items dropped",
                            extra={"queue": self.name, "dropped": self._drops_unlogged, "dropped_total": self.dropped})
                self._last_drop_log = now
                self._drops_unlogged = 0
            return False
        self._queue.append((tenant, item, time.monotonic() if queued_at is None else queued_at))
        self.submitted += 1
        if len(self._queue) % self._batch_size == 0:  # a batch's worth waiting: worth a wake before the interval
            self._wakeup.set()
        return True

    @property
    def pending(self) -> int:
        """Records queued or waiting for their tenant's batch (in flight included)."""
        with self._lock:
            held = sum(len(t.items) + t.in_flight_count for t in self._tenants.values())
        return len(self._queue) + held

    def stats(self) -> dict[str, int]:
        """Counters for readiness details and metrics."""
        with self._lock:
            failing = sum(1 for t in self._tenants.values() if t.failing_since is not None)
            tenants = len(self._tenants)
            lags = sorted(self._lags)
        lag_p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000 if lags else 0.0
        return {"pending": self.pending, "written": self.written, "retried": self.retried, "spilled": self.spilled,
                "dropped": self.dropped, "rejected": self.rejected, "replayed": self.replayed,
                "failing_tenants": failing, "tenants": tenants, "lag_ms_p99": round(lag_p99, 1), "batches": self.batches,
                "cpu_ms": round(self.cpu_seconds * 1000, 1),
                "lag_ms_max": round(lags[-1] * 1000, 1) if lags else 0.0}

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything queued so far is written; False on timeout (e.g. a tenant keeps failing)."""
        if self._thread is None or not self._thread.is_alive():
            self._write_inline()
            return True
        done = threading.Event()
        with self._lock:
            self._flush_waiters.append(done)
        self._wake()
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """One last attempt for everything held, spill what fails, end the threads."""
        if self._thread is not None and self._thread.is_alive():
            self._stopping = True
            self._wakeup.set()
            self._thread.join(timeout)
        self._write_inline()  # whatever arrived after the collector ended
        if self._own_pool and self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool, self._own_pool = None, False
        with self._spill_lock:
            if self._spill is not None:
                self._spill.close()
                self._spill = None
        log.info("batch writer stopped", extra={"queue": self.name, **self.stats()})

    # -- the collector thread -----------------------------------------------------------------

    def _wake(self) -> None:
        self._wakeup.set()

    def _drain(self) -> None:
        """Move everything queued into the tenants' batches."""
        while True:
            try:
                self._take(self._queue.popleft())
            except IndexError:
                return

    def _run(self) -> None:
        self._replay_orphans()
        while True:
            # Woken by a due batch, a due retry, a flush, a finished batch or stop: not per record.
            self._wakeup.wait(max(0.0, self._next_wake() - time.monotonic()))
            self._wakeup.clear()
            self._drain()
            now = time.monotonic()
            with self._lock:
                flushing = bool(self._flush_waiters)
            if self._stopping:
                self._final_round()
                return
            self._dispatch(now, all_due=flushing)
            self._settle_idle()

    def _next_wake(self) -> float:
        """The earliest of: a held batch due, the oldest queued record due, a retry due, the next tick."""
        now = time.monotonic()
        wake = now + self._tick
        try:
            wake = min(wake, self._queue[0][2] + self._interval)
        except IndexError:
            pass
        with self._lock:
            if self._due:
                wake = min(wake, self._due[0][0])
            return min(wake, min(self._backoff.values(), default=wake))

    def _hold(self, tenant: str, state: _TenantQueue, records: list, times: list[float]) -> None:
        """Add records to a tenant's batch (under the lock); the first one held sets when it is due."""
        if not state.items:
            heapq.heappush(self._due, (times[0] + self._interval, tenant))
        state.items.extend(records)
        state.times.extend(times)
        if len(state.items) >= self._batch_size:
            self._full.add(tenant)

    def _take(self, item) -> None:
        """Put one queue entry where it belongs."""
        tenant, record, queued_at = item
        with self._lock:
            state = self._tenants.get(tenant)
            if state is None:
                state = self._tenants[tenant] = _TenantQueue()
            self._hold(tenant, state, [record], [queued_at])

    def _dispatch(self, now: float, *, all_due: bool, final: bool = False) -> None:
        """Hand due tenant batches to the write threads: full ones, due ones, retries past their back-off, or all."""
        with self._lock:
            due_now = []  # popped in every case: a flush that leaves them would wake the collector at once, again
            while self._due and self._due[0][0] <= now + self._slack:
                due_now.append(heapq.heappop(self._due)[1])  # stale entries fall through below
            if all_due or final:  # a flush or the stop: every tenant (and forget the ones with nothing)
                candidates = list(self._tenants)
            else:
                candidates = [*self._full, *(t for t, at in self._backoff.items() if at <= now), *due_now]
            for tenant in candidates:
                state = self._tenants.get(tenant)
                if state is None or state.in_flight:
                    continue
                failing = state.failing_since is not None
                if not state.items:
                    if failing:
                        self._backoff.pop(tenant, None)  # nothing to retry (spilled): no deadline to wake for
                    else:
                        del self._tenants[tenant]
                        self._full.discard(tenant)
                    continue
                if failing and state.next_attempt > now and not final:
                    continue
                due = bool(state.times) and state.times[0] + self._interval <= now + self._slack
                if not (final or failing or all_due or due or len(state.items) >= self._batch_size):
                    continue
                batch = state.items[:self._batch_size]
                del state.items[:self._batch_size]
                oldest = state.times[0] if state.times else now
                del state.times[:self._batch_size]
                state.in_flight, state.in_flight_count = True, len(batch)
                self._backoff.pop(tenant, None)
                if len(state.items) < self._batch_size:
                    self._full.discard(tenant)
                lane = self._retry_pool if failing and self._retry_pool is not None else self._pool
                assert lane is not None
                lane.submit(self._run_batch, tenant, batch, final, oldest)

    def _final_round(self) -> None:
        """Stopping: drain, dispatch everything (back-off ignored) until nothing is held."""
        while True:
            self._drain()
            self._dispatch(time.monotonic(), all_due=True, final=True)
            with self._lock:
                while any(t.in_flight for t in self._tenants.values()):
                    self._lock.wait(0.5)
                if not any(t.items for t in self._tenants.values()) and not self._queue:
                    break
        self._settle_idle(force=True)

    def _settle_idle(self, force: bool = False) -> None:
        """Release flush waiters and finished replays once nothing is queued, held or in flight."""
        with self._lock:
            if not (force or self._flush_waiters or self._replays):
                return  # nobody waits: skip the pass over the tenants
            idle = not self._queue and not any(t.items or t.in_flight for t in self._tenants.values())
            if not idle and not force:
                return
            waiters, self._flush_waiters = self._flush_waiters, []
            replays, self._replays = self._replays, []
        for claimed in replays:
            if idle:
                claimed.done()  # its records are written or spilled again
            else:
                claimed.release()
        for event in waiters:
            event.set()

    # -- the write threads --------------------------------------------------------------------

    def _run_batch(self, tenant: str, batch: list, final: bool, oldest: float) -> None:
        cpu_started = time.thread_time()
        try:
            retry, error = self._write(tenant, batch)
        except BaseException as exc:  # noqa: BLE001 - never lose a batch to a bug in the bookkeeping
            retry, error = batch, exc
        self.cpu_seconds += time.thread_time() - cpu_started  # what writing costs, GIL-free parts included
        spill: list = []
        now = time.monotonic()
        with self._lock:
            state = self._tenants[tenant]
            if retry:
                state.attempts += 1
                state.failing_since = state.failing_since or now
                if final or self._stopping or now - state.failing_since >= self._retry_for:
                    spill = retry
                    state.attempts, state.failing_since = 0, None
                else:
                    self.retried += len(retry)
                    state.items[:0] = retry
                    state.times[:0] = [oldest] * len(retry)
                    state.next_attempt = now + min(10.0, 0.25 * 2 ** state.attempts) * random.uniform(0.8, 1.2)
                    if len(state.items) > self._max_backlog:  # a long outage: keep memory bounded
                        spill, state.items, state.times = state.items, [], []
                    self._backoff[tenant] = state.next_attempt
            else:
                state.attempts, state.failing_since, state.next_attempt = 0, None, 0.0
                self.batches += 1
                # Queue-to-commit time of the batch's oldest record: what "row visible after" means.
                self._lags.append(now - oldest)
        if retry:
            log.warning("batch write failed", extra={"queue": self.name, "tenant": tenant, "items": len(retry),
                                                     "error": f"{type(error).__name__}: {error}"[:300],
                                                     "spilled": len(spill)})
        if spill:
            self._spill_items(tenant, spill, f"{type(error).__name__}: {error}")
        with self._lock:
            # Only now: a stop waiting for in-flight batches must also wait for their spill.
            state.in_flight, state.in_flight_count = False, 0
            self._lock.notify_all()
            overdue = False
            if state.failing_since is None:
                if state.items:  # what came while this batch was written: due by its own oldest record
                    due = state.times[0] + self._interval
                    heapq.heappush(self._due, (due, tenant))
                    overdue = due <= now
                elif self._tenants.get(tenant) is state:
                    del self._tenants[tenant]  # nothing held: forget the tenant until its next record
                    self._full.discard(tenant)
            # The collector needs waking only for what cannot wait for its next wake: a new
            # back-off deadline, another full or overdue batch, or a flush waiting for this one.
            wake = bool(retry) or overdue or tenant in self._full or bool(self._flush_waiters)
        if wake:
            self._wake()

    def _write(self, tenant: str, batch: list) -> tuple[list, BaseException | None]:
        """Write a batch; returns the records to retry (transient failure) and the error."""
        try:
            self._sink(tenant, batch)
        except DropBatch as exc:
            self._count("dropped", len(batch))
            log.warning("records dropped", extra={"queue": self.name, "tenant": tenant, "items": len(batch),
                                                  "reason": str(exc)})
            return [], None
        except TRANSIENT as exc:
            return batch, exc
        except Exception as exc:  # noqa: BLE001 - a record the store refuses: find it, keep the rest
            if len(batch) == 1:
                self._reject(tenant, batch, exc)
                return [], None
            middle = len(batch) // 2
            for index, half in enumerate((batch[:middle], batch[middle:])):
                retry, error = self._write(tenant, half)
                if retry:
                    return retry + (batch[middle:] if index == 0 else []), error
            return [], None
        self._count("written", len(batch))
        return [], None

    def _count(self, counter: str, amount: int) -> None:
        with self._lock:  # write threads update counters concurrently
            setattr(self, counter, getattr(self, counter) + amount)

    def _reject(self, tenant: str, batch: list, error: BaseException) -> None:
        self._count("rejected", len(batch))
        log.error("record refused by the store, kept aside", extra={
            "queue": self.name, "tenant": tenant, "error": f"{type(error).__name__}: {error}"[:300]})
        if self._spill_dir is None or self._codec is None:
            return
        try:
            with self._spill_lock:
                write_rejected(self._spill_dir, self.name, tenant, [self._codec.encode(r) for r in batch], str(error))
        except (TypeError, ValueError, OSError):
            log.exception("could not keep the refused record", extra={"queue": self.name})

    def _spill_items(self, tenant: str, items: list, reason: str) -> None:
        if self._spill_dir is None or self._codec is None:
            self._count("dropped", len(items))
            log.error("records lost: no spill directory", extra={"queue": self.name, "tenant": tenant,
                                                                 "items": len(items)})
            return
        encoded, bad = [], 0
        for record in items:
            try:
                encoded.append(self._codec.encode(record))
            except (TypeError, ValueError):
                bad += 1
        try:
            with self._spill_lock:
                if self._spill is None:
                    self._spill = SpillFile(self._spill_dir, self.name)
                self._spill.append(tenant, encoded, reason)
            self._count("spilled", len(encoded))
            self._count("dropped", bad)
        except OSError:
            self._count("dropped", len(items))
            log.exception("records lost: spill failed", extra={"queue": self.name, "tenant": tenant})

    # -- replay and inline writing ------------------------------------------------------------

    def _replay_orphans(self) -> None:
        if self._spill_dir is None or self._codec is None:
            return
        for claimed in claim_orphans(self._spill_dir, self.name):
            count = 0
            for tenant, encoded in claimed.entries():
                records = []
                for data in encoded:
                    try:
                        records.append(self._codec.decode(data))
                    except (KeyError, TypeError, ValueError):
                        self.rejected += 1
                if not records:
                    continue
                with self._lock:
                    state = self._tenants.setdefault(tenant, _TenantQueue())
                    self._hold(tenant, state, records, [time.monotonic()] * len(records))
                count += len(records)
            self.replayed += count
            self._replays.append(claimed)
            log.info("replaying spilled records", extra={"queue": self.name, "file": claimed.path.name,
                                                         "items": count})

    def _write_inline(self) -> None:
        """Write everything queued or held in the caller's thread (no collector running)."""
        self._drain()
        with self._lock:
            held = [(tenant, state.items) for tenant, state in self._tenants.items() if state.items]
            for state in self._tenants.values():
                state.items, state.times = [], []
            self._due.clear()  # nothing is held now: every entry is stale
            self._full.clear()
        for tenant, items in held:
            for start in range(0, len(items), self._batch_size):
                retry, error = self._write(tenant, items[start:start + self._batch_size])
                if retry:
                    self._spill_items(tenant, retry, f"{type(error).__name__}: {error}")
