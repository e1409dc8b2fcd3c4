"""Prompt templates: sandboxed Jinja2, typed variables, immutable versions, movable labels, diffs."""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.invalidation import Generation, LocalLookupCache
from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import PromptRecord, PromptVersionRecord, utcnow
from gateway_app.services import audit
from gateway_app.services.fields import StorableJson, StorableObject
from gateway_app.services.principals import Principal
from gateway_app.services.projects import find_project
from gateway_app.services.tenant_access import TenantAccess

ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
VarType = Literal["string", "number", "integer", "boolean", "json"]
PromptName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Label = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
DEFAULT_LABEL = "production"
MAX_VERSION = 1_000_000  # versions of one prompt; keeps version numbers far inside 64 bits


class PromptVariable(BaseModel):
    """A declared template variable."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)
    type: VarType = "string"
    default: StorableJson = None
    required: bool = True
    description: str = Field(default="", max_length=500)


class PromptMessage(BaseModel):
    """A message template."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    content: str = Field(max_length=100_000)


class PromptVersionIn(BaseModel):
    """The content of a version."""

    model_config = ConfigDict(extra="forbid")

    messages: list[PromptMessage] = Field(min_length=1, max_length=100)
    variables: list[PromptVariable] = Field(default_factory=list, max_length=100)
    model: str = Field(default="", max_length=200, description="suggested model")
    params: StorableObject = Field(default_factory=dict,
                                   description="suggested parameters (temperature, max_tokens, ...)")
    message: str = Field(default="", max_length=1000, description="what changed")
    labels: list[Label] = Field(default_factory=list, description="labels to point at this version")


class PromptCreate(PromptVersionIn):
    """A new prompt with its version 1."""

    name: PromptName
    description: str = Field(default="", max_length=2000)
    project: str | None = None


class RenderRequest(BaseModel):
    """Which version to render, with what."""

    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    label: Label | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> RenderRequest:
        if self.version is not None and self.label is not None:
            raise ValueError("send either version or label, not both")
        return self


class Rendered(BaseModel):
    """A rendered prompt."""

    name: str
    version: int
    messages: list[dict]
    model: str
    params: dict
    variables: dict[str, Any]


class VersionOut(BaseModel):
    """One version."""

    version: int
    messages: list[PromptMessage]
    variables: list[PromptVariable]
    model: str
    params: dict
    author: str
    message: str
    labels: list[str]
    created_at: datetime


class PromptOut(BaseModel):
    """A prompt with its labels and versions (newest first)."""

    id: str
    name: str
    description: str
    project_id: str | None
    latest_version: int
    labels: dict[str, int]
    created_at: datetime
    updated_at: datetime
    versions: list[VersionOut] = []


class PromptDiff(BaseModel):
    """A unified diff between two versions."""

    name: str
    from_version: int
    to_version: int
    diff: str


def check_templates(messages: list[PromptMessage]) -> set[str]:
    """Parse every template (errors name the message and line); the variables they use."""
    found: set[str] = set()
    for index, message in enumerate(messages):
        try:
            found |= meta.find_undeclared_variables(ENV.parse(message.content))
        except TemplateSyntaxError as exc:
            raise InvalidInput(f"messages[{index}].content line {exc.lineno}: {exc.message}",
                               param=f"messages[{index}].content") from None
    return found


def complete_variables(declared: list[PromptVariable], used: set[str]) -> list[dict]:
    """Declared variables plus every used-but-undeclared one (an optional string: a template may
    give it a `default(...)`; used bare, rendering without it names it in the error)."""
    names = {v.name for v in declared}
    extra = [PromptVariable(name=name, required=False) for name in sorted(used - names)]
    return [v.model_dump() for v in [*declared, *extra]]


_TYPES = {"string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,)}


def bind_variables(variables: list[dict], given: dict[str, Any]) -> dict[str, Any]:
    """Values for every declared variable: given, else default; type-checked. Errors name the variable."""
    values: dict[str, Any] = {}
    for spec in variables:
        name, kind = spec["name"], spec.get("type", "string")
        if name in given:
            value = given[name]
        elif spec.get("default") is not None:
            value = spec["default"]
        elif spec.get("required", True):
            raise InvalidInput(f"missing variable '{name}'", param=f"variables.{name}")
        else:
            continue  # left undefined: `default(...)` applies, bare use fails naming it
        if value is not None and kind in _TYPES:
            allowed = _TYPES[kind]
            if not isinstance(value, allowed) or (kind != "boolean" and isinstance(value, bool)):
                raise InvalidInput(f"variable '{name}' must be a {kind}, got {type(value).__name__}",
                                   param=f"variables.{name}")
        values[name] = value
    return values


def render_messages(version: PromptVersionRecord, given: dict[str, Any]) -> tuple[list[dict], dict[str, Any]]:
    """Render a version's messages in the sandbox."""
    values = bind_variables(version.variables, given)
    out = []
    for index, message in enumerate(version.messages):
        try:
            content = ENV.from_string(message["content"]).render(**values)
        except UndefinedError as exc:
            found = re.match(r"'([^']+)' is undefined", exc.message or "")
            if found:
                raise InvalidInput(f"missing variable '{found.group(1)}'", param=f"variables.{found.group(1)}") from None
            raise InvalidInput(f"messages[{index}]: {exc.message}", param="variables") from None
        except SecurityError as exc:
            raise InvalidInput(f"messages[{index}]: not allowed in a template: {exc}", param="variables") from None
        except TemplateError as exc:
            raise InvalidInput(f"messages[{index}]: {exc}", param="variables") from None
        out.append({"role": message["role"], "content": content})
    return out, values


def select_version(prompt: PromptRecord, version: int | None, label: str | None) -> int:
    """The version number a request means: explicit, by label, else production, else latest."""
    if version is not None:
        if not 1 <= version <= prompt.latest_version:
            raise NotFound(f"prompt '{prompt.name}' has no version {version}", param="version")
        return version
    if label is not None:
        if label not in prompt.labels:
            raise NotFound(f"prompt '{prompt.name}' has no label '{label}'", param="label")
        return int(prompt.labels[label])
    return int(prompt.labels.get(DEFAULT_LABEL, prompt.latest_version))


def _text(version: PromptVersionRecord) -> list[str]:
    lines = [f"model: {version.model}", f"params: {version.params}",
             f"variables: {', '.join(v['name'] + ':' + v.get('type', 'string') for v in version.variables)}"]
    for message in version.messages:
        lines.append(f"[{message['role']}]")
        lines.extend(message["content"].splitlines())
    return lines


def find_prompt(uow: TenantUnitOfWork, name: str) -> PromptRecord:
    """A prompt by name (or id), or NotFound."""
    record = uow.prompts.get_by_name(name) or uow.prompts.get(name)
    if record is None:
        raise NotFound(f"prompt '{name}' not found", param="prompt")
    return record


class PromptService:
    """Manage a tenant's prompts."""

    def __init__(self, access: TenantAccess, generation: Generation) -> None:
        self._access = access
        self._generation = generation

    @staticmethod
    def _out(uow: TenantUnitOfWork, prompt: PromptRecord, with_versions: bool = True) -> PromptOut:
        by_version: dict[int, list[str]] = {}
        for label, number in prompt.labels.items():
            by_version.setdefault(int(number), []).append(label)
        versions = [VersionOut(version=v.version, messages=v.messages, variables=v.variables, model=v.model,
                               params=v.params, author=v.author, message=v.message,
                               labels=sorted(by_version.get(v.version, [])), created_at=v.created_at)
                    for v in uow.prompts.versions(prompt.id)] if with_versions else []
        return PromptOut(id=prompt.id, name=prompt.name, description=prompt.description, project_id=prompt.project_id,
                         latest_version=prompt.latest_version, labels=prompt.labels, created_at=prompt.created_at,
                         updated_at=prompt.updated_at, versions=versions)

    def list(self, actor: Principal, tenant: str | None) -> list[PromptOut]:
        """Prompts by name (without their versions)."""
        with self._access.open(actor, tenant) as uow:
            return [self._out(uow, p, with_versions=False) for p in uow.prompts.list()]

    def get(self, actor: Principal, tenant: str | None, name: str) -> PromptOut:
        """A prompt with every version."""
        with self._access.open(actor, tenant) as uow:
            return self._out(uow, find_prompt(uow, name))

    def _version(self, actor: Principal, prompt: PromptRecord, number: int, data: PromptVersionIn,
                 previous: PromptVersionRecord | None = None) -> PromptVersionRecord:
        used = check_templates(data.messages)
        declared = list(data.variables)
        if not declared and previous is not None:
            # Declarations carry over to the next version for the variables it still uses.
            declared = [PromptVariable(**v) for v in previous.variables if v["name"] in used]
        return PromptVersionRecord(prompt_id=prompt.id, version=number, messages=[m.model_dump() for m in data.messages],
                                   variables=complete_variables(declared, used), model=data.model,
                                   params=data.params, author=actor.email, message=data.message)

    def create(self, actor: Principal, tenant: str | None, data: PromptCreate) -> PromptOut:
        """A prompt and its version 1 (templates are checked first)."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            if uow.prompts.get_by_name(data.name):
                raise Conflict(f"prompt '{data.name}' already exists; add a version instead", param="name")
            project_id = find_project(uow, data.project).id if data.project else None
            prompt = PromptRecord(name=data.name, description=data.description, project_id=project_id,
                                  latest_version=1, labels={label: 1 for label in data.labels})
            version = self._version(actor, prompt, 1, data)
            uow.prompts.add(prompt)
            uow.prompts.add_version(version)
            audit.record(uow, actor, "prompt.create", prompt.id, name=prompt.name)
            uow.commit()
            out = self._out(uow, prompt)
        self._generation.notify(uow.tenant_slug)
        return out

    def add_version(self, actor: Principal, tenant: str | None, name: str, data: PromptVersionIn) -> PromptOut:
        """Save version N+1; earlier versions never change."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            prompt = find_prompt(uow, name)
            number = prompt.latest_version + 1
            if number > MAX_VERSION:
                raise Conflict(f"prompt {name!r} has {MAX_VERSION} versions, the most it may have")
            version = self._version(actor, prompt, number, data, uow.prompts.version(prompt.id, prompt.latest_version))
            uow.prompts.add_version(version)
            labels = {**prompt.labels, **{label: number for label in data.labels}}
            prompt = uow.prompts.update(prompt.id, {"latest_version": number, "labels": labels, "updated_at": utcnow()})
            audit.record(uow, actor, "prompt.version", prompt.id, version=number)  # type: ignore[union-attr]
            uow.commit()
            out = self._out(uow, prompt)  # type: ignore[arg-type]
        self._generation.notify(uow.tenant_slug)
        return out

    def set_label(self, actor: Principal, tenant: str | None, name: str, label: str, version: int | None) -> PromptOut:
        """Point a label at a version (None removes the label)."""
        actor.require_write()
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,49}", label):
            raise InvalidInput("labels are lower-case letters, digits, '-' and '_'", param="label")
        with self._access.open(actor, tenant) as uow:
            prompt = find_prompt(uow, name)
            labels = dict(prompt.labels)
            if version is None:
                if labels.pop(label, None) is None:
                    raise NotFound(f"prompt '{name}' has no label '{label}'", param="label")
            else:
                if not 1 <= version <= prompt.latest_version:
                    raise NotFound(f"prompt '{name}' has no version {version}", param="version")
                labels[label] = version
            prompt = uow.prompts.update(prompt.id, {"labels": labels, "updated_at": utcnow()})
            audit.record(uow, actor, "prompt.label", prompt.id, label=label, version=version)  # type: ignore[union-attr]
            uow.commit()
            out = self._out(uow, prompt)  # type: ignore[arg-type]
        self._generation.notify(uow.tenant_slug)
        return out

    def diff(self, actor: Principal, tenant: str | None, name: str, from_version: int, to_version: int) -> PromptDiff:
        """Unified diff between two versions (messages, model, parameters, variables)."""
        with self._access.open(actor, tenant) as uow:
            prompt = find_prompt(uow, name)
            old, new = uow.prompts.version(prompt.id, from_version), uow.prompts.version(prompt.id, to_version)
        if old is None or new is None:
            missing = from_version if old is None else to_version
            raise NotFound(f"prompt '{name}' has no version {missing}", param="version")
        diff = "\n".join(difflib.unified_diff(_text(old), _text(new), f"{name} v{from_version}", f"{name} v{to_version}",
                                              lineterm=""))
        return PromptDiff(name=name, from_version=from_version, to_version=to_version, diff=diff)

    def delete(self, actor: Principal, tenant: str | None, name: str) -> None:
        """Delete a prompt and all its versions."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            prompt = find_prompt(uow, name)
            uow.prompts.delete(prompt.id)
            audit.record(uow, actor, "prompt.delete", prompt.id, name=prompt.name)
            uow.commit()
        self._generation.notify(uow.tenant_slug)

    def render(self, actor: Principal, tenant: str | None, name: str, request: RenderRequest) -> Rendered:
        """Render for the console's 'try it'."""
        with self._access.open(actor, tenant) as uow:
            prompt = find_prompt(uow, name)
            number = select_version(prompt, request.version, request.label)
            version = uow.prompts.version(prompt.id, number)
        assert version is not None
        messages, values = render_messages(version, request.variables)
        return Rendered(name=prompt.name, version=number, messages=messages, model=version.model,
                        params=version.params, variables=values)


class PromptRenderer:
    """Hot-path rendering for the client API: prompts and versions cached, refreshed on change."""

    def __init__(self, store, generation: Generation) -> None:
        self._store = store
        self._prompts: LocalLookupCache[PromptRecord] = LocalLookupCache(generation, ttl=300.0)
        self._versions: LocalLookupCache[PromptVersionRecord] = LocalLookupCache(generation, ttl=300.0)
        self.store_reads = 0

    def _load_prompt(self, tenant: str, name: str) -> PromptRecord:
        self.store_reads += 1
        with self._store.tenant(tenant) as uow:
            return find_prompt(uow, name)

    def _load_version(self, tenant: str, prompt_id: str, number: int) -> PromptVersionRecord:
        self.store_reads += 1
        with self._store.tenant(tenant) as uow:
            version = uow.prompts.version(prompt_id, number)
        if version is None:
            raise NotFound(f"prompt version {number} not found", param="version")
        return version

    async def render(self, tenant: str, name: str, request: RenderRequest) -> Rendered:
        """Render a prompt for a client."""
        key = f"{tenant}:{name}"
        prompt = await self._prompts.get_or_load(key, tenant, lambda: self._load_prompt(tenant, name))
        number = select_version(prompt, request.version, request.label)
        version_key = f"{key}:{number}"
        version = await self._versions.get_or_load(version_key, tenant,
                                                   lambda: self._load_version(tenant, prompt.id, number))
        messages, values = render_messages(version, request.variables)
        return Rendered(name=prompt.name, version=number, messages=messages, model=version.model,
                        params=version.params, variables=values)
