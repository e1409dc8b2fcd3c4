"""Alembic environment of the control tree; the caller passes an open connection."""

from alembic import context

import gateway_app.db.tables.control  # noqa: F401 - registers the tables
from gateway_app.db.tables.base import control_registry

target_metadata = control_registry.metadata


def run_migrations() -> None:
    """Run migrations on the connection given in config.attributes (online only)."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through gateway_app (python -m gateway_app migrate)")
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
