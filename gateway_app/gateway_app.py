"""Composition root: the Reflex console with the management and client APIs mounted on one port."""

from __future__ import annotations

import contextlib

import reflex as rx

from api.app import create_api
from components.pages.login import login_page
from components.pages.overview import overview_page
from components.pages.tenants import tenants_page
from components.pages.users import users_page
from gateway_app.services.platform import start_platform, stop_platform
from state.overview import OverviewState
from state.session import SessionState
from state.tenants import TenantsState
from state.users import UsersState

api = create_api(manage_lifespan=False)


def _mount_console(console_asgi):
    """api_transformer: our FastAPI app in front, the console behind it (its routes win first)."""
    api.mount("", console_asgi)
    return api


@contextlib.asynccontextmanager
async def gatehouse_lifespan():
    """Start the platform with the console's server and stop it with it."""
    platform = await start_platform()
    api.state.holder.platform = platform
    try:
        yield
    finally:
        await stop_platform(platform)
        api.state.holder.platform = None


app = rx.App(api_transformer=_mount_console)
app.register_lifespan_task(gatehouse_lifespan)

app.add_page(login_page, route="/login", title="Sign in · Gatehouse", on_load=SessionState.skip_login_if_signed_in)
app.add_page(overview_page, route="/", title="Overview · Gatehouse",
             on_load=[SessionState.require_login, OverviewState.load])
app.add_page(tenants_page, route="/tenants", title="Tenants · Gatehouse",
             on_load=[SessionState.require_login, TenantsState.load])
app.add_page(users_page, route="/users", title="Users · Gatehouse",
             on_load=[SessionState.require_login, UsersState.load])
