"""Tenant licenses: the features a tenant may use and the limits that apply to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from gateway_app.services.fields import MAX_COUNT, MAX_RATE, MAX_USD

Feature = Literal[
    "chat", "embeddings", "files", "vector", "rag", "memory",
    "prompts", "guardrails", "tracing", "playground",
]
ALL_FEATURES: tuple[str, ...] = get_args(Feature)

# Client API path prefixes and the feature each needs; /v1/models needs none.
FEATURE_BY_PATH: tuple[tuple[str, str], ...] = (
    ("/v1/chat/", "chat"),
    ("/v1/completions", "chat"),
    ("/v1/messages", "chat"),
    ("/v1/responses", "chat"),
    ("/v1/embeddings", "embeddings"),
    ("/v1/files", "files"),
    ("/v1/vector", "vector"),
    ("/v1/rag", "rag"),
    ("/v1/memory", "memory"),
    ("/v1/prompts", "prompts"),
    ("/v1/guardrails", "guardrails"),
    ("/v1/tracing", "tracing"),
)


def feature_for_path(path: str) -> str | None:
    """The licensed feature a client API path belongs to, if any."""
    for prefix, feature in FEATURE_BY_PATH:
        if path.startswith(prefix):
            return feature
    return None


class QuotaLimits(BaseModel):
    """Request, token and spend limits of a token, project or tenant; None means unlimited."""

    model_config = ConfigDict(extra="forbid")

    rpm: int | None = Field(default=None, ge=1, le=MAX_RATE, description="requests per minute")
    tpm: int | None = Field(default=None, ge=1, le=MAX_RATE, description="tokens per minute (prompt + completion)")
    monthly_budget_usd: float | None = Field(default=None, ge=0, le=MAX_USD, allow_inf_nan=False,
                                             description="spend per calendar month (UTC)")


class TenantLimits(QuotaLimits):
    """Limits of a tenant's license; None means unlimited."""

    max_users: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_COUNT, description="API tokens the tenant may hold")


def license_expired(expires_at: datetime | None, now: datetime | None = None) -> bool:
    """True when an expiry is set and has passed."""
    return expires_at is not None and expires_at <= (now or datetime.now(UTC))
