"""The metrics' own arithmetic: added-up requests give what prometheus-client's observe() would."""

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from gateway_app.core.metrics import LATENCY_BUCKETS, GatewayMetrics, parse_labels
from tests.support.prometheus import samples, total


def test_added_up_requests_equal_one_observe_per_request():
    metrics = GatewayMetrics(("tenant", "model"))
    reference_registry = CollectorRegistry()
    reference = Histogram("reference", "r", buckets=LATENCY_BUCKETS, registry=reference_registry)
    rng = random.Random(7)
    latencies = [rng.choice(LATENCY_BUCKETS) for _ in range(50)] + [rng.uniform(0, 90) for _ in range(500)]
    for latency in latencies:  # bounds themselves included: a value on a bound belongs to that bucket
        metrics.request("acme", "m", "chat", status=200, blocked=False, latency_s=latency, ttft_s=None,
                        prompt=3, completion=2, cost=0.5)
        reference.observe(latency)
    metrics.request("acme", "m", "chat", status=502, blocked=False, latency_s=0.1, ttft_s=None, prompt=0,
                    completion=0, cost=0)
    metrics.flush()
    ours = samples(generate_latest(metrics.registry).decode())
    theirs = samples(generate_latest(reference_registry).decode())
    for (name, labels), value in theirs.items():
        if name.startswith("reference_") and not name.endswith("_created"):
            mine = total(ours, name.replace("reference", "gatehouse_request_duration_seconds"), **dict(labels),
                         tenant="acme", model="m")
            expected = value + (1 if name.endswith(("_count",)) or (name.endswith("_bucket") and
                                                                    float(dict(labels)["le"]) >= 0.1) else 0)
            expected += 0.1 if name.endswith("_sum") else 0
            assert round(mine, 6) == round(expected, 6), name
    assert total(ours, "gatehouse_requests_total", outcome="ok") == len(latencies)
    assert total(ours, "gatehouse_requests_total", outcome="error") == 1
    assert total(ours, "gatehouse_tokens_total", type="prompt") == 3 * len(latencies)
    assert total(ours, "gatehouse_cost_usd_total") == 0.5 * len(latencies)


def test_unknown_metric_labels_are_refused_by_name():
    assert parse_labels("tenant, model,tenant") == ("tenant", "model")
    try:
        parse_labels("tenant,user")
    except ValueError as exc:
        assert "user" in str(exc) and "METRICS_LABELS" in str(exc)
    else:
        raise AssertionError("an unknown label was accepted")
