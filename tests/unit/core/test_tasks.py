"""Batch writer: per-tenant batches off the caller's thread, retries, isolation of bad records, spill and replay."""

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import pytest

from gateway_app.core.errors import Unavailable
from gateway_app.core.spill import RecordCodec
from gateway_app.core.tasks import BatchWriter, DropBatch, TaskRegistry


@dataclass(slots=True)
class Rec:
    value: int
    at: datetime | None = None


CODEC = RecordCodec(Rec)


def _collecting():
    written: dict[str, list[int]] = {}
    lock = threading.Lock()

    def sink(tenant, records):
        with lock:
            written.setdefault(tenant, []).extend(r.value for r in records)
    return written, sink


def test_records_are_written_per_tenant_in_order_off_the_callers_thread():
    batches, threads = [], []

    def sink(tenant, records):
        batches.append((tenant, [r.value for r in records]))
        threads.append(threading.current_thread().name)

    writer = BatchWriter("t", sink, batch_size=10, interval=0.05)
    writer.start()
    for i in range(25):
        assert writer.submit("a" if i % 2 else "b", Rec(i))
    assert writer.flush(timeout=5)
    writer.stop()
    per_tenant = {t: [v for tt, b in batches if tt == t for v in b] for t in ("a", "b")}
    assert per_tenant == {"a": list(range(1, 25, 2)), "b": list(range(0, 25, 2))}
    assert all(len(b) <= 10 and len({t}) == 1 for t, b in batches)
    assert threading.current_thread().name not in threads
    stats = writer.stats()
    assert 0 < stats["lag_ms_p99"] <= stats["lag_ms_max"] < 5000  # queue-to-commit time is measured


def test_stop_writes_everything_still_queued():
    written, sink = _collecting()
    gate = threading.Event()

    def slow_sink(tenant, records):
        gate.wait(5)
        sink(tenant, records)

    writer = BatchWriter("slow", slow_sink, batch_size=5, interval=0.01)
    writer.start()
    for i in range(40):
        writer.submit("t", Rec(i))
    gate.set()
    writer.stop(timeout=5)
    assert sorted(written["t"]) == list(range(40))
    assert writer.written == 40 and writer.dropped == 0


def test_full_queue_drops_counts_and_logs(caplog):
    gate = threading.Event()
    writer = BatchWriter("tiny", lambda tenant, records: gate.wait(5), max_queue=5, batch_size=1, interval=0.01)
    writer.start()
    time.sleep(0.05)
    results = [writer.submit("t", Rec(i)) for i in range(2000)]
    assert results.count(False) > 0
    assert writer.dropped == results.count(False)
    assert any("queue full" in r.getMessage() for r in caplog.records)
    gate.set()
    writer.stop(timeout=5)


def test_a_record_the_store_refuses_is_set_aside_and_the_rest_is_written(tmp_path):
    written, sink = _collecting()

    def picky(tenant, records):
        if any(r.value == 13 for r in records):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        sink(tenant, records)

    writer = BatchWriter("p", picky, codec=CODEC, batch_size=100, interval=0.01)
    writer.bind(spill_dir=tmp_path)
    writer.start()
    for i in range(20):
        writer.submit("a", Rec(i))
        writer.submit("b", Rec(i))
    assert writer.flush(timeout=5)
    writer.stop()
    assert sorted(written["a"]) == [i for i in range(20) if i != 13]
    assert sorted(written["b"]) == [i for i in range(20) if i != 13]
    assert writer.rejected == 2 and writer.dropped == 0
    kept = [orjson.loads(line) for line in (tmp_path / "rejected" / "p.jsonl").read_bytes().splitlines()]
    assert sorted(k["tenant"] for k in kept) == ["a", "b"]
    assert all(k["items"] == [{"t": "Rec", "v": {"value": 13, "at": None}}] for k in kept)


def test_a_locked_tenant_is_retried_while_other_tenants_keep_being_written():
    written, sink = _collecting()
    locked = threading.Event()
    locked.set()
    attempts = []

    def sometimes_locked(tenant, records):
        if tenant == "locked" and locked.is_set():
            attempts.append(time.monotonic())
            raise Unavailable("database is locked")
        sink(tenant, records)

    writer = BatchWriter("r", sometimes_locked, codec=CODEC, batch_size=50, interval=0.02, retry_for=30)
    writer.start()
    for i in range(30):
        writer.submit("locked", Rec(i))
        writer.submit("free", Rec(i))
    deadline = time.monotonic() + 5
    while len(written.get("free", [])) < 30 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(written["free"]) == list(range(30))  # not held up by the locked tenant
    assert "locked" not in written
    while len(attempts) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    locked.clear()
    assert writer.flush(timeout=10)
    writer.stop()
    assert written["locked"] == list(range(30))  # order kept across retries
    assert writer.retried >= 30 and writer.spilled == 0 and writer.dropped == 0


def test_what_keeps_failing_is_spilled_and_replayed_by_the_next_start(tmp_path):
    def always_locked(tenant, records):
        raise Unavailable("database is locked")

    first = BatchWriter("usage", always_locked, codec=CODEC, batch_size=10, interval=0.01, retry_for=0.2)
    first.bind(spill_dir=tmp_path)
    first.start()
    moment = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    for i in range(25):
        first.submit("acme", Rec(i, moment))
    deadline = time.monotonic() + 10
    while first.spilled < 25 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.spilled == 25 and first.written == 0
    files = list(tmp_path.glob("usage.*.jsonl"))
    assert len(files) == 1

    replayed: list[Rec] = []
    second = BatchWriter("usage", lambda tenant, records: replayed.extend(records), codec=CODEC, interval=0.01)
    second.bind(spill_dir=tmp_path)
    second.start()
    assert second.flush(timeout=5)  # the collector replays orphans before it serves the flush
    assert second.replayed == 0  # the first writer still lives and holds its file
    first.stop()
    second.stop()

    third = BatchWriter("usage", lambda tenant, records: replayed.extend(records), codec=CODEC, interval=0.01)
    third.bind(spill_dir=tmp_path)
    third.start()
    assert third.flush(timeout=5)
    while list(tmp_path.glob("usage.*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.02)
    third.stop()
    assert sorted(r.value for r in replayed) == list(range(25))
    assert all(r.at == moment for r in replayed)
    assert third.replayed == 25
    assert not list(tmp_path.glob("usage.*.jsonl"))  # replayed files are removed


def test_stop_spills_what_still_cannot_be_written(tmp_path):
    writer = BatchWriter("traces", lambda t, r: (_ for _ in ()).throw(Unavailable("locked")), codec=CODEC,
                         interval=10, retry_for=60)
    writer.bind(spill_dir=tmp_path)
    writer.start()
    for i in range(7):
        writer.submit("acme", Rec(i))
    writer.stop(timeout=5)
    assert writer.spilled == 7 and writer.dropped == 0
    lines = [orjson.loads(x) for f in tmp_path.glob("traces.*.jsonl") for x in f.read_bytes().splitlines()]
    assert sorted(item["v"]["value"] for line in lines for item in line["items"]) == list(range(7))


def test_records_of_a_deleted_tenant_are_dropped_and_counted():
    writer = BatchWriter("d", lambda tenant, records: (_ for _ in ()).throw(DropBatch("gone")), interval=0.01)
    writer.start()
    for i in range(3):
        writer.submit("gone", Rec(i))
    assert writer.flush(timeout=5)
    writer.stop()
    assert writer.dropped == 3 and writer.written == 0


def test_flush_without_a_thread_writes_inline():
    written, sink = _collecting()
    writer = BatchWriter("inline", sink)
    writer.submit("t", Rec(1))
    writer.flush()
    assert written == {"t": [1]}


def test_codec_round_trips_records_with_datetimes():
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert CODEC.decode(orjson.loads(orjson.dumps(CODEC.encode(Rec(5, moment))))) == Rec(5, moment)
    with pytest.raises(TypeError):
        CODEC.encode(object())


def test_registry_shares_write_threads_reports_and_stops_all(tmp_path):
    written, sink = _collecting()
    registry = TaskRegistry(spill_dir=tmp_path, write_threads=2)
    writer = registry.add(BatchWriter("usage", sink, interval=10))
    writer.submit("t", Rec(1))
    writer.submit("t", Rec(2))
    registry.stop_all()
    assert written == {"t": [1, 2]}
    assert registry.stats()["usage"]["written"] == 2
    assert registry.stats()["usage"]["pending"] == 0


def test_a_full_batch_goes_at_once_and_tenants_with_nothing_left_are_forgotten():
    written, sink = _collecting()
    writer = BatchWriter("many", sink, batch_size=10, interval=0.5)
    writer.start()
    for i in range(10):
        writer.submit("big", Rec(i))
    deadline = time.monotonic() + 0.4  # well before the interval
    while len(written.get("big", [])) < 10 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert written.get("big") == list(range(10))  # a full batch does not wait for the interval
    for i in range(300):
        writer.submit(f"t{i}", Rec(i))
    assert writer.flush(timeout=5)
    assert all(written[f"t{i}"] == [i] for i in range(300))
    deadline = time.monotonic() + 5
    while writer.stats()["tenants"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.stats()["tenants"] == 0  # no bookkeeping kept for tenants with nothing to write
    writer.submit("t1", Rec(1000))
    assert writer.flush(timeout=5)
    writer.stop()
    assert written["t1"] == [1, 1000]


def test_a_tenant_retrying_on_the_retry_lane_holds_back_no_healthy_tenant(tmp_path):
    written, sink = _collecting()
    release = threading.Event()
    failed_once, retrying = threading.Event(), threading.Event()

    def locked_then_slow(tenant, records):
        if tenant == "locked":
            if not failed_once.is_set():
                failed_once.set()
                raise Unavailable("database is locked")
            retrying.set()
            release.wait(10)  # the retry waits out a lock held elsewhere
        sink(tenant, records)

    registry = TaskRegistry(spill_dir=tmp_path, write_threads=1, retry_threads=1)
    writer = registry.add(BatchWriter("lanes", locked_then_slow, codec=CODEC, batch_size=10, interval=0.02,
                                      retry_for=30))
    writer.submit("locked", Rec(0))
    assert failed_once.wait(5) and retrying.wait(5)  # the retry is now waiting on the lock
    for i in range(20):
        writer.submit("free", Rec(i))
    deadline = time.monotonic() + 3
    while len(written.get("free", [])) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert written.get("free") == list(range(20))  # the one write thread was not taken by the retry
    assert "locked" not in written
    release.set()
    assert writer.flush(timeout=10)
    registry.stop_all()
    assert written["locked"] == [0]


def test_each_tenant_waits_for_its_own_oldest_record_and_holds_what_came_meanwhile():
    calls: list[tuple[str, list[int], float]] = []

    def sink(tenant, records):
        calls.append((tenant, [r.value for r in records], time.monotonic()))

    writer = BatchWriter("dues", sink, batch_size=100, interval=0.6)
    writer.start()
    time.sleep(0.3)  # a round every interval from the start would cut the records below in two
    first = time.monotonic()
    for i in range(6):
        writer.submit("a", Rec(i))
        if i == 4:
            writer.submit("b", Rec(100))
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.stop()
    by_tenant = {tenant: (values, at) for tenant, values, at in calls}
    assert [tenant for tenant, _, _ in calls] == ["a", "b"]  # one batch each, in the order they fell due
    assert by_tenant["a"][0] == list(range(6))  # everything "a" queued while its oldest record waited
    assert by_tenant["a"][1] - first >= 0.6  # nothing written before the oldest record waited the interval
    assert by_tenant["b"][1] - by_tenant["a"][1] >= 0.1  # "b" is due by its own first record, 0.2 s later
