"""Guardrail policies on the gateway: each rule kind and action, shadow mode, streams, the judge."""

import openai
import pytest

from tests.api.conftest import sdk_for
from tests.support.api import configure_gateway
from tests.support.fake_upstream import Behaviour

EMAIL_TEXT = "contact me at jane.doe@example.com please"


async def _policy(admin, name, rules, mode="enforce", tenant="acme"):
    return (await admin.call("POST", "/guardrails", tenant=tenant, expect=201,
                             json={"name": name, "mode": mode, "rules": rules})).json()


async def _token(admin, *policies, tenant="acme"):
    return (await admin.create_token(tenant, name="guarded", guardrails=list(policies)))["token"]


async def test_policy_validation_and_attachment_checks(admin, gateway):
    bad_regex = await admin.call("POST", "/guardrails", tenant="acme", json={
        "name": "x", "rules": [{"type": "regex", "pattern": "(unclosed"}]})
    assert bad_regex.status_code == 422 and "regular expression" in bad_regex.json()["detail"]
    judge_mask = await admin.call("POST", "/guardrails", tenant="acme", json={
        "name": "x", "rules": [{"type": "llm_judge", "model": "gpt-test", "rubric": "r", "action": "mask"}]})
    assert judge_mask.status_code == 422
    unknown = await admin.call("POST", "/api-tokens", tenant="acme", json={"name": "t", "guardrails": ["ghost"]})
    assert unknown.status_code == 400 and unknown.json()["field"] == "guardrails"
    await _policy(admin, "pii", [{"type": "pii", "entities": ["email"]}])
    await admin.call("PATCH", "/models/gpt-test", tenant="acme", json={"guardrails": ["pii"]}, expect=200)
    listed = (await admin.call("GET", "/guardrails/pii", tenant="acme", expect=200)).json()
    assert listed["attached"]["models"] == ["gpt-test"]
    assert (await admin.call("DELETE", "/guardrails/pii", tenant="acme")).status_code == 409


async def test_input_block_never_reaches_the_upstream(admin, platform, upstream, gateway):
    await _policy(admin, "no-pii", [{"type": "pii", "entities": ["email"], "direction": "input"}])
    sdk = sdk_for(platform, await _token(admin, "no-pii"))
    try:
        with pytest.raises(openai.BadRequestError) as info:
            await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": EMAIL_TEXT}])
        assert info.value.body["code"] == "guardrail_violation" and "'no-pii'" in info.value.body["message"]
        assert upstream.calls("/chat/completions") == []
        ok = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hello"}])
        assert ok.choices[0].message.content == "echo: hello"
    finally:
        await sdk.close()
    platform.usage_recorder.writer.flush()
    platform.verdict_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        blocked = [r for r in uow.usage.recent(limit=10) if r.status == 400][0]
        verdicts = uow.guardrails.recent_verdicts()
    assert blocked.error_type == "guardrail_violation" and blocked.guardrail == "block:no-pii"
    assert verdicts[0].policy == "no-pii" and verdicts[0].action == "block" and verdicts[0].direction == "input"
    # An intended block is counted as blocked, not as an error, wherever usage is summed or filtered.
    [row] = (await admin.call("GET", "/usage", tenant="acme", expect=200)).json()["rows"]
    assert (row["requests"], row["errors"], row["blocked"]) == (2, 0, 1)
    # Latency is the answered request's alone: the block (a millisecond, no model call) is left out.
    with platform.store.tenant("acme") as uow:
        answered = [r for r in uow.usage.recent(limit=10) if r.status == 200][0]
    assert row["avg_latency_ms"] == pytest.approx(answered.latency_ms, abs=0.01)
    assert [r["status"] for r in (await admin.call("GET", "/usage/requests?status=blocked", tenant="acme",
                                                     expect=200)).json()] == [400]
    assert (await admin.call("GET", "/usage/requests?status=error", tenant="acme", expect=200)).json() == []


async def test_input_mask_and_keyword_flag(admin, platform, upstream, gateway):
    await _policy(admin, "redact", [{"type": "pii", "entities": ["email"], "action": "mask"},
                                    {"type": "keyword", "keywords": ["confidential"], "action": "flag"}])
    sdk = sdk_for(platform, await _token(admin, "redact"))
    try:
        await sdk.chat.completions.create(model="gpt-test",
                                          messages=[{"role": "user", "content": "Confidential: " + EMAIL_TEXT}])
    finally:
        await sdk.close()
    sent = upstream.calls("/chat/completions")[-1].body["messages"][0]["content"]
    assert sent == "Confidential: contact me at [REDACTED:EMAIL] please"
    platform.verdict_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        verdicts = {v.direction: v for v in uow.guardrails.recent_verdicts()}
    assert verdicts["input"].action == "mask" and verdicts["input"].matches == 2
    assert verdicts["output"].action == "flag", "the echoed answer still says 'confidential'"


async def test_output_mask_and_block_non_streamed(admin, platform, upstream, gateway):
    await _policy(admin, "out-mask", [{"type": "pii", "entities": ["email"], "direction": "output", "action": "mask"}])
    await _policy(admin, "out-block", [{"type": "regex", "pattern": r"\bsecret plan\b", "direction": "output"}])
    sdk = sdk_for(platform, await _token(admin, "out-mask", "out-block"))
    try:
        upstream.script(Behaviour(content="reach " + EMAIL_TEXT))
        masked = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        assert masked.choices[0].message.content == "reach contact me at [REDACTED:EMAIL] please"
        upstream.script(Behaviour(content="here is the secret plan"))
        with pytest.raises(openai.BadRequestError) as info:
            await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        assert "'out-block'" in info.value.body["message"]
    finally:
        await sdk.close()


async def test_stream_mask_catches_a_match_split_across_chunks(admin, platform, upstream, gateway):
    await _policy(admin, "stream-mask", [{"type": "pii", "entities": ["email"], "direction": "output",
                                          "action": "mask"}])
    sdk = sdk_for(platform, await _token(admin, "stream-mask"))
    text = "write to jane.doe@example.com today and tomorrow"
    upstream.script(Behaviour(content=text, chunks=12))  # the address is cut across several chunks
    try:
        stream = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}],
                                                   stream=True)
        pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    finally:
        await sdk.close()
    assert "".join(pieces) == "write to [REDACTED:EMAIL] today and tomorrow"
    assert not any("jane" in p or "example.com" in p for p in pieces)


async def test_stream_block_ends_with_an_error_event_before_the_match(admin, platform, upstream, gateway):
    await _policy(admin, "stream-block", [{"type": "keyword", "keywords": ["launch codes"], "direction": "output"}])
    sdk = sdk_for(platform, await _token(admin, "stream-block"))
    upstream.script(Behaviour(content="sure, the launch codes are 1234 and more text follows here", chunks=10))
    received = []
    try:
        stream = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}],
                                                   stream=True)
        with pytest.raises(openai.APIError) as info:
            async for chunk in stream:
                if chunk.choices:
                    received.append(chunk.choices[0].delta.content or "")
        assert "stream-block" in str(info.value)
    finally:
        await sdk.close()
    assert "launch" not in "".join(received)
    platform.usage_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        record = uow.usage.recent(limit=1)[0]
    assert record.status == 400 and record.guardrail == "block:stream-block"


async def test_shadow_mode_records_but_never_acts(admin, platform, upstream, gateway):
    await _policy(admin, "watch", [{"type": "pii", "entities": ["email"]}], mode="shadow")
    sdk = sdk_for(platform, await _token(admin, "watch"))
    try:
        await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": EMAIL_TEXT}])
    finally:
        await sdk.close()
    assert upstream.calls("/chat/completions")[-1].body["messages"][0]["content"] == EMAIL_TEXT
    platform.verdict_recorder.writer.flush()
    verdicts = (await admin.call("GET", "/guardrails/verdicts", tenant="acme", expect=200)).json()
    assert verdicts[0]["policy"] == "watch" and verdicts[0]["mode"] == "shadow" and verdicts[0]["action"] == "block"


@pytest.mark.parametrize(("fail_mode", "passes"), [("open", True), ("closed", False)])
async def test_judge_timeout_follows_the_fail_mode(admin, platform, upstream, fail_mode, passes):
    await configure_gateway(admin, upstream.url, models=[
        {"name": "gpt-test", "upstream_model": "fake-chat"}, {"name": "judge", "upstream_model": "fake-judge"}])
    await _policy(admin, "judged", [{"type": "llm_judge", "model": "judge", "rubric": "No medical advice.",
                                     "timeout_s": 0.3, "fail_mode": fail_mode, "direction": "input"}])
    sdk = sdk_for(platform, await _token(admin, "judged"))
    upstream.script(Behaviour(delay=1.0))  # the judge call is the first upstream call and it is too slow
    try:
        if passes:
            reply = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content == "echo: hi"
        else:
            with pytest.raises(openai.BadRequestError) as info:
                await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
            assert info.value.body["code"] == "guardrail_violation"
    finally:
        await sdk.close()
    assert upstream.calls("/chat/completions")[0].body["model"] == "fake-judge"


async def test_judge_deny_blocks_with_its_reason(admin, platform, upstream):
    await configure_gateway(admin, upstream.url, models=[
        {"name": "gpt-test", "upstream_model": "fake-chat"}, {"name": "judge", "upstream_model": "fake-judge"}])
    await _policy(admin, "judged", [{"type": "llm_judge", "model": "judge", "rubric": "No medical advice.",
                                     "direction": "input"}])
    sdk = sdk_for(platform, await _token(admin, "judged"))
    upstream.script(Behaviour(content='{"verdict": "deny", "reason": "asks for a dosage"}'))
    try:
        with pytest.raises(openai.BadRequestError) as info:
            await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "dose?"}])
        assert "judged" in info.value.body["message"]
    finally:
        await sdk.close()
    assert len(upstream.calls("/chat/completions")) == 1, "only the judge was called"


async def test_evaluate_endpoint(admin, client, gateway):
    await _policy(admin, "pii", [{"type": "pii", "action": "mask"}])
    headers = {"Authorization": f"Bearer {gateway['token']}"}
    named = (await client.post("/v1/guardrails/evaluate", headers=headers, json={
        "policy": "pii", "text": "card 4111 1111 1111 1111 and ip 10.1.2.3", "direction": "output"})).json()
    assert named["action"] == "mask" and named["text"] == "card [REDACTED:CREDIT_CARD] and ip [REDACTED:IP]"
    assert {m["entity"] for m in named["matches"]} == {"credit_card", "ip"}
    none = (await client.post("/v1/guardrails/evaluate", headers=headers, json={"text": "fine"})).json()
    assert none["action"] == "allow" and none["policies"] == []
    missing = await client.post("/v1/guardrails/evaluate", headers=headers, json={"policy": "ghost", "text": "x"})
    assert missing.status_code == 404


async def test_policies_via_model_and_project(admin, platform, upstream, gateway):
    await _policy(admin, "model-level", [{"type": "keyword", "keywords": ["forbidden"], "direction": "input"}])
    await _policy(admin, "project-level", [{"type": "keyword", "keywords": ["verboten"], "direction": "input"}])
    await admin.call("PATCH", "/models/gpt-test", tenant="acme", json={"guardrails": ["model-level"]}, expect=200)
    await admin.call("POST", "/projects", tenant="acme", json={"name": "web", "guardrails": ["project-level"]},
                     expect=201)
    token = await admin.create_token("acme", name="web-token", project="web")
    sdk = sdk_for(platform, token["token"])
    try:
        for word, policy in (("forbidden", "model-level"), ("verboten", "project-level")):
            with pytest.raises(openai.BadRequestError) as info:
                await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": word}])
            assert policy in info.value.body["message"]
    finally:
        await sdk.close()


async def test_another_tenant_cannot_use_a_policy(admin, client, gateway):
    await _policy(admin, "pii", [{"type": "pii"}])
    await admin.create_tenant("other")
    other = await admin.create_token("other")
    response = await client.post("/v1/guardrails/evaluate", headers={"Authorization": f"Bearer {other['token']}"},
                                 json={"policy": "pii", "text": "a@b.io"})
    assert response.status_code == 404
    assert (await admin.call("GET", "/guardrails/pii", tenant="other")).status_code == 404
