"""Hot-path ids: unique within a process and across a fork (workers are forked from one parent)."""

from __future__ import annotations

import os

from gateway_app.core.ids import fast_id


def test_ids_are_unique_and_a_forked_child_gets_its_own_prefix():
    ids = {fast_id("use") for _ in range(10_000)}
    assert len(ids) == 10_000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id and leave at once
        os.write(write, fast_id("use").encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    mine = fast_id("use")
    assert child.startswith("use_") and child not in ids
    assert child[4:16] != mine[4:16]  # the 48 random bits differ, so counters never collide
