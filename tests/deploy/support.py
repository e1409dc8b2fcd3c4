"""Shared helpers of the deployment tests: the chart rendered by the real Helm engine, and Settings names."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from cryptography.fernet import Fernet
from helm_python import chart as helm

from gateway_app.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "gatehouse"
SCALE_VALUES = CHART / "values-scale.yaml"
RELEASE = "gh"
NAMESPACE = "gatehouse"

# Setting names (the environment variables the gateway reads).
SETTINGS_NAMES = frozenset(name.upper() for name in Settings.model_fields)
# Read by Reflex itself (rxconfig.py), not by the gateway's Settings.
REFLEX_NAMES = frozenset({"REFLEX_REDIS_URL"})

# What an operator passes on the command line (--set secrets.X=...): the chart's defaults leave them empty.
REQUIRED_SECRETS = {"JWT_SECRET": "j" * 24 + "-test-jwt-secret-value", "ENCRYPTION_KEY": Fernet.generate_key().decode()}
SCALE_SECRETS = {
    **REQUIRED_SECRETS,
    "MONGODB_URI": "mongodb://gatehouse:mongo-pass-1234@mongo-0.mongo:27017/?replicaSet=rs0",
    "REDIS_URL": "redis://:redis-pass-5678@redis-master:6379/0",
}


def deep_merge(base: dict, override: dict) -> dict:
    """`helm -f a.yaml --set ...`: later maps win, key by key."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def scale_values(**override: Any) -> dict:
    """values-scale.yaml plus the secrets it leaves to the operator, plus `override`."""
    values = deep_merge(helm.values_from_yaml(SCALE_VALUES.read_text()), {"secrets": SCALE_SECRETS})
    return deep_merge(values, override)


def default_values(**override: Any) -> dict:
    """The chart's values.yaml plus the two secrets every install must be given, plus `override`."""
    return deep_merge({"secrets": REQUIRED_SECRETS}, override)


def render(values: dict | None) -> list[dict]:
    """Every manifest the chart renders for `values`, parsed (raises HelmRenderError / HelmValuesError)."""
    files = helm.Chart.load(CHART).render(values, name=RELEASE, namespace=NAMESPACE)
    docs = []
    for text in files.values():
        docs += [doc for doc in yaml.safe_load_all(text) if doc]
    return docs


def render_text(values: dict | None) -> dict[str, str]:
    """The rendered files as text, by template path."""
    return helm.Chart.load(CHART).render(values, name=RELEASE, namespace=NAMESPACE)


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict], kind: str, component: str | None = None, name: str | None = None) -> dict:
    """The only manifest of `kind` (for `component`, or with `name`)."""
    found = [doc for doc in of_kind(docs, kind)
             if (component is None or doc["metadata"]["labels"].get("app.kubernetes.io/component") == component)
             and (name is None or doc["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} manifests for component {component}, name {name}"
    return found[0]


def deployments(docs: list[dict], components: tuple[str, ...] = ("api", "console")) -> dict[str, dict]:
    """The gateway's Deployments by component (api, console; the release's Chroma server on request)."""
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in of_kind(docs, "Deployment")
            if d["metadata"]["labels"]["app.kubernetes.io/component"] in components}


def settings_from_env(env: dict[str, str]) -> Settings:
    """The gateway's own validation of an environment (production rules included), without .env files."""
    fields = {name.lower(): value for name, value in env.items() if name in SETTINGS_NAMES}
    return Settings(_env_file=None, **fields)
