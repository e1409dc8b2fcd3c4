"""Spill files: what a batch writer could not write, kept on disk under DATA_DIR and replayed at start.

Each process appends to its own file (`<writer>.<pid>.<random>.jsonl`) and holds an exclusive
`flock` on it while it lives, so a starting process replays only files whose owner is gone.
One JSON line per tenant batch: `{"tenant", "reason", "items": [{"t": type, "v": fields}]}`.
Items that can never be written (they failed alone, again) go to `rejected/<writer>.jsonl`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from gateway_app.core.logging import get_logger

log = get_logger("spill")


class RecordCodec:
    """Dataclass records <-> JSON-ready dicts, for the types a writer queues."""

    def __init__(self, *types: type) -> None:
        self._types = {t.__name__: t for t in types}
        # Datetimes travel as ISO strings; remember which fields to turn back into datetimes.
        self._dates = {t.__name__: {f.name for f in dataclasses.fields(t) if "datetime" in str(f.type)}
                       for t in types}

    def encode(self, item: Any) -> dict:
        """A JSON-ready form of one record (raises TypeError for a type the codec does not know)."""
        name = type(item).__name__
        if name not in self._types:
            raise TypeError(f"cannot spill a {name}")
        try:
            return {"t": name, "v": orjson.loads(orjson.dumps(item))}
        except TypeError:  # orjson refuses integers beyond 64 bits; the stdlib keeps them (as text if need be)
            return {"t": name, "v": json.loads(json.dumps(dataclasses.asdict(item), default=str))}

    def decode(self, data: dict) -> Any:
        """The record back from its encoded form."""
        cls = self._types[data["t"]]
        values = dict(data["v"])
        for name in self._dates[data["t"]]:
            if isinstance(values.get(name), str):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


class SpillFile:
    """This process's append-only spill file for one writer (created on first use)."""

    def __init__(self, directory: Path, writer: str) -> None:
        self._directory = directory
        self._writer = writer
        self._handle = None
        self.path: Path | None = None

    def append(self, tenant: str, items: Sequence[dict], reason: str) -> None:
        """Write one line and fsync it: spilled data must survive a crash that follows."""
        if self._handle is None:
            self._directory.mkdir(parents=True, exist_ok=True)
            self.path = self._directory / f"{self._writer}.{os.getpid()}.{secrets.token_hex(4)}.jsonl"
            self._handle = open(self.path, "ab")  # noqa: SIM115 - kept open (and locked) for the process's life
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._handle.write(orjson.dumps({"tenant": tenant, "reason": reason[:500], "items": list(items)}) + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Release the file (it stays on disk for the next start to replay)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class ClaimedSpill:
    """An orphaned spill file this process replays; held locked until done() deletes it."""

    def __init__(self, path: Path, handle) -> None:
        self.path = path
        self._handle = handle

    def entries(self) -> Iterator[tuple[str, list[dict]]]:
        """(tenant, encoded items) per line; a torn last line (crash mid-write) is skipped."""
        self._handle.seek(0)
        for line in self._handle:
            try:
                entry = orjson.loads(line)
                yield entry["tenant"], entry["items"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("unreadable spill line skipped", extra={"file": self.path.name})

    def done(self) -> None:
        """Everything in it was written (or spilled again): delete it."""
        self.path.unlink(missing_ok=True)
        self._handle.close()

    def release(self) -> None:
        """Give it up without deleting (it will be replayed by a later start)."""
        self._handle.close()


def claim_orphans(directory: Path, writer: str) -> list[ClaimedSpill]:
    """Spill files of this writer that no live process holds (its writer died or stopped)."""
    if not directory.is_dir():
        return []
    claimed = []
    for path in sorted(directory.glob(f"{writer}.*.jsonl")):
        try:
            handle = open(path, "rb")  # noqa: SIM115 - held (and locked) until the replay is done
        except OSError:
            continue
        try:
            # flock conflicts between open files even inside one process, so a live writer's own
            # file, or one another replay holds, is skipped.
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        claimed.append(ClaimedSpill(path, handle))
    return claimed


def write_rejected(directory: Path, writer: str, tenant: str, items: Sequence[dict], reason: str) -> None:
    """Keep items that can never be written (for an operator to inspect), outside the replay set."""
    target = directory / "rejected"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / f"{writer}.jsonl", "ab") as handle:
        handle.write(orjson.dumps({"tenant": tenant, "reason": reason[:500], "items": list(items)}) + b"\n")

