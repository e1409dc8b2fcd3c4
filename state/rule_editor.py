"""The guardrail rule editor's cards: each rule of the policy's JSON as fields an operator edits,
checked as they type by the same validation (RE2 included) that saving runs."""

from __future__ import annotations

import dataclasses
import json

from pydantic import TypeAdapter, ValidationError

from gateway_app.services.guardrails.patterns import PatternError
from gateway_app.services.guardrails.rules import KeywordRule, RegexRule, Rule, compile_rule

ENTITIES = ["email", "phone", "credit_card", "iban", "ip", "secret"]
RULE_KINDS = ("regex", "keyword", "pii", "llm_judge")
_RULE = TypeAdapter(Rule)


@dataclasses.dataclass
class RuleCard:
    """One rule, as the editor shows it."""

    index: int = 0
    type: str = ""
    direction: str = "both"
    action: str = "block"
    text: str = ""  # keywords (one per line), the pattern, or the judge's rubric
    model: str = ""
    entities: list[str] = dataclasses.field(default_factory=list)
    ignore_case: bool = False
    problem: str = ""  # what is wrong with it now, in words


def parse_rules(text: str) -> list[dict] | None:
    """The rules of the JSON text, or None when it is not a JSON list of objects."""
    try:
        rules = json.loads(text or "[]")
    except json.JSONDecodeError:
        return None
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        return None
    return rules


def cards(rules: list[dict]) -> list[RuleCard]:
    """Cards for the rules, each with its current problem (empty when valid)."""
    out = []
    for index, rule in enumerate(rules):
        kind = str(rule.get("type", ""))
        if kind == "keyword":
            text = "\n".join(str(k) for k in rule.get("keywords") or [])
        elif kind == "regex":
            text = str(rule.get("pattern", ""))
        elif kind == "llm_judge":
            text = str(rule.get("rubric", ""))
        else:
            text = ""
        out.append(RuleCard(index=index, type=kind, direction=str(rule.get("direction", "both")),
                            action=str(rule.get("action", "block")), text=text, model=str(rule.get("model", "")),
                            entities=[str(e) for e in rule.get("entities") or []],
                            ignore_case=bool(rule.get("ignore_case") or False), problem=problem_of(rule)))
    return out


def problem_of(rule: dict) -> str:
    """Why a rule would be refused, in an operator's words ('' when it is fine)."""
    try:
        parsed = _RULE.validate_python(rule)
        if isinstance(parsed, RegexRule | KeywordRule):
            compile_rule(parsed)  # RE2, exactly as saving and serving compile it
    except PatternError as exc:
        return str(exc)[0].upper() + str(exc)[1:] + "."
    except ValidationError as exc:
        parts = []
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ()) if str(p) not in RULE_KINDS]
            field = " ".join(p.replace("_", " ") for p in loc)
            parts.append(f"{field + ' ' if field else ''}{describe(error)}".strip())
        return "; ".join(parts).capitalize() + "."
    return ""


def changed(rule: dict, field: str, value) -> dict:
    """The rule with one field set from the editor."""
    rule = dict(rule)
    if field == "text":
        kind = rule.get("type")
        if kind == "keyword":
            rule["keywords"] = [line.strip() for line in str(value).splitlines() if line.strip()]
        elif kind == "regex":
            rule["pattern"] = str(value)
        elif kind == "llm_judge":
            rule["rubric"] = str(value)
    else:
        rule[field] = value
    return rule


def rule_errors(exc: ValidationError) -> list[str]:
    """A policy's validation errors as an operator reads them: 'Rule 2 (keyword): action must be
    one of block, mask, flag.' rather than 'rules.1.keyword.action: Input should be ...'."""
    out = []
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        if not loc or loc[0] != "rules":
            continue
        if len(loc) < 2 or not isinstance(loc[1], int):
            out.append(f"Rules: {describe(error)}.")
            continue
        where, rest = f"Rule {loc[1] + 1}", loc[2:]
        if rest and isinstance(rest[0], str) and rest[0] in RULE_KINDS:
            where, rest = f"{where} ({rest[0]})", rest[1:]
        field = " ".join(str(part).replace("_", " ") for part in rest)
        out.append(f"{where}: {field + ' ' if field else ''}{describe(error)}.")
    return out


def describe(error: dict) -> str:
    """One validation error's message, in words."""
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
    if kind == "too_short":
        return "must have at least one entry"
    if kind == "list_type":
        return "must be a list"
    return message[0].lower() + message[1:] if message else "is not valid"
