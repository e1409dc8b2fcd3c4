"""Command line: migrate, first admin, tenant/user/token admin, and the two servers."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from pydantic import ValidationError

from gateway_app.core.config import ConfigError, load_settings
from gateway_app.core.crypto import generate_key
from gateway_app.core.errors import GatehouseError
from gateway_app.core.logging import configure_logging
from gateway_app.core.metrics import prepare_multiprocess
from gateway_app.services.auth import first_admin_notice
from gateway_app.services.platform import DATA_PREPARED_ENV, Platform, build_platform, prepare_data
from gateway_app.services.principals import PLATFORM_ADMIN, Principal

ROOT = Path(__file__).resolve().parents[1]
CLI_ACTOR = Principal(user_id="cli", email="cli", role=PLATFORM_ADMIN)


def _platform() -> Platform:
    settings = load_settings()
    configure_logging(settings.log_format, "WARNING")
    platform = build_platform(settings)
    prepare_data(platform)
    return platform


def _print(obj) -> None:
    data = obj.model_dump(mode="json") if hasattr(obj, "model_dump") else obj
    print(json.dumps(data, indent=2, default=str))


def cmd_migrate(args) -> int:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    changed = build_platform(settings).store.migrate()
    print("migrated: " + (", ".join(changed) if changed else "nothing to do (all at head)"))
    return 0


def cmd_init(args) -> int:
    """Migrate and make sure a platform admin exists; print generated credentials once."""
    settings = load_settings()
    configure_logging(settings.log_format, "WARNING")
    platform = build_platform(settings)
    first = prepare_data(platform)
    if first.generated_password:
        print(first_admin_notice(first))
    elif first.created:
        print(f"First platform admin created: {first.email} (password from ADMIN_PASSWORD)")
    else:
        print("Database ready; platform admin exists.")
    return 0


def cmd_tenant(args) -> int:
    from gateway_app.services.tenants import TenantCreate, TenantUpdate

    platform = _platform()
    if args.action == "create":
        _print(platform.tenants.create(CLI_ACTOR, TenantCreate(slug=args.slug, name=args.name or args.slug,
                                                               plan=args.plan)))
    elif args.action == "list":
        _print(platform.tenants.list(CLI_ACTOR, limit=500))
    elif args.action in ("suspend", "resume"):
        status = "suspended" if args.action == "suspend" else "active"
        _print(platform.tenants.update(CLI_ACTOR, args.slug, TenantUpdate(status=status)))
    elif args.action == "delete":
        platform.tenants.delete(CLI_ACTOR, args.slug)
        print(f"deleted tenant {args.slug}")
    return 0


def cmd_user(args) -> int:
    from gateway_app.services.users import UserCreate

    platform = _platform()
    if args.action == "create":
        _print(platform.users.create(CLI_ACTOR, args.tenant, UserCreate(
            email=args.email, name=args.name or "", role=args.role, password=args.password)))
    else:
        _print([u.model_dump(mode="json") for u in platform.users.list(CLI_ACTOR, args.tenant)])
    return 0


def cmd_token(args) -> int:
    from gateway_app.services.tokens import TokenCreate

    platform = _platform()
    if args.action == "create":
        _print(platform.tokens.create(CLI_ACTOR, args.tenant, TokenCreate(name=args.name, project=args.project)))
    elif args.action == "revoke":
        _print(platform.tokens.revoke(CLI_ACTOR, args.tenant, args.id))
    else:
        _print([t.model_dump(mode="json") for t in platform.tokens.list(CLI_ACTOR, args.tenant)])
    return 0


def cmd_admin(args) -> int:
    platform = _platform()
    record = platform.auth.create_platform_admin(args.email, args.password, args.name or "")
    print(f"platform admin {record.email} created")
    return 0


def cmd_rotate_keys(args) -> int:
    """Re-encrypt every provider key with the first key of ENCRYPTION_KEY."""
    platform = _platform()
    slugs = [t.slug for t in platform.tenants.list(CLI_ACTOR, limit=100_000).items]
    count = platform.providers.rotate_keys(platform.store, slugs)
    print(f"re-encrypted {count} provider key(s) with the newest ENCRYPTION_KEY; older keys can now be removed")
    return 0


def cmd_copy_store(args) -> int:
    """Copy the SQLite deployment under DATA_DIR into MongoDB (MONGODB_URI, MONGODB_DB_PREFIX), verified."""
    from gateway_app.db.mongo.store import MongoStore
    from gateway_app.db.sqlite.store import SqliteStore
    from gateway_app.db.store_copy import CopyRefused, copy_sqlite_to_mongo

    settings = load_settings()
    configure_logging(settings.log_format, "WARNING")
    if settings.db_provider != "sqlite":
        print("error: copy-store reads the SQLite deployment under DATA_DIR: run it with DB_PROVIDER=sqlite "
              "(the default) and MONGODB_URI naming the target", file=sys.stderr)
        return 2
    source = SqliteStore(settings.data_dir)
    target = MongoStore(settings.mongodb_uri, prefix=settings.mongodb_db_prefix,
                        server_timeout_ms=settings.mongodb_timeout_ms)
    try:
        source.migrate()
        report = copy_sqlite_to_mongo(source, target, progress=lambda line: print(f"copied {line}", flush=True))
    except CopyRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        source.close()
        target.close()
    print(f"verified: {len(report.counts)} databases, every collection holds as many documents as its table "
          "had rows. Start the gateway with DB_PROVIDER=mongodb (same ENCRYPTION_KEY, DATA_DIR and VECTOR_*).")
    return 0


def cmd_gen_key(args) -> int:
    print(generate_key())
    return 0


LISTENERS_ENV = "GATEWAY_LISTENERS"


def _announce_listener(host: str, port: int) -> None:
    """Tell the outbound policy (in this process and the ones it starts) where the gateway listens."""
    entry = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    current = [e for e in os.environ.get(LISTENERS_ENV, "").split(",") if e.strip()]
    os.environ[LISTENERS_ENV] = ",".join([*current, entry])


def cmd_serve_api(args) -> int:
    """The FastAPI app without the console (uvicorn, uvloop + httptools)."""
    import uvicorn

    _announce_listener(args.host, args.port)
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    # Migrate and create the first admin once, in a child process: the serving processes then
    # never load Alembic (about 12 MB each).
    subprocess.run([sys.executable, "-m", "gateway_app", "init"], check=True)
    os.environ[DATA_PREPARED_ENV] = "1"
    prepare_multiprocess(settings.data_dir)  # before any worker: /metrics sums what every worker counted
    owner = None
    if args.workers > 1 and settings.vector_provider == "embedded":
        # Embedded Chroma is not process-safe: the workers share one owner of the vector files.
        from gateway_app.services.vector.vector_owner import start_owner

        owner = start_owner(settings.data_dir / "vectors")
    writer = None
    if args.workers > 1 and settings.writer_process and settings.writer_shared and settings.db_provider == "sqlite":
        # One usage writer for the host, fed by every worker (not one each: N transactions per
        # tenant per second and N sets of open tenant files).
        from gateway_app.services.append_process import start_shared_append_process

        writer = start_shared_append_process(settings)
    try:
        uvicorn.run("gateway_app.cli:api_factory", factory=True, host=args.host, port=args.port,
                    workers=args.workers, loop="uvloop", http="httptools", lifespan="on",
                    access_log=False, log_config=None, timeout_graceful_shutdown=settings.shutdown_grace_seconds)
    finally:
        if writer is not None:
            writer.stop(settings.shutdown_grace_seconds)
        if owner is not None:
            owner.shutdown()
    return 0


def api_factory():
    """Entry for uvicorn workers: a fresh app whose lifespan starts the platform."""
    from api.app import create_api

    return create_api()


def cmd_serve(args) -> int:
    """The console and both APIs on one port: Reflex in prod mode."""
    os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "0")
    os.environ.setdefault("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/")
    os.environ["HOST"] = args.host
    _announce_listener(args.host, args.port)
    settings = load_settings()  # fail fast, naming the bad variable, before Reflex starts building
    prepare_multiprocess(settings.data_dir)
    command = [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--single-port",
               "--frontend-port", str(args.port), "--backend-host", args.host, "--loglevel", args.loglevel]
    os.chdir(ROOT)
    os.execv(command[0], command)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gateway_app", description="Gatehouse administration")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the control and every tenant database").set_defaults(fn=cmd_migrate)
    sub.add_parser("init", help="migrate and create the first platform admin").set_defaults(fn=cmd_init)
    sub.add_parser("gen-key", help="print a new ENCRYPTION_KEY").set_defaults(fn=cmd_gen_key)
    sub.add_parser("rotate-keys", help="re-encrypt provider keys with the newest ENCRYPTION_KEY"
                   ).set_defaults(fn=cmd_rotate_keys)

    copy = sub.add_parser("copy-store", help="copy the SQLite deployment into MongoDB and verify the counts")
    copy.add_argument("--to", choices=["mongodb"], required=True)
    copy.set_defaults(fn=cmd_copy_store)

    admin = sub.add_parser("admin", help="create another platform admin")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    admin.add_argument("--name")
    admin.set_defaults(fn=cmd_admin)

    tenant = sub.add_parser("tenant", help="create, list, suspend, resume or delete tenants")
    tenant.add_argument("action", choices=["create", "list", "suspend", "resume", "delete"])
    tenant.add_argument("slug", nargs="?")
    tenant.add_argument("--name")
    tenant.add_argument("--plan", default="standard")
    tenant.set_defaults(fn=cmd_tenant)

    user = sub.add_parser("user", help="create or list a tenant's users")
    user.add_argument("action", choices=["create", "list"])
    user.add_argument("--tenant", required=True)
    user.add_argument("--email")
    user.add_argument("--name")
    user.add_argument("--role", choices=["admin", "member"], default="member")
    user.add_argument("--password")
    user.set_defaults(fn=cmd_user)

    token = sub.add_parser("token", help="create, list or revoke a tenant's API tokens")
    token.add_argument("action", choices=["create", "list", "revoke"])
    token.add_argument("--tenant", required=True)
    token.add_argument("--name", default="cli")
    token.add_argument("--project")
    token.add_argument("--id")
    token.set_defaults(fn=cmd_token)

    api = sub.add_parser("serve-api", help="serve the client and management APIs without the console")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8080)
    api.add_argument("--workers", type=int, default=1)
    api.set_defaults(fn=cmd_serve_api)

    serve = sub.add_parser("serve", help="serve the console and both APIs on one port (Reflex, prod mode)")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    serve.add_argument("--loglevel", default="info")
    serve.set_defaults(fn=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except GatehouseError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "input"
            print(f"error: {field}: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 1
