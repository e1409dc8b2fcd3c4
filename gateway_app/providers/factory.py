"""Builds provider clients, every one on a session guarded by the outbound policy."""

from __future__ import annotations

from gateway_app.core.outbound import OutboundPolicy
from gateway_app.providers.anthropic import AnthropicRuntime
from gateway_app.providers.base import ProviderRuntime, ProviderSpec
from gateway_app.providers.files import FilesClient
from gateway_app.providers.openai_compatible import AzureOpenAIRuntime, OpenAICompatibleRuntime

FILES_TYPES = ("openai", "openai-compatible", "azure-openai")


class RuntimeFactory:
    """Holds the outbound policy so that no client can be built without it."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    def runtime(self, spec: ProviderSpec) -> ProviderRuntime:
        """A runtime (with its own pooled HTTP session) for a provider."""
        if spec.type == "anthropic":
            return AnthropicRuntime(spec, self.policy)
        if spec.type == "azure-openai":
            return AzureOpenAIRuntime(spec, self.policy)
        return OpenAICompatibleRuntime(spec, self.policy)

    def files(self, spec: ProviderSpec) -> FilesClient:
        """A files client for providers with an OpenAI files API."""
        if spec.type not in FILES_TYPES:
            raise ValueError(f"provider type {spec.type} has no files API")
        return FilesClient(spec, self.policy)
