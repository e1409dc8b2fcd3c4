"""Prompts page: list, editor with variable detection, versions with diffs, labels, try it."""

from __future__ import annotations

import dataclasses
import re

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.services.prompts import PromptCreate, PromptVersionIn, RenderRequest
from state.base import failure, parse_form, platform
from state.playground import PlaygroundState
from state.session import SessionState

_VARIABLE = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)")


@dataclasses.dataclass
class PromptRow:
    """One prompt in the list."""

    name: str = ""
    description: str = ""
    latest: int = 0
    labels: str = ""
    updated: str = ""


@dataclasses.dataclass
class VersionRow:
    """One version in the history."""

    version: int = 0
    author: str = ""
    message: str = ""
    labels: list[str] = dataclasses.field(default_factory=list)
    created: str = ""


class PromptsState(SessionState):
    """State of /prompts."""

    rows: list[PromptRow] = []
    loading: bool = False
    selected: str = ""
    versions: list[VersionRow] = []
    labels: dict[str, int] = {}
    # editor
    editor_open: bool = False
    editor_new: bool = True
    edit_name: str = ""
    edit_system: str = ""
    edit_user: str = ""
    edit_model: str = ""
    edit_message: str = ""
    edit_errors: dict[str, str] = {}
    saving: bool = False
    # diff
    diff_from: str = ""
    diff_to: str = ""
    diff_text: str = ""
    # labels
    label_name: str = "production"
    label_version: str = ""
    # try it
    try_values: dict[str, str] = {}
    try_variables: list[str] = []
    rendered: list[dict] = []
    try_error: str = ""

    @rx.var
    def detected_variables(self) -> list[str]:
        """Variables the editor's templates use."""
        return sorted(set(_VARIABLE.findall(self.edit_system + "\n" + self.edit_user)))

    @rx.var
    def version_choices(self) -> list[str]:
        """Version numbers of the selected prompt, newest first."""
        return [str(v.version) for v in self.versions]

    delete_name: str = ""  # the prompt a confirmation is asked for

    @rx.var
    def delete_message(self) -> str:
        """What deleting the chosen prompt means."""
        row = next((r for r in self.rows if r.name == self.delete_name), None)
        labels = f" Its labels ({row.labels}) go with it." if row is not None and row.labels != "-" else ""
        versions = "its only version" if row is not None and row.latest == 1 else (
            f"all {row.latest} versions" if row is not None else "all its versions")
        return (f"Delete {self.delete_name} and {versions}?{labels} "
                "Applications that render it, or name it in a chat call, will get 404 from then on.")

    @rx.event
    def ask_delete(self, name: str):
        """Ask for confirmation before deleting a prompt."""
        self.delete_name = name

    @rx.event
    def cancel_delete(self):
        """Close the confirmation."""
        self.delete_name = ""

    @rx.event
    async def delete(self):
        """Delete the prompt and its versions."""
        name, self.delete_name = self.delete_name, ""
        try:
            await self.tenant_call(platform().prompts.delete, name)
        except GatehouseError as exc:
            yield failure(exc)
            return
        if self.selected == name:
            self.selected = ""
        yield rx.toast.success(f"Prompt {name} deleted")
        yield PromptsState.load

    @rx.event
    async def load(self):
        """Prompts of the active tenant."""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            prompts = await self.tenant_call(platform().prompts.list)
            self.rows = [PromptRow(name=p.name, description=p.description, latest=p.latest_version,
                                   labels=", ".join(f"{k}→v{v}" for k, v in sorted(p.labels.items())) or "-",
                                   updated=p.updated_at.strftime("%Y-%m-%d %H:%M")) for p in prompts]
        except GatehouseError as exc:
            yield failure(exc)
        finally:
            self.loading = False
        if self.selected:
            async for event in self._open(self.selected):
                yield event

    async def _open(self, name: str):
        try:
            prompt = await self.tenant_call(platform().prompts.get, name)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.selected, self.labels = prompt.name, dict(prompt.labels)
        self.versions = [VersionRow(version=v.version, author=v.author, message=v.message or "-", labels=v.labels,
                                    created=v.created_at.strftime("%Y-%m-%d %H:%M")) for v in prompt.versions]
        latest = prompt.versions[0]
        self.try_variables = [v.name for v in latest.variables]
        self.try_values = {k: v for k, v in self.try_values.items() if k in self.try_variables}
        self.diff_to = str(latest.version)
        self.diff_from = str(max(1, latest.version - 1))
        self.label_version = str(latest.version)
        self.rendered, self.try_error, self.diff_text = [], "", ""

    @rx.event
    async def open_prompt(self, name: str):
        """Show a prompt's versions, labels and try-it panel."""
        async for event in self._open(name):
            yield event

    @rx.event
    def new_prompt(self):
        """Empty editor for a new prompt."""
        self.editor_open, self.editor_new, self.edit_errors = True, True, {}
        self.edit_name, self.edit_system = "", "You are a helpful assistant."
        self.edit_user, self.edit_model, self.edit_message = "", "", "first version"

    @rx.event
    async def new_version(self):
        """The editor filled with the latest version."""
        try:
            prompt = await self.tenant_call(platform().prompts.get, self.selected)
        except GatehouseError as exc:
            yield failure(exc)
            return
        latest = prompt.versions[0]
        system = next((m.content for m in latest.messages if m.role in ("system", "developer")), "")
        user = next((m.content for m in latest.messages if m.role == "user"), "")
        self.editor_open, self.editor_new, self.edit_errors = True, False, {}
        self.edit_name, self.edit_system, self.edit_user = prompt.name, system, user
        self.edit_model, self.edit_message = latest.model, ""

    @rx.event
    def set_editor(self, value: bool):
        """Open or close the editor."""
        self.editor_open = value

    @rx.event
    def set_field(self, name: str, value: str):
        """Editor fields."""
        setattr(self, f"edit_{name}", value)

    @rx.event
    async def save(self):
        """Save a new prompt (version 1) or the next version."""
        messages = [m for m in ({"role": "system", "content": self.edit_system},
                                {"role": "user", "content": self.edit_user}) if m["content"].strip()]
        data = {"messages": messages, "model": self.edit_model, "message": self.edit_message}
        if self.editor_new:
            data["name"] = self.edit_name
        payload, self.edit_errors = parse_form(PromptCreate if self.editor_new else PromptVersionIn, data)
        if payload is None:
            return
        self.saving = True
        yield
        try:
            prompts = platform().prompts
            if self.editor_new:
                saved = await self.tenant_call(prompts.create, payload)
            else:
                saved = await self.tenant_call(prompts.add_version, self.selected, payload)
        except GatehouseError as exc:
            field = exc.param or "form"
            self.edit_errors = {"form" if field.startswith("messages") else field: exc.message}
            self.saving = False
            return
        self.saving, self.editor_open, self.selected = False, False, saved.name
        yield rx.toast.success(f"Saved {saved.name} v{saved.latest_version}")
        yield PromptsState.load

    @rx.event
    def set_diff(self, which: str, value: str):
        """Pick the versions to compare."""
        setattr(self, f"diff_{which}", value)

    @rx.event
    async def show_diff(self):
        """Unified diff between the chosen versions."""
        try:
            diff = await self.tenant_call(platform().prompts.diff, self.selected, int(self.diff_from), int(self.diff_to))
            self.diff_text = diff.diff or "(no differences)"
        except (GatehouseError, ValueError) as exc:
            yield failure(exc)

    @rx.event
    def set_label_field(self, which: str, value: str):
        """Label name or version."""
        setattr(self, f"label_{which}", value)

    @rx.event
    async def move_label(self):
        """Point the label at the chosen version."""
        try:
            await self.tenant_call(platform().prompts.set_label, self.selected, self.label_name.strip(),
                                   int(self.label_version))
        except (GatehouseError, ValueError) as exc:
            yield failure(exc)
            return
        yield rx.toast.success(f"{self.label_name} → v{self.label_version}")
        yield PromptsState.load

    @rx.event
    def set_try_value(self, name: str, value: str):
        """A variable value for try it."""
        self.try_values = {**self.try_values, name: value}

    @rx.event
    async def render(self):
        """Render the chosen version with the values typed."""
        await self._render()

    async def _render(self) -> None:
        self.try_error = ""
        try:
            result = await self.tenant_call(platform().prompts.render, self.selected,
                                            RenderRequest(variables=dict(self.try_values),
                                                          version=int(self.diff_to) if self.diff_to else None))
            self.rendered = result.messages
        except GatehouseError as exc:
            self.rendered, self.try_error = [], exc.message

    @rx.event
    async def run_in_playground(self):
        """Open the rendered messages in the playground."""
        if not self.rendered:
            await self._render()
            if not self.rendered:
                yield rx.toast.error(self.try_error or "render the prompt first")
                return
        playground = await self.get_state(PlaygroundState)
        system = next((m["content"] for m in self.rendered if m["role"] in ("system", "developer")), "")
        user = next((m["content"] for m in self.rendered if m["role"] == "user"), "")
        playground.system_prompt = system
        playground.turns = []
        playground.draft = user
        playground.prompt_note = f"{self.selected} v{self.diff_to}"
        yield rx.redirect("/playground")
