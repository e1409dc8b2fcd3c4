"""A thin helper over the management API for tests (real HTTP calls, asserted status codes)."""

from __future__ import annotations

import httpx


class AdminApi:
    """Calls /admin/v1 with a logged-in JWT and, optionally, a chosen tenant."""

    def __init__(self, http: httpx.AsyncClient, token: str = "") -> None:
        self.http = http
        self.token = token

    def headers(self, tenant: str | None = None) -> dict[str, str]:
        """Authorization (and X-Tenant-Id) headers."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if tenant:
            headers["X-Tenant-Id"] = tenant
        return headers

    async def login(self, email: str, password: str) -> dict:
        """Log in; keeps the JWT for later calls."""
        response = await self.http.post("/admin/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        body = response.json()
        self.token = body["access_token"]
        return body

    async def call(self, method: str, path: str, *, tenant: str | None = None, expect: int | None = None,
                   **kwargs) -> httpx.Response:
        """Any call; asserts the status when `expect` is given."""
        response = await self.http.request(method, f"/admin/v1{path}", headers=self.headers(tenant), **kwargs)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def create_tenant(self, slug: str, **fields) -> dict:
        """Create a tenant (201)."""
        body = {"slug": slug, "name": fields.pop("name", slug.title()), **fields}
        return (await self.call("POST", "/tenants", json=body, expect=201)).json()

    async def create_user(self, tenant: str, email: str, role: str = "admin", password: str = "password-123") -> dict:
        """Create a user in a tenant (201)."""
        body = {"email": email, "role": role, "password": password, "name": email.split("@")[0]}
        return (await self.call("POST", "/users", tenant=tenant, json=body, expect=201)).json()

    async def create_token(self, tenant: str, name: str = "app", **fields) -> dict:
        """Create an API token (201); the secret is in ['token']."""
        return (await self.call("POST", "/api-tokens", tenant=tenant, json={"name": name, **fields},
                                expect=201)).json()


async def configure_gateway(admin: AdminApi, upstream_url: str, tenant: str = "acme", *, provider_type: str = "openai-compatible",
                            api_key: str | None = "sk-upstream-secret-0001", models: list[dict] | None = None,
                            token_fields: dict | None = None, tenant_fields: dict | None = None,
                            provider_fields: dict | None = None) -> dict:
    """A tenant with a provider pointing at the fake upstream, models, and an API token."""
    await admin.create_tenant(tenant, **(tenant_fields or {}))
    provider = {"name": "fake", "type": provider_type, "base_url": upstream_url, **(provider_fields or {})}
    if api_key:
        provider["api_key"] = api_key
    created = (await admin.call("POST", "/providers", tenant=tenant, json=provider, expect=201)).json()
    for model in models or [{"name": "gpt-test", "upstream_model": "fake-chat", "input_price_per_1k": 1.0,
                             "output_price_per_1k": 2.0},
                            {"name": "embed-test", "upstream_model": "fake-embed", "kind": "embedding",
                             "input_price_per_1k": 0.1}]:
        await admin.call("POST", "/models", tenant=tenant, json={"provider": "fake", **model}, expect=201)
    token = await admin.create_token(tenant, **(token_fields or {}))
    return {"provider": created, "token": token["token"], "token_id": token["id"], "tenant": tenant}
