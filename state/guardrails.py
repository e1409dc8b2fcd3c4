"""Guardrails page: policies, a rules editor with templates, a live test box, attachments, verdicts."""

from __future__ import annotations

import dataclasses
import json

import reflex as rx
from pydantic import ValidationError

from gateway_app.core.errors import GatehouseError
from gateway_app.services.guardrails.service import PolicyCreate, PolicyUpdate
from state.base import failure, field_errors, in_thread, platform
from state.session import SessionState

RULE_KINDS = ("regex", "keyword", "pii", "llm_judge")

TEMPLATES = {
    "pii": {"type": "pii", "entities": ["email", "phone", "credit_card", "iban", "ip", "secret"], "action": "mask",
            "direction": "both"},
    "regex": {"type": "regex", "pattern": "(?i)internal only", "action": "block", "direction": "input"},
    "keyword": {"type": "keyword", "keywords": ["password", "api key"], "action": "flag", "case_sensitive": False,
                "word_boundary": True, "direction": "both"},
    "llm_judge": {"type": "llm_judge", "model": "gpt-4o-mini", "rubric": "Deny medical or legal advice.",
                  "timeout_s": 5, "fail_mode": "open", "action": "block", "direction": "output"},
}


@dataclasses.dataclass
class PolicyRow:
    """One policy card."""

    name: str = ""
    mode: str = ""
    enabled: bool = True
    rules: str = ""
    attached: str = ""


@dataclasses.dataclass
class VerdictRow:
    """One recorded verdict."""

    at: str = ""
    policy: str = ""
    direction: str = ""
    action: str = ""
    mode: str = ""
    rules: str = ""
    model: str = ""


@dataclasses.dataclass
class Segment:
    """A piece of the tested text, highlighted when it matched."""

    text: str = ""
    hit: bool = False
    label: str = ""


def rule_errors(exc: ValidationError) -> list[str]:
    """A policy's validation errors as an operator reads them: 'Rule 2 (keyword): action must be
    one of block, mask, flag.' rather than 'rules.1.keyword.action: Input should be ...'."""
    out = []
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        if not loc or loc[0] != "rules":
            continue
        if len(loc) < 2 or not isinstance(loc[1], int):
            out.append(f"Rules: {_words(error)}.")
            continue
        where, rest = f"Rule {loc[1] + 1}", loc[2:]
        if rest and isinstance(rest[0], str) and rest[0] in RULE_KINDS:
            where, rest = f"{where} ({rest[0]})", rest[1:]
        field = " ".join(str(part).replace("_", " ") for part in rest)
        out.append(f"{where}: {field + ' ' if field else ''}{_words(error)}.")
    return out


def _words(error: dict) -> str:
    kind, message = error.get("type", ""), str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    context = error.get("ctx") or {}
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":
        return "is not a setting of this kind of rule"
    if kind == "union_tag_invalid":
        return f"the type must be one of {', '.join(RULE_KINDS)}"
    if kind == "union_tag_not_found":
        return f"needs a type ({', '.join(RULE_KINDS)})"
    if kind == "literal_error" and "expected" in context:
        return "must be one of " + str(context["expected"]).replace("'", "").replace(" or ", ", ")
    if kind == "list_type":
        return "must be a list"
    return message[0].lower() + message[1:] if message else "is not valid"


class GuardrailsState(SessionState):
    """State of /guardrails."""

    rows: list[PolicyRow] = []
    verdicts: list[VerdictRow] = []
    loading: bool = False
    selected: str = ""
    # editor
    editor_open: bool = False
    editor_new: bool = True
    edit_name: str = ""
    edit_mode: str = "enforce"
    edit_rules: str = "[]"
    edit_errors: dict[str, str] = {}
    saving: bool = False
    # attachments
    model_names: list[str] = []
    token_choices: list[str] = []  # "name · id"
    project_names: list[str] = []
    attach_models: list[str] = []
    attach_tokens: list[str] = []
    attach_projects: list[str] = []
    # test box
    test_text: str = ""
    test_direction: str = "input"
    test_action: str = ""
    test_output: str = ""
    segments: list[Segment] = []

    delete_name: str = ""  # the policy a confirmation is asked for

    @rx.var
    def delete_message(self) -> str:
        """What deleting the chosen policy means (and why it cannot be while attached)."""
        row = next((r for r in self.rows if r.name == self.delete_name), None)
        if row is not None and row.attached != "nowhere":
            return (f"{self.delete_name} is attached to {row.attached}. Detach it from those first: a policy "
                    "in use cannot be deleted.")
        return f"Delete the policy {self.delete_name}? Its recorded verdicts are kept."

    @rx.event
    def ask_delete(self, name: str):
        """Ask for confirmation before deleting a policy."""
        self.delete_name = name

    @rx.event
    def cancel_delete(self):
        """Close the confirmation."""
        self.delete_name = ""

    @rx.event
    async def delete(self):
        """Delete the policy (refused while it is attached)."""
        name, self.delete_name = self.delete_name, ""
        try:
            await self.tenant_call(platform().guardrails.delete, name)
        except GatehouseError as exc:
            yield failure(exc)
            return
        if self.selected == name:
            self.selected = ""
        yield rx.toast.success(f"Policy {name} deleted")
        yield GuardrailsState.load

    @rx.event
    async def load(self):
        """Policies, attachable things and recent verdicts."""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            services = platform()
            policies = await self.tenant_call(services.guardrails.list)
            verdicts = await self.tenant_call(services.guardrails.recent_verdicts, None, 30)
            self.model_names = [m.name for m in await self.tenant_call(services.models.list)]
            self.token_choices = [f"{t.name} · {t.id}" for t in await self.tenant_call(services.tokens.list)
                                  if t.status == "active"]
            self.project_names = [p.name for p in await self.tenant_call(services.projects.list)]
        except GatehouseError as exc:
            yield failure(exc)
            return
        finally:
            self.loading = False
        self.rows = [PolicyRow(
            name=p.name, mode=p.mode, enabled=p.enabled,
            rules=" → ".join(f"{r['type']}:{r.get('action', 'block')}" for r in p.rules),
            attached=" · ".join(f"{k}: {', '.join(v)}" for k, v in p.attached.model_dump().items() if v) or "nowhere",
        ) for p in policies]
        self.verdicts = [VerdictRow(at=v.at.strftime("%m-%d %H:%M:%S"), policy=v.policy, direction=v.direction,
                                    action=v.action, mode=v.mode, rules=", ".join(v.rules), model=v.model or "-")
                         for v in verdicts]

    @rx.event
    def new_policy(self):
        """Editor for a new policy, starting from a PII rule."""
        self.editor_open, self.editor_new, self.edit_errors = True, True, {}
        self.edit_name, self.edit_mode = "", "enforce"
        self.edit_rules = json.dumps([TEMPLATES["pii"]], indent=2)
        self.attach_models, self.attach_tokens, self.attach_projects = [], [], []

    @rx.event
    async def edit_policy(self, name: str):
        """Editor filled with a policy and where it is attached."""
        try:
            policy = await self.tenant_call(platform().guardrails.get, name)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.editor_open, self.editor_new, self.edit_errors = True, False, {}
        self.edit_name, self.edit_mode = policy.name, policy.mode
        self.edit_rules = json.dumps(policy.rules, indent=2)
        self.attach_models = list(policy.attached.models)
        self.attach_projects = list(policy.attached.projects)
        self.attach_tokens = [c for c in self.token_choices if c.split(" · ")[0] in policy.attached.tokens]

    @rx.event
    def set_editor(self, value: bool):
        """Open or close the editor."""
        self.editor_open = value

    @rx.event
    def set_field(self, name: str, value: str):
        """Editor fields."""
        setattr(self, f"edit_{name}", value)

    @rx.event
    def add_rule(self, kind: str):
        """Append a rule template to the rules."""
        try:
            rules = json.loads(self.edit_rules or "[]")
        except json.JSONDecodeError:
            rules = []
        self.edit_rules = json.dumps([*rules, TEMPLATES[kind]], indent=2)

    @rx.event
    def toggle(self, kind: str, value: str, checked: bool):
        """Attach to / detach from a model, token or project."""
        current = [v for v in getattr(self, f"attach_{kind}") if v != value]
        setattr(self, f"attach_{kind}", [*current, value] if checked else current)

    @rx.event
    async def save(self):
        """Validate the rules with the service schema, save, then set attachments."""
        self.edit_errors = {}
        try:
            rules = json.loads(self.edit_rules or "[]")
        except json.JSONDecodeError as exc:
            self.edit_errors = {"rules": f"Not valid JSON: {exc.msg} (line {exc.lineno})"}
            return
        try:
            payload = (PolicyCreate(name=self.edit_name, mode=self.edit_mode, rules=rules) if self.editor_new
                       else PolicyUpdate(mode=self.edit_mode, rules=rules))
        except ValidationError as exc:
            errors = field_errors(exc)
            self.edit_errors = {"name": errors["name"]} if "name" in errors else {}
            described = rule_errors(exc)
            if described:
                self.edit_errors["rules"] = " ".join(described)
            return
        self.saving = True
        yield
        try:
            service = platform().guardrails
            if self.editor_new:
                saved = await self.tenant_call(service.create, payload)
            else:
                saved = await self.tenant_call(service.update, self.edit_name, payload)
            await self.tenant_call(service.attach, saved.name, models=list(self.attach_models),
                                   tokens=[t.split(" · ")[-1] for t in self.attach_tokens],
                                   projects=list(self.attach_projects))
        except GatehouseError as exc:
            self.edit_errors = {exc.param if exc.param in ("name",) else "form": exc.message}
            self.saving = False
            return
        self.saving, self.editor_open, self.selected = False, False, saved.name
        yield rx.toast.success(f"Policy {saved.name} saved")
        yield GuardrailsState.load

    @rx.event
    def select(self, name: str):
        """The policy the test box runs."""
        self.selected = name
        self.segments, self.test_action, self.test_output = [], "", ""

    @rx.event
    def set_test_text(self, value: str):
        """Text to test."""
        self.test_text = value

    @rx.event
    def set_test_direction(self, value: str):
        """Input or output."""
        self.test_direction = value

    @rx.event
    async def run_test(self):
        """Run the selected policy on the text; highlight what matched."""
        if not self.selected:
            yield rx.toast.info("Pick a policy to test first")
            return
        try:
            principal = await in_thread(self.principal)
            result = await platform().guardrails.test(principal, self.tenant_arg(), self.selected, self.test_text,
                                                      self.test_direction)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.test_action, self.test_output = result.action, result.text
        spans = sorted({(m["start"], m["end"], m["entity"] or m["rule"]) for m in result.matches})
        segments, cursor = [], 0
        for start, end, label in spans:
            if start < cursor:
                continue
            if start > cursor:
                segments.append(Segment(self.test_text[cursor:start]))
            segments.append(Segment(self.test_text[start:end], True, label))
            cursor = end
        if cursor < len(self.test_text):
            segments.append(Segment(self.test_text[cursor:]))
        self.segments = segments
