"""Who is acting: platform admin, tenant admin or member, and what each may do."""

from __future__ import annotations

from dataclasses import dataclass

from gateway_app.core.errors import InvalidInput, PermissionDenied

PLATFORM_ADMIN = "platform_admin"
TENANT_ADMIN = "admin"
MEMBER = "member"
TENANT_ROLES = (TENANT_ADMIN, MEMBER)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated console or management-API user."""

    user_id: str
    email: str
    role: str
    tenant_slug: str | None = None  # None for platform admins
    name: str = ""
    session_version: int = 0  # must equal the JWT's "sv" claim

    @property
    def is_platform_admin(self) -> bool:
        """Platform admins manage every tenant."""
        return self.role == PLATFORM_ADMIN

    @property
    def can_write(self) -> bool:
        """Members are read-only."""
        return self.role in (PLATFORM_ADMIN, TENANT_ADMIN)

    def require_platform_admin(self) -> None:
        """Raise unless a platform admin."""
        if not self.is_platform_admin:
            raise PermissionDenied("only platform admins can do this")

    def require_write(self) -> None:
        """Raise for read-only members."""
        if not self.can_write:
            raise PermissionDenied("members have read-only access")

    def tenant_scope(self, requested: str | None) -> str:
        """The tenant this request acts on: chosen by platform admins, fixed for everyone else."""
        if self.is_platform_admin:
            if not requested:
                raise InvalidInput("choose a tenant with the X-Tenant-Id header", param="X-Tenant-Id")
            return requested
        if requested and requested != self.tenant_slug:
            raise PermissionDenied("you can only act on your own tenant")
        assert self.tenant_slug is not None
        return self.tenant_slug
