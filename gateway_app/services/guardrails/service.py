"""Guardrail policies: management, the hot-path catalogue, verdict recording and the check API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway_app.core.config import GUARDRAIL_SCAN_CEILING
from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.invalidation import Generation, LocalLookupCache
from gateway_app.core.logging import get_logger
from gateway_app.core.spill import RecordCodec
from gateway_app.core.batch_writer import BatchWriter
from gateway_app.db.protocols import DataStore, TenantUnitOfWork
from gateway_app.db.records import GuardrailPolicyRecord, GuardrailVerdictRecord, utcnow
from gateway_app.services import audit
from gateway_app.services.guardrails.engine import CompiledPolicy, JudgeCall, Verdict, check_scan_size, evaluate
from gateway_app.services.guardrails.rules import Rule, check_patterns
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess, writing_to

log = get_logger("guardrails")
Mode = Literal["enforce", "shadow"]
PolicyName = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class PolicyCreate(BaseModel):
    """A new policy."""

    model_config = ConfigDict(extra="forbid")

    name: str = PolicyName
    description: str = Field(default="", max_length=2000)
    mode: Mode = "enforce"
    rules: list[Rule] = Field(min_length=1, max_length=50)
    enabled: bool = True

    @field_validator("rules")
    @classmethod
    def _linear_time(cls, value: list) -> list:
        return check_patterns(value)


class PolicyUpdate(BaseModel):
    """Changes to a policy."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=2000)
    mode: Mode | None = None
    rules: list[Rule] | None = Field(default=None, min_length=1, max_length=50)
    enabled: bool | None = None

    @field_validator("rules")
    @classmethod
    def _linear_time(cls, value: list | None) -> list | None:
        return value if value is None else check_patterns(value)


class Attachments(BaseModel):
    """Where a policy applies."""

    models: list[str] = []
    tokens: list[str] = []
    projects: list[str] = []


class PolicyOut(BaseModel):
    """A policy as operators see it."""

    id: str
    name: str
    description: str
    mode: Mode
    rules: list[dict]
    enabled: bool
    attached: Attachments
    created_at: datetime
    updated_at: datetime


class EvaluateRequest(BaseModel):
    """A check without a model call."""

    model_config = ConfigDict(extra="forbid")

    policy: str | None = Field(default=None, max_length=200, description="default: the policies attached to the token")
    text: str = Field(max_length=GUARDRAIL_SCAN_CEILING,
                      description="at most GUARDRAIL_MAX_SCAN_CHARS characters (default 1,000,000): 413 past it")
    direction: Literal["input", "output"] = "input"


class EvaluateResult(BaseModel):
    """What the policies decided."""

    action: Literal["allow", "flag", "mask", "block"]
    text: str
    matches: list[dict]
    policy: str | None
    policies: list[dict]
    latency_ms: float


class VerdictOut(BaseModel):
    """A recorded verdict."""

    at: datetime
    policy: str
    direction: str
    action: str
    mode: str
    rules: list[str]
    matches: int
    latency_ms: float
    request_id: str
    token_id: str
    model: str


def result_of(verdict: Verdict) -> EvaluateResult:
    """The API shape of a verdict."""
    return EvaluateResult(action=verdict.action, text=verdict.text, matches=[m.as_dict() for m in verdict.matches],
                          policy=verdict.policy, latency_ms=round(verdict.latency_ms, 3),
                          policies=[{"policy": p.policy, "mode": p.mode, "action": p.action} for p in verdict.policies])


def find_policy(uow: TenantUnitOfWork, ref: str) -> GuardrailPolicyRecord:
    """A policy by name or id, or NotFound."""
    record = uow.guardrails.get_by_name(ref) or uow.guardrails.get(ref)
    if record is None:
        raise NotFound(f"guardrail policy '{ref}' not found", param="policy")
    return record


def check_policy_names(uow: TenantUnitOfWork, names: list[str], param: str = "guardrails") -> list[str]:
    """Validate attached policy names (used by models, tokens and projects)."""
    cleaned = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    for name in cleaned:
        if uow.guardrails.get_by_name(name) is None:
            raise InvalidInput(f"guardrail policy '{name}' does not exist", param=param)
    return cleaned


class GuardrailService:
    """Manage a tenant's policies, test them, read recent verdicts."""

    def __init__(self, access: TenantAccess, generation: Generation,
                 judge_for: Callable[[str], JudgeCall] | None = None, *,
                 max_scan_chars: int = 1_000_000) -> None:
        self._access = access
        self._generation = generation
        self._judge_for = judge_for  # tenant -> the LLM-judge call (from the inference service)
        self.max_scan_chars = max_scan_chars

    @staticmethod
    def _attachments(uow: TenantUnitOfWork, name: str) -> Attachments:
        return Attachments(models=[m.name for m in uow.models.list() if name in m.guardrails],
                           tokens=[t.name for t in uow.api_tokens.list(limit=10_000)
                                   if name in t.guardrails and t.revoked_at is None],
                           projects=[p.name for p in uow.projects.list(limit=10_000) if name in p.guardrails])

    def _out(self, uow: TenantUnitOfWork, record: GuardrailPolicyRecord) -> PolicyOut:
        return PolicyOut(id=record.id, name=record.name, description=record.description, mode=record.mode,
                         rules=record.rules, enabled=record.enabled, attached=self._attachments(uow, record.name),
                         created_at=record.created_at, updated_at=record.updated_at)

    def list(self, actor: Principal, tenant: str | None) -> list[PolicyOut]:
        """Policies by name, with where they are attached."""
        with self._access.open(actor, tenant) as uow:
            return [self._out(uow, p) for p in uow.guardrails.list()]

    def get(self, actor: Principal, tenant: str | None, ref: str) -> PolicyOut:
        """One policy."""
        with self._access.open(actor, tenant) as uow:
            return self._out(uow, find_policy(uow, ref))

    def create(self, actor: Principal, tenant: str | None, data: PolicyCreate) -> PolicyOut:
        """Add a policy (attach it to models, tokens or projects through their `guardrails` field)."""
        actor.require_write()
        record = GuardrailPolicyRecord(name=data.name, description=data.description, mode=data.mode,
                                       rules=[r.model_dump() for r in data.rules], enabled=data.enabled)
        with self._access.open(actor, tenant) as uow:
            if uow.guardrails.get_by_name(data.name):
                raise Conflict(f"guardrail policy '{data.name}' already exists", param="name")
            uow.guardrails.add(record)
            audit.record(uow, actor, "guardrail.create", record.id, name=record.name)
            uow.commit()
            out = self._out(uow, record)
        self._generation.notify(uow.tenant_slug)
        return out

    def update(self, actor: Principal, tenant: str | None, ref: str, data: PolicyUpdate) -> PolicyOut:
        """Change mode, rules, description or enabled."""
        actor.require_write()
        changes: dict = {}
        for name in data.model_fields_set:
            value = getattr(data, name)
            if value is None:
                raise InvalidInput(f"{name} cannot be null", param=name)
            changes[name] = [r.model_dump() for r in data.rules] if name == "rules" else value  # type: ignore[union-attr]
        with self._access.open(actor, tenant) as uow:
            current = find_policy(uow, ref)
            changes["updated_at"] = utcnow()
            record = uow.guardrails.update(current.id, changes)
            audit.record(uow, actor, "guardrail.update", current.id, fields=sorted(data.model_fields_set))
            uow.commit()
            out = self._out(uow, record)  # type: ignore[arg-type]
        self._generation.notify(uow.tenant_slug)
        return out

    def delete(self, actor: Principal, tenant: str | None, ref: str) -> None:
        """Delete a policy that is attached nowhere."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            current = find_policy(uow, ref)
            attached = self._attachments(uow, current.name)
            places = [f"{kind} {', '.join(names)}" for kind, names in attached.model_dump().items() if names]
            if places:
                raise Conflict(f"policy '{current.name}' is attached to {'; '.join(places)}; detach it first")
            uow.guardrails.delete(current.id)
            audit.record(uow, actor, "guardrail.delete", current.id, name=current.name)
            uow.commit()
        self._generation.notify(uow.tenant_slug)

    def attach(self, actor: Principal, tenant: str | None, ref: str, *, models: list[str], tokens: list[str],
               projects: list[str]) -> PolicyOut:
        """Set where a policy applies (models by name, tokens by id, projects by name)."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            policy = find_policy(uow, ref)
            attach_policy(uow, policy.name, models, tokens, projects)
            audit.record(uow, actor, "guardrail.attach", policy.id, models=models, tokens=tokens, projects=projects)
            uow.commit()
            out = self._out(uow, policy)
        self._generation.notify(uow.tenant_slug)
        return out

    async def test(self, actor: Principal, tenant: str | None, ref: str, text: str, direction: str) -> EvaluateResult:
        """Run one policy on a text (the console's live test box); nothing is recorded."""
        check_scan_size(len(text), self.max_scan_chars)

        def load() -> tuple[str, GuardrailPolicyRecord]:
            with self._access.open(actor, tenant) as uow:
                return uow.tenant_slug, find_policy(uow, ref)

        slug, record = await anyio.to_thread.run_sync(load)
        policy = CompiledPolicy(record.name, "enforce", record.rules)
        judge = self._judge_for(slug) if self._judge_for else None
        return result_of(await evaluate([policy], text, direction, judge))

    def recent_verdicts(self, actor: Principal, tenant: str | None, policy: str | None = None,
                        limit: int = 50) -> list[VerdictOut]:
        """Newest recorded verdicts (matches only)."""
        with self._access.open(actor, tenant) as uow:
            records = uow.guardrails.recent_verdicts(policy=policy, limit=limit)
        return [VerdictOut(**{k: getattr(r, k) for k in VerdictOut.model_fields}) for r in records]


class GuardrailCatalog:
    """Compiled policies per tenant, kept in memory and refreshed when one changes."""

    def __init__(self, store: DataStore, generation: Generation, *, max_scan_chars: int = 1_000_000) -> None:
        self._store = store
        self._cache: LocalLookupCache[dict[str, CompiledPolicy]] = LocalLookupCache(generation, ttl=300.0)
        self.max_scan_chars = max_scan_chars  # GUARDRAIL_MAX_SCAN_CHARS: the most text one request may have scanned
        self.store_reads = 0

    @property
    def cache(self) -> LocalLookupCache[dict[str, CompiledPolicy]]:
        """The local cache (its per-tenant load counters show cold starts)."""
        return self._cache

    def _load(self, tenant: str) -> dict[str, CompiledPolicy]:
        self.store_reads += 1
        with self._store.tenant(tenant) as uow:
            records = [p for p in uow.guardrails.list() if p.enabled]
        compiled = {}
        for record in records:
            policy = compiled[record.name] = CompiledPolicy(record.name, record.mode, record.rules)
            for label, reason in policy.skipped:  # saved before patterns had to run in linear time
                log.warning("guardrail rule skipped: it cannot run", extra={
                    "tenant": tenant, "policy": record.name, "rule": label, "reason": reason})
        return compiled

    async def policies(self, tenant: str, names: Sequence[str]) -> list[CompiledPolicy]:
        """The named, enabled policies (unknown or disabled names are skipped)."""
        compiled = self._cache.get(tenant)
        if compiled is None:
            stamp = self._cache.generation(tenant)
            compiled = await anyio.to_thread.run_sync(self._load, tenant)
            self._cache.put(tenant, compiled, stamp)
        return [compiled[n] for n in names if n in compiled]


class VerdictRecorder:
    """Verdicts with matches, written in batches off the request path."""

    def __init__(self, store: DataStore, retry_for: float = 120.0) -> None:
        self._store = store
        self.writer: BatchWriter[GuardrailVerdictRecord] = BatchWriter(
            "guardrail-verdicts", self._write, codec=RecordCodec(GuardrailVerdictRecord), max_queue=50_000,
            batch_size=500, interval=1.0, retry_for=retry_for)

    def record(self, tenant: str, verdict: GuardrailVerdictRecord) -> None:
        """Queue one verdict."""
        self.writer.submit(tenant, verdict)

    def _write(self, tenant: str, verdicts: list[GuardrailVerdictRecord]) -> None:
        with writing_to(self._store, tenant) as uow:
            uow.guardrails.add_verdicts(verdicts)
            uow.commit()


def attach_policy(uow: TenantUnitOfWork, name: str, models: list[str], tokens: list[str], projects: list[str]) -> None:
    """Make `name` apply to exactly these models, tokens (by id) and projects (by name)."""
    for model in uow.models.list():
        wanted = model.name in models
        if wanted != (name in model.guardrails):
            names = [*model.guardrails, name] if wanted else [n for n in model.guardrails if n != name]
            uow.models.update(model.id, {"guardrails": names, "updated_at": utcnow()})
    for token in uow.api_tokens.list(limit=10_000):
        wanted = token.id in tokens
        if wanted != (name in token.guardrails):
            names = [*token.guardrails, name] if wanted else [n for n in token.guardrails if n != name]
            uow.api_tokens.update(token.id, {"guardrails": names})
    for project in uow.projects.list(limit=10_000):
        wanted = project.name in projects
        if wanted != (name in project.guardrails):
            names = [*project.guardrails, name] if wanted else [n for n in project.guardrails if n != name]
            uow.projects.update(project.id, {"guardrails": names})
