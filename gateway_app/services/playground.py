"""The console playground: chats through the same inference service as the client API."""

from __future__ import annotations

from gateway_app.core.errors import InvalidInput
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.inference.gateway import InferenceService, Streaming
from gateway_app.services.console_identity import console_identity
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess


class PlaygroundService:
    """Builds the caller's identity for the tenant, then streams a chat completion."""

    def __init__(self, access: TenantAccess, inference: InferenceService) -> None:
        self._access = access
        self._inference = inference

    def identity(self, actor: Principal, tenant: str | None) -> ClientIdentity:
        """A client identity for the console user: tenant limits, usage under 'playground:<user>'."""
        return console_identity(self._access, actor, tenant, feature="playground", what="the playground",
                                write=True, token_id="playground", token_name="Console playground")

    async def chat_models(self, identity: ClientIdentity) -> list[str]:
        """Chat models of the tenant."""
        return [m.name for m in await self._inference.catalog.visible(identity) if m.kind == "chat"]

    async def chat(self, identity: ClientIdentity, model: str, messages: list[dict], *, temperature: float = 0.7,
                   max_tokens: int | None = None, request_id: str = "") -> Streaming:
        """Start a streamed completion (usage included), exactly as a client's request would be."""
        if not messages:
            raise InvalidInput("write a message first", param="messages")
        payload: dict = {"model": model, "messages": messages, "stream": True, "temperature": temperature,
                         "stream_options": {"include_usage": True}}
        if max_tokens:
            payload["max_tokens"] = max_tokens
        outcome = await self._inference.chat(identity, payload, request_id)
        assert isinstance(outcome, Streaming)
        return outcome

    async def cost(self, identity: ClientIdentity, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """What a call cost at the model's prices."""
        catalog = await self._inference.catalog.for_tenant(identity.tenant_slug)
        entry = catalog.models.get(model)
        return entry.cost(prompt_tokens, completion_tokens) if entry else 0.0

