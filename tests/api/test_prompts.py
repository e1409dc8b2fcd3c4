"""Prompt templates: versions, labels, diffs, rendering errors, and prompts in chat completions."""

import openai
import pytest

from tests.api.conftest import sdk_for

GREETING = [{"role": "system", "content": "You are {{ persona }}."},
            {"role": "user", "content": "Greet {{ name }} in {{ lang | default('English') }}."}]


async def test_versions_labels_diff_and_render(admin, client, gateway):
    created = (await admin.call("POST", "/prompts", tenant="acme", expect=201, json={
        "name": "greeting", "messages": GREETING, "labels": ["production"],
        "variables": [{"name": "persona", "type": "string", "default": "a friendly bot"},
                      {"name": "name", "type": "string"}]})).json()
    assert created["latest_version"] == 1 and created["labels"] == {"production": 1}
    detected = {v["name"]: v for v in created["versions"][0]["variables"]}
    assert set(detected) == {"persona", "name", "lang"}, "used-but-undeclared variables are detected"

    second = (await admin.call("POST", "/prompts/greeting/versions", tenant="acme", expect=201, json={
        "messages": [GREETING[0], {"role": "user", "content": "Say hi to {{ name }}!"}], "message": "shorter",
        "labels": ["staging"]})).json()
    assert second["latest_version"] == 2 and second["labels"] == {"production": 1, "staging": 2}
    assert [v["version"] for v in second["versions"]] == [2, 1]

    diff = (await admin.call("GET", "/prompts/greeting/diff", tenant="acme", params={"from": 1, "to": 2},
                             expect=200)).json()["diff"]
    assert "-Greet {{ name }}" in diff and "+Say hi to {{ name }}!" in diff

    headers = {"Authorization": f"Bearer {gateway['token']}"}
    default = (await client.post("/v1/prompts/greeting/render", headers=headers,
                                 json={"variables": {"name": "Ada"}})).json()
    assert default["version"] == 1, "production label wins by default"
    assert default["messages"][1]["content"] == "Greet Ada in English."
    staging = (await client.post("/v1/prompts/greeting/render", headers=headers,
                                 json={"variables": {"name": "Ada"}, "label": "staging"})).json()
    assert staging["version"] == 2 and staging["messages"][1]["content"] == "Say hi to Ada!"

    await admin.call("PUT", "/prompts/greeting/labels/production", tenant="acme", json={"version": 2}, expect=200)
    moved = (await client.post("/v1/prompts/greeting/render", headers=headers, json={"variables": {"name": "Ada"}}))
    assert moved.json()["version"] == 2, "a moved label takes effect at once"
    pinned = await client.post("/v1/prompts/greeting/render", headers=headers,
                               json={"variables": {"name": "Ada"}, "version": 1})
    assert pinned.json()["messages"][1]["content"] == "Greet Ada in English.", "versions never change"


async def test_render_errors_name_the_variable(admin, client, gateway):
    await admin.call("POST", "/prompts", tenant="acme", expect=201, json={
        "name": "typed", "messages": [{"role": "user", "content": "{{ n }} items for {{ who }}"}],
        "variables": [{"name": "n", "type": "integer"}, {"name": "who", "type": "string"}]})
    headers = {"Authorization": f"Bearer {gateway['token']}"}
    missing = await client.post("/v1/prompts/typed/render", headers=headers, json={"variables": {"n": 3}})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "variables.who"
    assert "missing variable 'who'" in missing.json()["error"]["message"]
    wrong = await client.post("/v1/prompts/typed/render", headers=headers,
                              json={"variables": {"n": "three", "who": "x"}})
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "variables.n"
    assert "must be a integer" in wrong.json()["error"]["message"]
    unknown = await client.post("/v1/prompts/nope/render", headers=headers, json={})
    assert unknown.status_code == 404
    bad_label = await client.post("/v1/prompts/typed/render", headers=headers, json={"label": "ghost"})
    assert bad_label.status_code == 404


async def test_template_errors_are_caught_at_save_time_with_the_line(admin):
    await admin.create_tenant("acme")
    response = await admin.call("POST", "/prompts", tenant="acme", json={
        "name": "broken", "messages": [{"role": "system", "content": "ok"},
                                       {"role": "user", "content": "line one\nline two\nHi {{ name !}}"}]})
    assert response.status_code == 400
    assert response.json()["field"] == "messages[1].content" and "line 3" in response.json()["detail"]
    assert (await admin.call("GET", "/prompts/broken", tenant="acme")).status_code == 404


async def test_sandbox_refuses_python_internals(admin, client, gateway):
    await admin.call("POST", "/prompts", tenant="acme", expect=201, json={
        "name": "escape", "messages": [{"role": "user", "content": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}]})
    response = await client.post("/v1/prompts/escape/render", headers={"Authorization": f"Bearer {gateway['token']}"},
                                 json={})
    assert response.status_code == 400 and "subclasses" not in response.text.split("message")[0]


async def test_chat_with_a_prompt_reference_records_the_version(admin, platform, upstream, gateway):
    await admin.call("POST", "/prompts", tenant="acme", expect=201, json={
        "name": "greeting", "messages": GREETING, "labels": ["production"], "params": {"temperature": 0.1}})
    sdk = sdk_for(platform, gateway["token"])
    try:
        response = await sdk.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "and then?"}],
            extra_body={"prompt": {"name": "greeting", "label": "production",
                                   "variables": {"persona": "a pirate", "name": "Ada"}}})
        assert response.headers["x-gatehouse-prompt"] == "greeting@1"
        sent = upstream.calls("/chat/completions")[-1].body
        assert "prompt" not in sent and sent["temperature"] == 0.1
        assert [m["content"] for m in sent["messages"]] == ["You are a pirate.", "Greet Ada in English.", "and then?"]
        with pytest.raises(openai.BadRequestError) as info:
            await sdk.chat.completions.create(model="gpt-test", messages=[],
                                              extra_body={"prompt": {"name": "greeting", "variables": {}}})
        assert "missing variable 'persona'" in str(info.value)
    finally:
        await sdk.close()
    platform.usage_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        records = uow.usage.recent(limit=5)
    assert [r.prompt for r in records if r.status == 200] == ["greeting@1"]


async def test_prompts_are_per_tenant(admin, client, gateway):
    await admin.call("POST", "/prompts", tenant="acme", expect=201, json={
        "name": "private", "messages": [{"role": "user", "content": "secret recipe"}]})
    await admin.create_tenant("other")
    other = await admin.create_token("other")
    rendered = await client.post("/v1/prompts/private/render", headers={"Authorization": f"Bearer {other['token']}"},
                                 json={})
    assert rendered.status_code == 404
    assert (await admin.call("GET", "/prompts/private", tenant="other")).status_code == 404
    assert (await admin.call("GET", "/prompts", tenant="other", expect=200)).json() == []
