"""Builds provider clients, every one on a session guarded by the outbound policy."""

from __future__ import annotations

from gateway_app.core.outbound import OutboundPolicy
from gateway_app.providers.anthropic import AnthropicRuntime
from gateway_app.providers.base import ProviderRuntime, ProviderSpec
from gateway_app.providers.files import FilesClient
from gateway_app.providers.guard import ConnectionPools
from gateway_app.providers.openai_compatible import AzureOpenAIRuntime, OpenAICompatibleRuntime

FILES_TYPES = ("openai", "openai-compatible", "azure-openai")


class RuntimeFactory:
    """Holds the outbound policy (no client can be built without it) and the shared connections."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.connections = ConnectionPools(policy)

    def runtime(self, spec: ProviderSpec) -> ProviderRuntime:
        """A runtime for a provider: its own session (headers, key) on its origin's shared connections."""
        session = self.connections.session(spec.base_url)
        if spec.type == "anthropic":
            return AnthropicRuntime(spec, session)
        if spec.type == "azure-openai":
            return AzureOpenAIRuntime(spec, session)
        return OpenAICompatibleRuntime(spec, session)

    def files(self, spec: ProviderSpec) -> FilesClient:
        """A files client for providers with an OpenAI files API."""
        if spec.type not in FILES_TYPES:
            raise ValueError(f"provider type {spec.type} has no files API")
        return FilesClient(spec, self.connections.session(spec.base_url))

    async def close(self) -> None:
        """Close the shared connections (after every runtime is closed)."""
        await self.connections.close()
