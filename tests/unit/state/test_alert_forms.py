"""How the Alerts page words rules and turns typed thresholds into stored ones."""

import pytest

from state.alert_forms import condition, metric_choice, metric_key, shown, stored, typed


def test_an_error_rate_is_typed_and_shown_in_percent_but_stored_as_a_fraction():
    assert stored("error_rate", "5") == 0.05
    assert typed("error_rate", 0.05) == "5"
    assert shown("error_rate", 0.6) == "60 %"
    assert shown("latency_p95", 1840.0) == "1,840 ms"
    assert shown("cost", 0.4215) == "0.42 USD"
    assert shown("requests", None) == "-"


def test_a_threshold_that_is_not_a_number_of_zero_or_more_is_refused():
    assert stored("cost", "") is None
    for text in ("abc", "-1", "nan", "inf"):
        with pytest.raises(ValueError):
            stored("cost", text)


def test_rules_read_as_sentences():
    assert condition("error_rate", ">", 0.02, 0.05, 5) == "Error rate > 5 % over 5 min (warning at 2 %)"
    assert condition("latency_p95", ">", 1000.0, None, 10) == "p95 latency > 1,000 ms over 10 min (warning)"
    assert condition("no_traffic", "<", None, 1.0, 30) == "No requests for 30 min"
    assert metric_key(metric_choice("budget_used_pct")) == "budget_used_pct"
