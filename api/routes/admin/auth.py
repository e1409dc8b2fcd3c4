"""Console / management login."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.deps import PlatformDep, PrincipalDep
from gateway_app.services.auth import LoginResult

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginRequest(BaseModel):
    """E-mail and password."""

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    """The logged-in user."""

    user_id: str
    email: str
    name: str
    role: str
    tenant: str | None


@router.post("/login", response_model=LoginResult, summary="Log in and get a bearer JWT",
             responses={401: {"description": "wrong e-mail or password"},
                        429: {"description": "too many failed logins for this e-mail or address (Retry-After)"}})
async def login(body: LoginRequest, request: Request, platform: PlatformDep) -> LoginResult:
    """Exchange e-mail and password for a short-lived JWT. Failed logins slow down exponentially."""
    address = request.client.host if request.client else ""
    return await platform.auth.login(body.email, body.password, address)


@router.post("/logout", status_code=204, summary="End this user's sessions", response_class=Response)
def logout(principal: PrincipalDep, platform: PlatformDep) -> Response:
    """Every JWT of this user stops working from the next request on, in every worker."""
    platform.auth.logout(principal)
    return Response(status_code=204)


@router.get("/me", response_model=Me, summary="Who am I")
def me(principal: PrincipalDep) -> Me:
    """The user behind the bearer JWT."""
    return Me(user_id=principal.user_id, email=principal.email, name=principal.name, role=principal.role,
              tenant=principal.tenant_slug)
