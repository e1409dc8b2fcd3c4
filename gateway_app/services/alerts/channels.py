"""Alert channels of a tenant: e-mail recipients or a signed webhook; CRUD, "send test" and delivery."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway_app.core.crypto import SecretBox
from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.outbound import OutboundPolicy
from gateway_app.db.errors import DuplicateKey
from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import AlertChannelRecord, AlertDeliveryRecord
from gateway_app.services import audit
from gateway_app.services.alerts import mail
from gateway_app.services.alerts.webhooks import deliver
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess

ChannelName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s,;<>]+@[^@\s,;<>]+$")]


class TemplateOverride(BaseModel):
    """A tenant's subject and text body for one event type (Jinja2, sandboxed)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(default="", max_length=mail.MAX_OVERRIDE_CHARS)
    body: str = Field(default="", max_length=mail.MAX_OVERRIDE_CHARS)


Overrides = dict[Literal["firing", "resolved", "test"], TemplateOverride]


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value.startswith(("http://", "https://")) or len(value) > 2000:
        raise ValueError("must be an http:// or https:// URL of at most 2000 characters")
    return value


class ChannelCreate(BaseModel):
    """Input to create a channel: `to` for e-mail, `url` (and optionally `secret`) for a webhook."""

    model_config = ConfigDict(extra="forbid")

    name: ChannelName
    type: Literal["email", "webhook"]
    to: list[Email] = Field(default_factory=list, max_length=20)
    url: str | None = None
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="webhook signing secret (write-only; generated when omitted)")
    overrides: Overrides = Field(default_factory=dict)
    enabled: bool = True
    daily_report: bool = Field(default=False, description="e-mail: also send the tenant's daily usage report")

    _url = field_validator("url")(lambda cls, v: _check_url(v))

    @model_validator(mode="after")
    def _fits_type(self) -> ChannelCreate:
        if self.type == "email" and not self.to:
            raise ValueError("an email channel needs at least one address in 'to'")
        if self.type == "webhook" and not self.url:
            raise ValueError("a webhook channel needs 'url'")
        if self.type == "webhook" and self.daily_report:
            raise ValueError("the daily usage report is an e-mail: 'daily_report' needs an email channel")
        return self


class ChannelUpdate(BaseModel):
    """Changes to a channel (send only what changes)."""

    model_config = ConfigDict(extra="forbid")

    name: ChannelName | None = None
    to: list[Email] | None = Field(default=None, min_length=1, max_length=20)
    url: str | None = None
    secret: str | None = Field(default=None, min_length=16, max_length=200)
    overrides: Overrides | None = None
    enabled: bool | None = None
    daily_report: bool | None = None

    _url = field_validator("url")(lambda cls, v: _check_url(v))


class ChannelOut(BaseModel):
    """A channel; the webhook secret is shown only in the answer that created or changed it."""

    id: str
    name: str
    type: str
    to: list[str]
    url: str
    has_secret: bool
    secret: str | None = None
    overrides: dict
    enabled: bool
    daily_report: bool
    created_at: datetime

    @classmethod
    def of(cls, record: AlertChannelRecord, secret: str | None = None) -> ChannelOut:
        """Build from a stored record."""
        return cls(id=record.id, name=record.name, type=record.type, to=list(record.recipients), url=record.url,
                   has_secret=bool(record.secret_enc), secret=secret, overrides=record.overrides,
                   enabled=record.enabled, daily_report=record.daily_report, created_at=record.created_at)


SAMPLE_VALUES = {"tenant": "acme", "rule": "error rate above 5 %", "metric": "error_rate", "operator": ">",
                 "threshold": 0.05, "value": 0.12, "severity": "critical", "window_minutes": 5,
                 "at": "2026-12-01T09:30:00+00:00", "filters": "model=gpt-4o-mini", "console_url": "",
                 "channel": "ops mail"}


class PreviewIn(BaseModel):
    """A template override to preview before it is saved."""

    model_config = ConfigDict(extra="forbid")

    event_type: Literal["firing", "resolved", "test"] = "firing"
    subject: str = Field(default="", max_length=mail.MAX_OVERRIDE_CHARS)
    body: str = Field(default="", max_length=mail.MAX_OVERRIDE_CHARS)


class PreviewOut(BaseModel):
    """The e-mail an event would send, rendered with sample values."""

    subject: str
    text: str
    html: str


def preview(data: PreviewIn, console_url: str = "", tenant: str = "acme") -> PreviewOut:
    """Render the e-mail of an event type with the override (checked as saving checks it) and sample values."""
    mail.check_override(data.subject, "subject")
    mail.check_override(data.body, "body")
    subject, text, html = mail.render(data.event_type, {**SAMPLE_VALUES, "console_url": console_url, "tenant": tenant},
                                      mail.Overrides(subject=data.subject, body=data.body))
    return PreviewOut(subject=subject, text=text, html=html)


class TestResult(BaseModel):
    """What "send test" did."""

    ok: bool
    attempts: int
    status: int
    error: str


def find_channel(uow: TenantUnitOfWork, ref: str) -> AlertChannelRecord:
    """A channel by id or name, or NotFound."""
    record = uow.alerts.get_channel(ref) or next((c for c in uow.alerts.list_channels() if c.name == ref), None)
    if record is None:
        raise NotFound(f"alert channel {ref!r} not found", param="channel")
    return record


class Notifier:
    """Sends one message on one channel (e-mail or webhook) and says how it went."""

    def __init__(self, smtp: mail.SmtpSettings, box: SecretBox, policy: OutboundPolicy,
                 webhook_attempts: int = 3, webhook_backoff: float = 2.0) -> None:
        self.smtp, self._box, self.policy = smtp, box, policy
        self._attempts, self._backoff = webhook_attempts, webhook_backoff

    async def send(self, channel: AlertChannelRecord, event_type: str, values: dict, payload: dict,
                   event_id: str = "") -> AlertDeliveryRecord:
        """Deliver, never raise: the result is the delivery record (ok or the reason it failed)."""
        if channel.type == "email":
            try:
                override = mail.Overrides(**channel.overrides.get(event_type, {}))
                subject, text, html = mail.render(event_type, values, override)
                message = mail.message(self.smtp, list(channel.recipients), subject, text, html)
                await anyio.to_thread.run_sync(mail.send, self.smtp, message)
                return AlertDeliveryRecord(event_id=event_id, channel_id=channel.id, channel_type="email", ok=True)
            except (OSError, InvalidInput, mail.smtplib.SMTPException) as exc:
                return AlertDeliveryRecord(event_id=event_id, channel_id=channel.id, channel_type="email", ok=False,
                                           error=f"{type(exc).__name__}: {exc}"[:1000])
        secret = self._box.decrypt(channel.secret_enc) if channel.secret_enc else ""
        attempts = await deliver(self.policy, channel.url, secret, payload, attempts=self._attempts,
                                 backoff=self._backoff)
        last = attempts[-1]
        return AlertDeliveryRecord(event_id=event_id, channel_id=channel.id, channel_type="webhook", ok=last.ok,
                                   attempts=len(attempts), status=last.status, error=last.error[:1000])


async def keep_deliveries(access: TenantAccess, actor: Principal, tenant: str | None,
                          deliveries: list[AlertDeliveryRecord]) -> None:
    """Add notifications to the tenant's delivery log (one transaction, off the event loop)."""
    def keep() -> None:
        with access.open(actor, tenant) as uow:
            for delivery in deliveries:
                uow.alerts.add_delivery(delivery)
            uow.commit()

    if deliveries:
        await anyio.to_thread.run_sync(keep)


class ChannelService:
    """Operators' CRUD of alert channels, and "send test"."""

    def __init__(self, access: TenantAccess, box: SecretBox, notifier: Notifier) -> None:
        self._access, self._box, self._notifier = access, box, notifier

    def list(self, actor: Principal, tenant: str | None) -> list[ChannelOut]:
        """Channels by name."""
        with self._access.open(actor, tenant) as uow:
            return [ChannelOut.of(c) for c in uow.alerts.list_channels()]

    def get(self, actor: Principal, tenant: str | None, ref: str) -> ChannelOut:
        """One channel by id or name."""
        with self._access.open(actor, tenant) as uow:
            return ChannelOut.of(find_channel(uow, ref))

    def _check(self, fields: dict) -> None:
        if fields.get("url"):
            problem = self._notifier.policy.check_url(fields["url"])
            if problem:
                raise InvalidInput(f"url: {problem}", param="url")
        for event_type, override in (fields.get("overrides") or {}).items():
            for part in ("subject", "body"):
                mail.check_override(override.get(part, ""), f"overrides.{event_type}.{part}")

    def create(self, actor: Principal, tenant: str | None, data: ChannelCreate) -> ChannelOut:
        """Add a channel; a webhook gets a generated secret unless one is given (shown in this answer only)."""
        actor.require_write()
        fields = data.model_dump()
        self._check(fields)
        secret = (data.secret or f"whsec_{secrets.token_urlsafe(24)}") if data.type == "webhook" else None
        record = AlertChannelRecord(name=data.name, type=data.type, recipients=list(data.to), url=data.url or "",
                                    secret_enc=self._box.encrypt(secret) if secret else "",
                                    overrides=fields["overrides"], enabled=data.enabled,
                                    daily_report=data.daily_report)
        with self._access.open(actor, tenant) as uow:
            try:
                uow.alerts.add_channel(record)
            except DuplicateKey:
                raise Conflict(f"alert channel {data.name!r} already exists", param="name") from None
            audit.record(uow, actor, "alert_channel.create", record.id, name=record.name, type=record.type)
            uow.commit()
        return ChannelOut.of(record, secret)

    def update(self, actor: Principal, tenant: str | None, ref: str, data: ChannelUpdate) -> ChannelOut:
        """Change a channel (a new secret is shown in this answer only)."""
        actor.require_write()
        fields = data.model_dump(exclude_unset=True)
        if any(v is None for v in fields.values()):
            raise InvalidInput("fields cannot be set to null", param=next(k for k, v in fields.items() if v is None))
        self._check(fields)
        changes = {k: v for k, v in fields.items() if k in ("name", "url", "overrides", "enabled", "daily_report")}
        if "to" in fields:
            changes["recipients"] = fields["to"]
        if "secret" in fields:
            changes["secret_enc"] = self._box.encrypt(fields["secret"])
        with self._access.open(actor, tenant) as uow:
            current = find_channel(uow, ref)
            if current.type == "email" and ("url" in fields or "secret" in fields):
                raise InvalidInput("an email channel has no url or secret", param="url")
            if current.type == "webhook" and "to" in fields:
                raise InvalidInput("a webhook channel has no recipients", param="to")
            if current.type == "webhook" and fields.get("daily_report"):
                raise InvalidInput("the daily usage report is an e-mail: it needs an email channel",
                                   param="daily_report")
            try:
                record = uow.alerts.update_channel(current.id, changes) or current
            except DuplicateKey:
                raise Conflict(f"alert channel {fields.get('name')!r} already exists", param="name") from None
            audit.record(uow, actor, "alert_channel.update", record.id, fields=sorted(changes))
            uow.commit()
        return ChannelOut.of(record, fields.get("secret"))

    def delete(self, actor: Principal, tenant: str | None, ref: str) -> None:
        """Remove a channel; rules naming it lose it."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            channel = find_channel(uow, ref)
            for rule in uow.alerts.list_rules():
                if channel.id in rule.channel_ids:
                    uow.alerts.update_rule(rule.id, {"channel_ids": [c for c in rule.channel_ids if c != channel.id]})
            uow.alerts.delete_channel(channel.id)
            audit.record(uow, actor, "alert_channel.delete", channel.id, name=channel.name)
            uow.commit()

    def preview(self, actor: Principal, tenant: str | None, data: PreviewIn, console_url: str = "") -> PreviewOut:
        """An override's e-mail rendered with sample values (anyone who may see the tenant's channels)."""
        return preview(data, console_url, self._access.check(actor, tenant).slug)

    async def test(self, actor: Principal, tenant: str | None, ref: str) -> TestResult:
        """Send a test message on the channel now."""
        actor.require_write()
        slug = self._access.check(actor, tenant).slug

        def load() -> AlertChannelRecord:
            with self._access.open(actor, tenant) as uow:
                return find_channel(uow, ref)

        channel = await anyio.to_thread.run_sync(load)
        values = {"tenant": slug, "channel": channel.name}
        delivery = await self._notifier.send(channel, "test", values, {"type": "test", "tenant": slug,
                                                                       "channel": channel.name})
        return TestResult(ok=delivery.ok, attempts=delivery.attempts, status=delivery.status, error=delivery.error)
