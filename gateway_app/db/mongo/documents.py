"""Records as MongoDB documents and back, and the generic by-key repository every collection starts from.

A record's key becomes `_id`; other fields keep their names. Fields holding caller-supplied JSON
(trace inputs, metadata, attributes) are stored as JSON text: their keys may start with `$` or
hold dots, which MongoDB restricts, and no query ever looks inside them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from gateway_app.db.errors import DuplicateKey
from gateway_app.db.json_text import dump_json, load_json
from gateway_app.db.mongo.quirks import aggregate_session

RecT = TypeVar("RecT")


@functools.cache
def _names(record_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(record_type))


def to_doc(record, pk: str | None = "id", json_fields: Iterable[str] = ()) -> dict:
    """A record as a document (`pk` becomes `_id`; None: MongoDB assigns one)."""
    doc = {"_id": getattr(record, pk)} if pk else {}  # `_id` first, where MongoDB keeps it
    for name in _names(type(record)):
        if name != pk:
            value = getattr(record, name)
            doc[name] = dump_json(value) if name in json_fields else value
    return doc


def from_doc(record_type: type[RecT], doc: dict, pk: str | None = "id", json_fields: Iterable[str] = ()) -> RecT:
    """A record from a document (fields missing from older documents take the record's defaults)."""
    values = {}
    for name in _names(record_type):
        key = "_id" if name == pk else name
        if key in doc:
            values[name] = load_json(doc[key]) if name in json_fields else doc[key]
    return record_type(**values)


def duplicate_field(exc: DuplicateKeyError, unique: Iterable[str], pk: str) -> str:
    """The field a duplicate key was about (MongoDB names it in keyPattern; other servers in the message)."""
    details = exc.details or {}
    pattern = details.get("keyPattern") or {}
    if pattern:
        key = next(iter(pattern))
        return pk if key == "_id" else key
    message = str(details.get("errmsg", exc))
    return next((name for name in unique if name in message), pk)


def set_values(collection: Collection, query: dict, values: dict, session) -> dict | None:
    """Set fields of the first document matching `query`; the changed document, or None when none matched.

    `$set` normally. A change holding a datetime or a boolean replaces the document instead (read, then
    replace under the same query, so a concurrent change makes it match nothing): the wire-protocol test
    server stores datetimes given to `$set` as text and booleans as 0 / 1, which would break every
    later comparison.
    """
    if not any(isinstance(v, (datetime, bool)) for v in values.values()):
        return (
            collection.find_one_and_update(query, {"$set": values}, return_document=True, session=session)
            if values
            else collection.find_one(query, session=session)
        )
    current = collection.find_one(query, session=session)
    if current is None:
        return None
    changed = {**current, **values}
    replaced = collection.replace_one({"$and": [query, {"_id": current["_id"]}]}, changed, session=session)
    return changed if replaced.matched_count == 1 else None


class MongoRepository(Generic[RecT]):
    """get / add / update / delete by key for one collection, inside a unit of work's session."""

    collection_name: str
    record: type[RecT]
    pk: str = "id"
    json_fields: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()  # fields with a unique index (named in DuplicateKey)

    def __init__(self, db, session) -> None:
        self._db = db
        self._session = session
        self._c: Collection = db[self.collection_name]

    def _record(self, doc: dict | None) -> RecT | None:
        return None if doc is None else from_doc(self.record, doc, self.pk, self.json_fields)

    def _doc(self, record: RecT) -> dict:
        return to_doc(record, self.pk, self.json_fields)

    def _find(self, query: dict, sort: list | None = None, skip: int = 0, limit: int = 0) -> list[RecT]:
        cursor = self._c.find(query, session=self._session)
        if sort:
            cursor = cursor.sort(sort)
        if skip:
            cursor = cursor.skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return [from_doc(self.record, d, self.pk, self.json_fields) for d in cursor]

    def _one(self, query: dict) -> RecT | None:
        return self._record(self._c.find_one(query, session=self._session))

    def _insert(self, doc: dict, what: str, collection: Collection | None = None) -> None:
        try:
            (self._c if collection is None else collection).insert_one(doc, session=self._session)
        except DuplicateKeyError as exc:
            raise DuplicateKey(f"{what} already exists", field=duplicate_field(exc, self.unique, self.pk)) from None

    def _set(self, query: dict, changes: dict, what: str) -> RecT | None:
        allowed = _names(self.record)
        values = {}
        for name, value in changes.items():
            if name not in allowed or name == self.pk:
                raise ValueError(f"cannot update field {name!r}")
            values[name] = dump_json(value) if name in self.json_fields else value
        try:
            doc = set_values(self._c, query, values, self._session)
        except DuplicateKeyError as exc:
            raise DuplicateKey(f"{what} already exists", field=duplicate_field(exc, self.unique, self.pk)) from None
        return self._record(doc)

    def count_where(self, query: dict) -> int:
        """Documents matching a query."""
        return self._c.count_documents(query, session=aggregate_session(self._session))

    def get(self, key: str) -> RecT | None:
        return self._one({"_id": key})

    def add(self, record: RecT) -> RecT:
        self._insert(self._doc(record), self.collection_name)
        return record

    def update(self, key: str, changes: dict) -> RecT | None:
        return self._set({"_id": key}, changes, self.collection_name)

    def delete(self, key: str) -> bool:
        return self._c.delete_one({"_id": key}, session=self._session).deleted_count == 1


def utc_now() -> datetime:
    """Now, timezone-aware (a cursor naming no stored item pages from now)."""
    return datetime.now(UTC)
