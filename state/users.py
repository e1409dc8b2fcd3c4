"""Users page: list the tenant's users, create, change role, deactivate/activate."""

from __future__ import annotations

import dataclasses

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.services.users import UserCreate, UserOut, UserUpdate
from state.base import failure, in_thread, parse_form, platform
from state.session import SessionState


@dataclasses.dataclass
class UserRow:
    """One row of the users table."""

    id: str = ""
    email: str = ""
    name: str = ""
    role: str = ""
    status: str = ""
    last_login: str = ""

    @classmethod
    def of(cls, user: UserOut) -> UserRow:
        """Row from a service result."""
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never"
        return cls(id=user.id, email=user.email, name=user.name, role=user.role, status=user.status, last_login=last)


class UsersState(SessionState):
    """State of /users."""

    rows: list[UserRow] = []
    loading: bool = False
    error: str = ""
    create_open: bool = False
    creating: bool = False
    form_errors: dict[str, str] = {}
    new_password: str = ""
    confirm_id: str = ""
    confirm_email: str = ""
    confirm_status: str = ""

    @rx.event
    async def load(self):
        """Fetch the users of the active tenant."""
        self.error = ""
        if self.is_platform_admin and not self.selected_tenant:
            self.rows = []
            self.error = "Create a tenant first, then add its users."
            return
        self.loading = True
        yield
        try:
            principal = await in_thread(self.principal)
            users = await in_thread(platform().users.list, principal, self.tenant_arg())
            self.rows = [UserRow.of(u) for u in users]
        except GatehouseError as exc:
            self.rows = []
            self.error = exc.message
        finally:
            self.loading = False

    @rx.event
    def open_create(self, value: bool = True):
        """Open or close the create dialog."""
        self.create_open = value
        self.form_errors = {}
        if value:
            self.new_password = ""

    @rx.event
    async def create(self, form: dict):
        """Create a user; a generated password is shown once."""
        payload, self.form_errors = parse_form(UserCreate, form)
        if payload is None:
            return
        self.creating = True
        yield
        try:
            principal = await in_thread(self.principal)
            created = await in_thread(platform().users.create, principal, self.tenant_arg(), payload)
        except GatehouseError as exc:
            self.form_errors = {exc.param or "form": exc.message}
            self.creating = False
            return
        self.creating = False
        self.create_open = False
        self.new_password = created.generated_password or ""
        yield rx.toast.success(f"User {created.email} created")
        yield UsersState.load

    @rx.event
    def dismiss_password(self):
        """Hide the generated password."""
        self.new_password = ""

    @rx.event
    async def change_role(self, user_id: str, role: str):
        """Promote or demote a user."""
        async for event in self._update(user_id, UserUpdate(role=role), f"Role changed to {role}"):
            yield event

    @rx.event
    def ask_status(self, user_id: str, email: str, status: str):
        """Ask for confirmation before (de)activating."""
        self.confirm_id, self.confirm_email, self.confirm_status = user_id, email, status

    @rx.event
    def cancel(self):
        """Close the confirmation."""
        self.confirm_id = ""

    @rx.event
    async def confirm(self):
        """Apply the confirmed status change."""
        user_id, status = self.confirm_id, self.confirm_status
        self.confirm_id = ""
        label = "deactivated" if status == "deactivated" else "reactivated"
        async for event in self._update(user_id, UserUpdate(status=status), f"User {label}"):
            yield event

    async def _update(self, user_id: str, change: UserUpdate, message: str):
        try:
            principal = await in_thread(self.principal)
            await in_thread(platform().users.update, principal, self.tenant_arg(), user_id, change)
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield rx.toast.success(message)
        yield UsersState.load
