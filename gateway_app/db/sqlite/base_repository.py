"""Generic SQLModel repository: converts rows to backend-neutral records and back."""

from __future__ import annotations

import functools
from dataclasses import fields
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from gateway_app.db.errors import DuplicateKey

RowT = TypeVar("RowT", bound=SQLModel)
RecT = TypeVar("RecT")


@functools.cache
def _record_fields(record_type: type) -> list[str]:
    # Units of work build their repositories per transaction: look the fields up once per type.
    return [f.name for f in fields(record_type)]


def fields_of(record) -> dict:
    """A record's fields as keyword arguments (for building a row)."""
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def record_of(record_type: type[RecT], row) -> RecT:
    """A record built from the same-named attributes of a row."""
    return record_type(**{name: getattr(row, name) for name in record_type.__dataclass_fields__})


class SqlRepository(Generic[RowT, RecT]):
    """get / add / update / delete by primary key for one table inside a unit of work's session."""

    table: type[RowT]
    record: type[RecT]
    pk: str = "id"

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _fields(self) -> list[str]:
        return _record_fields(self.record)

    def _to_record(self, row: RowT) -> RecT:
        return record_of(self.record, row)

    def _row(self, key: str) -> RowT | None:
        return self._session.get(self.table, key)

    def _select(self):
        return select(self.table)

    def _flush(self, what: str) -> None:
        try:
            self._session.flush()
        except IntegrityError as exc:
            self._session.rollback()
            raise DuplicateKey(f"{what} already exists", field=_constraint_field(exc)) from None

    def get(self, key: str) -> RecT | None:
        row = self._row(key)
        return None if row is None else self._to_record(row)

    def add(self, record: RecT) -> RecT:
        row = self.table(**fields_of(record))
        self._session.add(row)
        self._flush(self.table.__tablename__)  # type: ignore[attr-defined]
        return record

    def update(self, key: str, changes: dict) -> RecT | None:
        row = self._row(key)
        if row is None:
            return None
        for name, value in changes.items():
            if name not in self._fields or name == self.pk:
                raise ValueError(f"cannot update field {name!r}")
            setattr(row, name, value)
        self._session.add(row)
        self._flush(self.table.__tablename__)  # type: ignore[attr-defined]
        return self._to_record(row)

    def delete(self, key: str) -> bool:
        row = self._row(key)
        if row is None:
            return False
        self._session.delete(row)
        self._session.flush()
        return True


def _constraint_field(exc: IntegrityError) -> str:
    # SQLite says e.g. "UNIQUE constraint failed: users.email"
    text = str(exc.orig)
    if "constraint failed:" in text:
        return text.rsplit(".", 1)[-1].strip()
    return ""
