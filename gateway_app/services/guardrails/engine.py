"""Evaluating policies on a text: matches, the resulting action, masked text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from pydantic import TypeAdapter

from gateway_app.services.guardrails.rules import (
    STRENGTH,
    JudgeRule,
    KeywordRule,
    PiiRule,
    RegexRule,
    Rule,
    Span,
    detect_pii,
    keyword_pattern,
    regex_pattern,
)

RULES = TypeAdapter(list[Rule])
JudgeCall = Callable[[str, list[dict], float], Awaitable[str]]  # (model, messages, timeout) -> answer text


@dataclass(slots=True)
class Match:
    """A rule that matched part (or all) of the text."""

    policy: str
    rule: str
    type: str
    action: str
    start: int
    end: int
    entity: str = ""
    reason: str = ""

    def as_dict(self) -> dict:
        """JSON form."""
        return {"policy": self.policy, "rule": self.rule, "type": self.type, "action": self.action,
                "start": self.start, "end": self.end, "entity": self.entity, **({"reason": self.reason}
                                                                                 if self.reason else {})}


@dataclass(slots=True)
class PolicyVerdict:
    """What one policy decided."""

    policy: str
    mode: str
    action: str  # allow | flag | mask | block (what the policy says, shadow or not)
    matches: list[Match]
    latency_ms: float


@dataclass(slots=True)
class Verdict:
    """The combined decision of every policy for one text."""

    action: str  # what happens: allow | flag | mask | block (shadow policies never act)
    text: str  # the text with masks applied
    matches: list[Match] = field(default_factory=list)
    policy: str | None = None  # the policy behind the action
    policies: list[PolicyVerdict] = field(default_factory=list)
    latency_ms: float = 0.0

    @property
    def blocked(self) -> bool:
        """True when the text must not pass."""
        return self.action == "block"


ALLOW = Verdict(action="allow", text="")


class CompiledPolicy:
    """A policy ready to run: rules parsed and patterns compiled once."""

    def __init__(self, name: str, mode: str, rules: list[dict]) -> None:
        self.name = name
        self.mode = mode
        self.rules = RULES.validate_python(rules)
        self._patterns = {i: keyword_pattern(r) if isinstance(r, KeywordRule) else regex_pattern(r)
                          for i, r in enumerate(self.rules) if isinstance(r, KeywordRule | RegexRule)}

    def _label(self, index: int) -> str:
        rule = self.rules[index]
        return rule.name or f"{rule.type}#{index + 1}"

    def pattern_matches(self, text: str, direction: str) -> list[Match]:
        """Matches of the pattern rules (regex, keyword, pii): cheap, no I/O."""
        found = []
        for index, rule in enumerate(self.rules):
            if not rule.applies_to(direction) or isinstance(rule, JudgeRule):
                continue
            if isinstance(rule, PiiRule):
                spans = detect_pii(text, list(rule.entities))
            else:
                spans = [Span(m.start(), m.end(), "") for m in self._patterns[index].finditer(text) if m.end() > m.start()]
            found += [Match(self.name, self._label(index), rule.type, rule.action, s.start, s.end, s.entity)
                      for s in spans]
        return found

    def judge_rules(self, direction: str) -> list[tuple[int, JudgeRule]]:
        """The LLM-judge rules for a direction."""
        return [(i, r) for i, r in enumerate(self.rules) if isinstance(r, JudgeRule) and r.applies_to(direction)]

    async def judge(self, text: str, direction: str, call: JudgeCall | None) -> list[Match]:
        """Run the judge rules; a timeout or failure follows each rule's fail mode."""
        found = []
        for index, rule in self.judge_rules(direction):
            deny, reason = await run_judge(rule, text, call)
            if deny:
                found.append(Match(self.name, self._label(index), rule.type, rule.action, 0, len(text), "", reason))
        return found


async def run_judge(rule: JudgeRule, text: str, call: JudgeCall | None) -> tuple[bool, str]:
    """(deny, reason) from the judge model; errors and timeouts resolve by the rule's fail mode."""
    messages = [{"role": "system", "content": rule.rubric + "\n\nAnswer only with JSON: "
                 '{"verdict": "allow" or "deny", "reason": "<one sentence>"}'},
                {"role": "user", "content": text}]
    try:
        if call is None:
            raise RuntimeError("no judge available")
        answer = await asyncio.wait_for(call(rule.model, messages, rule.timeout_s), rule.timeout_s)
    except Exception as exc:  # noqa: BLE001 - timeout, upstream failure, unknown model: the fail mode decides
        kind = "timed out" if isinstance(exc, asyncio.TimeoutError) else f"failed ({type(exc).__name__})"
        return rule.fail_mode == "closed", f"judge {kind}; fail-{rule.fail_mode}"
    return parse_judge(answer)


def parse_judge(answer: str) -> tuple[bool, str]:
    """Read {"verdict", "reason"} from the judge's answer, tolerating prose around it."""
    start, end = answer.find("{"), answer.rfind("}")
    if start != -1 and end > start:
        try:
            parsed = orjson.loads(answer[start:end + 1])
            verdict = str(parsed.get("verdict", "")).lower()
            return verdict in ("deny", "block", "fail"), str(parsed.get("reason", ""))[:500]
        except orjson.JSONDecodeError:
            pass
    lowered = answer.strip().lower()
    return lowered.startswith(("deny", "block", "no")), answer.strip()[:500]


def apply_masks(text: str, matches: list[Match]) -> str:
    """Replace masked spans (non-overlapping, earliest first) with [REDACTED:<kind>]."""
    out, cursor = [], 0
    for match in sorted((m for m in matches if m.action == "mask"), key=lambda m: (m.start, -m.end)):
        if match.start < cursor:
            continue
        out.append(text[cursor:match.start])
        out.append(f"[REDACTED:{(match.entity or match.type).upper()}]")
        cursor = match.end
    out.append(text[cursor:])
    return "".join(out)


def combine(text: str, verdicts: list[PolicyVerdict]) -> Verdict:
    """The overall verdict: the strongest action among enforcing policies; masks applied."""
    action, policy = "allow", None
    acting: list[Match] = []
    for verdict in verdicts:
        if verdict.mode != "enforce":
            continue
        acting += verdict.matches
        if STRENGTH[verdict.action] > STRENGTH[action]:
            action, policy = verdict.action, verdict.policy
    masked = apply_masks(text, acting) if action == "mask" or any(m.action == "mask" for m in acting) else text
    if action == "allow" and masked != text:
        action = "mask"
    all_matches = [m for v in verdicts for m in v.matches]
    return Verdict(action=action, text=masked, matches=all_matches, policy=policy, policies=verdicts,
                   latency_ms=sum(v.latency_ms for v in verdicts))


async def evaluate(policies: list[CompiledPolicy], text: str, direction: str, judge: JudgeCall | None = None,
                   *, with_judges: bool = True) -> Verdict:
    """Run every policy on a text for a direction."""
    verdicts = []
    for policy in policies:
        started = time.perf_counter()
        matches = policy.pattern_matches(text, direction)
        if with_judges:
            matches += await policy.judge(text, direction, judge)
        strongest = max((m.action for m in matches), key=STRENGTH.__getitem__, default="allow")
        verdicts.append(PolicyVerdict(policy.name, policy.mode, strongest, matches,
                                      (time.perf_counter() - started) * 1000))
    return combine(text, verdicts)
