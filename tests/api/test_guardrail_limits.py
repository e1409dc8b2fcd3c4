"""Guardrail patterns at the API: refusals named per rule, the scan cap (413 on input, a block on
output, streams included), and stored rules RE2 refuses skipped without breaking the tenant."""

import logging

import openai
import pytest

from gateway_app.core.config import Settings
from gateway_app.db.records import GuardrailPolicyRecord
from tests.api.conftest import sdk_for
from tests.support.fake_upstream import Behaviour

CAP = 1_000  # the smallest GUARDRAIL_MAX_SCAN_CHARS accepted


@pytest.fixture
def settings(settings) -> Settings:
    """The usual test settings with a small scan cap."""
    return settings.model_copy(update={"guardrail_max_scan_chars": CAP})


async def _policy(admin, name, rules, mode="enforce"):
    return (await admin.call("POST", "/guardrails", tenant="acme", expect=201,
                             json={"name": name, "mode": mode, "rules": rules})).json()


async def _token(admin, *policies):
    return (await admin.create_token("acme", name="guarded", guardrails=list(policies)))["token"]


@pytest.mark.parametrize(("pattern", "words"), [
    (r"(?=x)", "look-ahead/look-behind is not supported: patterns run in linear time"),
    (r"(a)\1", "backreferences"),
    (r"(unclosed", "not a valid regular expression"),
    (r"\pL{1000}", "too large"),
])
async def test_saving_a_pattern_re2_cannot_run_is_a_422_naming_the_rule(admin, gateway, pattern, words):
    unnamed = await admin.call("POST", "/guardrails", tenant="acme", json={"name": "p", "rules": [
        {"type": "keyword", "keywords": ["fine"]}, {"type": "regex", "pattern": pattern}]})
    assert unnamed.status_code == 422, unnamed.text
    assert "Rule 2 · Pattern:" in unnamed.json()["detail"] and words in unnamed.json()["detail"]
    assert unnamed.json()["errors"][0]["field"] == "rules"
    named = await admin.call("POST", "/guardrails", tenant="acme", json={"name": "p", "rules": [
        {"type": "regex", "name": "ssn-ish", "pattern": pattern, "ignore_case": True}]})
    assert named.status_code == 422 and "rule 'ssn-ish'" in named.json()["detail"]
    await _policy(admin, "ok", [{"type": "regex", "pattern": r"\bfine\b"}])
    patched = await admin.call("PATCH", "/guardrails/ok", tenant="acme", json={"rules": [
        {"type": "regex", "pattern": pattern}]})
    assert patched.status_code == 422 and "Rule 1 · Pattern:" in patched.json()["detail"]
    assert (await admin.call("GET", "/guardrails/ok", tenant="acme")).json()["rules"][0]["pattern"] == r"\bfine\b"


async def test_input_over_the_cap_is_a_413_and_never_reaches_the_upstream(admin, platform, upstream, gateway):
    await _policy(admin, "in", [{"type": "keyword", "keywords": ["secret"], "direction": "input"}])
    sdk = sdk_for(platform, await _token(admin, "in"))
    try:
        with pytest.raises(openai.APIStatusError) as info:
            await sdk.chat.completions.create(model="gpt-test", messages=[
                {"role": "user", "content": "x" * 600}, {"role": "user", "content": "y" * 600}])
        assert info.value.status_code == 413
        assert info.value.body["code"] == "guardrail_scan_limit" and info.value.body["type"] == "invalid_request_error"
        assert "'in'" in info.value.body["message"] and str(CAP) in info.value.body["message"]
        assert upstream.calls("/chat/completions") == []
        ok = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x" * 900}])
        assert ok.choices[0].message.content.startswith("echo: ")
    finally:
        await sdk.close()
    platform.usage_recorder.writer.flush()
    platform.verdict_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        refused = [r for r in uow.usage.recent(limit=10) if r.status == 413]
        verdict = uow.guardrails.recent_verdicts()[-1]
    assert refused and refused[0].error_type == "guardrail_scan_limit"
    assert verdict.rules == ["scan_limit"] and verdict.action == "block"


async def test_a_shadow_policy_over_the_cap_records_but_never_refuses(admin, platform, upstream, gateway):
    await _policy(admin, "watch", [{"type": "pii"}], mode="shadow")
    sdk = sdk_for(platform, await _token(admin, "watch"))
    try:
        reply = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "z" * 1500}],
                                                  max_tokens=5)
        assert reply.choices[0].message.content.startswith("echo: ")
    finally:
        await sdk.close()


async def test_output_over_the_cap_is_blocked_like_a_violation(admin, platform, upstream, gateway):
    await _policy(admin, "out", [{"type": "pii", "entities": ["email"], "direction": "output", "action": "mask"}])
    sdk = sdk_for(platform, await _token(admin, "out"))
    try:
        upstream.script(Behaviour(content="a" * 1500))
        with pytest.raises(openai.BadRequestError) as info:
            await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        assert info.value.body["code"] == "guardrail_violation" and "scan limit" in info.value.body["message"]
        upstream.script(Behaviour(content="word " * 300, chunks=30))
        stream = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}],
                                                   stream=True)
        received = []
        with pytest.raises(openai.APIError) as streamed:
            async for chunk in stream:
                if chunk.choices:
                    received.append(chunk.choices[0].delta.content or "")
        assert "'out'" in str(streamed.value) and len("".join(received)) <= CAP
    finally:
        await sdk.close()


async def test_evaluate_endpoint_follows_the_cap(admin, client, gateway):
    await _policy(admin, "pii", [{"type": "pii", "action": "mask"}])
    headers = {"Authorization": f"Bearer {gateway['token']}"}
    over = await client.post("/v1/guardrails/evaluate", headers=headers, json={"policy": "pii", "text": "a" * (CAP + 1)})
    assert over.status_code == 413 and over.json()["error"]["code"] == "guardrail_scan_limit"
    at = await client.post("/v1/guardrails/evaluate", headers=headers, json={"policy": "pii", "text": "a" * CAP})
    assert at.status_code == 200 and at.json()["action"] == "allow"
    tested = await admin.call("POST", "/guardrails/pii/test", tenant="acme", json={"text": "b" * (CAP + 1)})
    assert tested.status_code == 413 and tested.json()["code"] == "guardrail_scan_limit"


async def test_a_stored_rule_re2_refuses_is_skipped_and_logged(admin, platform, upstream, gateway, caplog):
    with platform.store.tenant("acme") as uow:  # saved before patterns had to be RE2 (no validation here)
        uow.guardrails.add(GuardrailPolicyRecord(name="legacy", mode="enforce", rules=[
            {"type": "regex", "pattern": r"pass(?=word)", "direction": "input"},
            {"type": "keyword", "keywords": ["forbidden"], "direction": "input"}]))
        uow.commit()
    sdk = sdk_for(platform, await _token(admin, "legacy"))
    try:
        with caplog.at_level(logging.WARNING):
            allowed = await sdk.chat.completions.create(model="gpt-test",
                                                        messages=[{"role": "user", "content": "password"}])
        assert allowed.choices[0].message.content == "echo: password"
        with pytest.raises(openai.BadRequestError) as info:
            await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "forbidden"}])
        assert "Rule 2 · Keywords" in info.value.body["message"]
    finally:
        await sdk.close()
    skipped = [r for r in caplog.records if r.getMessage().startswith("guardrail rule skipped")]
    assert skipped and skipped[0].rule == "Rule 1 · Pattern" and "look-ahead" in skipped[0].reason
