"""Metadata filters of memory searches and lists: OpenAI's filter shape plus `contains` and `not`.

`{"type": "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "nin" | "contains", "key", "value"}`,
`{"type": "and" | "or", "filters": [...]}` and `{"type": "not", "filter": {...}}`. One evaluator
decides every match (Chroma narrows candidates by scope only), so a search and a list agree: a
missing key matches `ne` and `nin` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway_app.core.errors import InvalidInput
from gateway_app.services.vector.filters import MAX_CONDITIONS, MAX_DEPTH, check_comparison

Check = Callable[[dict], bool]
_MISSING = object()


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(kind: str, key: str, value: object) -> Check:
    def get(metadata: dict) -> object:
        return metadata.get(key, _MISSING)

    if kind == "eq":
        return lambda m: get(m) == value and type(get(m)) is type(value)
    if kind == "ne":
        return lambda m: not (get(m) == value and type(get(m)) is type(value))
    if kind == "in":
        return lambda m: any(get(m) == v and type(get(m)) is type(v) for v in value)  # type: ignore[union-attr]
    if kind == "nin":
        return lambda m: not any(get(m) == v and type(get(m)) is type(v) for v in value)  # type: ignore[union-attr]
    if kind == "contains":  # a substring of a string value, case-insensitive
        needle = str(value).casefold()
        return lambda m: isinstance(get(m), str) and needle in get(m).casefold()  # type: ignore[union-attr]
    ops = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}
    op = ops[kind]
    return lambda m: _number(get(m)) and op(get(m), value)


class _Compiler:
    def __init__(self) -> None:
        self.conditions = 0

    def node(self, spec: object, depth: int) -> Check:
        if depth > MAX_DEPTH:
            raise InvalidInput(f"filters are nested more than {MAX_DEPTH} levels deep", param="filters")
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise InvalidInput("each filter must be an object with a 'type'", param="filters")
        kind = spec["type"]
        if kind in ("and", "or"):
            parts = spec.get("filters")
            if not isinstance(parts, list) or not parts:
                raise InvalidInput(f"an '{kind}' filter needs a non-empty 'filters' list", param="filters")
            checks = [self.node(p, depth + 1) for p in parts]
            if kind == "and":
                return lambda m: all(c(m) for c in checks)
            return lambda m: any(c(m) for c in checks)
        if kind == "not":
            inner = self.node(spec.get("filter"), depth + 1)
            return lambda m: not inner(m)
        if kind not in ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains"):
            raise InvalidInput(f"unknown filter type {kind!r}; use eq, ne, gt, gte, lt, lte, in, nin, contains, "
                               "and, or or not", param="filters")
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidInput(f"filters may hold at most {MAX_CONDITIONS} comparisons", param="filters")
        key, value = check_comparison(kind, spec)
        return _compare(kind, key, value)


def compile_filters(filters: object) -> Check | None:
    """A predicate over a memory's metadata (None: no filter); bad filters are a 400 naming the problem."""
    if filters is None:
        return None
    return _Compiler().node(filters, 1)
