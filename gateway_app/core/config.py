"""Typed settings read from the environment, validated once at start."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway_app.core.outbound import parse_allow_list, split_host_port

# Development defaults: usable out of the box, refused when ENV=production.
DEV_JWT_SECRET = "gatehouse-dev-jwt-secret-change-me-in-production"
DEV_ENCRYPTION_KEY = "Z2F0ZWhvdXNlLWRldi1rZXktY2hhbmdlLW1lLTMyYiE="
GUARDRAIL_SCAN_CEILING = 20_000_000  # the highest GUARDRAIL_MAX_SCAN_CHARS accepted (characters)


class ConfigError(Exception):
    """Raised when the configuration is invalid; the message names the variable."""


class Settings(BaseSettings):
    """Every setting the gateway reads, with its environment variable name in upper case."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    env: Literal["development", "test", "production"] = "development"
    db_provider: Literal["sqlite", "mongodb"] = "sqlite"
    data_dir: Path = Path(".data")
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    # Prepended to every database name (`<prefix>console_main`, `<prefix>tenant_<slug>`): deployments
    # (or test runs) sharing one cluster stay apart.
    mongodb_db_prefix: str = Field(default="", max_length=16, pattern=r"^([a-z0-9][a-z0-9_]*)?$")
    mongodb_timeout_ms: int = Field(default=5000, ge=100, le=120_000)
    cache_provider: Literal["none", "memory", "redis"] = "memory"
    redis_url: str = ""
    # Vector stores: embedded Chroma under DATA_DIR/vectors/<tenant>/, or a Chroma server.
    vector_provider: Literal["embedded", "chroma-server"] = "embedded"
    chroma_url: str = ""
    vector_ingestion_queue: int = Field(default=10_000, ge=1, le=1_000_000)
    vector_ingestion_workers: int = Field(default=2, ge=1, le=32)
    vector_owner_process: bool = Field(default=True, description="embedded Chroma served by a process of its own "
                                                                 "(its writes hold the GIL: in a serving process "
                                                                 "they stall requests)")
    jwt_secret: str = DEV_JWT_SECRET
    jwt_ttl_minutes: int = Field(default=480, ge=1, le=7 * 24 * 60)
    encryption_key: str = DEV_ENCRYPTION_KEY
    admin_email: str = ""
    admin_password: str = ""
    log_format: Literal["json", "pretty"] = "pretty"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    cors_origins: str = "*"
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "gatehouse@localhost"
    smtp_security: Literal["auto", "starttls", "tls", "none"] = Field(
        default="auto", description="auto: STARTTLS when the server offers it; tls: implicit TLS (port 465)")
    alerts_interval_seconds: float = Field(default=60.0, ge=0, le=3600,
                                           description="how often alert rules are evaluated (0: never)")
    alerts_daily_report_hour: int = Field(default=7, ge=-1, le=23,
                                          description="UTC hour after which yesterday's usage report is e-mailed "
                                                      "to channels with daily_report on (-1: never)")
    alerts_budget_defaults: str = Field(default="50,80,100", pattern=r"^(\d{1,3}(,\d{1,3})*)?$",
                                        description="budget alert rules every tenant with a monthly budget gets "
                                                    "(percent; empty: none)")
    console_url: str = Field(default="", max_length=500, description="the console's address, linked from alert "
                                                                     "e-mails (e.g. https://gatehouse.example.com)")
    responses_retention_days: int = Field(default=30, ge=0, le=3650,
                                          description="stored Responses API answers older than this are deleted "
                                                      "(0: kept until deleted)")
    metrics_enabled: bool = Field(default=True, description="count requests for /metrics (false: /metrics is a 404 "
                                                            "and the hot path skips the counting)")
    metrics_token: str = Field(default="", description="bearer token /metrics requires (without it: loopback only)")
    metrics_labels: str = Field(default="tenant,model", description="labels of request metrics, of tenant, model, "
                                                                    "project, token (token and project: many series)")
    memory_cache_max_entries: int = Field(default=50_000, ge=100)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0, le=600)
    usage_queue_size: int = Field(default=100_000, ge=100)
    gc_thresholds: str = Field(default="10000,10,10", pattern=r"^\d{1,7},\d{1,4},\d{1,4}$",
                               description="gc.set_threshold for serving processes (generation 0 size, "
                                           "then how many collections of the younger generation each)")
    trace_idle_minutes: int = Field(default=30, ge=1, le=10_080,
                                    description="a running trace session with nothing new this long shows as idle")
    writer_process: bool = Field(default=True, description="usage and token last-used written by a process of "
                                                           "its own per gateway process (SQLite)")
    writer_shared: bool = Field(default=True, description="serve-api --workers N: one writer process for the host, "
                                                          "fed by every worker (false: one per worker)")
    max_request_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=1024**3,
                                   description="JSON request bodies (/v1, /admin)")
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1024, le=8 * 1024**3,
                                  description="file uploads (POST /v1/files)")
    password_hash_workers: int = Field(default=1, ge=1, le=16)
    login_free_failures: int = Field(default=5, ge=1, le=1000, description="per e-mail, before delays start")
    login_free_failures_per_address: int = Field(default=20, ge=1, le=100_000)
    login_max_delay_seconds: float = Field(default=900.0, ge=1, le=86_400)
    sqlite_max_open_tenants: int | None = Field(default=None, ge=8, le=100_000,
                                                description="default: what the open-files limit allows (max 4096)")
    tenant_idle_seconds: float = Field(default=600.0, ge=5, le=86_400,
                                       description="a tenant's open database and provider clients unused this "
                                                   "long are closed")
    runtime_pool_max: int = Field(default=10_000, ge=16, le=1_000_000)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=100, le=120_000)
    batch_retry_seconds: float = Field(default=120.0, ge=1, le=86_400)
    # Outbound policy (core/outbound.py): private upstreams are refused unless allowed here.
    allow_private_upstreams: bool = False
    provider_allowed_hosts: str = ""  # host, host:port, IP, CIDR or [IPv6]:port entries, comma-separated
    gateway_listeners: str = ""  # host:port the gateway serves on; set by `serve` / `serve-api`
    # Characters of request (or answer) text guardrail policies scan; longer input is refused with a 413.
    guardrail_max_scan_chars: int = Field(default=1_000_000, ge=1_000, le=GUARDRAIL_SCAN_CEILING)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("metrics_labels")
    @classmethod
    def _check_metrics_labels(cls, value: str) -> str:
        from gateway_app.core.metrics import parse_labels

        return ",".join(parse_labels(value))

    @field_validator("admin_email")
    @classmethod
    def _check_admin_email(cls, value: str) -> str:
        if value and "@" not in value:
            raise ValueError("must be an e-mail address")
        return value.strip().lower()

    @field_validator("encryption_key")
    @classmethod
    def _check_encryption_key(cls, value: str) -> str:
        from gateway_app.core.crypto import parse_fernet_keys

        parse_fernet_keys(value)  # raises ValueError with a clear message
        return value

    @field_validator("provider_allowed_hosts")
    @classmethod
    def _check_allowed_hosts(cls, value: str) -> str:
        parse_allow_list(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("gateway_listeners")
    @classmethod
    def _check_listeners(cls, value: str) -> str:
        for entry in (e.strip() for e in value.split(",") if e.strip()):
            if split_host_port(entry)[1] is None:
                raise ValueError(f"{entry!r}: a listener is host:port")
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.cache_provider == "redis" and not self.redis_url:
            raise ValueError("REDIS_URL: required when CACHE_PROVIDER=redis")
        if self.vector_provider == "chroma-server" and not self.chroma_url.startswith(("http://", "https://")):
            raise ValueError("CHROMA_URL: an http(s):// URL is required when VECTOR_PROVIDER=chroma-server")
        if self.env == "production":
            if self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32:
                raise ValueError("JWT_SECRET: set a random secret of 32+ characters in production")
            if self.encryption_key == DEV_ENCRYPTION_KEY:
                raise ValueError("ENCRYPTION_KEY: set your own Fernet key in production")
        return self

    @cached_property
    def cors_origin_list(self) -> list[str]:
        """CORS_ORIGINS split on commas."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def control_db_path(self) -> Path:
        """The SQLite file holding the tenant registry and platform users."""
        return self.data_dir / "console_main.sqlite"


def _describe(error: dict) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if loc:
        value = error.get("input")
        shown = f" (got {value!r})" if isinstance(value, (str, int, float)) else ""
        return f"{loc[0].upper()}: {message}{shown}"
    return message


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; raise ConfigError naming each bad variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"Invalid configuration: {problems}") from None
    settings.data_dir = Path(os.path.abspath(settings.data_dir))
    return settings
