"""How the Alerts page words rules and values: metric names, units, and the form's numbers to stored ones."""

from __future__ import annotations

import math

# metric: (label, unit shown, factor from the stored value to the shown one)
METRICS: dict[str, tuple[str, str, float]] = {
    "error_rate": ("Error rate", "%", 100.0),
    "latency_p95": ("p95 latency", "ms", 1.0),
    "requests": ("Requests", "requests", 1.0),
    "tokens": ("Tokens", "tokens", 1.0),
    "cost": ("Spend", "USD", 1.0),
    "guardrail_blocks": ("Guardrail blocks", "blocks", 1.0),
    "no_traffic": ("No traffic", "requests", 1.0),
    "budget_used_pct": ("Budget used", "% of budget", 1.0),
    "budget_projected_pct": ("Budget projected at month end", "% of budget", 1.0),
    "provider_down": ("Providers down", "providers", 1.0),
}
METRIC_CHOICES = [f"{label} · {key}" for key, (label, _, _) in METRICS.items()]
FIXED = {"no_traffic", "provider_down"}  # their threshold is implied (fewer than 1 request, at least 1 down)


def metric_key(choice: str) -> str:
    """'Error rate · error_rate' -> 'error_rate'."""
    return choice.rsplit(" · ", 1)[-1]


def metric_choice(key: str) -> str:
    """'error_rate' -> 'Error rate · error_rate'."""
    return f"{METRICS.get(key, (key, '', 1.0))[0]} · {key}"


def unit(metric: str) -> str:
    """The unit thresholds of this metric are typed in."""
    return METRICS.get(metric, ("", "", 1.0))[1]


def factor(metric: str) -> float:
    """From the stored value to the shown one (error rates are stored as fractions, shown in %)."""
    return METRICS.get(metric, ("", "", 1.0))[2]


def shown(metric: str, value: float | None) -> str:
    """A stored value as the page shows it: '12 %', '1,840 ms', '0.42 USD', '-' for no data."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    label, suffix, factor = METRICS.get(metric, ("", "", 1.0))
    number = value * factor
    text = f"{number:,.0f}" if float(number).is_integer() else f"{number:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {suffix}".strip()


def stored(metric: str, text: str) -> float | None:
    """A threshold typed in the form, in the stored unit (None when empty). ValueError when not a number."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    number = float(text)
    if not math.isfinite(number) or number < 0:
        raise ValueError("a threshold is a number of zero or more")
    return round(number / METRICS.get(metric, ("", "", 1.0))[2], 6)


def typed(metric: str, value: float | None) -> str:
    """A stored threshold as the form shows it for editing."""
    if value is None:
        return ""
    number = value * METRICS.get(metric, ("", "", 1.0))[2]
    return f"{number:g}"


def condition(metric: str, operator: str, warning: float | None, critical: float | None, window: int) -> str:
    """The rule in words: 'Error rate > 5 % over 5 min (warning at 2 %)'."""
    label = METRICS.get(metric, (metric, "", 1.0))[0]
    if metric == "no_traffic":
        return f"No requests for {window} min"
    if metric == "provider_down":
        return f"A provider down (checked over {window} min)"
    main = critical if critical is not None else warning
    text = f"{label} {operator} {shown(metric, main)} over {window} min"
    if critical is not None and warning is not None:
        text += f" (warning at {shown(metric, warning)})"
    elif critical is None:
        text += " (warning)"
    return text
