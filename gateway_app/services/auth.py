"""Console and management-API authentication: password login, JWT sessions, the first admin."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from pydantic import BaseModel

from gateway_app.core.errors import AuthenticationFailed, Conflict, TenantUnavailable
from gateway_app.core.invalidation import PLATFORM_SCOPE, Generation, LocalLookupCache
from gateway_app.core.logging import get_logger
from gateway_app.core.security import (
    HasherBusy,
    InvalidCredentials,
    JwtCodec,
    PasswordHasher,
    generate_password,
    hash_password,
)
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import PlatformAdminRecord, TenantRecord, UserRecord, utcnow
from gateway_app.services.login_throttle import LoginThrottle, LoginThrottled
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


def first_admin_notice(first: FirstAdmin) -> str:
    """The box that shows a generated first-admin password once (terminal only, never a log field)."""
    line = "=" * 64
    return (f"\n{line}\n  First platform admin created\n  e-mail:   {first.email}\n"
            f"  password: {first.generated_password}\n  (shown once; set ADMIN_EMAIL/ADMIN_PASSWORD to choose)\n{line}\n")


class AuthService:
    """Checks passwords, issues JWTs and turns a JWT back into a live Principal."""

    def __init__(self, store: DataStore, jwt: JwtCodec, generation: Generation, hasher: PasswordHasher,
                 throttle: LoginThrottle) -> None:
        self._store = store
        self._jwt = jwt
        self._generation = generation
        self._hasher = hasher
        self._throttle = throttle
        self._principals: LocalLookupCache[Principal | None] = LocalLookupCache(generation, ttl=30.0)
        self.store_reads = 0  # principals loaded (cache misses)

    @property
    def principals(self) -> LocalLookupCache[Principal | None]:
        """The session cache (per-scope load counters: a tenant's sessions, or the platform's)."""
        return self._principals

    async def login(self, email: str, password: str, address: str = "") -> LoginResult:
        """Password login for platform admins and tenant users, throttled per e-mail and address."""
        email = email.strip().lower()
        await self._throttle.check(email, address)
        try:
            principal = await self._check_password(email, password)
        except HasherBusy:
            raise LoginThrottled(1.0) from None
        except AuthenticationFailed:
            await self._throttle.failed(email, address)
            log.info("login failed", extra={"email": email})
            raise
        await self._throttle.succeeded(email)
        token = self._jwt.issue({"sub": principal.user_id, "role": principal.role, "tenant": principal.tenant_slug,
                                 "email": principal.email, "sv": principal.session_version})
        log.info("login", extra={"email": email, "role": principal.role})
        return LoginResult(access_token=token, expires_in=self._jwt.ttl_seconds, role=principal.role,
                           tenant=principal.tenant_slug, email=principal.email)

    def _find(self, email: str) -> tuple[PlatformAdminRecord | UserRecord | None, TenantRecord | None]:
        """The platform admin, or the tenant user and their tenant, with this e-mail."""
        with self._store.control() as control:
            admin = control.admins.get_by_email(email)
            if admin is not None:
                return admin, None
            entry = control.directory.get(email)
            tenant = control.tenants.get(entry.tenant_slug) if entry else None
        if entry is None or tenant is None:
            return None, None
        with self._store.tenant(tenant.slug) as uow:
            return uow.users.get(entry.user_id), tenant

    async def _check_password(self, email: str, password: str) -> Principal:
        account, tenant = await anyio.to_thread.run_sync(self._find, email)
        # The same scrypt work whether or not the e-mail exists: no account enumeration by timing.
        ok = await self._hasher.verify(password, account.password_hash if account else _DUMMY_HASH)
        if account is None or not ok or account.status != "active":
            raise AuthenticationFailed("wrong e-mail or password")
        if tenant is not None and tenant.status != "active":
            raise TenantUnavailable(f"tenant {tenant.slug!r} is suspended")
        await anyio.to_thread.run_sync(self._stamp, account.id, tenant.slug if tenant else None)
        if isinstance(account, PlatformAdminRecord):
            return Principal(account.id, account.email, PLATFORM_ADMIN, None, account.name, account.session_version)
        assert tenant is not None
        return Principal(account.id, account.email, account.role, tenant.slug, account.name, account.session_version)

    def _stamp(self, account_id: str, tenant: str | None) -> None:
        if tenant is None:
            with self._store.control() as control:
                control.admins.update(account_id, {"last_login_at": utcnow()})
                control.commit()
            return
        with self._store.tenant(tenant) as uow:
            uow.users.update(account_id, {"last_login_at": utcnow()})
            uow.commit()

    def authenticate(self, token: str) -> Principal:
        """The principal of a JWT, re-checked against the store: deactivation, role changes, password
        changes and logout end the session from the next request on (session version)."""
        try:
            claims = self._jwt.decode(token)
        except InvalidCredentials as exc:
            raise AuthenticationFailed(str(exc)) from None
        key = f"{claims['sub']}|{claims.get('tenant') or ''}"
        stamp = self._principals.generation(principal_scope(claims.get("role"), claims.get("tenant")))
        principal = self._principals.get(key)
        if principal is None:
            principal = self._load(claims)
            self._principals.put(key, principal, stamp)
        if principal.role != PLATFORM_ADMIN and principal.tenant_slug is None:
            raise AuthenticationFailed("invalid token")
        if claims.get("sv", 0) != principal.session_version:
            raise AuthenticationFailed("session ended: log in again")
        return principal

    def close(self) -> None:
        """Stop the password-hashing threads."""
        self._hasher.close()

    def logout(self, principal: Principal) -> None:
        """End every session of this user, in every worker (their JWTs stop working)."""
        end_sessions(self._store, principal)
        self._generation.notify(principal_scope(principal.role, principal.tenant_slug))
        log.info("logout", extra={"email": principal.email})

    def _load(self, claims: dict) -> Principal:
        self.store_reads += 1
        with self._store.control() as control:
            if claims.get("role") == PLATFORM_ADMIN:
                admin = control.admins.get(claims["sub"])
                if admin is None or admin.status != "active":
                    raise AuthenticationFailed("account no longer active")
                return Principal(admin.id, admin.email, PLATFORM_ADMIN, None, admin.name, admin.session_version)
            tenant = control.tenants.get(claims.get("tenant") or "")
        if tenant is None:
            raise AuthenticationFailed("account no longer active")
        if tenant.status != "active":
            raise TenantUnavailable(f"tenant {tenant.slug!r} is suspended")
        with self._store.tenant(tenant.slug) as uow:
            user = uow.users.get(claims["sub"])
        if user is None or user.status != "active":
            raise AuthenticationFailed("account no longer active")
        return Principal(user.id, user.email, user.role, tenant.slug, user.name, user.session_version)

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


def principal_scope(role: str | None, tenant: str | None) -> str:
    """The invalidation scope of a session: its tenant, or the platform scope for platform admins."""
    return PLATFORM_SCOPE if role == PLATFORM_ADMIN or not tenant else tenant


def end_sessions(store: DataStore, principal: Principal) -> None:
    """Bump the user's session version: every JWT issued before stops working."""
    if principal.is_platform_admin:
        with store.control() as control:
            admin = control.admins.get(principal.user_id)
            if admin is not None:
                control.admins.update(admin.id, {"session_version": admin.session_version + 1})
                control.commit()
        return
    with store.tenant(principal.tenant_slug or "") as uow:
        user = uow.users.get(principal.user_id)
        if user is not None:
            uow.users.update(user.id, {"session_version": user.session_version + 1})
            uow.commit()
