"""Evaluating policies on a text: matches, the resulting action, masked text."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice

import anyio
import orjson
from pydantic import TypeAdapter, ValidationError

from gateway_app.core.errors import GatehouseError
from gateway_app.services.guardrails.patterns import PatternError, Subject, find
from gateway_app.services.guardrails.pii import scan_pii
from gateway_app.services.guardrails.rules import (
    STRENGTH,
    unnamed_label,
    CompiledPattern,
    JudgeRule,
    KeywordRule,
    PiiRule,
    RegexRule,
    Rule,
    compile_rule,
)

RULE = TypeAdapter(Rule)
JudgeCall = Callable[[str, list[dict], float], Awaitable[str]]  # (model, messages, timeout) -> answer text
MAX_MASKED = 10_000  # spans one mask rule may replace; past it the rule blocks (it cannot mask what it did not read)
MAX_REPORTED = 100  # spans a block or flag rule reports: its first match already decides
# Pattern work (characters x rule weight) above which matching leaves the event loop for a worker thread.
OFFLOAD_WORK = 256 * 1024
_SCAN_THREADS = anyio.CapacityLimiter(max(2, os.cpu_count() or 2))  # not the shared pool the database calls use


class ScanLimitExceeded(GatehouseError):
    """A text is longer than a policy may scan (GUARDRAIL_MAX_SCAN_CHARS)."""

    code = "guardrail_scan_limit"
    status = 413


def check_scan_size(length: int, limit: int, what: str = "the text") -> None:
    """Raise ScanLimitExceeded when `length` characters are more than `limit`."""
    if length > limit:
        raise ScanLimitExceeded(f"{what} is {length} characters; guardrail policies scan at most {limit} "
                                "(GUARDRAIL_MAX_SCAN_CHARS)")


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
    """A policy ready to run: rules parsed and patterns compiled once.

    A stored rule that no longer validates (a pattern RE2 refuses, saved before RE2) is skipped
    and listed in `skipped` as (label, reason), so the policy's other rules still apply.
    """

    def __init__(self, name: str, mode: str, rules: list[dict]) -> None:
        self.name = name
        self.mode = mode
        self.rules: list = []
        self.skipped: list[tuple[str, str]] = []
        self._labels: list[str] = []
        self._patterns: dict[int, CompiledPattern] = {}
        for index, raw in enumerate(rules):
            label = rule_label_of(raw, index)
            try:
                rule = RULE.validate_python(raw)
                if isinstance(rule, KeywordRule | RegexRule):
                    self._patterns[len(self.rules)] = compile_rule(rule)
            except (ValidationError, PatternError) as exc:
                reason = "; ".join(e["msg"] for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
                self.skipped.append((label, reason))
                continue
            self.rules.append(rule)
            self._labels.append(label)
        self.weight = sum(_weight(r, self._patterns.get(i)) for i, r in enumerate(self.rules))

    def pattern_matches(self, text: str | Subject, direction: str) -> list[Match]:
        """Matches of the pattern rules (regex, keyword, pii): no I/O, linear in the text."""
        if not self.weight:
            return []
        subject = text if isinstance(text, Subject) else Subject(text)
        found = []
        for index, rule in enumerate(self.rules):
            if not rule.applies_to(direction) or isinstance(rule, JudgeRule):
                continue
            limit = MAX_MASKED if rule.action == "mask" else MAX_REPORTED
            label = self._labels[index]
            if isinstance(rule, PiiRule):
                pii, more = scan_pii(subject, rule.entities, limit)
                spans = [(s.start, s.end, s.entity) for s in pii]
            else:
                pattern = self._patterns[index]
                found_bytes = list(islice(find(pattern.regex, subject, pattern.lead, pattern.trail),
                                          limit + 1))
                more = len(found_bytes) > limit
                offsets = subject.chars(o for span in found_bytes[:limit] for o in span)
                spans = [(offsets[i], offsets[i + 1], "") for i in range(0, len(offsets), 2)]
            found += [Match(self.name, label, rule.type, rule.action, start, end, entity)
                      for start, end, entity in spans]
            if more and rule.action == "mask":  # fail closed: what was not read cannot be masked
                found.append(Match(self.name, label, rule.type, "block", 0, len(subject), "",
                                   f"more than {limit} matches to mask"))
        return found

    def judge_rules(self, direction: str) -> list[tuple[int, JudgeRule]]:
        """The LLM-judge rules for a direction."""
        return [(i, r) for i, r in enumerate(self.rules) if isinstance(r, JudgeRule) and r.applies_to(direction)]

    def scans(self, direction: str) -> bool:
        """True when some rule checks this direction."""
        return any(r.applies_to(direction) for r in self.rules)

    async def judge(self, text: str, direction: str, call: JudgeCall | None) -> list[Match]:
        """Run the judge rules; a timeout or failure follows each rule's fail mode."""
        found = []
        for index, rule in self.judge_rules(direction):
            deny, reason = await run_judge(rule, text, call)
            if deny:
                found.append(Match(self.name, self._labels[index], rule.type, rule.action, 0, len(text), "", reason))
        return found


def rule_label_of(raw: object, index: int) -> str:
    """The label of a stored rule, even one that no longer validates."""
    if isinstance(raw, dict):
        return str(raw.get("name") or unnamed_label(raw.get("type"), index))
    return unnamed_label(None, index)


def _weight(rule, pattern: CompiledPattern | None) -> int:
    """Rough cost per character: RE2's NFA fallback costs up to the program size per byte."""
    if isinstance(rule, PiiRule):
        return len(rule.entities)
    if pattern is None:
        return 0
    return 1 + pattern.regex.programsize // (1000 if isinstance(rule, KeywordRule) else 10)


def offloaded(policies: Sequence[CompiledPolicy], length: int) -> bool:
    """True when matching this much text should run in a worker thread, not on the event loop."""
    return length * sum(p.weight for p in policies) > OFFLOAD_WORK


async def in_worker(function: Callable, *args):
    """Run CPU-bound matching in the guardrail threads (RE2 releases the GIL while it searches)."""
    return await anyio.to_thread.run_sync(function, *args, limiter=_SCAN_THREADS)


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


def _all_pattern_matches(policies: Sequence[CompiledPolicy], text: str, direction: str,
                         ) -> list[tuple[list[Match], float]]:
    subject = Subject(text) if any(p.weight for p in policies) else text
    out = []
    for policy in policies:
        started = time.perf_counter()
        out.append((policy.pattern_matches(subject, direction), (time.perf_counter() - started) * 1000))
    return out


def limit_verdict(policies: Sequence[CompiledPolicy], text: str, direction: str, length: int,
                  limit: int) -> Verdict:
    """What policies decide on a text they may not scan: each one with rules for the direction blocks."""
    reason = f"{length} characters; the scan limit is {limit}"
    verdicts = [PolicyVerdict(p.name, p.mode, "block", [Match(p.name, "scan_limit", "limit", "block", 0, length,
                                                              "", reason)], 0.0)
                for p in policies if p.scans(direction)]
    return combine(text, verdicts)


async def evaluate(policies: list[CompiledPolicy], text: str, direction: str, judge: JudgeCall | None = None,
                   *, with_judges: bool = True, max_chars: int | None = None) -> Verdict:
    """Run every policy on a text for a direction; past `max_chars` every policy blocks unread."""
    if max_chars is not None and len(text) > max_chars:
        return limit_verdict(policies, text, direction, len(text), max_chars)
    if offloaded(policies, len(text)):
        patterns = await in_worker(_all_pattern_matches, policies, text, direction)
    else:
        patterns = _all_pattern_matches(policies, text, direction)
    verdicts = []
    for policy, (matches, elapsed_ms) in zip(policies, patterns, strict=True):
        started = time.perf_counter()
        if with_judges:
            matches += await policy.judge(text, direction, judge)
        strongest = max((m.action for m in matches), key=STRENGTH.__getitem__, default="allow")
        verdicts.append(PolicyVerdict(policy.name, policy.mode, strongest, matches,
                                      elapsed_ms + (time.perf_counter() - started) * 1000))
    return combine(text, verdicts)
