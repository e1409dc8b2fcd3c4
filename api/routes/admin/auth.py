"""Console / management login."""

from __future__ import annotations

from fastapi import APIRouter
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
             responses={401: {"description": "wrong e-mail or password"}})
def login(body: LoginRequest, platform: PlatformDep) -> LoginResult:
    """Exchange e-mail and password for a short-lived JWT."""
    return platform.auth.login(body.email, body.password)


@router.get("/me", response_model=Me, summary="Who am I")
def me(principal: PrincipalDep) -> Me:
    """The user behind the bearer JWT."""
    return Me(user_id=principal.user_id, email=principal.email, name=principal.name, role=principal.role,
              tenant=principal.tenant_slug)
