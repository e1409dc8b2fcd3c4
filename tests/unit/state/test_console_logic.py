"""Console logic that is not UI: usage filters and pages, chart series, playground SSE parsing."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway_app.db.records import UsageRecord
from gateway_app.services.append_writers import rollups_of
from gateway_app.providers.sse import parse_sse
from gateway_app.services.principals import PLATFORM_ADMIN, Principal
from state.overview import _count, _money

ADMIN = Principal("adm", "root@x.io", PLATFORM_ADMIN)


def test_sse_parsing_collects_text_usage_and_errors():
    chunk = (b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
             b'data: {"choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n'
             b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
             b'data: [DONE]\n\n')
    text, usage, error = parse_sse(chunk)
    assert text == "Hello" and usage == {"prompt_tokens": 3, "completion_tokens": 2} and error is None
    _, _, error = parse_sse(b'data: {"error": {"message": "upstream stream failed"}}\n\n')
    assert error["message"] == "upstream stream failed"


def test_stat_formatting():
    assert _count(12_345) == "12.3k" and _count(999) == "999" and _count(2_500_000) == "2.5M"
    assert _money(0.0123) == "$0.0123" and _money(1234.5) == "$1,234"


async def test_usage_pages_filters_and_series(platform, admin):
    await admin.create_tenant("acme")
    now = datetime.now(UTC).replace(microsecond=0)
    records = [UsageRecord(request_id=f"r{i}", model="a" if i % 3 else "b", token_id="tok_1" if i < 40 else "tok_2",
                           status=200 if i % 10 else 502, prompt_tokens=10, completion_tokens=5, cost_usd=0.01,
                           latency_ms=120.0 + i, at=now - timedelta(minutes=i))
               for i in range(60)]
    with platform.store.tenant("acme") as uow:
        uow.usage.add_many(records)
        uow.usage.merge_rollups(rollups_of(records))
        uow.commit()
    usage = platform.usage
    assert usage.count(ADMIN, "acme") == 60
    assert usage.count(ADMIN, "acme", status="error") == 6
    assert usage.count(ADMIN, "acme", model="b", token_id="tok_1") == 14
    first = usage.recent(ADMIN, "acme", offset=0, limit=25)
    third = usage.recent(ADMIN, "acme", offset=50, limit=25)
    assert len(first) == 25 and len(third) == 10
    assert first[0].at >= first[-1].at >= third[0].at, "newest first across pages"
    assert {r.request_id for r in first}.isdisjoint({r.request_id for r in third})

    series = usage.timeseries(ADMIN, "acme", now - timedelta(hours=24), now + timedelta(seconds=1), "hour")
    assert len(series) in (24, 25)
    assert sum(p.requests for p in series) == 60 and sum(p.errors for p in series) == 6
    assert [p.requests for p in series[:-3]] == [0] * (len(series) - 3), "empty hours are filled with zeros"
    busy = [p for p in series if p.requests]
    assert all(p.avg_latency_ms and p.p50_latency_ms == 250.0 for p in busy)

    csv_text = usage.export_csv(ADMIN, "acme", status="error")
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("at,request_id,model") and len(lines) == 7

    sparks = usage.model_sparklines(ADMIN, "acme")
    assert sum(sparks["a"]) + sum(sparks["b"]) == 60 and len(sparks["a"]) == 24


def test_policy_errors_read_as_sentences_about_numbered_rules():
    from pydantic import ValidationError

    from gateway_app.services.guardrails.service import PolicyCreate
    from state.rule_editor import rule_errors

    with pytest.raises(ValidationError) as info:
        PolicyCreate(name="p", rules=[{"type": "keyword", "keywords": ["a"]},
                                      {"type": "keyword", "keywords": ["a"], "action": "zap"},
                                      {"type": "nope"}, {"type": "regex"}, {"type": "pii", "colour": 1}])
    assert rule_errors(info.value) == [
        "Rule 2 (keyword): action must be one of block, mask, flag.",
        "Rule 3: the type must be one of regex, keyword, pii, llm_judge.",
        "Rule 4 (regex): pattern is missing.",
        "Rule 5 (pii): colour is not a setting of this kind of rule.",
    ]


def test_rule_cards_edit_the_policy_and_say_what_is_wrong_as_it_is_typed():
    from state.rule_editor import cards, changed

    rules = [{"type": "keyword", "keywords": ["a"], "action": "flag"}, {"type": "regex", "pattern": "x"}]
    rules[0] = changed(rules[0], "text", "launch code\n\n  api key ")
    rules[1] = changed(rules[1], "text", "(?<=secret)\\w+")
    keyword, pattern = cards(rules)
    assert rules[0]["keywords"] == ["launch code", "api key"] and keyword.text == "launch code\napi key"
    assert keyword.problem == ""
    assert pattern.problem.startswith("Look-ahead/look-behind is not supported")  # RE2, as saving runs it
    rules[0] = changed(rules[0], "text", "")
    assert cards(rules)[0].problem == "Keywords must have at least one entry."
