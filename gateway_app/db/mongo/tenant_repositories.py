"""MongoDB repositories of a tenant database: users, projects, API tokens, audit."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING, ReplaceOne

from gateway_app.db.mongo.documents import MongoRepository
from gateway_app.db.records import ApiTokenRecord, AuditRecord, ProjectRecord, UserRecord


class MongoUserRepository(MongoRepository[UserRecord]):
    collection_name, record, unique = "users", UserRecord, ("email",)

    def get_by_email(self, email: str) -> UserRecord | None:
        return self._one({"email": email})

    def list(self, offset: int = 0, limit: int = 50) -> list[UserRecord]:
        return self._find({}, [("email", ASCENDING)], offset, limit)

    def count(self) -> int:
        return self.count_where({})


class MongoProjectRepository(MongoRepository[ProjectRecord]):
    collection_name, record, unique = "projects", ProjectRecord, ("name",)

    def get_by_name(self, name: str) -> ProjectRecord | None:
        return self._one({"name": name})

    def list(self, offset: int = 0, limit: int = 50) -> list[ProjectRecord]:
        return self._find({}, [("name", ASCENDING)], offset, limit)


def touch_tokens(collection, last_used: Sequence[tuple[str, object]], session) -> None:
    """Set last_used_at of tokens (shared with the batch writers' fast path).

    Whole documents are replaced, as `set_values` does for datetimes (documents.py says why). Inside
    a transaction a token changed in between makes the batch conflict and retry; without one, a
    revoked token is never written back (the filter wants it unrevoked) and revoked ones are skipped.
    """
    latest = dict(last_used)
    if not latest:
        return
    docs = collection.find({"_id": {"$in": list(latest)}, "revoked_at": {"$eq": None}}, session=session)
    ops = [
        ReplaceOne({"_id": d["_id"], "revoked_at": {"$eq": None}}, {**d, "last_used_at": latest[d["_id"]]})
        for d in docs
    ]
    if ops:
        collection.bulk_write(ops, ordered=False, session=session)


class MongoApiTokenRepository(MongoRepository[ApiTokenRecord]):
    collection_name, record, unique = "api_tokens", ApiTokenRecord, ("token_hash",)

    def list(self, project_id: str | None = None, offset: int = 0, limit: int = 100) -> list[ApiTokenRecord]:
        query = {} if project_id is None else {"project_id": project_id}
        return self._find(query, [("created_at", DESCENDING), ("_id", ASCENDING)], offset, limit)

    def count_active_for_project(self, project_id: str) -> int:
        return self.count_where({"project_id": project_id, "revoked_at": {"$eq": None}})

    def touch_many(self, last_used: Sequence[tuple[str, object]]) -> None:
        touch_tokens(self._c, last_used, self._session)


class MongoAuditRepository(MongoRepository[AuditRecord]):
    collection_name, record = "audit_logs", AuditRecord

    def list(self, offset: int = 0, limit: int = 50) -> list[AuditRecord]:
        return self._find({}, [("at", DESCENDING), ("_id", ASCENDING)], offset, limit)
