"""How records reach a writer process: length-prefixed pickle frames over a child's pipes, or
over a Unix socket to the one writer a master started for its workers.

Both ends are this program. The pipe is private to the two processes; the socket lives in an
owner-only (0700) directory and is itself 0600, so only processes of the same user (who could
read the tenant files anyway) can connect: nothing from anyone else is ever unpickled.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import struct
import subprocess
import threading
import time
from typing import Any

from gateway_app.core.logging import get_logger

log = get_logger("core.writer_process")

CONNECT_WAIT_SECONDS = 10.0  # a worker waits this long for its master's writer to listen
_HEADER = struct.Struct("!I")


def write_frame(stream, message: Any) -> None:
    """Send one message, all of it (an unbuffered stream may take part of a frame: the rest goes after)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = stream.write(view)
        if not written:
            raise OSError("the writer's stream took nothing")
        view = view[written:]
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


class Channel:
    """Where frames go and replies come from: a child's pipes, or a connection to a shared writer."""

    replies: Any
    pid: int | None

    def send(self, message: Any) -> None:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def lost(self) -> None:
        """The replies ended (the other side is gone)."""

    def exit_code(self) -> int | None:
        return None

    def close(self) -> None:
        """Let go of the other side."""

    def finish(self, timeout: float) -> None:
        """Wait for the other side to end (killed past the timeout)."""


class ChildChannel(Channel):
    """Our own child, over its stdin and stdout."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self._proc = proc
        self.replies = proc.stdout
        self.pid = proc.pid

    @classmethod
    def spawn(cls, argv: list[str]) -> ChildChannel:
        # stderr stays the parent's: the child's logs go where the gateway's go.
        # Its own session: a Ctrl+C meant for the gateway must not kill it before the final round.
        return cls(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
                                    close_fds=True, env=os.environ.copy(), start_new_session=True))

    def send(self, message: Any) -> None:
        write_frame(self._proc.stdin, message)

    def alive(self) -> bool:
        return self._proc.poll() is None

    def exit_code(self) -> int | None:
        return self._proc.returncode

    def finish(self, timeout: float) -> None:
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("writer process did not stop in time; killed", extra={"pid": self._proc.pid})
            self._proc.kill()
            self._proc.wait(5)


class SocketChannel(Channel):
    """A connection to the writer another process started (Unix socket, owner-only directory)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._out = sock.makefile("wb", buffering=0)
        self.replies = sock.makefile("rb")
        self._open = True
        try:  # the peer's pid, as the kernel knows it (for stats and tests)
            self.pid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                           struct.calcsize("3i")))[0]
        except (OSError, AttributeError):
            self.pid = None

    @classmethod
    def connect(cls, path: str, wait: float = CONNECT_WAIT_SECONDS) -> SocketChannel:
        deadline = time.monotonic() + wait
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                return cls(sock)
            except OSError:
                sock.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)  # the master's child is still starting (or restarting)

    def send(self, message: Any) -> None:
        try:
            write_frame(self._out, message)
        except OSError:
            self._open = False
            raise

    def alive(self) -> bool:
        return self._open

    def lost(self) -> None:
        self._open = False

    def close(self) -> None:
        self._open = False
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # ends the replies thread's read (it holds the reader)
        for item in (self._out, self.replies, self._sock):
            try:
                item.close()
            except OSError:
                pass


def serve_feeders(path: str, registry, answer) -> socket.socket:
    """Accept feeders on a Unix socket, a thread each (their frames are pickles: owner-only socket)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by a child that died
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o600)
    server.listen(64)

    def feeder(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as source, conn.makefile("wb", buffering=0) as sink:
            try:
                answer(source, sink, registry, may_stop=False)
            except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
                log.warning("writer feeder connection ended", extra={"error": repr(exc)})

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed: stopping
            threading.Thread(target=feeder, args=(conn,), name="writer-feeder", daemon=True).start()

    threading.Thread(target=accept, name="writer-accept", daemon=True).start()
    return server
