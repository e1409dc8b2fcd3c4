"""Domain errors raised by services; the API layers map them to HTTP statuses and shapes."""

from __future__ import annotations


class GatehouseError(Exception):
    """Base of every expected, user-facing error."""

    code = "error"
    status: int | None = None  # set on instances whose HTTP status is decided at run time

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidInput(GatehouseError):
    """The caller sent something that cannot be accepted (names the field in param)."""

    code = "invalid_input"


class NotFound(GatehouseError):
    """The resource does not exist, or the caller may not know it exists."""

    code = "not_found"


class Conflict(GatehouseError):
    """The resource already exists or is in a state that forbids the change."""

    code = "conflict"


class AuthenticationFailed(GatehouseError):
    """Missing, wrong, expired or revoked credentials."""

    code = "invalid_credentials"


class PermissionDenied(GatehouseError):
    """Authenticated, but not allowed to do this."""

    code = "permission_denied"


class FeatureDisabled(PermissionDenied):
    """The tenant's license does not include the feature."""

    code = "feature_disabled"


class TenantUnavailable(PermissionDenied):
    """The tenant is suspended or its license expired."""

    code = "tenant_unavailable"


class Unavailable(GatehouseError):
    """The gateway cannot serve this right now (starting, stopping, a dependency is down)."""

    code = "unavailable"
