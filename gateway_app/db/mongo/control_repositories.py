"""MongoDB repositories of the control database (console_main)."""

from __future__ import annotations

import re

from pymongo import ASCENDING

from gateway_app.db.mongo.documents import MongoRepository
from gateway_app.db.records import DirectoryEntry, PlatformAdminRecord, TenantRecord, TokenIndexEntry


class MongoTenantRepository(MongoRepository[TenantRecord]):
    collection_name, record, pk = "tenants", TenantRecord, "slug"

    @staticmethod
    def _query(search: str) -> dict:
        if not search:
            return {}
        pattern = {"$regex": re.escape(search), "$options": "i"}
        return {"$or": [{"_id": pattern}, {"name": pattern}]}

    def list(self, search: str = "", offset: int = 0, limit: int = 50) -> list[TenantRecord]:
        return self._find(self._query(search), [("_id", ASCENDING)], offset, limit)

    def count(self, search: str = "") -> int:
        return self.count_where(self._query(search))


class MongoPlatformAdminRepository(MongoRepository[PlatformAdminRecord]):
    collection_name, record, unique = "platform_admins", PlatformAdminRecord, ("email",)

    def get_by_email(self, email: str) -> PlatformAdminRecord | None:
        return self._one({"email": email})

    def count(self) -> int:
        return self.count_where({})


class MongoDirectoryRepository(MongoRepository[DirectoryEntry]):
    collection_name, record, pk = "user_directory", DirectoryEntry, "email"

    def delete_tenant(self, tenant_slug: str) -> int:
        return self._c.delete_many({"tenant_slug": tenant_slug}, session=self._session).deleted_count


class MongoTokenIndexRepository(MongoRepository[TokenIndexEntry]):
    collection_name, record, pk = "token_index", TokenIndexEntry, "token_hash"

    def delete_tenant(self, tenant_slug: str) -> int:
        return self._c.delete_many({"tenant_slug": tenant_slug}, session=self._session).deleted_count
