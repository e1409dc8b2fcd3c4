"""Overview page: the active tenant at a glance."""

from __future__ import annotations

import reflex as rx

from gateway_app.core.errors import GatehouseError
from state.base import in_thread, platform
from state.session import SessionState


class OverviewState(SessionState):
    """State of /."""

    tenant_count: int = 0
    user_count: int = 0
    token_count: int = 0
    active_token_count: int = 0
    tenant_name: str = ""
    tenant_status: str = ""
    tenant_plan: str = ""
    loading: bool = False

    @rx.event
    async def load(self):
        """Count tenants (platform admins), users and tokens of the active tenant."""
        self.loading = True
        yield
        try:
            principal = await in_thread(self.principal)
            services = platform()
            if principal.is_platform_admin:
                self.tenant_count = (await in_thread(services.tenants.list, principal, limit=1)).total
            tenant = self.tenant_arg()
            if principal.is_platform_admin and not tenant:
                self.user_count = self.token_count = self.active_token_count = 0
                self.tenant_name = ""
                return
            info = await in_thread(services.tenants.get, principal, self.active_tenant)
            self.tenant_name, self.tenant_status, self.tenant_plan = info.name, info.status, info.plan
            self.user_count = len(await in_thread(services.users.list, principal, tenant, limit=500))
            tokens = await in_thread(services.tokens.list, principal, tenant, limit=500)
            self.token_count = len(tokens)
            self.active_token_count = sum(1 for t in tokens if t.status == "active")
        except GatehouseError as exc:
            yield rx.toast.error(exc.message)
        finally:
            self.loading = False
