"""Batch writer: batches off the caller's thread, flushes on stop, counts what it drops."""

import threading
import time

from gateway_app.core.tasks import BatchWriter, TaskRegistry


def test_items_are_written_in_batches_by_the_worker_thread():
    batches, threads = [], []

    def sink(batch):
        batches.append(list(batch))
        threads.append(threading.current_thread().name)

    writer = BatchWriter("t", sink, batch_size=10, interval=0.05)
    writer.start()
    for i in range(25):
        assert writer.submit(i)
    assert writer.flush(timeout=5)
    writer.stop()
    assert [i for b in batches for i in b] == list(range(25))
    assert max(len(b) for b in batches) <= 10
    assert all(name == "batch-t" for name in threads)


def test_stop_flushes_everything_still_queued():
    written = []
    gate = threading.Event()

    def slow_sink(batch):
        gate.wait(5)
        written.extend(batch)

    writer = BatchWriter("slow", slow_sink, batch_size=5, interval=0.01)
    writer.start()
    for i in range(40):
        writer.submit(i)
    gate.set()
    writer.stop(timeout=5)
    assert sorted(written) == list(range(40))
    assert writer.written == 40 and writer.dropped == 0


def test_full_queue_drops_counts_and_logs(caplog):
    gate = threading.Event()
    writer = BatchWriter("tiny", lambda batch: gate.wait(5), max_queue=5, batch_size=1, interval=0.01)
    writer.start()
    time.sleep(0.05)
    results = [writer.submit(i) for i in range(50)]
    assert results.count(False) > 0
    assert writer.dropped == results.count(False)
    assert any("queue full" in r.getMessage() for r in caplog.records)
    gate.set()
    writer.stop(timeout=5)


def test_failing_sink_does_not_kill_the_worker(caplog):
    seen = []

    def sink(batch):
        if 0 in batch:
            raise RuntimeError("database locked")
        seen.extend(batch)

    writer = BatchWriter("f", sink, batch_size=1, interval=0.01)
    writer.start()
    for i in range(3):
        writer.submit(i)
    writer.flush(timeout=5)
    writer.stop()
    assert seen == [1, 2]
    assert writer.failed == 1
    assert any("batch write failed" in r.getMessage() for r in caplog.records)


def test_flush_without_a_thread_writes_inline():
    written = []
    writer = BatchWriter("inline", written.extend)
    writer.submit("a")
    writer.flush()
    assert written == ["a"]


def test_registry_reports_and_stops_all():
    written = []
    registry = TaskRegistry()
    writer = registry.add(BatchWriter("usage", written.extend, interval=10))
    writer.submit(1)
    writer.submit(2)
    registry.stop_all()
    assert written == [1, 2]
    assert registry.stats()["usage"]["written"] == 2
