"""The daily usage report: one UTC day of a tenant's traffic, e-mailed to its channels that ask for it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import anyio
from pydantic import BaseModel, ConfigDict

from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import AlertChannelRecord, AlertDeliveryRecord, utcnow
from gateway_app.services.alerts.channels import Notifier, keep_deliveries
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess

TOP_MODELS = 10


class ReportIn(BaseModel):
    """Which UTC day to report (default: yesterday)."""

    model_config = ConfigDict(extra="forbid")

    day: date | None = None


class ReportOut(BaseModel):
    """What sending one day's report did."""

    day: date
    channels: int
    sent: int
    failed: int
    requests: int
    cost_usd: float


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def summarise(uow: TenantUnitOfWork, day: date) -> dict:
    """The day's totals and busiest models, from the hourly roll-ups, and the alerts that fired."""
    start, end = day_bounds(day)
    totals = {"requests": 0, "errors": 0, "blocked": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0,
              "latency": 0.0}
    models: dict[str, dict] = {}
    for r in uow.usage.rollups(start, end):
        for key, value in (("requests", r.requests), ("errors", r.errors), ("blocked", r.blocked),
                           ("prompt_tokens", r.prompt_tokens), ("completion_tokens", r.completion_tokens),
                           ("cost", r.cost_usd), ("latency", r.latency_ms_sum)):
            totals[key] += value
        m = models.setdefault(r.model or "-", {"model": r.model or "-", "requests": 0, "errors": 0, "tokens": 0,
                                               "cost": 0.0})
        m["requests"] += r.requests
        m["errors"] += r.errors
        m["tokens"] += r.prompt_tokens + r.completion_tokens
        m["cost"] += r.cost_usd
    fired = sum(1 for e in uow.alerts.list_events(limit=1000) if e.state == "firing" and start <= e.at < end)
    answered = totals["requests"] - totals["blocked"]
    busiest = sorted(models.values(), key=lambda m: (-m["cost"], -m["requests"], m["model"]))[:TOP_MODELS]
    return {
        "day": day.isoformat(), "requests": totals["requests"], "errors": totals["errors"],
        "error_rate": round(100 * totals["errors"] / answered, 2) if answered else 0,
        "blocked": totals["blocked"], "prompt_tokens": totals["prompt_tokens"],
        "completion_tokens": totals["completion_tokens"], "cost": round(totals["cost"], 4),
        "latency_ms": round(totals["latency"] / answered) if answered else 0, "alerts_fired": fired,
        "models": [{**m, "cost": round(m["cost"], 4)} for m in busiest],
    }


class DailyReporter:
    """Sends a tenant's report for one day to every enabled e-mail channel with `daily_report` on."""

    def __init__(self, access: TenantAccess, notifier: Notifier, console_url: str = "") -> None:
        self._access, self._notifier, self._console_url = access, notifier, console_url

    async def send(self, actor: Principal, tenant: str | None, day: date | None = None) -> ReportOut:
        """Send the day's report (default: yesterday, UTC); every delivery goes to the delivery log."""
        actor.require_write()
        slug = self._access.check(actor, tenant).slug
        day = day or utcnow().date() - timedelta(days=1)

        def load() -> tuple[list[AlertChannelRecord], dict]:
            with self._access.open(actor, tenant) as uow:
                channels = [c for c in uow.alerts.list_channels() if c.enabled and c.daily_report and c.type == "email"]
                return channels, summarise(uow, day)

        channels, summary = await anyio.to_thread.run_sync(load)
        values = {**summary, "tenant": slug, "console_url": self._console_url}
        deliveries: list[AlertDeliveryRecord] = []
        for channel in channels:
            delivery = await self._notifier.send(channel, "daily_report", values, {}, event_id=f"report-{day}")
            deliveries.append(delivery)

        await keep_deliveries(self._access, actor, tenant, deliveries)
        failed = sum(1 for d in deliveries if not d.ok)
        return ReportOut(day=day, channels=len(channels), sent=len(deliveries) - failed, failed=failed,
                         requests=summary["requests"], cost_usd=summary["cost"])
