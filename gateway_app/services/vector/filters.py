"""OpenAI's attribute filters (comparison and compound), checked and turned into a Chroma `where`."""

from __future__ import annotations

from gateway_app.core.errors import InvalidInput
from gateway_app.services.vector.chroma_layer import ATTRIBUTE_PREFIX

COMPARISONS = {"eq": "$eq", "ne": "$ne", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte", "in": "$in",
               "nin": "$nin"}
COMPOUNDS = {"and": "$and", "or": "$or"}
MAX_DEPTH = 5
MAX_CONDITIONS = 64
MAX_LIST = 100
MAX_ATTRIBUTES = 16
MAX_KEY = 64
MAX_STRING = 512


def _scalar(value: object) -> bool:
    return isinstance(value, str | bool | int | float) and not (isinstance(value, str) and len(value) > MAX_STRING)


def check_attributes(attributes: object, param: str = "attributes") -> dict:
    """Up to 16 pairs; keys up to 64 characters; values strings (512), numbers or booleans."""
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise InvalidInput(f"'{param}' must be an object", param=param)
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInput(f"'{param}' has {len(attributes)} pairs; at most {MAX_ATTRIBUTES} are allowed", param=param)
    for key, value in attributes.items():
        if not isinstance(key, str) or not key or len(key) > MAX_KEY:
            raise InvalidInput(f"'{param}' keys must be 1-{MAX_KEY} characters", param=param)
        if value is None or not _scalar(value):
            raise InvalidInput(f"'{param}.{key}' must be a string of at most {MAX_STRING} characters, a number or a "
                               "boolean", param=param)
    return dict(attributes)


def check_comparison(kind: str, spec: dict) -> tuple[str, object]:
    """The key and value of one comparison filter, checked for its kind (400 naming the problem)."""
    key, value = spec.get("key"), spec.get("value")
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise InvalidInput(f"a '{kind}' filter needs a 'key' of 1-{MAX_KEY} characters", param="filters")
    if kind in ("in", "nin"):
        if not isinstance(value, list) or not value or len(value) > MAX_LIST or not all(map(_scalar, value)):
            raise InvalidInput(f"'{kind}' needs a 'value' list of 1-{MAX_LIST} strings, numbers or booleans",
                               param="filters")
    elif kind in ("gt", "gte", "lt", "lte"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"'{kind}' compares numbers; {key!r} was given {value!r}", param="filters")
    elif kind == "contains":
        if not isinstance(value, str) or not value or len(value) > MAX_STRING:
            raise InvalidInput("'contains' needs a non-empty string 'value'", param="filters")
    elif value is None or not _scalar(value):
        raise InvalidInput(f"'{kind}' needs a string, number or boolean 'value'", param="filters")
    return key, value


class _Translator:
    def __init__(self) -> None:
        self.conditions = 0

    def node(self, spec: object, depth: int) -> dict:
        if depth > MAX_DEPTH:
            raise InvalidInput(f"filters are nested more than {MAX_DEPTH} levels deep", param="filters")
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise InvalidInput("each filter must be an object with a 'type'", param="filters")
        kind = spec["type"]
        if kind in COMPOUNDS:
            parts = spec.get("filters")
            if not isinstance(parts, list) or not parts:
                raise InvalidInput(f"an '{kind}' filter needs a non-empty 'filters' list", param="filters")
            where = [self.node(p, depth + 1) for p in parts]
            return where[0] if len(where) == 1 else {COMPOUNDS[kind]: where}  # Chroma wants two or more
        if kind not in COMPARISONS:
            raise InvalidInput(f"unknown filter type {kind!r}; use one of "
                               f"{', '.join([*COMPARISONS, *COMPOUNDS])}", param="filters")
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidInput(f"filters may hold at most {MAX_CONDITIONS} comparisons", param="filters")
        key, value = check_comparison(kind, spec)
        return {ATTRIBUTE_PREFIX + key: {COMPARISONS[kind]: value}}


def to_where(filters: object) -> dict | None:
    """A Chroma `where` for OpenAI-shaped filters (None: no filter)."""
    if filters is None:
        return None
    return _Translator().node(filters, 1)
