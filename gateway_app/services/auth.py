"""Console and management-API authentication: password login, JWT sessions, the first admin."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from gateway_app.core.errors import AuthenticationFailed, Conflict, TenantUnavailable
from gateway_app.core.invalidation import Generation, LocalLookupCache
from gateway_app.core.logging import get_logger
from gateway_app.core.security import (
    InvalidCredentials,
    JwtCodec,
    generate_password,
    hash_password,
    verify_password,
)
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import PlatformAdminRecord, utcnow
from gateway_app.services.principals import PLATFORM_ADMIN, Principal

log = get_logger("auth")
_DUMMY_HASH = hash_password("timing-equaliser")


class LoginResult(BaseModel):
    """What a successful login returns."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str
    tenant: str | None
    email: str


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    """Outcome of ensure_first_admin; password is set only when it was generated."""

    created: bool
    email: str
    generated_password: str | None = None


class AuthService:
    """Checks passwords, issues JWTs and turns a JWT back into a live Principal."""

    def __init__(self, store: DataStore, jwt: JwtCodec, generation: Generation) -> None:
        self._store = store
        self._jwt = jwt
        self._principals: LocalLookupCache[Principal | None] = LocalLookupCache(generation, ttl=30.0)

    def login(self, email: str, password: str) -> LoginResult:
        """Password login for platform admins and tenant users."""
        email = email.strip().lower()
        principal = self._check_password(email, password)
        token = self._jwt.issue({"sub": principal.user_id, "role": principal.role,
                                 "tenant": principal.tenant_slug, "email": principal.email})
        log.info("login", extra={"email": email, "role": principal.role})
        return LoginResult(access_token=token, expires_in=self._jwt.ttl_seconds, role=principal.role,
                           tenant=principal.tenant_slug, email=principal.email)

    def _check_password(self, email: str, password: str) -> Principal:
        with self._store.control() as control:
            admin = control.admins.get_by_email(email)
            if admin is not None:
                if not verify_password(password, admin.password_hash) or admin.status != "active":
                    raise AuthenticationFailed("wrong e-mail or password")
                control.admins.update(admin.id, {"last_login_at": utcnow()})
                control.commit()
                return Principal(admin.id, admin.email, PLATFORM_ADMIN, None, admin.name)
            entry = control.directory.get(email)
            tenant = control.tenants.get(entry.tenant_slug) if entry else None
        if entry is None or tenant is None:
            verify_password(password, _DUMMY_HASH)  # same cost whether or not the e-mail exists
            raise AuthenticationFailed("wrong e-mail or password")
        with self._store.tenant(tenant.slug) as uow:
            user = uow.users.get(entry.user_id)
            if user is None or not verify_password(password, user.password_hash) or user.status != "active":
                raise AuthenticationFailed("wrong e-mail or password")
            if tenant.status != "active":
                raise TenantUnavailable(f"tenant {tenant.slug!r} is suspended")
            uow.users.update(user.id, {"last_login_at": utcnow()})
            uow.commit()
        return Principal(user.id, user.email, user.role, tenant.slug, user.name)

    def authenticate(self, token: str) -> Principal:
        """The principal of a JWT, re-checked against the store (deactivation applies at once)."""
        try:
            claims = self._jwt.decode(token)
        except InvalidCredentials as exc:
            raise AuthenticationFailed(str(exc)) from None
        key = f"{claims['sub']}|{claims.get('tenant') or ''}"
        generation = self._principals.generation()
        principal = self._principals.get(key)
        if principal is None:
            principal = self._load(claims)
            self._principals.put(key, principal, generation)
        if principal.role != PLATFORM_ADMIN and principal.tenant_slug is None:
            raise AuthenticationFailed("invalid token")
        return principal

    def _load(self, claims: dict) -> Principal:
        with self._store.control() as control:
            if claims.get("role") == PLATFORM_ADMIN:
                admin = control.admins.get(claims["sub"])
                if admin is None or admin.status != "active":
                    raise AuthenticationFailed("account no longer active")
                return Principal(admin.id, admin.email, PLATFORM_ADMIN, None, admin.name)
            tenant = control.tenants.get(claims.get("tenant") or "")
        if tenant is None:
            raise AuthenticationFailed("account no longer active")
        if tenant.status != "active":
            raise TenantUnavailable(f"tenant {tenant.slug!r} is suspended")
        with self._store.tenant(tenant.slug) as uow:
            user = uow.users.get(claims["sub"])
        if user is None or user.status != "active":
            raise AuthenticationFailed("account no longer active")
        return Principal(user.id, user.email, user.role, tenant.slug, user.name)

    def ensure_first_admin(self, email: str = "", password: str = "") -> FirstAdmin:
        """Create a platform admin when there is none (password generated if not given)."""
        email = (email or "admin@gatehouse.local").strip().lower()
        with self._store.control() as control:
            if control.admins.count() > 0:
                return FirstAdmin(created=False, email=email)
            generated = None if password else generate_password()
            control.admins.add(PlatformAdminRecord(email=email, name="Administrator",
                                                   password_hash=hash_password(password or generated)))
            control.commit()
        log.info("first platform admin created", extra={"email": email})
        return FirstAdmin(created=True, email=email, generated_password=generated)

    def create_platform_admin(self, email: str, password: str, name: str = "") -> PlatformAdminRecord:
        """Add another platform admin (CLI)."""
        email = email.strip().lower()
        with self._store.control() as control:
            if control.admins.get_by_email(email) or control.directory.get(email):
                raise Conflict(f"a user with e-mail {email} already exists", param="email")
            record = control.admins.add(PlatformAdminRecord(email=email, name=name,
                                                            password_hash=hash_password(password)))
            control.commit()
        return record
