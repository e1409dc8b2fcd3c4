"""SQLite repositories of prompts (with immutable versions) and guardrail policies (with verdicts)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import select

from gateway_app.db.records import GuardrailPolicyRecord, GuardrailVerdictRecord, PromptRecord, PromptVersionRecord
from gateway_app.db.sqlite.base_repository import SqlRepository, fields_of, record_of
from gateway_app.db.tables.tenant import GuardrailPolicy, GuardrailVerdict, Prompt, PromptVersion


class SqlPromptRepository(SqlRepository[Prompt, PromptRecord]):
    table, record = Prompt, PromptRecord

    def get_by_name(self, name: str) -> PromptRecord | None:
        row = self._session.exec(select(Prompt).where(Prompt.name == name)).first()
        return None if row is None else self._to_record(row)

    def list(self) -> list[PromptRecord]:
        return [self._to_record(r) for r in self._session.exec(select(Prompt).order_by(Prompt.name))]

    def add_version(self, record: PromptVersionRecord) -> PromptVersionRecord:
        self._session.add(PromptVersion(**fields_of(record)))
        self._flush("prompt version")
        return record

    def version(self, prompt_id: str, version: int) -> PromptVersionRecord | None:
        row = self._session.exec(select(PromptVersion).where(PromptVersion.prompt_id == prompt_id,
                                                             PromptVersion.version == version)).first()
        return None if row is None else _version(row)

    def versions(self, prompt_id: str) -> list[PromptVersionRecord]:
        query = select(PromptVersion).where(PromptVersion.prompt_id == prompt_id).order_by(PromptVersion.version.desc())
        return [_version(r) for r in self._session.exec(query)]

    def delete(self, key: str) -> bool:
        for row in self._session.exec(select(PromptVersion).where(PromptVersion.prompt_id == key)):
            self._session.delete(row)
        return super().delete(key)


def _version(row: PromptVersion) -> PromptVersionRecord:
    return record_of(PromptVersionRecord, row)


class SqlGuardrailRepository(SqlRepository[GuardrailPolicy, GuardrailPolicyRecord]):
    table, record = GuardrailPolicy, GuardrailPolicyRecord

    def get_by_name(self, name: str) -> GuardrailPolicyRecord | None:
        row = self._session.exec(select(GuardrailPolicy).where(GuardrailPolicy.name == name)).first()
        return None if row is None else self._to_record(row)

    def list(self) -> list[GuardrailPolicyRecord]:
        return [self._to_record(r) for r in self._session.exec(select(GuardrailPolicy).order_by(GuardrailPolicy.name))]

    def add_verdicts(self, records: Sequence[GuardrailVerdictRecord]) -> None:
        self._session.add_all(GuardrailVerdict(**fields_of(r)) for r in records)
        self._session.flush()

    def recent_verdicts(self, *, policy: str | None = None, limit: int = 50) -> list[GuardrailVerdictRecord]:
        query = select(GuardrailVerdict).order_by(GuardrailVerdict.at.desc(), GuardrailVerdict.id.desc()).limit(limit)
        if policy:
            query = query.where(GuardrailVerdict.policy == policy)
        return [record_of(GuardrailVerdictRecord, r)
                for r in self._session.exec(query)]
