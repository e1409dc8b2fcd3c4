"""Console users of a tenant; their e-mails are indexed in the control database for login."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.invalidation import Generation
from gateway_app.core.security import PasswordHasher, generate_password
from gateway_app.db.errors import DuplicateKey
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import DirectoryEntry, UserRecord
from gateway_app.services import audit
from gateway_app.services.fields import Email, Name, Password
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess

TenantRole = Literal["admin", "member"]
UserStatus = Literal["active", "deactivated"]


class UserCreate(BaseModel):
    """Input to create a user; without a password one is generated and returned once."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    name: str = Field(default="", max_length=200)
    role: TenantRole = "member"
    password: Password | None = None


class UserUpdate(BaseModel):
    """Changes to a user; only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    role: TenantRole | None = None
    status: UserStatus | None = None
    password: Password | None = None


class UserOut(BaseModel):
    """A user as shown in lists (never the password hash)."""

    id: str
    email: str
    name: str
    role: TenantRole
    status: UserStatus
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, record: UserRecord) -> UserOut:
        """Build from a stored record."""
        return cls(id=record.id, email=record.email, name=record.name, role=record.role,
                   status=record.status, created_at=record.created_at, last_login_at=record.last_login_at)


class UserCreated(UserOut):
    """A new user; generated_password is set only when the caller did not choose one."""

    generated_password: str | None = None


class UserService:
    """Manage the users of a tenant."""

    def __init__(self, store: DataStore, access: TenantAccess, generation: Generation,
                 hasher: PasswordHasher) -> None:
        self._store = store
        self._access = access
        self._generation = generation
        self._hasher = hasher

    def list(self, actor: Principal, tenant: str | None, offset: int = 0, limit: int = 100) -> list[UserOut]:
        """Users of the tenant, by e-mail."""
        with self._access.open(actor, tenant) as uow:
            return [UserOut.of(u) for u in uow.users.list(offset=offset, limit=limit)]

    def get(self, actor: Principal, tenant: str | None, user_id: str) -> UserOut:
        """One user."""
        with self._access.open(actor, tenant) as uow:
            record = uow.users.get(user_id)
        if record is None:
            raise NotFound(f"user {user_id!r} not found")
        return UserOut.of(record)

    def create(self, actor: Principal, tenant: str | None, data: UserCreate) -> UserCreated:
        """Create a user: reserve the e-mail platform-wide, then add the user to the tenant."""
        actor.require_write()
        tenant_record = self._access.check(actor, tenant)
        slug = tenant_record.slug
        limit = tenant_record.limits.get("max_users")
        password = data.password or generate_password()
        user = UserRecord(email=data.email, name=data.name.strip(), role=data.role,
                          password_hash=self._hasher.hash_blocking(password))
        with self._store.control() as control:
            if control.admins.get_by_email(data.email) or control.directory.get(data.email):
                raise Conflict(f"a user with e-mail {data.email} already exists", param="email")
            try:
                control.directory.add(DirectoryEntry(email=data.email, tenant_slug=slug, user_id=user.id))
            except DuplicateKey:
                raise Conflict(f"a user with e-mail {data.email} already exists", param="email") from None
            with self._store.tenant(slug) as uow:
                if limit is not None and uow.users.count() >= limit:
                    raise Conflict(f"the tenant's license allows {limit} users", param="email")
                uow.users.add(user)
                audit.record(uow, actor, "user.create", user.id, email=user.email, role=user.role)
                uow.commit()
            try:
                control.commit()
            except Exception:
                with self._store.tenant(slug) as uow:  # compensate: no user without a login entry
                    uow.users.delete(user.id)
                    uow.commit()
                raise
        return UserCreated(**UserOut.of(user).model_dump(),
                           generated_password=None if data.password else password)

    def update(self, actor: Principal, tenant: str | None, user_id: str, data: UserUpdate) -> UserOut:
        """Change name, role, status or password."""
        actor.require_write()
        changes: dict = {}
        for name in data.model_fields_set:
            value = getattr(data, name)
            if value is None:
                raise InvalidInput(f"{name} cannot be null", param=name)
            if name == "password":
                changes["password_hash"] = self._hasher.hash_blocking(value)
            else:
                changes[name] = value
        with self._access.open(actor, tenant) as uow:
            current = uow.users.get(user_id)
            if current is None:
                raise NotFound(f"user {user_id!r} not found")
            if current.id == actor.user_id and (changes.get("role") == "member" or changes.get("status") == "deactivated"):
                raise Conflict("you cannot demote or deactivate yourself", param="role")
            if ("password_hash" in changes or changes.get("role", current.role) != current.role
                    or changes.get("status", current.status) != current.status):
                # Whoever held a session with the old password or powers must log in again.
                changes["session_version"] = current.session_version + 1
            record = uow.users.update(user_id, changes) if changes else current
            audit.record(uow, actor, "user.update", user_id, fields=sorted(data.model_fields_set))
            uow.commit()
        self._generation.notify(uow.tenant_slug)  # role and status are re-checked on every management request
        return UserOut.of(record)  # type: ignore[arg-type]

    def delete(self, actor: Principal, tenant: str | None, user_id: str) -> None:
        """Remove a user and their login."""
        actor.require_write()
        if user_id == actor.user_id:
            raise Conflict("you cannot delete yourself")
        with self._access.open(actor, tenant) as uow:
            record = uow.users.get(user_id)
            if record is None:
                raise NotFound(f"user {user_id!r} not found")
            uow.users.delete(user_id)
            audit.record(uow, actor, "user.delete", user_id, email=record.email)
            with self._store.control() as control:
                control.directory.delete(record.email)
                control.commit()
            uow.commit()
        self._generation.notify(uow.tenant_slug)
