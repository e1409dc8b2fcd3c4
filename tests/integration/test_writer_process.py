"""The writer process: usage and last-used records written by a child process, across its failures."""

import os
import signal
import time
from datetime import UTC, datetime

import pytest

from gateway_app.core.config import load_settings
from gateway_app.db.records import ApiTokenRecord, TenantRecord, UsageRecord
from gateway_app.db.sqlite.store import SqliteStore
from gateway_app.services.append_process import SOCKET_ENV, start_append_process, start_shared_append_process
from gateway_app.services.append_writers import TokenTouch


@pytest.fixture
def setup(tmp_path):
    store = SqliteStore(tmp_path)
    store.migrate()
    tokens = {}
    for slug in ("acme", "globex"):
        with store.control() as uow:
            uow.tenants.add(TenantRecord(slug=slug, name=slug))
            uow.commit()
        store.create_tenant_store(slug)
        with store.tenant(slug) as uow:
            tokens[slug] = uow.api_tokens.add(ApiTokenRecord(name="t", token_hash=slug[0] * 64, prefix="gh")).id
            uow.commit()
    settings = load_settings(env="test", data_dir=tmp_path, admin_email="a@x.io", admin_password="pw-for-tests-1",
                             log_format="pretty")
    process = start_append_process(settings)
    yield store, process, tokens
    process.stop(timeout=5)
    store.close()


def _running(pid):
    """The process exists and is not a zombie (a killed one has closed its sockets)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _usage(store, slug):
    with store.tenant(slug) as uow:
        return sorted(r.request_id for r in uow.usage.recent(limit=1000))


def test_records_reach_each_tenant_from_another_process(setup):
    store, process, tokens = setup
    usage, touches = process.writers["usage"], process.writers["token-last-used"]
    assert process.pid not in (None, os.getpid())
    for i in range(40):
        assert usage.submit("acme" if i % 2 else "globex", UsageRecord(request_id=f"r{i:02d}", model="m"))
    when = datetime(2026, 12, 2, 3, tzinfo=UTC)
    touches.submit("acme", TokenTouch(tokens["acme"], when))
    assert usage.flush(timeout=10)
    assert _usage(store, "acme") == [f"r{i:02d}" for i in range(1, 40, 2)]
    assert _usage(store, "globex") == [f"r{i:02d}" for i in range(0, 40, 2)]
    with store.tenant("acme") as uow:
        assert uow.api_tokens.get(tokens["acme"]).last_used_at == when
    stats = usage.stats()
    assert stats["written"] == 40 and stats["pending"] == 0 and stats["batches"] >= 2
    assert 0 < stats["lag_ms_max"] < 10_000  # measured from when this process queued them


def test_a_killed_writer_process_is_replaced_and_writing_goes_on(setup):
    store, process, _ = setup
    usage = process.writers["usage"]
    usage.submit("acme", UsageRecord(request_id="before", model="m"))
    assert usage.flush(timeout=10)
    first = process.pid
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.waitpid(first, os.WNOHANG)
        except ChildProcessError:
            break
        time.sleep(0.05)
    usage.submit("acme", UsageRecord(request_id="after", model="m"))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "after" not in _usage(store, "acme"):
        time.sleep(0.1)
    assert _usage(store, "acme") == ["after", "before"]
    assert process.pid != first and usage.stats()["process_restarts"] == 1


def test_a_signal_meant_for_the_gateway_does_not_stop_the_writer_and_stop_writes_the_rest(setup):
    store, process, _ = setup
    usage = process.writers["usage"]
    assert usage.flush(timeout=10)  # the child is up and serving
    os.kill(process.pid, signal.SIGINT)  # what Ctrl+C in a terminal would send
    os.kill(process.pid, signal.SIGTERM)
    time.sleep(0.3)
    for i in range(5):
        usage.submit("acme", UsageRecord(request_id=f"s{i}", model="m"))
    usage.submit("no-such-tenant", UsageRecord(request_id="x", model="m"))
    process.stop(timeout=10)  # no flush first: stopping writes what is held
    assert _usage(store, "acme") == [f"s{i}" for i in range(5)]
    assert usage.stats()["process_restarts"] == 0
    assert not usage.submit("acme", UsageRecord(request_id="late", model="m"))  # stopped: refused, counted


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """A master's shared writer and two workers' connections to it (as serve-api --workers 2 wires them)."""
    store = SqliteStore(tmp_path)
    store.migrate()
    for slug in ("acme", "globex"):
        with store.control() as uow:
            uow.tenants.add(TenantRecord(slug=slug, name=slug))
            uow.commit()
        store.create_tenant_store(slug)
    settings = load_settings(env="test", data_dir=tmp_path, admin_email="a@x.io", admin_password="pw-for-tests-1",
                             log_format="pretty")
    monkeypatch.delenv(SOCKET_ENV, raising=False)
    master = start_shared_append_process(settings)
    workers = [start_append_process(settings) for _ in range(2)]
    yield store, master, workers
    for worker in workers:
        worker.stop(timeout=5)
    master.stop(timeout=5)
    store.close()


def test_workers_feed_one_shared_writer_that_survives_being_killed(shared):
    store, master, (one, two) = shared
    assert master.pid is not None and one.pid == two.pid == master.pid  # the kernel's peer pid: one writer
    for i in range(20):
        worker = one if i % 2 else two
        assert worker.writers["usage"].submit("acme" if i < 10 else "globex", UsageRecord(request_id=f"r{i:02d}", model="m"))
    assert one.flush(timeout=10) and two.flush(timeout=10)
    assert _usage(store, "acme") == [f"r{i:02d}" for i in range(10)]
    assert _usage(store, "globex") == [f"r{i:02d}" for i in range(10, 20)]
    assert one.writers["usage"].stats()["written"] == 20  # the host's writer counts both workers' records

    first = master.pid
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and master.pid == first:
        time.sleep(0.1)  # the master's watch starts another
    assert master.pid not in (None, first)
    assert one.writers["usage"].submit("acme", UsageRecord(request_id="after", model="m"))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "after" not in _usage(store, "acme"):
        time.sleep(0.1)
    assert "after" in _usage(store, "acme")
    assert one.pid == master.pid and one.writers["usage"].stats()["process_restarts"] == 1

    # A worker stopping waits for what it sent but leaves the writer to the others.
    one.writers["usage"].submit("globex", UsageRecord(request_id="last-of-one", model="m"))
    one.stop(timeout=5)
    assert "last-of-one" in _usage(store, "globex")
    assert two.writers["usage"].submit("globex", UsageRecord(request_id="two-goes-on", model="m"))
    assert two.flush(timeout=10) and "two-goes-on" in _usage(store, "globex")


def test_a_worker_stopping_while_the_host_writer_restarts_waits_for_it(shared):
    store, master, (one, two) = shared
    assert two.flush(timeout=10)  # connected
    first = master.pid
    os.kill(first, signal.SIGKILL)  # the master's watch starts another within a second or so
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running(first):
        time.sleep(0.01)
    time.sleep(0.05)  # the worker's reply reader sees its connection end
    for i in range(5):
        assert two.writers["usage"].submit("acme", UsageRecord(request_id=f"during-{i}", model="m"))
    two.stop(timeout=10)  # a worker replaced while its host's writer is down
    assert master.pid not in (None, first)
    assert [r for r in _usage(store, "acme") if r.startswith("during-")] == [f"during-{i}" for i in range(5)]
    assert one.writers["usage"].submit("acme", UsageRecord(request_id="one-goes-on", model="m"))
    assert one.flush(timeout=10) and "one-goes-on" in _usage(store, "acme")


def test_frames_arrive_whole_over_a_stream_that_takes_a_little_at_a_time():
    import io

    from gateway_app.core.writer_channels import read_frame, write_frame

    class Trickle(io.RawIOBase):
        """An unbuffered stream that takes at most 1,000 bytes a call, as a pipe or socket may."""

        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            part = bytes(b[:1000])
            self.data += part
            return len(part)

    sink = Trickle()
    records = [("usage", "acme", UsageRecord(request_id=f"r{i}", model="m"), 0.0) for i in range(300)]
    write_frame(sink, ("records", 0, records))
    assert len(sink.data) > 10_000
    assert read_frame(io.BytesIO(bytes(sink.data))) == ("records", 0, records)
