"""The running gateway: every shared piece built once, started and stopped in a fixed order."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import anyio

from gateway_app.core.background import stop_tasks
from gateway_app.core.cache import Cache, RedisCache, create_cache
from gateway_app.core.config import Settings, load_settings
from gateway_app.core.crypto import SecretBox
from gateway_app.core.gc_pauses import GcPauses
from gateway_app.core.health import HealthRegistry
from gateway_app.core.invalidation import FileGeneration, Generation, RedisGeneration
from gateway_app.core.lifecycle import Lifecycle
from gateway_app.core.logging import configure_logging, get_logger
from gateway_app.core.metrics import GatewayMetrics, gateway_metrics
from gateway_app.core.outbound import OutboundPolicy
from gateway_app.core.resilience import BreakerRegistry
from gateway_app.core.runtime_pool import RuntimePool
from gateway_app.core.security import JwtCodec, PasswordHasher
from gateway_app.core.tasks import TaskRegistry
from gateway_app.db.protocols import DataStore
from gateway_app.db.tenancy import open_store
from gateway_app.services.alerts.channels import ChannelService, Notifier
from gateway_app.services.alerts.evaluation import AlertEvaluator
from gateway_app.services.alerts.mail import SmtpSettings
from gateway_app.services.alerts.reports import DailyReporter
from gateway_app.services.frontdoors.messages import MessagesDoor
from gateway_app.services.frontdoors.responses_door import ResponsesDoor
from gateway_app.services.alerts.rules import RuleService
from gateway_app.services.alerts.scheduler import AlertScheduler, SlotClaim
from gateway_app.services.auth import AuthService, FirstAdmin, first_admin_notice
from gateway_app.providers.base import UpstreamError
from gateway_app.providers.factory import RuntimeFactory
from gateway_app.services.client_auth import TokenResolver
from gateway_app.services.file_storage import LocalFileStorage
from gateway_app.services.files import FileService
from gateway_app.services.memory import build_memory
from gateway_app.services.memory.chat import MemoryChat
from gateway_app.services.memory.memories import MemoryService
from gateway_app.services.memory.stores import MemoryStoreService
from gateway_app.services.rag.answers import RagAnswers
from gateway_app.services.rag.modules import RagModuleService
from gateway_app.services.rag.retrieval import Retriever
from gateway_app.services.vector.chroma_layer import VectorLayer
from gateway_app.services.vector.embedder import Embedder
from gateway_app.services.vector.ingestion import Ingestion
from gateway_app.services.vector.search import VectorSearch
from gateway_app.services.vector.stores import VectorStoreService
from gateway_app.services.vector.vector_owner import OwnedVectorLayer, SharedVectorLayer, layer_from_environment
from gateway_app.services.inference.catalog import ModelCatalog
from gateway_app.services.inference.gateway import InferenceService
from gateway_app.services.inference.quotas import QuotaGuard
from gateway_app.services.inference.usage import UsageQueries, UsageRecorder
from gateway_app.services.login_throttle import LoginThrottle
from gateway_app.services.guardrails.service import GuardrailCatalog, GuardrailService, VerdictRecorder
from gateway_app.services.inference.guarding import Guarding
from gateway_app.services.models import ModelService
from gateway_app.services.playground import PlaygroundService
from gateway_app.services.projects import ProjectService
from gateway_app.services.prompts import PromptRenderer, PromptService
from gateway_app.services.providers import ProviderService
from gateway_app.services.tenant_access import TenantAccess
from gateway_app.services.tenants import TenantService
from gateway_app.services.tokens import TokenService
from gateway_app.services.tracing import TraceQueries, TraceRecorder
from gateway_app.services.users import UserService

log = get_logger("platform")


@dataclass
class Platform:
    """Shared pieces and services of one process. Built by build_platform, run by start_platform."""

    settings: Settings
    store: DataStore
    cache: Cache
    generation: Generation
    lifecycle: Lifecycle
    health: HealthRegistry
    breakers: BreakerRegistry
    outbound: OutboundPolicy
    runtime_pool: RuntimePool
    tasks: TaskRegistry
    auth: AuthService
    tenants: TenantService
    users: UserService
    projects: ProjectService
    tokens: TokenService
    token_resolver: TokenResolver
    providers: ProviderService
    models: ModelService
    inference: InferenceService
    messages: MessagesDoor
    responses: ResponsesDoor
    usage: UsageQueries
    usage_recorder: UsageRecorder
    files: FileService
    playground: PlaygroundService
    prompts: PromptService
    guardrails: GuardrailService
    traces: TraceQueries
    trace_recorder: TraceRecorder
    verdict_recorder: VerdictRecorder
    guarding: Guarding
    prompt_renderer: PromptRenderer
    vector_layer: VectorLayer | SharedVectorLayer | OwnedVectorLayer
    vector_stores: VectorStoreService
    vector_search: VectorSearch
    rag_modules: RagModuleService
    rag: RagAnswers
    ingestion: Ingestion
    memory_stores: MemoryStoreService
    memory: MemoryService
    memory_chat: MemoryChat
    alert_channels: ChannelService
    alert_rules: RuleService
    alerts: AlertEvaluator
    alert_reports: DailyReporter
    alert_scheduler: AlertScheduler
    gc_pauses: GcPauses = field(default_factory=GcPauses)
    first_admin: FirstAdmin | None = None
    metrics: GatewayMetrics | None = None
    started_at: float = field(default_factory=time.time)


def build_platform(settings: Settings) -> Platform:
    """Construct every piece (opens the store, no network I/O)."""
    store = open_store(settings)
    cache = create_cache(settings.cache_provider, redis_url=settings.redis_url,
                         max_entries=settings.memory_cache_max_entries)
    # A new name for the per-scope table: a process still mapping the old 8-byte counter must not
    # read slot 0 of it as a tenant's generation.
    file_generation = FileGeneration(settings.data_dir / ".invalidation-scopes")
    generation: Generation = (RedisGeneration(cache, file_generation) if isinstance(cache, RedisCache)
                              else file_generation)
    access = TenantAccess(store)
    jwt = JwtCodec(settings.jwt_secret, settings.jwt_ttl_minutes * 60)
    hasher = PasswordHasher(workers=settings.password_hash_workers)
    throttle = LoginThrottle(cache, free_per_email=settings.login_free_failures,
                             free_per_address=settings.login_free_failures_per_address,
                             max_delay=settings.login_max_delay_seconds)
    box = SecretBox(settings.encryption_key)
    # A request the upstream refused as invalid says nothing about the provider's health.
    breakers = BreakerRegistry(ignore=lambda e: isinstance(e, UpstreamError) and not e.retryable)
    pool: RuntimePool = RuntimePool(max_size=settings.runtime_pool_max, idle_seconds=settings.tenant_idle_seconds)
    # Every provider client is built by this factory, so every connection goes through the policy.
    outbound = OutboundPolicy.from_config(settings.allow_private_upstreams, settings.provider_allowed_hosts,
                                          settings.gateway_listeners)
    runtimes = RuntimeFactory(outbound)
    retry_for = settings.batch_retry_seconds
    metrics = gateway_metrics(settings.metrics_labels.split(",")) if settings.metrics_enabled else None
    notifier = Notifier(SmtpSettings(host=settings.smtp_host, port=settings.smtp_port, user=settings.smtp_user,
                                     password=settings.smtp_password, sender=settings.smtp_from,
                                     security=settings.smtp_security), box, outbound)
    evaluator = AlertEvaluator(access, notifier, metrics, console_url=settings.console_url, breakers=breakers,
                               budget_defaults=tuple(int(p) for p in settings.alerts_budget_defaults.split(",") if p))
    reporter = DailyReporter(access, notifier, console_url=settings.console_url)
    usage_recorder = UsageRecorder(store, max_queue=settings.usage_queue_size, retry_for=retry_for, metrics=metrics)
    catalog = ModelCatalog(store, box, generation)
    trace_recorder = TraceRecorder(store, max_queue=settings.usage_queue_size, retry_for=retry_for)
    verdict_recorder = VerdictRecorder(store, retry_for=retry_for)
    prompt_renderer = PromptRenderer(store, generation)
    scan_limit = settings.guardrail_max_scan_chars
    guarding = Guarding(GuardrailCatalog(store, generation, max_scan_chars=scan_limit), verdict_recorder,
                        trace_recorder, prompt_renderer)
    inference = InferenceService(catalog, QuotaGuard(cache, store), usage_recorder, breakers, pool, guarding,
                                 runtimes)
    storage = LocalFileStorage(settings.data_dir / "files")
    server = settings.chroma_url if settings.vector_provider == "chroma-server" else ""
    # A worker of `serve-api --workers N` uses the embedded files through the master's one owner; a
    # single process starts its own owner (Chroma's embedded writes hold the GIL).
    layer = None if server else layer_from_environment()
    if layer is None and not server and settings.vector_owner_process:
        layer = OwnedVectorLayer(settings.data_dir / "vectors")
    layer = layer or VectorLayer(settings.data_dir / "vectors", server)
    embedder = Embedder(inference)
    ingestion = Ingestion(store, storage, layer, embedder, max_queue=settings.vector_ingestion_queue,
                          workers=settings.vector_ingestion_workers)
    vector_stores = VectorStoreService(store, catalog, layer, ingestion, access)
    rag_modules = RagModuleService(store, access, generation)
    memory = build_memory(store, access, generation, layer, embedder, inference, prompt_renderer, trace_recorder)
    vector_search = VectorSearch(store, vector_stores, layer, embedder)
    return Platform(
        settings=settings, store=store, cache=cache, generation=generation,
        lifecycle=Lifecycle(), health=HealthRegistry(), breakers=breakers, outbound=outbound,
        runtime_pool=pool, tasks=TaskRegistry(spill_dir=settings.data_dir / "spill"),
        auth=AuthService(store, jwt, generation, hasher, throttle),
        tenants=TenantService(store, generation, on_delete=(layer.drop_tenant, storage.drop_tenant)),
        users=UserService(store, access, generation, hasher),
        projects=ProjectService(access, generation),
        tokens=TokenService(store, access, generation),
        token_resolver=TokenResolver(store, generation),
        providers=ProviderService(access, box, generation, breakers, runtimes),
        models=ModelService(access, generation),
        inference=inference,
        messages=MessagesDoor(inference),
        responses=ResponsesDoor(inference, store, vector_search, settings.responses_retention_days),
        usage=UsageQueries(access),
        usage_recorder=usage_recorder,
        files=FileService(store, box, pool, runtimes, storage),
        playground=PlaygroundService(access, inference),
        prompts=PromptService(access, generation),
        guardrails=GuardrailService(access, generation, inference.judge_for, max_scan_chars=scan_limit),
        traces=TraceQueries(access, idle_after=timedelta(minutes=settings.trace_idle_minutes)),
        trace_recorder=trace_recorder,
        verdict_recorder=verdict_recorder,
        guarding=guarding,
        prompt_renderer=prompt_renderer,
        vector_layer=layer,
        vector_stores=vector_stores,
        vector_search=vector_search,
        rag_modules=rag_modules,
        rag=RagAnswers(rag_modules, Retriever(store, vector_stores, layer, embedder, inference), inference,
                       prompt_renderer, trace_recorder),
        ingestion=ingestion,
        memory_stores=memory.stores,
        memory=memory.memories,
        memory_chat=memory.chat,
        alert_channels=ChannelService(access, box, notifier),
        alert_rules=RuleService(access, generation),
        alerts=evaluator,
        alert_reports=reporter,
        alert_scheduler=AlertScheduler(store, evaluator, SlotClaim(cache, settings.data_dir / "alerts"),
                                       settings.alerts_interval_seconds, reporter, settings.alerts_daily_report_hour,
                                       generation),
        metrics=metrics,
    )


DATA_PREPARED_ENV = "GATEHOUSE_DATA_PREPARED"


def prepare_data(platform: Platform) -> FirstAdmin:
    """Migrate every database and make sure a platform admin exists (idempotent, cross-process safe).

    A server that spawns workers prepares the data once and sets GATEHOUSE_DATA_PREPARED=1 for
    them, so workers skip the migration check (and never load Alembic).
    """
    settings = platform.settings
    if os.environ.get(DATA_PREPARED_ENV) == "1":
        return FirstAdmin(created=False, email=settings.admin_email)
    changed = platform.store.migrate()
    upgraded = [name.split(":", 1)[1] for name in changed if name.startswith("tenant:")]
    if upgraded:  # rows written before provider headers were encrypted
        platform.providers.encrypt_plaintext_headers(platform.store, upgraded)
    return platform.auth.ensure_first_admin(settings.admin_email, settings.admin_password)


async def start_platform(settings: Settings | None = None, *, install_signals: bool = True) -> Platform:
    """Bootstrap, in order: config, lifecycle, data, cache, health checks, shutdown handlers,
    schedulers, one summary line. Used by the console app and the API-only server alike."""
    settings = settings or load_settings()
    configure_logging(settings.log_format, settings.log_level)
    platform = build_platform(settings)
    signals = platform.lifecycle.install_signal_handlers() if install_signals else False
    platform.first_admin = await anyio.to_thread.run_sync(prepare_data, platform)
    if platform.first_admin.generated_password:
        # The password goes to the terminal once, never into the (shipped, retained) log stream.
        print(first_admin_notice(platform.first_admin), file=sys.stderr, flush=True)
        log.warning("first platform admin created with a generated password (printed once on the terminal)",
                    extra={"email": platform.first_admin.email})

    await platform.generation.start()
    _register_health_checks(platform)
    cache_ok = True
    try:
        await platform.cache.ping()
    except Exception as exc:  # noqa: BLE001 - reported, the gateway still serves (degraded)
        cache_ok = False
        log.warning("cache unreachable at start: running degraded", extra={"cache": platform.cache.name,
                                                                             "error": repr(exc)})
    _register_shutdown(platform)
    if settings.writer_process and platform.store.name == "sqlite":
        from gateway_app.services.append_process import start_append_process

        writers = start_append_process(settings).writers
        platform.usage_recorder.writer = writers["usage"]
        platform.token_resolver.touch_writer = writers["token-last-used"]
    platform.tasks.add(platform.token_resolver.touch_writer)
    platform.tasks.add(platform.usage_recorder.writer)
    platform.tasks.add(platform.trace_recorder.writer)
    platform.tasks.add(platform.verdict_recorder.writer)
    platform.ingestion.start()
    platform.alert_scheduler.start()
    set_current_platform(platform)
    # Everything built so far lives as long as the process: keep it out of the collector's scans.
    # (Full collections over these objects showed up as ~150 ms stalls at p99 under load.)
    gc.collect()
    gc.freeze()
    # Python's default (700 allocations) collects generation 0 hundreds of times a second under
    # load, promoting whatever the in-flight requests hold at that instant; the promotions trigger
    # full collections, each a walk over every cached tenant object (at 1,000 tenants: 16 of them,
    # up to 175 ms each, p99 171 ms at p50 22 ms). 10,000 promotes far less (no full collection in
    # the same run, p99 55 ms); 50,000 made each young collection ~100 ms (docs/performance.md).
    gc.set_threshold(*(int(part) for part in settings.gc_thresholds.split(",")))
    platform.gc_pauses.install()
    log.info("gatehouse started", extra={
        "env": settings.env, "db": platform.store.name, "data_dir": str(settings.data_dir),
        "cache": platform.cache.name, "cache_ok": cache_ok, "signals": signals,
        "admin": platform.first_admin.email, "private_upstreams": settings.allow_private_upstreams,
        "allowed_upstream_rules": len(platform.outbound.allowed),
    })
    return platform


def _register_health_checks(platform: Platform) -> None:
    async def database() -> None:
        await anyio.to_thread.run_sync(platform.store.ping)

    async def cache() -> str:
        await platform.cache.ping()
        return platform.cache.name

    platform.health.register("database", database, required=True)
    # A cache outage degrades to misses and local counters: reported, but the gateway stays ready.
    platform.health.register("cache", cache, required=False)
    if platform.vector_layer.mode != "embedded":  # a Chroma server, or the owner process
        async def vectors() -> str:
            await anyio.to_thread.run_sync(platform.vector_layer.ping)
            return platform.vector_layer.mode

        platform.health.register("vectors", vectors, required=False)


HOUSEKEEPING_SECONDS = 30.0
METRICS_SYNC_SECONDS = 1.0


def sync_metrics(platform: Platform) -> None:
    """Copy what the parts count themselves (batch writers, the token cache, breakers) into the metrics."""
    metrics = platform.metrics
    if metrics is None:
        return
    metrics.flush()
    for name, stats in platform.tasks.stats().items():
        metrics.sync_writer(name, stats)
    cache = platform.token_resolver.cache
    metrics.sync_cache("tokens", cache.hits, cache.misses)
    metrics.sync_breakers((*key.split(":", 1), state) for key, state in platform.breakers.changed_states()
                          if ":" in key)


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc keeps them after SQLite frees its caches)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        pass


def _every(seconds: float, name: str, work: Callable[[], Awaitable[None]], *, first_wait: bool = True,
           on_stop: Callable[[], None] | None = None) -> Callable[[], Awaitable[None]]:
    """Run `work` every `seconds` in a task of this loop (a failure is logged, the next round runs); returns its stop."""
    async def loop() -> None:
        if first_wait:
            await asyncio.sleep(seconds)
        while True:
            try:
                await work()
            except Exception:  # noqa: BLE001 - a periodic task must not die of one failure
                log.exception(f"{name} failed")
            await asyncio.sleep(seconds)

    task = asyncio.get_running_loop().create_task(loop(), name=name)

    async def stop() -> None:
        await stop_tasks([task])
        if on_stop is not None:
            on_stop()
    return stop


async def _housekeeping(platform: Platform) -> None:
    """Close what idled (tenant databases the request path no longer needs), sweep expired memories and
    stored responses."""
    if await anyio.to_thread.run_sync(platform.store.close_idle):
        await anyio.to_thread.run_sync(release_free_memory)
    await anyio.to_thread.run_sync(platform.memory.sweep)
    await anyio.to_thread.run_sync(platform.responses.sweep)


def _register_shutdown(platform: Platform) -> None:
    lifecycle = platform.lifecycle
    lifecycle.on_shutdown("alert_scheduler", platform.alert_scheduler.stop)
    lifecycle.on_shutdown("vector_ingestion", platform.ingestion.stop)
    lifecycle.on_shutdown("memory_adds", platform.memory.jobs.stop)
    if isinstance(platform.vector_layer, OwnedVectorLayer):
        lifecycle.on_shutdown("vector_owner", lambda: anyio.to_thread.run_sync(platform.vector_layer.close))
    lifecycle.on_shutdown("housekeeping", _every(HOUSEKEEPING_SECONDS, "housekeeping",
                                                 lambda: _housekeeping(platform)))
    # A first flush of many label sets takes a while: in a thread. The process's live gauges leave at stop.
    lifecycle.on_shutdown("metrics", _every(METRICS_SYNC_SECONDS, "metrics sync",
                                            lambda: anyio.to_thread.run_sync(sync_metrics, platform),
                                            first_wait=False,
                                            on_stop=platform.metrics.process_ended if platform.metrics else None))
    lifecycle.on_shutdown("tasks", lambda: anyio.to_thread.run_sync(platform.tasks.stop_all))
    lifecycle.on_shutdown("invalidation", platform.generation.stop)
    lifecycle.on_shutdown("cache", platform.cache.close)
    lifecycle.on_shutdown("runtime_pool", platform.runtime_pool.close_all)
    lifecycle.on_shutdown("connections", platform.inference.runtimes.close)
    lifecycle.on_shutdown("gc_pauses", platform.gc_pauses.uninstall)
    lifecycle.on_shutdown("store", lambda: platform.store.close())
    lifecycle.on_shutdown("password_hasher", platform.auth.close)


async def stop_platform(platform: Platform) -> None:
    """Drain requests, then tear down: tasks -> cache -> runtime pool -> store."""
    await platform.lifecycle.shutdown(platform.settings.shutdown_grace_seconds)
    if current_platform_or_none() is platform:
        set_current_platform(None)


# The console's State classes run inside the same process as the API and need the running
# platform; this is the one process-wide reference, set by start_platform.
_current: Platform | None = None


def set_current_platform(platform: Platform | None) -> None:
    """Record the running platform (start/stop only)."""
    global _current
    _current = platform


def current_platform_or_none() -> Platform | None:
    """The running platform, if any."""
    return _current


def current_platform() -> Platform:
    """The running platform; raises if the app has not started."""
    if _current is None:
        raise RuntimeError("gatehouse is not started")
    return _current
