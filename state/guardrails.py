"""Guardrails page: policies, a rules editor with templates, a live test box, attachments, verdicts."""

from __future__ import annotations

import dataclasses
import json

import reflex as rx
from pydantic import ValidationError

from gateway_app.core.errors import GatehouseError
from gateway_app.services.guardrails.rules import KIND_WORDS
from gateway_app.services.guardrails.service import PolicyCreate, PolicyUpdate
from state.base import failure, field_errors, in_thread, platform
from state.rule_editor import RuleCard, cards, changed, parse_rules, rule_errors
from state.session import SessionState


# What "Add rule" starts from: choices pre-set, but nothing the operator has not typed (keywords,
# patterns and rubrics start empty, and the rule says what is missing until they are filled in).
TEMPLATES = {
    "pii": {"type": "pii", "entities": ["email", "phone", "credit_card", "iban", "ip", "secret"], "action": "mask",
            "direction": "both"},
    "regex": {"type": "regex", "pattern": "", "action": "block", "direction": "input"},
    "keyword": {"type": "keyword", "keywords": [], "action": "block", "case_sensitive": False,
                "word_boundary": True, "direction": "both"},
    "llm_judge": {"type": "llm_judge", "model": "", "rubric": "", "timeout_s": 5, "fail_mode": "open",
                  "action": "block", "direction": "output"},
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
    show_json: bool = False
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
    def delete_blocked(self) -> bool:
        """The chosen policy is attached somewhere: it cannot be deleted."""
        row = next((r for r in self.rows if r.name == self.delete_name), None)
        return row is not None and row.attached != "nowhere"

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
            rules=" → ".join(f"{KIND_WORDS.get(r['type'], r['type'])}: {r.get('action', 'block')}" for r in p.rules),
            attached=" · ".join(f"{k}: {', '.join(v)}" for k, v in p.attached.model_dump().items() if v) or "nowhere",
        ) for p in policies]
        self.verdicts = [VerdictRow(at=v.at.strftime("%m-%d %H:%M:%S"), policy=v.policy, direction=v.direction,
                                    action=v.action, mode=v.mode, rules=", ".join(v.rules), model=v.model or "-")
                         for v in verdicts]

    @rx.event
    def new_policy(self):
        """Editor for a new policy, with no rules yet."""
        self.editor_open, self.editor_new, self.edit_errors = True, True, {}
        self.edit_name, self.edit_mode = "", "enforce"
        self.edit_rules = "[]"  # a new policy starts empty: the operator adds the rules it needs
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

    @rx.var
    def rule_cards(self) -> list[RuleCard]:
        """The rules being edited, as cards with their problems (none while the JSON does not parse)."""
        rules = parse_rules(self.edit_rules)
        return cards(rules) if rules is not None else []

    @rx.var
    def rules_unreadable(self) -> bool:
        """The JSON view holds something that is not a list of rules."""
        return parse_rules(self.edit_rules) is None

    def _edit_rule(self, index: int, fn) -> None:
        rules = parse_rules(self.edit_rules)
        if rules is None or not 0 <= index < len(rules):
            return
        rules[index] = fn(rules[index])
        self.edit_rules = json.dumps(rules, indent=2)

    @rx.event
    def set_rule(self, index: int, field: str, value):
        """One field of one rule, from the editor's cards."""
        self._edit_rule(index, lambda rule: changed(rule, field, value))

    @rx.event
    def toggle_entity(self, index: int, entity: str, checked: bool):
        """A PII rule looks for this kind of data, or stops looking."""
        def toggle(rule: dict) -> dict:
            chosen = [e for e in rule.get("entities") or [] if e != entity]
            return {**rule, "entities": [*chosen, entity] if checked else chosen}
        self._edit_rule(index, toggle)

    @rx.event
    def remove_rule(self, index: int):
        """Drop a rule."""
        rules = parse_rules(self.edit_rules)
        if rules is not None and 0 <= index < len(rules):
            del rules[index]
            self.edit_rules = json.dumps(rules, indent=2)

    @rx.event
    def toggle_json(self):
        """Show or hide the rules as JSON."""
        self.show_json = not self.show_json

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
