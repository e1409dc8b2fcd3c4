"""Guardrail pattern benchmark: adversarial texts, the old engine (Python `re`) vs the RE2 engine.

    .venv/bin/python -m bench.guardrail_bench [--size 1000000] [--old-sizes 10000 20000 40000]

For each built-in PII entity (and `(a+)+$`, `a.*b|a`, a DFA-hostile tenant pattern) it prints
the seconds one rule takes: the old Python-`re` detectors only at the small sizes, where they
finish; the RE2 engine at those sizes and at --size. Each figure is the worst over a few
adversarial texts. Nothing here is a test: figures vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gateway_app.services.guardrails.engine import CompiledPolicy  # noqa: E402
from gateway_app.services.guardrails.patterns import Subject  # noqa: E402

# The detectors as they were before RE2 (gateway_app/services/guardrails/rules.py at 5b70d36), for comparison.
OLD = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "credit_card": re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"),
    "ip": re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
                     r"(?![\d.])|(?<![:\w])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}(?![:\w])"),
    "phone": re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)"),
    "secret": re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}|\bsk-ant-[A-Za-z0-9_-]{16,}|\bgh-[A-Za-z0-9_-]{30,}"
                         r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abpr]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b"
                         r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
}


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _random_ab(size: int) -> str:
    rng = random.Random(7)
    return "".join(rng.choice("ab") for _ in range(size))


# Adversarial texts per entity: long runs that almost match, and many short candidates.
TEXTS = {
    "email": [lambda n: "a" * n, lambda n: _repeat("a.", n), lambda n: _repeat("a@a", n), lambda n: _repeat("a@b.cc ", n)],
    "credit_card": [lambda n: "1" * n, lambda n: _repeat("1 ", n), lambda n: _repeat("4111 1111 1111 1112 ", n)],
    "iban": [lambda n: "GB82" + "A" * (n - 4), lambda n: _repeat("AB12 ", n), lambda n: _repeat("GB82WEST ", n)],
    "ip": [lambda n: _repeat("1.", n), lambda n: _repeat("a:", n), lambda n: _repeat("1.1.1.1 ", n)],
    "phone": [lambda n: "1" * n + "a", lambda n: _repeat("12 ", n), lambda n: _repeat("+1 (555) 123-4567 ", n)],
    "secret": [lambda n: "sk-" + "a" * (n - 3), lambda n: _repeat("sk-", n), lambda n: _repeat("eyJaaaaaaaa.", n)],
}
TENANT = {  # rule dict, texts
    "(a+)+$": ({"type": "regex", "pattern": r"(a+)+$"}, [lambda n: "a" * (n - 1) + "b"]),
    "a.*b|a": ({"type": "regex", "pattern": r"a.*b|a", "action": "mask"}, [lambda n: "a" * n]),
    "[ab]*a[ab]{200}": ({"type": "regex", "pattern": r"[ab]*a[ab]{200}"}, [_random_ab]),
    "keywords x1000": ({"type": "keyword", "keywords": [f"word{i:04d}x" for i in range(1000)], "action": "mask"},
                       [lambda n: _repeat("word0001x ", n), lambda n: "a" * n]),
}


def _timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def _worst(function, makers, size: int, *args) -> float:
    """The slowest of the adversarial texts at this size."""
    return max(_timed(function, *args, make(size)) for make in makers)


def _old_entity(entity: str, text: str) -> None:
    for match in OLD[entity].finditer(text):  # the old detect_pii also ran a `\D` substitution per candidate
        re.sub(r"\D", "", match.group())


def _old_regex(pattern: re.Pattern, text: str) -> None:
    list(pattern.finditer(text))


def _new(rule: dict, text: str) -> None:
    CompiledPolicy("bench", "enforce", [rule]).pattern_matches(Subject(text), "input")


def _row(name: str, cells: list[str]) -> None:
    print(f"{name:<18}" + "".join(f"{c:>12}" for c in cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="characters for the RE2 engine")
    parser.add_argument("--old-sizes", type=int, nargs="+", default=[10_000, 20_000, 40_000],
                        help="characters for the old engine (it is quadratic or worse: keep them small)")
    args = parser.parse_args()
    sizes, all_sizes = args.old_sizes, [*args.old_sizes, args.size]
    _row("seconds", [f"old {n // 1000}k" for n in sizes] + [f"new {n // 1000}k" for n in all_sizes])
    for entity, makers in TEXTS.items():
        rule = {"type": "pii", "entities": [entity], "action": "mask"}
        old = [_worst(_old_entity, makers, n, entity) for n in sizes]
        _row(entity, [f"{s:.3f}" for s in old + [_worst(_new, makers, n, rule) for n in all_sizes]])
    every = [m for ms in TEXTS.values() for m in ms]
    _row("pii (all six)", ["-"] * len(sizes) + [f"{_worst(_new, every, n, {'type': 'pii'}):.3f}" for n in all_sizes])
    for name, (rule, makers) in TENANT.items():
        if name == "(a+)+$":  # exponential in the old engine: only a tiny input finishes
            old = [f"{_timed(re.compile(rule['pattern']).search, 'a' * 24 + 'b'):.2f}@25ch"] + ["-"] * (len(sizes) - 1)
        elif rule["type"] == "regex" and name == "a.*b|a":
            old = [f"{_worst(_old_regex, makers, n, re.compile(rule['pattern'])):.3f}" for n in sizes]
        else:
            old = ["-"] * len(sizes)
        _row(name, old + [f"{_worst(_new, makers, n, rule):.3f}" for n in all_sizes])


if __name__ == "__main__":
    main()
