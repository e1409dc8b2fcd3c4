"""Audit trail: recorded in the same unit of work as the change it describes."""

from __future__ import annotations

from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import AuditRecord
from gateway_app.services.principals import Principal


def record(uow: TenantUnitOfWork, actor: Principal | str, action: str, target: str, **detail: object) -> None:
    """Add an audit entry to the unit of work (committed with the change)."""
    who = actor.email if isinstance(actor, Principal) else actor
    uow.audit.add(AuditRecord(actor=who, action=action, target=target, detail=dict(detail)))
