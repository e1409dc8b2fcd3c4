"""Builds the runtime for a provider type."""

from __future__ import annotations

from gateway_app.providers.anthropic import AnthropicRuntime
from gateway_app.providers.base import ProviderRuntime, ProviderSpec
from gateway_app.providers.openai_compatible import AzureOpenAIRuntime, OpenAICompatibleRuntime

FILES_TYPES = ("openai", "openai-compatible", "azure-openai")


def create_runtime(spec: ProviderSpec) -> ProviderRuntime:
    """A runtime (with its own pooled HTTP session) for a provider."""
    if spec.type == "anthropic":
        return AnthropicRuntime(spec)
    if spec.type == "azure-openai":
        return AzureOpenAIRuntime(spec)
    return OpenAICompatibleRuntime(spec)


def create_files_client(spec: ProviderSpec):
    """A files client for providers with an OpenAI files API."""
    if spec.type not in FILES_TYPES:
        raise ValueError(f"provider type {spec.type} has no files API")
    # Imported here: the openai SDK adds ~15 MB per worker, and most workers never touch files.
    from gateway_app.providers.files import FilesClient

    return FilesClient(spec)
