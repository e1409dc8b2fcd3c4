"""Usage page: recent requests, filterable, paginated, exportable as CSV."""

from __future__ import annotations

import dataclasses
import math

import reflex as rx

from gateway_app.core.errors import GatehouseError
from state.base import failure, platform
from state.session import SessionState

PAGE_SIZE = 25
ALL = "all"


@dataclasses.dataclass
class RequestRow:
    """One request."""

    at: str = ""
    request_id: str = ""
    model: str = ""
    upstream_model: str = ""
    token: str = ""
    status: int = 0
    error_type: str = ""
    tokens: str = ""
    cost: str = ""
    latency: str = ""
    stream: bool = False
    fallback: bool = False


class UsageState(SessionState):
    """State of /usage."""

    rows: list[RequestRow] = []
    total: int = 0
    page: int = 1
    model_filter: str = ALL
    token_filter: str = ALL
    status_filter: str = ALL
    model_choices: list[str] = [ALL]
    token_choices: list[str] = [ALL]
    token_names: dict[str, str] = {}
    loading: bool = False
    exporting: bool = False

    @rx.var
    def pages(self) -> int:
        """Number of pages for the current filters."""
        return max(1, math.ceil(self.total / PAGE_SIZE))

    def _filters(self) -> dict:
        token = next((tid for tid, name in self.token_names.items() if name == self.token_filter), None)
        return {"model": None if self.model_filter == ALL else self.model_filter,
                "token_id": token if self.token_filter != ALL else None,
                "status": None if self.status_filter == ALL else self.status_filter}

    @rx.event
    async def load(self):
        """Filter choices and the current page."""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            services = platform()
            models = await self.tenant_call(services.models.list)
            tokens = await self.tenant_call(services.tokens.list, limit=500)
            self.token_names = {t.id: t.name for t in tokens}
            self.model_choices = [ALL, *sorted(m.name for m in models)]
            self.token_choices = [ALL, *sorted({t.name for t in tokens})]
            await self._fetch()
        except GatehouseError as exc:
            yield failure(exc)
        finally:
            self.loading = False

    async def _fetch(self) -> None:
        services = platform()
        filters = self._filters()
        self.total = await self.tenant_call(services.usage.count, **filters)
        self.page = min(self.page, max(1, math.ceil(self.total / PAGE_SIZE)))
        records = await self.tenant_call(services.usage.recent, offset=(self.page - 1) * PAGE_SIZE,
                                         limit=PAGE_SIZE, **filters)
        self.rows = [RequestRow(
            at=r.at.strftime("%m-%d %H:%M:%S"), request_id=r.request_id, model=r.model,
            upstream_model=r.upstream_model or "-",
            token=self.token_names.get(r.token_id, "Playground" if r.token_id.startswith("playground:") else r.token_id),
            status=r.status, error_type=r.error_type, tokens=f"{r.prompt_tokens} / {r.completion_tokens}",
            cost=f"${r.cost_usd:.6f}", latency=f"{r.latency_ms:.0f} ms", stream=r.stream, fallback=r.fallback,
        ) for r in records]

    async def _refresh(self):
        self.loading = True
        yield
        try:
            await self._fetch()
        except GatehouseError as exc:
            yield failure(exc)
        finally:
            self.loading = False

    @rx.event
    async def set_model_filter(self, value: str):
        """Filter by model (back to page 1)."""
        self.model_filter, self.page = value, 1
        async for event in self._refresh():
            yield event

    @rx.event
    async def set_token_filter(self, value: str):
        """Filter by token (back to page 1)."""
        self.token_filter, self.page = value, 1
        async for event in self._refresh():
            yield event

    @rx.event
    async def set_status_filter(self, value: str):
        """Filter by outcome (back to page 1)."""
        self.status_filter, self.page = value, 1
        async for event in self._refresh():
            yield event

    @rx.event
    async def next_page(self):
        """Older requests."""
        if self.page < self.pages:
            self.page += 1
            async for event in self._refresh():
                yield event

    @rx.event
    async def previous_page(self):
        """Newer requests."""
        if self.page > 1:
            self.page -= 1
            async for event in self._refresh():
                yield event

    @rx.event
    async def export_csv(self):
        """Download the filtered requests as CSV."""
        self.exporting = True
        yield
        try:
            data = await self.tenant_call(platform().usage.export_csv, **self._filters())
        except GatehouseError as exc:
            self.exporting = False
            yield failure(exc)
            return
        self.exporting = False
        yield rx.download(data=data, filename=f"gatehouse-usage-{self.active_tenant}.csv")
