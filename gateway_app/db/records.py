"""Plain records the repositories return: the same for every backend, detached from any session."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway_app.core.ids import fast_id


def utcnow() -> datetime:
    """Timezone-aware now, second precision is enough for records."""
    return datetime.now(UTC).replace(microsecond=0)


def precise_now() -> datetime:
    """Timezone-aware now with microseconds (trace timings)."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A short random id with a type prefix, e.g. 'usr_3f9a0c1b2d4e5f60'."""
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(slots=True)
class TenantRecord:
    """A tenant and its license."""

    slug: str
    name: str
    status: str = "active"  # active | suspended
    plan: str = "standard"
    features: list[str] = field(default_factory=list)
    limits: dict = field(default_factory=dict)
    license_expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class PlatformAdminRecord:
    """A platform administrator (not bound to a tenant)."""

    email: str
    password_hash: str
    name: str = ""
    status: str = "active"
    id: str = field(default_factory=lambda: new_id("adm"))
    created_at: datetime = field(default_factory=utcnow)
    last_login_at: datetime | None = None
    session_version: int = 0  # bumped to end every session (logout, password, role, deactivation)


@dataclass(slots=True)
class DirectoryEntry:
    """Where a console user lives: e-mail -> tenant (e-mails are unique across the platform)."""

    email: str
    tenant_slug: str
    user_id: str


@dataclass(slots=True)
class TokenIndexEntry:
    """Where an API token lives: hash -> tenant, so a bearer token finds its tenant in one lookup."""

    token_hash: str
    tenant_slug: str
    token_id: str


@dataclass(slots=True)
class UserRecord:
    """A console user of one tenant."""

    email: str
    password_hash: str
    role: str = "member"  # admin | member
    name: str = ""
    status: str = "active"  # active | deactivated
    id: str = field(default_factory=lambda: new_id("usr"))
    created_at: datetime = field(default_factory=utcnow)
    last_login_at: datetime | None = None
    session_version: int = 0  # bumped to end every session (logout, password, role, deactivation)


@dataclass(slots=True)
class ProjectRecord:
    """A project groups tokens (and later budgets, guardrails) inside a tenant."""

    name: str
    description: str = ""
    limits: dict = field(default_factory=dict)  # {"monthly_budget_usd": ...}
    guardrails: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: new_id("prj"))
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class ApiTokenRecord:
    """An API token: only its hash and visible prefix are stored."""

    name: str
    token_hash: str
    prefix: str
    project_id: str | None = None
    scopes: dict = field(default_factory=dict)  # {"models": [...], "features": [...]}; empty = all
    limits: dict = field(default_factory=dict)  # {"rpm", "tpm", "monthly_budget_usd"}
    guardrails: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    created_by: str = ""
    id: str = field(default_factory=lambda: new_id("tok"))
    created_at: datetime = field(default_factory=utcnow)
    last_used_at: datetime | None = None


@dataclass(slots=True)
class AuditRecord:
    """Who changed what, when."""

    actor: str
    action: str
    target: str
    detail: dict = field(default_factory=dict)
    id: str = field(default_factory=lambda: new_id("aud"))
    at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class ProviderRecord:
    """An upstream provider configuration; the API key is stored encrypted."""

    name: str
    type: str  # openai | openai-compatible | azure-openai | anthropic
    base_url: str
    api_key_enc: str | None = None
    api_key_hint: str = ""  # masked form shown to operators, e.g. "sk-...abcd"
    api_version: str | None = None
    options: dict = field(default_factory=dict)  # timeout_s, max_retries (headers live encrypted below)
    headers_enc: str | None = None  # extra upstream headers, a JSON object encrypted like the key
    header_hints: dict = field(default_factory=dict)  # header name -> masked value, for display
    enabled: bool = True
    id: str = field(default_factory=lambda: new_id("prv"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class ModelRecord:
    """A public model name (alias) mapped to a provider's model, with prices, limits and fallbacks."""

    name: str
    provider_id: str
    upstream_model: str
    kind: str = "chat"  # chat | embedding
    fallbacks: list[str] = field(default_factory=list)
    input_price_per_1k: float = 0.0
    output_price_per_1k: float = 0.0
    rpm: int | None = None
    tpm: int | None = None
    enabled: bool = True
    guardrails: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: new_id("mdl"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class UsageRecord:
    """One client request, as measured by the gateway."""

    request_id: str
    model: str
    kind: str = "chat"
    token_id: str = ""
    project_id: str | None = None
    upstream_model: str = ""
    provider_id: str = ""
    status: int = 200
    error_type: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    stream: bool = False
    fallback: bool = False
    prompt: str = ""  # "name@version" when a prompt reference was used
    guardrail: str = ""  # "<action>:<policy>" of the strongest verdict
    rag_module: str = ""  # the RAG module the call was made for
    memory_store: str = ""  # the memory store the call was made for
    id: str = field(default_factory=lambda: fast_id("use"))
    at: datetime = field(default_factory=utcnow)


BLOCKED_ERROR_TYPE = "guardrail_violation"  # error_type of a request a guardrail refused on purpose


@dataclass(slots=True)
class UsageRollup:
    """Usage summed per hour, model, token and project: what charts and budgets read."""

    hour: datetime
    model: str
    token_id: str
    project_id: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms_sum: float = 0.0
    latency_buckets: list[int] = field(default_factory=list)
    blocked: int = 0  # refused by a guardrail on purpose: not counted in errors


@dataclass(slots=True)
class FileRecord:
    """A file uploaded through the gateway: which provider holds it, for which tenant."""

    id: str  # the provider's file id
    provider_id: str
    filename: str
    purpose: str
    bytes: int = 0
    status: str = "uploaded"
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class TraceSession:
    """An agent run: a tree of events."""

    id: str
    name: str = ""
    user: str = ""
    status: str = "running"  # running | completed | error
    tags: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    started_at: datetime = field(default_factory=precise_now)
    ended_at: datetime | None = None


@dataclass(slots=True)
class TraceEvent:
    """One step of a session (llm, tool, retrieval, guardrail, custom)."""

    id: str
    session_id: str
    type: str = "custom"
    name: str = ""
    parent_id: str | None = None
    status: str = "ok"  # ok | error
    input: object = None
    output: object = None
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    metadata: dict = field(default_factory=dict)
    started_at: datetime = field(default_factory=precise_now)
    ended_at: datetime | None = None


@dataclass(slots=True)
class PromptRecord:
    """A prompt: its versions are immutable; labels point at versions."""

    name: str
    description: str = ""
    project_id: str | None = None
    latest_version: int = 0
    labels: dict = field(default_factory=dict)  # {"production": 3, "staging": 4}
    id: str = field(default_factory=lambda: new_id("pmt"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class PromptVersionRecord:
    """One immutable version of a prompt."""

    prompt_id: str
    version: int
    messages: list[dict]
    variables: list[dict] = field(default_factory=list)  # [{"name","type","default","required"}]
    model: str = ""
    params: dict = field(default_factory=dict)
    author: str = ""
    message: str = ""
    id: str = field(default_factory=lambda: new_id("pmv"))
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class GuardrailPolicyRecord:
    """A named, ordered list of rules with a mode (enforce or shadow)."""

    name: str
    rules: list[dict] = field(default_factory=list)
    mode: str = "enforce"
    description: str = ""
    enabled: bool = True
    id: str = field(default_factory=lambda: new_id("grd"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class GuardrailVerdictRecord:
    """What a policy decided about one text."""

    policy: str
    direction: str
    action: str  # allow | block | mask | flag
    mode: str = "enforce"
    rules: list[str] = field(default_factory=list)
    matches: int = 0
    latency_ms: float = 0.0
    request_id: str = ""
    token_id: str = ""
    model: str = ""
    id: str = field(default_factory=lambda: fast_id("gdv"))
    at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class VectorStoreRecord:
    """A vector store (OpenAI's object); its chunks live in Chroma, one collection per store."""

    id: str
    name: str
    embedding_model: str
    metadata: dict = field(default_factory=dict)
    expires_after: dict | None = None  # {"anchor": "last_active_at", "days": N}
    expires_at: datetime | None = None
    dimensions: int | None = None  # fixed by the first vectors written
    usage_bytes: int = 0
    created_at: datetime = field(default_factory=utcnow)
    last_active_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class VectorFileRecord:
    """A file in a vector store: its ingestion status, attributes and chunking."""

    store_id: str
    file_id: str
    status: str = "in_progress"  # in_progress | completed | cancelled | failed
    attributes: dict = field(default_factory=dict)
    chunking: dict = field(default_factory=dict)  # {"max_tokens": M, "overlap": O}
    batch_id: str | None = None
    token_id: str = ""  # whose embedding calls (usage, quotas) ingestion makes
    usage_bytes: int = 0
    chunks: int = 0
    last_error: dict | None = None  # {"code", "message"}
    lease_until: datetime | None = None  # a process is ingesting it until then
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class VectorFileBatchRecord:
    """A batch of files added to a vector store together."""

    id: str
    store_id: str
    status: str = "in_progress"  # in_progress | completed | cancelled | failed
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class RagModuleRecord:
    """A RAG module: which stores to search, how, and which chat model answers."""

    name: str
    model: str  # a chat model of the tenant
    vector_store_ids: list[str] = field(default_factory=list)
    description: str = ""
    prompt: dict | None = None  # {"name", "label" | "version"}: a stored prompt; None: the built-in template
    top_k: int = 5
    score_threshold: float = 0.0
    max_context_tokens: int = 3000
    filters: dict | None = None  # default attribute filters (OpenAI's filter shape)
    no_results: str = "answer"  # answer ("I don't know", no model call) | error
    rerank_model: str | None = None  # a chat model that reorders the candidates
    id: str = field(default_factory=lambda: new_id("rag"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class MemoryStoreRecord:
    """A memory store: long-term memories of agents, scoped by user, agent and run; vectors in Chroma."""

    name: str
    embedding_model: str
    extraction_model: str  # a chat model of the tenant: extracts facts and decides ADD/UPDATE/DELETE/NONE
    description: str = ""
    similarity_threshold: float = 0.95  # an existing memory this similar to a new fact makes it a NONE
    top_k: int = 5
    retention_days: int | None = None  # memories expire this many days after their last change
    prompt: dict | None = None  # {"name", "label" | "version"}: a stored extraction prompt
    dimensions: int | None = None  # fixed by the first vectors written
    id: str = field(default_factory=lambda: new_id("mst"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class MemoryRecord:
    """One memory: a self-contained fact about a user, agent or run."""

    store_id: str
    text: str
    hash: str  # of the normalised text: exact restatements are caught without a model call
    user_id: str = ""
    agent_id: str = ""
    run_id: str = ""
    metadata: dict = field(default_factory=dict)
    expires_at: datetime | None = None
    id: str = field(default_factory=lambda: new_id("mem"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class MemoryEventRecord:
    """One change of a memory (its history): ADD, UPDATE, DELETE, EXPIRE or FORGET."""

    store_id: str
    memory_id: str
    event: str
    old_text: str | None = None
    new_text: str | None = None
    actor: str = ""  # "token:<id>", "console:<email>", "model:<name>" or "system"
    user_id: str = ""
    id: str = field(default_factory=lambda: fast_id("mev"))
    at: datetime = field(default_factory=precise_now)


@dataclass(slots=True)
class MemoryJobRecord:
    """An asynchronous add: its request is answered 202 with this id, polled until done."""

    store_id: str
    status: str = "in_progress"  # in_progress | completed | failed
    results: list = field(default_factory=list)
    error: dict | None = None  # {"code", "message"}
    token_id: str = ""
    id: str = field(default_factory=lambda: new_id("mjob"))
    created_at: datetime = field(default_factory=utcnow)
    completed_at: datetime | None = None


@dataclass(slots=True)
class AlertChannelRecord:
    """Where a tenant's alerts go: e-mail recipients or a webhook URL (its signing secret encrypted)."""

    name: str
    type: str  # email | webhook
    recipients: list[str] = field(default_factory=list)
    url: str = ""
    secret_enc: str = ""  # SecretBox ciphertext of the webhook's signing secret
    overrides: dict = field(default_factory=dict)  # event type -> {"subject", "body"} (e-mail templates)
    enabled: bool = True
    daily_report: bool = False  # e-mail: also receives the tenant's daily usage report
    id: str = field(default_factory=lambda: new_id("ach"))
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class AlertRuleRecord:
    """A condition on one metric of a tenant, its thresholds, channels and current state."""

    name: str
    metric: str  # error_rate | latency_p95 | requests | tokens | cost | budget_used_pct | provider_down | ...
    operator: str = ">"  # > >= < <=
    warning: float | None = None
    critical: float | None = None
    window_minutes: int = 5
    filters: dict = field(default_factory=dict)  # model, token_id, project_id, provider
    channel_ids: list[str] = field(default_factory=list)
    cooldown_minutes: int = 30
    notify_resolved: bool = True
    enabled: bool = True
    state: str = "ok"  # ok | warning | critical
    last_value: float | None = None
    last_evaluated_at: datetime | None = None
    last_notified_at: datetime | None = None
    id: str = field(default_factory=lambda: new_id("alr"))
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class AlertEventRecord:
    """A rule that started firing (or changed severity) or resolved, with the value seen."""

    rule_id: str
    rule_name: str
    state: str  # firing | resolved
    severity: str  # warning | critical (resolved: the severity it had)
    value: float | None
    threshold: float | None
    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None
    id: str = field(default_factory=lambda: new_id("alev"))
    at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class AlertDeliveryRecord:
    """One notification of an event on one channel: delivered or not, after how many attempts."""

    event_id: str
    channel_id: str
    channel_type: str
    ok: bool
    attempts: int = 1
    status: int = 0  # the last HTTP status (webhooks), 0 for e-mail or no answer
    error: str = ""
    id: str = field(default_factory=lambda: new_id("aldl"))
    at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class StoredResponseRecord:
    """A Responses API answer kept (`store`) for GET, input_items and previous_response_id."""

    id: str
    model: str
    body: dict = field(default_factory=dict)  # the response object as answered
    input_items: list = field(default_factory=list)  # the input items of this turn, with their ids
    messages: list = field(default_factory=list)  # the conversation so far as chat messages (no instructions)
    created_at: datetime = field(default_factory=utcnow)
