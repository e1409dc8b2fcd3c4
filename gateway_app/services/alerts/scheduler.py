"""The alert scheduler: every process runs it, exactly one evaluates each minute's slot.

Each process wakes at every slot boundary (ALERTS_INTERVAL_SECONDS, default 60) and claims the slot:
with Redis a `SET NX` of the slot's key (every process of every host shares it), otherwise an
exclusive create of a file per slot in DATA_DIR/alerts (the processes of one host: the SQLite
deployments). The winner evaluates every tenant's enabled rules; when it stops, the next slot goes
to another process by itself. A tenant found with no enabled rules (and no budget, whose rules the
evaluation adds) is skipped until its rules change (RuleService notifies their scope, on every host)
or, as a safety net, IDLE_RECHECK_SECONDS later: with a thousand tenants, opening every database
each minute was seconds of CPU in a burst that stalled requests. While Redis is unreachable the cache falls back to process memory and
a slot may be evaluated by more than one process (at least once rather than not at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import anyio

from gateway_app.core.background import stop_tasks
from gateway_app.core.cache import Cache, RedisCache
from gateway_app.core.invalidation import Generation, LocalLookupCache
from gateway_app.core.logging import get_logger
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import TenantRecord
from gateway_app.services.alerts.evaluation import AlertEvaluator
from gateway_app.services.alerts.reports import DailyReporter
from gateway_app.services.alerts.rules import rules_scope
from gateway_app.services.principals import PLATFORM_ADMIN, Principal

log = get_logger("alerts")
SCHEDULER = Principal(user_id="alert-scheduler", email="alert-scheduler", role=PLATFORM_ADMIN)
KEEP_SLOT_FILES = 10
IDLE_RECHECK_SECONDS = (600.0, 1200.0)  # spread, so the tenants found idle together are not re-read together


class SlotClaim:
    """Exactly one claimant per slot number: Redis when the cache is Redis, else one host's files."""

    def __init__(self, cache: Cache, directory: Path) -> None:
        self._cache, self._directory = cache, directory

    async def claim(self, slot: int, kind: str = "slot") -> bool:
        """True for the one process that claims this slot (or, kind "report", this day) first."""
        if isinstance(self._cache, RedisCache):
            ttl = 2 * 86400 if kind == "report" else 600
            return await self._cache.set_if_absent(f"alerts:{kind}:{slot}", str(os.getpid()), ttl=ttl)
        return await anyio.to_thread.run_sync(self._claim_file, slot, kind)

    def _claim_file(self, slot: int, kind: str) -> bool:
        self._directory.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(self._directory / f"{kind}-{slot}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        for old in self._directory.glob(f"{kind}-*"):  # the winner tidies up
            with contextlib.suppress(ValueError, OSError):
                if int(old.name.split("-", 1)[1]) < slot - KEEP_SLOT_FILES:
                    old.unlink()
        return True


class AlertScheduler:
    """Evaluates every tenant's rules once per slot, in whichever process claims the slot."""

    def __init__(self, store: DataStore, evaluator: AlertEvaluator, claim: SlotClaim, interval: float,
                 reporter: DailyReporter | None = None, report_hour: int = -1,
                 generation: Generation | None = None) -> None:
        self._store, self._evaluator, self._claim, self.interval = store, evaluator, claim, interval
        self._reporter, self.report_hour = reporter, report_hour
        # Tenants seen with no enabled rules; without a generation every tenant is visited every slot.
        self._without_rules: LocalLookupCache[bool] | None = (
            LocalLookupCache(generation, ttl=IDLE_RECHECK_SECONDS[0], max_entries=1_000_000)
            if generation is not None else None)
        self.slots_run = 0  # slots this process won and evaluated
        self.visited = 0  # tenants whose rules were read, over every slot
        self.reports_sent_for: date | None = None  # the last day whose reports this process sent
        self._task: asyncio.Task | None = None

    async def run_slot(self, slot: int) -> int | None:
        """Evaluate every tenant if this process claims the slot; rules evaluated, or None when another did."""
        if not await self._claim.claim(slot):
            return None
        tenants = await anyio.to_thread.run_sync(self._tenants)
        evaluated = visited = 0
        for tenant in tenants:
            if self._known_without_rules(tenant):
                continue
            visited += 1
            stamp = (self._without_rules.generation(rules_scope(tenant.slug))
                     if self._without_rules is not None else None)
            try:
                count = (await self._evaluator.evaluate(SCHEDULER, tenant.slug)).evaluated
            except Exception:  # noqa: BLE001 - one tenant's trouble must not stop the others'
                log.exception("alert evaluation failed", extra={"tenant": tenant.slug})
                continue
            evaluated += count
            if count == 0 and stamp is not None:
                self._without_rules.put(tenant.slug, True, stamp, ttl=random.uniform(*IDLE_RECHECK_SECONDS))
        self.slots_run += 1
        self.visited += visited
        log.info("alert evaluation", extra={"slot": slot, "tenants": len(tenants), "visited": visited,
                                            "rules": evaluated})
        await self._daily_reports(slot, [t.slug for t in tenants])
        return evaluated

    def _known_without_rules(self, tenant: TenantRecord) -> bool:
        if self._without_rules is None or tenant.limits.get("monthly_budget_usd"):
            return False  # a budget's rules are added by its evaluation
        return bool(self._without_rules.get(tenant.slug))

    async def _daily_reports(self, slot: int, slugs: list[str]) -> None:
        """The first slot at or after report_hour each UTC day sends every tenant's report of the day before
        (claimed per day, so one process of the deployment sends it once)."""
        if self._reporter is None or self.report_hour < 0:
            return
        at = datetime.fromtimestamp(slot * self.interval, UTC)
        if at.hour < self.report_hour or not await self._claim.claim(at.date().toordinal(), kind="report"):
            return
        day = at.date() - timedelta(days=1)
        for slug in slugs:
            try:
                await self._reporter.send(SCHEDULER, slug, day)
            except Exception:  # noqa: BLE001 - one tenant's trouble must not stop the others'
                log.exception("daily report failed", extra={"tenant": slug})
        self.reports_sent_for = day
        log.info("daily usage reports", extra={"day": day.isoformat(), "tenants": len(slugs)})

    def _tenants(self) -> list[TenantRecord]:
        tenants, offset = [], 0
        while True:
            with self._store.control() as uow:
                page = uow.tenants.list(offset=offset, limit=500)
            tenants += [t for t in page if t.status == "active"]
            if len(page) < 500:
                return tenants
            offset += 500

    def start(self) -> None:
        """Run until stop() (one task per process)."""
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="alert-scheduler")

    async def _loop(self) -> None:
        while True:
            now = time.time()
            slot = int(now // self.interval) + 1
            await asyncio.sleep(slot * self.interval - now)
            try:
                await self.run_slot(slot)
            except Exception:  # noqa: BLE001 - the next slot tries again
                log.exception("alert scheduler slot failed", extra={"slot": slot})

    async def stop(self) -> None:
        """End the loop (a slot being evaluated is cancelled; the next one goes to another process)."""
        task, self._task = self._task, None
        await stop_tasks([task])
