"""Guardrail detectors and the evaluation engine (no I/O except a fake judge)."""

import asyncio

import pytest
from pydantic import ValidationError

from gateway_app.services.guardrails.engine import CompiledPolicy, evaluate, parse_judge
from gateway_app.services.guardrails.rules import JudgeRule, detect_pii, iban_ok, luhn_ok

PII_TEXT = ("write to jane.doe@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111; "
            "iban GB82 WEST 1234 5698 7654 32; host 192.168.1.20; key sk-abcdefghijklmnopqrstu")


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


def test_pii_detects_each_kind_and_skips_invalid_numbers():
    kinds = {span.entity: PII_TEXT[span.start:span.end] for span in detect_pii(PII_TEXT, ["email", "phone",
                                                                                        "credit_card", "iban", "ip",
                                                                                        "secret"])}
    assert kinds == {"email": "jane.doe@example.com", "phone": "+44 20 7946 0958", "credit_card": "4111 1111 1111 1111",
                     "iban": "GB82 WEST 1234 5698 7654 32", "ip": "192.168.1.20",
                     "secret": "sk-abcdefghijklmnopqrstu"}
    assert detect_pii("card 4111 1111 1111 1112", ["credit_card"]) == []
    assert [s.entity for s in detect_pii(PII_TEXT, ["email"])] == ["email"]


async def test_actions_and_their_precedence():
    policy = CompiledPolicy("p", "enforce", [
        {"type": "keyword", "keywords": ["internal"], "action": "flag"},
        {"type": "pii", "entities": ["email"], "action": "mask"},
        {"type": "regex", "pattern": r"DROP\s+TABLE", "ignore_case": True, "action": "block", "direction": "input"},
    ])
    flagged = await evaluate([policy], "an internal memo", "input")
    assert flagged.action == "flag" and flagged.text == "an internal memo"
    masked = await evaluate([policy], "internal: mail bob@corp.io now", "input")
    assert masked.action == "mask" and masked.text == "internal: mail [REDACTED:EMAIL] now"
    blocked = await evaluate([policy], "please drop   table users", "input")
    assert blocked.action == "block" and blocked.policy == "p"
    assert (await evaluate([policy], "please drop table users", "output")).action == "allow", "input-only rule"


async def test_keyword_options():
    strict = CompiledPolicy("k", "enforce", [{"type": "keyword", "keywords": ["Secret"], "case_sensitive": True}])
    loose = CompiledPolicy("k", "enforce", [{"type": "keyword", "keywords": ["secret"], "word_boundary": False}])
    assert (await evaluate([strict], "a secret", "input")).action == "allow"
    assert (await evaluate([strict], "a Secret", "input")).action == "block"
    assert (await evaluate([loose], "topsecretplan", "input")).action == "block"
    bounded = CompiledPolicy("k", "enforce", [{"type": "keyword", "keywords": ["secret"]}])
    assert (await evaluate([bounded], "topsecretplan", "input")).action == "allow"


async def test_shadow_policies_record_but_never_act():
    shadow = CompiledPolicy("watch", "shadow", [{"type": "pii", "entities": ["email"], "action": "block"}])
    verdict = await evaluate([shadow], "mail a@b.io", "input")
    assert verdict.action == "allow" and verdict.text == "mail a@b.io"
    assert verdict.policies[0].action == "block" and verdict.matches


async def test_llm_judge_verdicts_and_fail_modes():
    rule = {"type": "llm_judge", "model": "judge", "rubric": "No medical advice.", "timeout_s": 0.2}

    async def deny(model, messages, timeout):
        assert "No medical advice." in messages[0]["content"]
        return 'Sure: {"verdict": "deny", "reason": "gives a dosage"}'

    async def slow(model, messages, timeout):
        await asyncio.sleep(1)
        return '{"verdict": "allow"}'

    denied = await evaluate([CompiledPolicy("j", "enforce", [rule])], "take 5 pills", "input", deny)
    assert denied.action == "block" and denied.matches[0].reason == "gives a dosage"
    fail_open = await evaluate([CompiledPolicy("j", "enforce", [rule])], "x", "input", slow)
    assert fail_open.action == "allow"
    closed = CompiledPolicy("j", "enforce", [{**rule, "fail_mode": "closed"}])
    fail_closed = await evaluate([closed], "x", "input", slow)
    assert fail_closed.action == "block" and "timed out" in fail_closed.matches[0].reason


def test_judge_answer_parsing_and_rule_validation():
    assert parse_judge('{"verdict":"allow","reason":"fine"}') == (False, "fine")
    assert parse_judge("DENY - unsafe")[0] is True
    with pytest.raises(ValidationError):
        JudgeRule(type="llm_judge", model="m", rubric="r", action="mask")
