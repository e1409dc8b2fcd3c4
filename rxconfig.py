"""Reflex configuration: loopback by default, telemetry off, bun from the npm registry (.tools)."""

import os
from pathlib import Path

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

ROOT = Path(__file__).resolve().parent

config = rx.Config(
    app_name="gateway_app",
    # Loopback unless a container sets HOST=0.0.0.0. Ports come from the command line (see cli.py).
    backend_host=os.environ.get("HOST", "127.0.0.1"),
    telemetry_enabled=False,
    bun_path=Path(os.environ.get("REFLEX_BUN_PATH", ROOT / ".tools" / "node_modules" / ".bin" / "bun")),
    # One worker keeps console state in memory; several need REFLEX_REDIS_URL (Reflex's own setting).
    state_manager_mode="redis" if os.environ.get("REFLEX_REDIS_URL") else "memory",
    cors_allowed_origins=[o.strip() for o in os.environ.get("CORS_ORIGINS", "*").split(",") if o.strip()],
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[SitemapPlugin],
)
