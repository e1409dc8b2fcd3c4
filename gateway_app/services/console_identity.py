"""The client identity a console user acts with on a tenant's models (playground, vector stores, RAG)."""

from __future__ import annotations

from gateway_app.core.errors import FeatureDisabled, TenantUnavailable
from gateway_app.services.client_auth import ClientIdentity, Limits
from gateway_app.services.licenses import license_expired
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess


def console_identity(access: TenantAccess, actor: Principal, tenant: str | None, *, feature: str, what: str,
                     write: bool, token_id: str = "console", token_name: str = "Console") -> ClientIdentity:
    """The tenant's limits and features; usage recorded under '<token_id>:<user>'.

    With write (the call uses the tenant's models) the actor must be allowed to write and the tenant
    active with a valid license, as the client API requires of a token.
    """
    if write:
        actor.require_write()
    record = access.check(actor, tenant)
    if feature not in record.features:
        raise FeatureDisabled(f"{what} is not enabled in this tenant's license")
    if write and (record.status != "active" or license_expired(record.license_expires_at)):
        raise TenantUnavailable(f"tenant '{record.slug}' is suspended or its license expired")
    return ClientIdentity(token_id=f"{token_id}:{actor.user_id}", token_name=token_name, tenant_slug=record.slug,
                          project_id=None, models=None, features=frozenset(record.features), expires_at=None,
                          license_expires_at=None, tenant_limits=Limits.of(record.limits))
