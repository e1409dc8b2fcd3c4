"""Batch writers run in a child process, fed in bulk: the request loop's GIL is never theirs.

Why a process: a write thread that calls SQLite releases the GIL around every statement and must
win it back from a request loop that is busy; under load each win waits for the loop's switch
interval (5 ms), so with a thousand active tenants (a transaction each per second) the writer fell
tens of seconds behind, and what it did get cost the loop. Here the gateway only appends to a
deque (no lock, no wake) and one feeder thread sends what accumulated every FEED_INTERVAL in one
frame; the child runs ordinary BatchWriters (per-tenant batches, retries, spill and replay) on its
own interpreter and core.

Frames are length-prefixed pickles over the child's stdin/stdout: both ends are this program, the
pipe is private to the two processes, nothing from outside is ever unpickled. A child that dies
is restarted (records it held are lost, as the process's own queue would be in a crash; its
spill files are replayed by the next child).
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from importlib import import_module
from typing import Any

from gateway_app.core.logging import get_logger

log = get_logger("core.writer_process")

FEED_INTERVAL = 0.1  # seconds between frames of records (the lag it adds is this, at most)
MAX_FRAME_ITEMS = 20_000
STATS_REUSE_SECONDS = 0.2
_HEADER = struct.Struct("!I")


def write_frame(stream, message: Any) -> None:
    """Send one message."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream) -> Any | None:
    """Receive one message; None when the other side closed the pipe."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)  # noqa: S301 - our own child/parent over a private pipe


class WriterProcess:
    """The parent's side: a queue of (writer, tenant, record), a feeder thread and the child."""

    def __init__(self, factory: str, config: dict, names: list[str], max_queue: int = 200_000,
                 warn_every: float = 10.0) -> None:
        self._factory = factory  # "module:function" building the child's BatchWriters from config
        self._config = config
        self._queue: deque = deque()
        self._max_queue = max_queue
        self._warn_every = warn_every
        self._last_drop_log = 0.0
        self._proc: subprocess.Popen | None = None
        self._send_lock = threading.Lock()
        self._wakeup = threading.Event()
        self._replies: dict[int, list] = {}
        self._reply_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._feeder: threading.Thread | None = None
        self._stopping = self._stopped = False
        self._last_stats: dict[str, dict] = {}
        self._stats_at = float("-inf")
        self.restarts = 0
        self.writers = {name: RemoteBatchWriter(name, self) for name in names}
        self.dropped = dict.fromkeys(names, 0)
        self.submitted = dict.fromkeys(names, 0)

    @property
    def pid(self) -> int | None:
        """The child's process id (None before start)."""
        return None if self._proc is None else self._proc.pid

    # -- the request path -------------------------------------------------------------------

    def submit(self, name: str, tenant: str, item) -> bool:
        """Queue a record for writer `name`; False when the queue is full (counted, logged now and then)."""
        if len(self._queue) >= self._max_queue or self._stopped:
            self.dropped[name] += 1
            now = time.monotonic()
            if now - self._last_drop_log >= self._warn_every:
                self._last_drop_log = now
                log.warning("writer process queue full, records dropped",
                            extra={"queue": name, "dropped_total": self.dropped[name]})
            return False
        self._queue.append((name, tenant, item, time.monotonic()))
        self.submitted[name] += 1
        return True

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the child and the feeder (idempotent)."""
        with self._send_lock:
            if self._feeder is not None:
                return
            self._spawn()
            self._feeder = threading.Thread(target=self._feed, name="writer-feed", daemon=True)
            self._feeder.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Send what is queued, then wait until the child wrote everything it holds."""
        deadline = time.monotonic() + timeout
        if not self._send_queued():
            return False
        reply = self._request("flush", max(0.1, deadline - time.monotonic()), wait=timeout)
        self._stats_at = float("-inf")  # what the child reports now differs
        return bool(reply)

    def stats(self) -> dict[str, dict]:
        """Counters per writer from the child (the last ones known if it does not answer quickly)."""
        # One round trip serves every writer of a readiness check (they ask one after another).
        if time.monotonic() - self._stats_at > STATS_REUSE_SECONDS:
            reply = self._request("stats", None, wait=2.0)
            if isinstance(reply, dict):
                self._last_stats, self._stats_at = reply, time.monotonic()
        queued: dict[str, int] = {}
        for name, *_ in list(self._queue):
            queued[name] = queued.get(name, 0) + 1
        out = {}
        for name in self.writers:
            stats = dict(self._last_stats.get(name, {}))
            stats["pending"] = stats.get("pending", 0) + queued.get(name, 0)
            stats["dropped"] = stats.get("dropped", 0) + self.dropped[name]
            stats["process_restarts"] = self.restarts
            out[name] = stats
        return out

    def stop(self, timeout: float = 10.0) -> None:
        """Send the rest, let the child write or spill it and exit (idempotent)."""
        if self._stopping:
            return
        self._stopping = True
        self._wakeup.set()
        if self._feeder is not None:
            self._feeder.join(timeout)
        self._send_queued()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                with self._send_lock:
                    write_frame(proc.stdin, ("stop", 0, timeout))
                    proc.stdin.close()
            except (OSError, ValueError):
                pass
            try:
                proc.wait(timeout + 5)
            except subprocess.TimeoutExpired:
                log.error("writer process did not stop in time; killed", extra={"pid": proc.pid})
                proc.kill()
                proc.wait(5)
        self._stopped = True
        lost = len(self._queue)
        if lost:
            log.error("records not handed to the writer process", extra={"items": lost})

    # -- internals --------------------------------------------------------------------------

    def _spawn(self) -> None:
        argv = [sys.executable, "-m", "gateway_app.core.writer_process", self._factory, json.dumps(self._config)]
        # stderr stays the parent's: the child's logs go where the gateway's go.
        # Its own session: a Ctrl+C meant for the gateway must not kill it before the final round.
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
                                      close_fds=True, env=os.environ.copy(), start_new_session=True)
        threading.Thread(target=self._read_replies, args=(self._proc,), name="writer-replies", daemon=True).start()

    def _alive(self) -> bool:
        """The child runs (restarted when it died, unless stopping)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            return True
        if self._stopping and proc is not None:
            return False
        code = None if proc is None else proc.returncode
        self.restarts += 1
        log.error("writer process exited; starting another", extra={"exit_code": code, "restarts": self.restarts})
        self._spawn()
        return True

    def _feed(self) -> None:
        while not self._stopping:
            self._wakeup.wait(FEED_INTERVAL)
            self._wakeup.clear()
            self._send_queued()

    def _send_queued(self) -> bool:
        """Move everything queued into frames; False when the child cannot be reached."""
        with self._send_lock:
            while self._queue:
                items = []
                try:
                    while len(items) < MAX_FRAME_ITEMS:
                        items.append(self._queue.popleft())
                except IndexError:
                    pass
                try:
                    if not self._alive():
                        self._queue.extendleft(reversed(items))
                        return False
                    write_frame(self._proc.stdin, ("records", 0, items))
                except (OSError, ValueError):
                    log.error("writer process unreachable; records kept for the next one",
                              extra={"items": len(items)})
                    self._queue.extendleft(reversed(items))
                    return False
        return True

    def _request(self, kind: str, argument, *, wait: float):
        request_id = next(self._ids)
        slot: list = [threading.Event(), None]
        with self._reply_lock:
            self._replies[request_id] = slot
        try:
            with self._send_lock:
                if self._proc is None or self._proc.poll() is not None:
                    return None
                write_frame(self._proc.stdin, (kind, request_id, argument))
            slot[0].wait(wait)
            return slot[1]
        except (OSError, ValueError):
            return None
        finally:
            with self._reply_lock:
                self._replies.pop(request_id, None)

    def _read_replies(self, proc: subprocess.Popen) -> None:
        while True:
            try:
                message = read_frame(proc.stdout)
            except (OSError, ValueError, pickle.UnpicklingError, EOFError):
                message = None
            if message is None:
                return
            _kind, request_id, value = message
            with self._reply_lock:
                slot = self._replies.get(request_id)
            if slot is not None:
                slot[1] = value
                slot[0].set()


class RemoteBatchWriter:
    """One of the child's writers, as the rest of the gateway sees a BatchWriter."""

    def __init__(self, name: str, process: WriterProcess) -> None:
        self.name = name
        self._process = process

    def bind(self, **_ignored) -> None:
        """The child binds its own spill directory and threads."""

    def start(self) -> None:
        self._process.start()

    def submit(self, tenant: str, item) -> bool:
        return self._process.submit(self.name, tenant, item)

    def flush(self, timeout: float = 10.0) -> bool:
        return self._process.flush(timeout)

    def stats(self) -> dict[str, int]:
        return self._process.stats()[self.name]

    @property
    def pending(self) -> int:
        return self.stats()["pending"]

    def stop(self, timeout: float = 10.0) -> None:
        self._process.stop(timeout)


def _child(factory: str, config: dict) -> int:
    """The child's loop: records in, replies to flush and stats, stop on request or end of input."""
    # Stopped by its parent (a stop frame, or end of input when the parent is gone), never by a
    # signal meant for the gateway: what it holds is written or spilled first.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    module, _, function = factory.partition(":")
    build: Callable[[dict], Any] = getattr(import_module(module), function)
    registry = build(config)  # a TaskRegistry with the writers started
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    stop_timeout = 10.0
    while True:
        message = read_frame(source)
        if message is None:
            break  # the parent is gone: write what is held and end
        kind, request_id, argument = message
        if kind == "records":
            for name, tenant, item, queued_at in argument:
                registry.get(name).submit(tenant, item, queued_at=queued_at)
        elif kind == "flush":
            write_frame(sink, ("reply", request_id, registry.flush_all(argument)))
        elif kind == "stats":
            write_frame(sink, ("reply", request_id, registry.stats()))
        elif kind == "stop":
            stop_timeout = argument
            break
    registry.stop_all(stop_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], json.loads(sys.argv[2])))
