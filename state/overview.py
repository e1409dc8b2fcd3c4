"""Overview dashboard: traffic, tokens, cost, errors and latency of the active tenant, from roll-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import reflex as rx

from gateway_app.core.errors import GatehouseError
from state.base import counted, failure, in_thread, platform
from state.session import SessionState

RANGES = {"24h": (timedelta(hours=24), "hour"), "7d": (timedelta(days=7), "day"), "30d": (timedelta(days=30), "day")}


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 100 else f"${value:,.0f}"


def _count(value: int) -> str:
    return f"{value / 1_000_000:.1f}M" if value >= 1_000_000 else f"{value / 1000:.1f}k" if value >= 10_000 else str(value)


class OverviewState(SessionState):
    """State of /."""

    range: str = "24h"
    points: list[dict] = []
    top_models: list[dict] = []
    top_tokens: list[dict] = []
    requests: str = "0"
    tokens: str = "0"
    cost: str = "$0"
    error_rate: str = "0%"
    blocked: str = "0"
    avg_latency: str = "-"
    has_traffic: bool = False
    tenant_count: int = 0
    user_count: int = 0
    token_count: int = 0
    tenant_name: str = ""
    tenant_status: str = ""
    tenant_plan: str = ""
    loading: bool = False
    _token_names: dict[str, str] = {}  # backend only: token id -> name, for the top-spenders chart

    @rx.var
    def facts(self) -> str:
        """Users and tokens of the tenant (and tenants of the gateway, for platform admins)."""
        text = f"{counted(self.user_count, 'user')} · {counted(self.token_count, 'active token')}"
        if self.is_platform_admin:
            text += f" · {counted(self.tenant_count, 'tenant')} on this gateway"
        return text

    @rx.var
    def tick_interval(self) -> int:
        """Every chart of the page labels the same buckets, whatever its width."""
        return max(0, -(-len(self.points) // 5) - 1)  # about five labels: they fit the narrowest chart

    @rx.event
    async def set_range(self, value: str | list[str]):
        """24 h, 7 d or 30 d."""
        value = value[0] if isinstance(value, list) else value
        if value in RANGES:
            self.range = value
            async for event in self._load_charts():
                yield event

    @rx.event
    async def load(self):
        """Tenant facts and charts."""
        self.loading = True
        yield
        try:
            principal = await in_thread(self.principal)
            services = platform()
            if principal.is_platform_admin:
                self.tenant_count = (await in_thread(services.tenants.list, principal, limit=1)).total
            if self.tenant_missing:
                self.tenant_name, self.has_traffic = "", False
                return
            info = await in_thread(services.tenants.get, principal, self.active_tenant)
            self.tenant_name, self.tenant_status, self.tenant_plan = info.name, info.status, info.plan
            self.user_count = len(await self.tenant_call(services.users.list, limit=500))
            tokens = await self.tenant_call(services.tokens.list, limit=500)
            self.token_count = sum(t.status == "active" for t in tokens)
            self._token_names = {t.id: t.name for t in tokens}
        except GatehouseError as exc:
            yield failure(exc)
            return
        finally:
            self.loading = False
        async for event in self._load_charts():
            yield event

    async def _load_charts(self):
        span, bucket = RANGES[self.range]
        end = datetime.now(UTC)
        start = end - span
        services = platform()
        try:
            points = await self.tenant_call(services.usage.timeseries, start, end, bucket)
            by_model = await self.tenant_call(services.usage.summary, start, end, "model")
            by_token = await self.tenant_call(services.usage.summary, start, end, "token")
            names = self._token_names
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.points = [{"label": p.label, "requests": p.requests, "errors": p.errors, "blocked": p.blocked,
                        "error_rate": round(p.error_rate * 100, 2), "prompt_tokens": p.prompt_tokens,
                        "completion_tokens": p.completion_tokens, "cost": round(p.cost_usd, 6),
                        "avg": p.avg_latency_ms, "p50": p.p50_latency_ms, "p95": p.p95_latency_ms}
                       for p in points]
        total_requests = sum(p.requests for p in points)
        total_errors = sum(p.errors for p in points)
        self.has_traffic = total_requests > 0
        self.requests = _count(total_requests)
        self.tokens = _count(sum(p.total_tokens for p in points))
        self.cost = _money(sum(p.cost_usd for p in points))
        self.error_rate = f"{total_errors / total_requests * 100:.1f}%" if total_requests else "0%"
        self.blocked = _count(sum(p.blocked for p in points))
        weighted = sum((p.avg_latency_ms or 0) * p.requests for p in points)
        self.avg_latency = f"{weighted / total_requests:,.0f} ms" if total_requests else "-"
        self.top_models = [{"name": r.key, "cost": round(r.cost_usd, 6), "requests": r.requests}
                           for r in sorted(by_model.rows, key=lambda r: (-r.cost_usd, -r.requests))[:8]]
        self.top_tokens = [{"name": names.get(r.key, "Playground" if r.key.startswith("playground:") else r.key),
                            "cost": round(r.cost_usd, 6), "requests": r.requests}
                           for r in sorted(by_token.rows, key=lambda r: (-r.cost_usd, -r.requests))[:8]]
