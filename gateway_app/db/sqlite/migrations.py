"""Alembic upgrades of the control tree and the tenant tree, run programmatically."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

ALEMBIC_DIR = Path(__file__).resolve().parents[3] / "alembic"
TREES = ("control", "tenant")


def _config(tree: str) -> Config:
    if tree not in TREES:
        raise ValueError(f"unknown migration tree {tree!r}")
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR / tree))
    return cfg


def head_revision(tree: str) -> str | None:
    """The newest revision of a tree."""
    return ScriptDirectory.from_config(_config(tree)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision a database is at (None when never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, tree: str) -> bool:
    """Upgrade a database to the head of its tree; True if anything ran."""
    if current_revision(engine) == head_revision(tree):
        return False
    cfg = _config(tree)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return True


@contextmanager
def migration_lock(data_dir: Path):
    """Serialise migrations across processes (several workers may start at once)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
