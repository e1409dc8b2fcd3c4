"""Hot-path lookup benchmark: LocalLookupCache.get() on a warm entry, scoped generations vs the old global one.

    .venv/bin/python -m bench.lookup_bench [--baseline 9e6fa58] [--entries 300] [--rounds 15]

Measures a cache hit (the work every client request does per lookup: find the entry, read its
scope's generation from the shared map, compare, check the TTL) with the file generation and with
the Redis generation (not started: the same read path). With --baseline REV (needs git) the
implementation of gateway_app/core/invalidation.py at REV is measured too, interleaved round by
round so machine load hits both alike. Prints the best and the median ns per lookup. Nothing here
is a test: figures vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import timeit
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gateway_app.core import invalidation as current  # noqa: E402

NUMBER = 100_000


def _old_module(rev: str) -> types.ModuleType | None:
    """invalidation.py as it was at `rev` (None without git or that revision)."""
    try:
        source = subprocess.run(["git", "show", f"{rev}:gateway_app/core/invalidation.py"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("invalidation_baseline")
    exec(compile(source, f"invalidation@{rev}", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def _new_cases(tmp: Path, entries: int) -> dict[str, object]:
    file_generation = current.FileGeneration(tmp / "new")
    cases = {}
    for name, generation in (("file", file_generation), ("redis", current.RedisGeneration(None, file_generation))):
        cache = current.LocalLookupCache(generation, ttl=300)
        for i in range(entries):
            cache.put(f"token-{i}", i, cache.generation(f"tenant-{i}"))
        cases[f"scoped/{name}"] = cache.get
    return cases


def _old_cases(module: types.ModuleType, tmp: Path, entries: int) -> dict[str, object]:
    file_generation = module.FileGeneration(tmp / "old")
    cases = {}
    for name, generation in (("file", file_generation), ("redis", module.RedisGeneration(None, file_generation))):
        cache = module.LocalLookupCache(generation, ttl=300)
        for i in range(entries):
            cache.put(f"token-{i}", i, cache.generation())
        cases[f"global/{name}"] = cache.get
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="", help="git revision whose invalidation.py to compare with")
    parser.add_argument("--entries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = _new_cases(Path(tmp), args.entries)
        if args.baseline:
            old = _old_module(args.baseline)
            if old is None:
                print(f"baseline {args.baseline} not available (git?): measuring the current code only")
            else:
                cases |= _old_cases(old, Path(tmp), args.entries)
        key = f"token-{args.entries // 2}"
        cases["(call only)"] = {key: 1}.get  # the timing loop and a C call, to subtract by eye
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, get in cases.items():
                assert get(key) is not None, name
                seconds = timeit.timeit(lambda get=get: get(key), number=NUMBER)
                samples[name].append(seconds / NUMBER * 1e9)
    print(f"LocalLookupCache.get() hit, {args.entries} entries, {args.rounds} rounds x {NUMBER} lookups "
          "(ns per lookup; '(call only)' is the loop's own cost)")
    for name, values in sorted(samples.items()):
        print(f"  {name:14s} best {min(values):7.0f}   median {statistics.median(values):7.0f}")


if __name__ == "__main__":
    main()
