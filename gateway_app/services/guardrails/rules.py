"""Rule definitions (what operators configure) and the detectors behind them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway_app.services.guardrails.patterns import (
    MAX_KEYWORD_PROGRAM,
    WORD,
    PatternError,
    compile_pattern,
)
from gateway_app.services.guardrails.pii import ALL_ENTITIES, Span, detect_pii, iban_ok, luhn_ok

__all__ = ["ALL_ENTITIES", "Span", "detect_pii", "iban_ok", "luhn_ok"]  # re-exported: the detectors live in pii

Direction = Literal["input", "output", "both"]
Action = Literal["block", "mask", "flag"]
PiiEntity = Literal["email", "phone", "credit_card", "iban", "ip", "secret"]
STRENGTH = {"allow": 0, "flag": 1, "mask": 2, "block": 3}


class RuleBase(BaseModel):
    """What every rule has."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=100)
    direction: Direction = "both"
    action: Action = "block"

    def applies_to(self, direction: str) -> bool:
        """True when the rule checks this direction (input or output)."""
        return self.direction in ("both", direction)


class RegexRule(RuleBase):
    """Match a regular expression (RE2 syntax: linear time, so no look-arounds or backreferences)."""

    type: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=2000)
    ignore_case: bool = False


class KeywordRule(RuleBase):
    """Match any of a list of words or phrases."""

    type: Literal["keyword"]
    keywords: list[str] = Field(min_length=1, max_length=1000)  # the program-size limit bounds them too
    case_sensitive: bool = False
    word_boundary: bool = True

    @field_validator("keywords")
    @classmethod
    def _not_blank(cls, value: list[str]) -> list[str]:
        cleaned = [k.strip() for k in value if k.strip()]
        if not cleaned:
            raise ValueError("needs at least one non-empty keyword")
        return cleaned


class PiiRule(RuleBase):
    """Detect personal data and secrets."""

    type: Literal["pii"]
    entities: list[PiiEntity] = Field(default_factory=lambda: list(ALL_ENTITIES), min_length=1)


class JudgeRule(RuleBase):
    """Ask a configured model whether the text passes a rubric."""

    type: Literal["llm_judge"]
    model: str = Field(min_length=1, max_length=200)
    rubric: str = Field(min_length=1, max_length=10_000)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    fail_mode: Literal["open", "closed"] = Field(default="open", description="on timeout or error: allow or block")

    @model_validator(mode="after")
    def _no_mask(self) -> JudgeRule:
        if self.action == "mask":
            raise ValueError("action: an llm_judge rule can block or flag, not mask")
        return self


Rule = Annotated[RegexRule | KeywordRule | PiiRule | JudgeRule, Field(discriminator="type")]


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    """A rule's RE2 pattern and whether it consumes the characters around its span."""

    regex: re2._Regexp
    lead: bool = False
    trail: bool = False


KIND_WORDS = {"regex": "Pattern", "keyword": "Keywords", "pii": "Personal data", "llm_judge": "Model judge"}


def unnamed_label(kind: object, index: int) -> str:
    """An unnamed rule as the console's rule editor shows it: 'Rule 2 · Pattern'."""
    word = KIND_WORDS.get(kind) if isinstance(kind, str) else None
    return f"Rule {index + 1} · {word}" if word else f"Rule {index + 1}"


def repr_name(name: str) -> str:
    """A named rule in a sentence: rule 'ssn-ish'."""
    return f"rule '{name}'"


def rule_label(rule: RuleBase, index: int) -> str:
    """How verdicts and errors name a rule: its name, or its position and kind."""
    return rule.name or unnamed_label(getattr(rule, "type", None), index)


def keyword_pattern(rule: KeywordRule) -> CompiledPattern:
    """One compiled alternation for a keyword rule; word boundaries are Unicode-aware, like Python's \\w."""
    body = "|".join(re2.escape(k) for k in sorted(rule.keywords, key=len, reverse=True))
    if not rule.word_boundary:
        return CompiledPattern(compile_pattern(body, ignore_case=not rule.case_sensitive,
                                               max_program=MAX_KEYWORD_PROGRAM))
    regex = compile_pattern(rf"[^{WORD}](?:{body})[^{WORD}]", ignore_case=not rule.case_sensitive,
                            max_program=MAX_KEYWORD_PROGRAM)
    return CompiledPattern(regex, lead=True, trail=True)


def regex_pattern(rule: RegexRule) -> CompiledPattern:
    """The compiled pattern of a regex rule."""
    return CompiledPattern(compile_pattern(rule.pattern, ignore_case=rule.ignore_case))


def compile_rule(rule: RegexRule | KeywordRule) -> CompiledPattern:
    """The pattern of a regex or keyword rule, or PatternError."""
    return keyword_pattern(rule) if isinstance(rule, KeywordRule) else regex_pattern(rule)


def check_patterns(rules: list) -> list:
    """Refuse (ValueError naming each rule) the patterns RE2 cannot run in linear time."""
    problems = []
    for index, rule in enumerate(rules):
        if isinstance(rule, RegexRule | KeywordRule):
            try:
                compile_rule(rule)
            except PatternError as exc:
                what = "the keyword list" if isinstance(rule, KeywordRule) else "the pattern"
                problems.append(f"{rule_label(rule, index) if not rule.name else repr_name(rule.name)}: {str(exc).replace('the pattern', what, 1)}")
    if problems:
        raise ValueError("; ".join(problems))
    return rules
