"""Batch writers run in a child process, fed in bulk: the request loop's GIL is never theirs.

Why a process: a write thread that calls SQLite releases the GIL around every statement and must
win it back from a request loop that is busy; under load each win waits for the loop's switch
interval (5 ms), so with a thousand active tenants (a transaction each per second) the writer fell
tens of seconds behind, and what it did get cost the loop. Here the gateway only appends to a
deque (no lock, no wake) and one feeder thread sends what accumulated every FEED_INTERVAL in one
frame; the child runs ordinary BatchWriters (per-tenant batches, retries, spill and replay) on its
own interpreter and core.

Frames travel as core/writer_channels.py says: over the child's stdin/stdout, or, with
`serve-api --workers N`, over a Unix socket to the one child the master started for the host
(every worker connects; only the master's pipe stops it). A child that dies is restarted (records
it held are lost, as the process's own queue would be in a crash; its spill files are replayed
by the next child); a worker whose connection broke connects again.
"""

from __future__ import annotations

import itertools
import json
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from importlib import import_module
from typing import Any

from gateway_app.core.logging import get_logger
from gateway_app.core.writer_channels import (CONNECT_WAIT_SECONDS, Channel, ChildChannel, SocketChannel, read_frame,
                                             serve_feeders, write_frame)

log = get_logger("core.writer_process")

FEED_INTERVAL = 0.1  # seconds between frames of records (the lag it adds is this, at most)
MAX_FRAME_ITEMS = 20_000
STATS_REUSE_SECONDS = 0.2
_SUBMIT_LOCK = threading.Lock()  # feeders' threads in a shared child: counters are not atomic


class WriterProcess:
    """The parent's side: a queue of (writer, tenant, record), a feeder thread and the child."""

    def __init__(self, factory: str, config: dict, names: list[str], max_queue: int = 200_000,
                 warn_every: float = 10.0, *, listen: str | None = None, connect: str | None = None) -> None:
        self._factory = factory  # "module:function" building the child's BatchWriters from config
        self._config = config
        # listen: the child also serves other processes on this Unix socket (a master's, for its
        # workers); connect: no child of our own, feed the one listening there (a worker).
        self._listen = listen
        self._connect_to = connect
        self._queue: deque = deque()
        self._max_queue = max_queue
        self._warn_every = warn_every
        self._last_drop_log = 0.0
        self._channel: Channel | None = None
        self._send_lock = threading.Lock()
        self._wakeup = threading.Event()
        self._replies: dict[int, list] = {}
        self._reply_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._feeder: threading.Thread | None = None
        self._stopping = self._stopped = False
        self._last_stats: dict[str, dict] = {}
        self._stats_at = float("-inf")
        self.restarts = 0  # times the writer was started again or reached again
        self._unreachable = False  # logged once per outage, not every round
        self.writers = {name: RemoteBatchWriter(name, self) for name in names}
        self.dropped = dict.fromkeys(names, 0)
        self.submitted = dict.fromkeys(names, 0)

    @property
    def pid(self) -> int | None:
        """The writing process's id (None before start)."""
        return None if self._channel is None else self._channel.pid

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
            self._open(CONNECT_WAIT_SECONDS)  # a worker may start before its master's writer listens
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
        """Send the rest, let the child write or spill it and exit (idempotent).

        Feeding another process's writer, stopping waits until it wrote what this one sent (the
        shared writer itself stops with the process that started it).
        """
        if self._stopping:
            return
        deadline = time.monotonic() + timeout
        self._stopping = True
        self._wakeup.set()
        if self._feeder is not None:
            self._feeder.join(timeout)
        if self._connect_to is None:
            self._send_queued()
        else:
            # A worker whose host writer is being restarted waits for it (up to the timeout) rather
            # than dropping what it holds: workers stop on their own (replaced, rolling restarts).
            while not self._send_queued(wait=max(0.0, deadline - time.monotonic())) and time.monotonic() < deadline:
                pass
        channel = self._channel
        if self._connect_to is not None:
            if channel is not None and channel.alive():
                self._request("flush", timeout, wait=max(0.1, deadline - time.monotonic()) + 1)
                channel.close()
        elif channel is not None and channel.alive():
            try:
                with self._send_lock:
                    channel.send(("stop", 0, timeout))
            except (OSError, ValueError):
                pass
            channel.finish(timeout + 5)
        self._stopped = True
        lost = len(self._queue)
        if lost:
            log.error("records not handed to the writer process", extra={"items": lost})

    # -- internals --------------------------------------------------------------------------

    def _open(self, wait: float = 0.0) -> None:
        if self._connect_to is not None:
            self._channel = SocketChannel.connect(self._connect_to, wait=wait)
        else:
            argv = [sys.executable, "-m", "gateway_app.core.writer_process", self._factory, json.dumps(self._config)]
            if self._listen is not None:
                argv.append(self._listen)
            self._channel = ChildChannel.spawn(argv)
        threading.Thread(target=self._read_replies, args=(self._channel,), name="writer-replies", daemon=True).start()

    def _alive(self, wait: float = 0.0) -> bool:
        """The writer is reachable: a dead child restarted (unless stopping), a lost connection made again.

        A worker tries one connection per round (`wait` 0): the send lock is held meanwhile, and
        readiness and flushes need it. Only a stopping worker waits for its host's writer.
        """
        channel = self._channel
        if channel is not None and channel.alive():
            return True
        if self._stopping and channel is not None and self._connect_to is None:
            return False
        if not self._unreachable:
            log.error("writer process gone; starting or reaching another",
                      extra={"exit_code": None if channel is None else channel.exit_code(), "restarts": self.restarts})
        try:
            self._open(wait)
        except OSError as exc:  # the shared writer is being restarted by its master: next round
            if not self._unreachable:
                log.warning("writer process not reachable yet", extra={"error": repr(exc)})
            self._unreachable = True
            return False
        self._unreachable = False
        self.restarts += 1
        return True

    def watch(self, interval: float = 1.0) -> None:
        """Restart the child whenever it dies, until stopped (a listening writer has no feed to notice)."""
        def loop() -> None:
            while not self._stopping:
                time.sleep(interval)
                with self._send_lock:
                    if not self._stopping:
                        self._alive()

        threading.Thread(target=loop, name="writer-watch", daemon=True).start()

    def _feed(self) -> None:
        while not self._stopping:
            self._wakeup.wait(FEED_INTERVAL)
            self._wakeup.clear()
            self._send_queued()

    def _send_queued(self, wait: float = 0.0) -> bool:
        """Move everything queued into frames; False when the child cannot be reached (within `wait`)."""
        with self._send_lock:
            while self._queue:
                items = []
                try:
                    while len(items) < MAX_FRAME_ITEMS:
                        items.append(self._queue.popleft())
                except IndexError:
                    pass
                try:
                    if not self._alive(wait):
                        self._queue.extendleft(reversed(items))
                        return False
                    self._channel.send(("records", 0, items))
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
            # Bounded: the feeder may be sending a large frame; a stats reader then uses the last figures.
            if not self._send_lock.acquire(timeout=wait):
                return None
            try:
                if self._channel is None or not self._channel.alive():
                    return None
                self._channel.send((kind, request_id, argument))
            finally:
                self._send_lock.release()
            slot[0].wait(wait)
            return slot[1]
        except (OSError, ValueError):
            return None
        finally:
            with self._reply_lock:
                self._replies.pop(request_id, None)

    def _read_replies(self, channel: Channel) -> None:
        while True:
            try:
                message = read_frame(channel.replies)
            except (OSError, ValueError, pickle.UnpicklingError, EOFError):
                message = None
            if message is None:
                channel.lost()
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


def _child(factory: str, config: dict, listen: str | None = None) -> int:
    """The child's loop: records in, replies to flush and stats, stop on request or end of input.

    With `listen`, other processes (a master's workers) feed it too, each over a connection of its
    own with the same frames; only its parent's pipe can stop it.
    """
    # Stopped by its parent (a stop frame, or end of input when the parent is gone), never by a
    # signal meant for the gateway: what it holds is written or spilled first.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    module, _, function = factory.partition(":")
    build: Callable[[dict], Any] = getattr(import_module(module), function)
    registry = build(config)  # a TaskRegistry with the writers started
    server = serve_feeders(listen, registry, _answer) if listen else None
    stop_timeout = 10.0
    try:
        stop_timeout = _answer(sys.stdin.buffer, sys.stdout.buffer, registry, may_stop=True)
    finally:
        if server is not None:
            server.close()
        registry.stop_all(stop_timeout)
    return 0


def _answer(source, sink, registry, *, may_stop: bool) -> float:
    """Handle frames from one feeder until it stops us or goes away; the stop timeout asked for."""
    while True:
        message = read_frame(source)
        if message is None:
            return 10.0  # the feeder is gone (a parent: write what is held and end)
        kind, request_id, argument = message
        if kind == "records":
            with _SUBMIT_LOCK:
                for name, tenant, item, queued_at in argument:
                    registry.get(name).submit(tenant, item, queued_at=queued_at)
        elif kind == "flush":
            write_frame(sink, ("reply", request_id, registry.flush_all(argument)))
        elif kind == "stats":
            write_frame(sink, ("reply", request_id, registry.stats()))
        elif kind == "stop" and may_stop:
            return argument


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))
