"""Rule definitions (what operators configure) and the detectors behind them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Direction = Literal["input", "output", "both"]
Action = Literal["block", "mask", "flag"]
PiiEntity = Literal["email", "phone", "credit_card", "iban", "ip", "secret"]
ALL_ENTITIES: tuple[str, ...] = ("email", "phone", "credit_card", "iban", "ip", "secret")
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
    """Match a regular expression."""

    type: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=2000)
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class KeywordRule(RuleBase):
    """Match any of a list of words or phrases."""

    type: Literal["keyword"]
    keywords: list[str] = Field(min_length=1, max_length=1000)
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
class Span:
    """A detected span."""

    start: int
    end: int
    entity: str


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])")
_IPV6 = re.compile(r"(?<![:\w])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}(?![:\w])")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)")
_SECRET = re.compile(
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"  # OpenAI-style and similar
    r"|\bsk-ant-[A-Za-z0-9_-]{16,}"
    r"|\bgh-[A-Za-z0-9_-]{30,}"  # Gatehouse API tokens
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
    r"|\bxox[abpr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a card number."""
    total, parity = 0, len(digits) % 2
    for index, char in enumerate(digits):
        value = int(char)
        if index % 2 == parity:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN."""
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _overlaps(span: Span, taken: list[Span]) -> bool:
    return any(span.start < t.end and t.start < span.end for t in taken)


def detect_pii(text: str, entities: list[str]) -> list[Span]:
    """Spans of the requested PII kinds; validated kinds (cards, IBANs) must pass their checksum."""
    found: list[Span] = []
    wanted = set(entities)
    if "secret" in wanted:
        found += [Span(m.start(), m.end(), "secret") for m in _SECRET.finditer(text)]
    if "email" in wanted:
        found += [Span(m.start(), m.end(), "email") for m in _EMAIL.finditer(text) if not _overlaps(
            Span(m.start(), m.end(), ""), found)]
    if "iban" in wanted:
        found += [Span(m.start(), m.end(), "iban") for m in _IBAN.finditer(text) if iban_ok(m.group())]
    if "credit_card" in wanted:
        for match in _CARD.finditer(text):
            digits = re.sub(r"\D", "", match.group())
            span = Span(match.start(), match.end(), "credit_card")
            if 13 <= len(digits) <= 19 and luhn_ok(digits) and not _overlaps(span, found):
                found.append(span)
    if "ip" in wanted:
        for pattern in (_IPV4, _IPV6):
            found += [Span(m.start(), m.end(), "ip") for m in pattern.finditer(text)
                      if not _overlaps(Span(m.start(), m.end(), ""), found)]
    if "phone" in wanted:
        for match in _PHONE.finditer(text):
            digits = re.sub(r"\D", "", match.group())
            span = Span(match.start(), match.end(), "phone")
            if 7 <= len(digits) <= 15 and not _overlaps(span, found):
                found.append(span)
    return sorted(found, key=lambda s: s.start)


def keyword_pattern(rule: KeywordRule) -> re.Pattern:
    """One compiled alternation for a keyword rule."""
    words = sorted((re.escape(k) for k in rule.keywords), key=len, reverse=True)
    body = "|".join(words)
    if rule.word_boundary:
        body = rf"(?<!\w)(?:{body})(?!\w)"
    return re.compile(body, 0 if rule.case_sensitive else re.IGNORECASE)


def regex_pattern(rule: RegexRule) -> re.Pattern:
    """The compiled pattern of a regex rule."""
    return re.compile(rule.pattern, re.IGNORECASE if rule.ignore_case else 0)
