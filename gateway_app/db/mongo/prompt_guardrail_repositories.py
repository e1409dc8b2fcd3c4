"""MongoDB repositories of prompts (with immutable versions), guardrail policies (with verdicts) and RAG modules."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING

from gateway_app.db.mongo.documents import MongoRepository, from_doc, to_doc
from gateway_app.db.records import (
    GuardrailPolicyRecord,
    GuardrailVerdictRecord,
    PromptRecord,
    PromptVersionRecord,
    RagModuleRecord,
)

VERSION_JSON = ("messages", "variables", "params")  # written by prompt authors: any keys


class MongoPromptRepository(MongoRepository[PromptRecord]):
    collection_name, record, unique = "prompts", PromptRecord, ("name",)

    def __init__(self, db, session) -> None:
        super().__init__(db, session)
        self._versions = db["prompt_versions"]

    def get_by_name(self, name: str) -> PromptRecord | None:
        return self._one({"name": name})

    def list(self) -> list[PromptRecord]:
        return self._find({}, [("name", ASCENDING)])

    def add_version(self, record: PromptVersionRecord) -> PromptVersionRecord:
        self._insert(to_doc(record, json_fields=VERSION_JSON), "prompt version", self._versions)
        return record

    def version(self, prompt_id: str, version: int) -> PromptVersionRecord | None:
        doc = self._versions.find_one({"prompt_id": prompt_id, "version": version}, session=self._session)
        return None if doc is None else from_doc(PromptVersionRecord, doc, json_fields=VERSION_JSON)

    def versions(self, prompt_id: str) -> list[PromptVersionRecord]:
        cursor = self._versions.find({"prompt_id": prompt_id}, session=self._session).sort("version", DESCENDING)
        return [from_doc(PromptVersionRecord, d, json_fields=VERSION_JSON) for d in cursor]

    def delete(self, key: str) -> bool:
        self._versions.delete_many({"prompt_id": key}, session=self._session)
        return super().delete(key)


class MongoGuardrailRepository(MongoRepository[GuardrailPolicyRecord]):
    collection_name, record, unique = "guardrails", GuardrailPolicyRecord, ("name",)

    def __init__(self, db, session) -> None:
        super().__init__(db, session)
        self._verdicts = db["guardrail_verdicts"]

    def get_by_name(self, name: str) -> GuardrailPolicyRecord | None:
        return self._one({"name": name})

    def list(self) -> list[GuardrailPolicyRecord]:
        return self._find({}, [("name", ASCENDING)])

    def add_verdicts(self, records: Sequence[GuardrailVerdictRecord]) -> None:
        if records:
            self._verdicts.insert_many([to_doc(r) for r in records], ordered=False, session=self._session)

    def recent_verdicts(self, *, policy: str | None = None, limit: int = 50) -> list[GuardrailVerdictRecord]:
        cursor = (
            self._verdicts.find({"policy": policy} if policy else {}, session=self._session)
            .sort([("at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [from_doc(GuardrailVerdictRecord, d) for d in cursor]


class MongoRagModuleRepository(MongoRepository[RagModuleRecord]):
    collection_name, record, unique, json_fields = "rag_modules", RagModuleRecord, ("name",), ("filters",)

    def get_by_name(self, name: str) -> RagModuleRecord | None:
        return self._one({"name": name})

    def list(self, offset: int = 0, limit: int = 100) -> list[RagModuleRecord]:
        return self._find({}, [("name", ASCENDING)], offset, limit)

    def using_store(self, store_id: str) -> list[RagModuleRecord]:
        return self._find({"vector_store_ids": store_id}, [("name", ASCENDING)])
