"""Overview dashboard."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import chart_card, empty_state, no_tenant, page_header, stat_card, status_badge
from state.overview import OverviewState

HEIGHT = 220
# Milliseconds as short labels ("950 ms", "2.6 s", "12 s"): a long "12000ms" is clipped by the axis
# width and reads as a wrong, out-of-order value ("000ms"). A no-break space keeps "650 ms" on one line.
MS_TICK = "(v) => v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}\\u00a0s` : `${Math.round(v)}\\u00a0ms`"
# Dollars: small amounts keep their significant digits without a long axis label.
USD_TICK = "(v) => v === 0 ? '0' : v < 0.01 ? `$${v.toPrecision(2)}` : `$${v.toFixed(2)}`"


def _axes(tick_formatter: str | None = None) -> list[rx.Component]:
    y_axis = (rx.recharts.y_axis(tick_line=False, font_size=11, width=68, tick_formatter=tick_formatter)
              if tick_formatter else rx.recharts.y_axis(tick_line=False, font_size=11, width=56))
    return [rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
            # A fixed interval, not recharts' width-dependent one: charts of one range share their dates.
            rx.recharts.x_axis(data_key="label", tick_line=False, font_size=11,
                               interval=OverviewState.tick_interval),
            y_axis, rx.recharts.graphing_tooltip()]


def _requests_chart() -> rx.Component:
    return rx.recharts.composed_chart(
        rx.recharts.area(data_key="requests", name="requests", stroke="var(--accent-9)", fill="var(--accent-4)",
                         is_animation_active=False),
        rx.recharts.bar(data_key="errors", name="errors", fill="var(--red-9)", is_animation_active=False),
        rx.recharts.bar(data_key="blocked", name="blocked by guardrails", fill="var(--amber-9)",
                        is_animation_active=False),
        *_axes(), rx.recharts.legend(),
        data=OverviewState.points, width="100%", height=HEIGHT)


def _tokens_chart() -> rx.Component:
    return rx.recharts.area_chart(
        rx.recharts.area(data_key="prompt_tokens", name="prompt", stack_id="t", stroke="var(--indigo-9)",
                         fill="var(--indigo-5)", is_animation_active=False),
        rx.recharts.area(data_key="completion_tokens", name="completion", stack_id="t", stroke="var(--cyan-9)",
                         fill="var(--cyan-5)", is_animation_active=False),
        *_axes(), rx.recharts.legend(),
        data=OverviewState.points, width="100%", height=HEIGHT)


def _cost_chart() -> rx.Component:
    return rx.recharts.bar_chart(
        rx.recharts.bar(data_key="cost", name="cost ($)", fill="var(--grass-9)", is_animation_active=False),
        *_axes(USD_TICK), data=OverviewState.points, width="100%", height=HEIGHT)


def _latency_chart() -> rx.Component:
    return rx.recharts.line_chart(
        rx.recharts.line(data_key="p50", name="p50", stroke="var(--accent-9)", stroke_width=2.5, dot={"r": 3},
                         is_animation_active=False, connect_nulls=True),
        rx.recharts.line(data_key="p95", name="p95", stroke="var(--orange-9)", stroke_width=2.5, dot={"r": 3},
                         is_animation_active=False, connect_nulls=True),
        rx.recharts.line(data_key="error_rate", name="errors %", stroke="var(--red-9)", dot=False,
                         is_animation_active=False, y_axis_id="right"),
        *_axes(MS_TICK), rx.recharts.y_axis(y_axis_id="right", orientation="right", unit="%", font_size=11, width=40),
        rx.recharts.legend(), data=OverviewState.points, width="100%", height=HEIGHT)


def _top_chart(data) -> rx.Component:
    return rx.recharts.bar_chart(
        rx.recharts.bar(data_key="cost", name="spend ($)", fill="var(--accent-9)", is_animation_active=False,
                        radius=[0, 4, 4, 0]),
        rx.recharts.x_axis(type_="number", font_size=11, tick_line=False),
        rx.recharts.y_axis(data_key="name", type_="category", width=110, font_size=11, tick_line=False),
        rx.recharts.graphing_tooltip(),
        data=data, layout="vertical", width="100%", height=HEIGHT)


def _range_picker() -> rx.Component:
    return rx.segmented_control.root(
        rx.segmented_control.item("24 h", value="24h"),
        rx.segmented_control.item("7 d", value="7d"),
        rx.segmented_control.item("30 d", value="30d"),
        value=OverviewState.range, on_change=OverviewState.set_range, id="range-picker")


def _dashboard() -> rx.Component:
    return rx.vstack(
        rx.grid(
            stat_card("Requests", OverviewState.requests, "activity", "in the selected range"),
            stat_card("Tokens", OverviewState.tokens, "text", "prompt + completion"),
            stat_card("Cost", OverviewState.cost, "circle_dollar_sign", "at the models' prices"),
            stat_card("Error rate", OverviewState.error_rate, "triangle_alert", "failed requests (4xx, 5xx)"),
            stat_card("Blocked", OverviewState.blocked, "shield", "by guardrails, not errors"),
            stat_card("Avg latency", OverviewState.avg_latency, "timer", "end to end, per request"),
            columns="3", spacing="3", width="100%",
        ),
        rx.cond(
            OverviewState.has_traffic,
            rx.vstack(
                rx.grid(
                    chart_card("Requests", "errors and guardrail blocks, per bucket", _requests_chart()),
                    chart_card("Tokens", "prompt and completion", _tokens_chart()),
                    chart_card("Cost", "USD per bucket", _cost_chart()),
                    chart_card("Latency and errors", "p50 / p95 (ms, histogram buckets), error rate (%)", _latency_chart()),
                    columns="2", spacing="4", width="100%",
                ),
                rx.grid(
                    chart_card("Top models by spend", "in the selected range", _top_chart(OverviewState.top_models)),
                    chart_card("Top tokens by spend", "in the selected range", _top_chart(OverviewState.top_tokens)),
                    columns="2", spacing="4", width="100%",
                ),
                width="100%", spacing="4", id="charts",
            ),
            empty_state("chart_no_axes_combined", "No traffic in this range yet",
                        "Send requests with an API token, or try a model in the playground: the charts fill in "
                        "within a second.",
                        rx.link(rx.button("Open the playground", variant="soft"), href="/playground")),
        ),
        width="100%", spacing="4",
    )


def overview_page() -> rx.Component:
    """Counts, charts and top spenders of the active tenant."""
    tenant_line = rx.cond(
        OverviewState.tenant_name != "",
        rx.hstack(
            rx.heading(OverviewState.tenant_name, size="4"),
            status_badge(OverviewState.tenant_status),
            rx.badge(OverviewState.tenant_plan, variant="outline"),
            rx.text(OverviewState.facts, size="2", color_scheme="gray", id="tenant-facts"),
            align="center", spacing="3", wrap="wrap",
        ),
    )
    return shell(
        page_header("Overview", "The gateway at a glance", _range_picker()),
        rx.cond(
            OverviewState.tenant_missing,
            no_tenant(),
            rx.cond(OverviewState.loading & (OverviewState.tenant_name == ""),
                    rx.skeleton(rx.box(height="12em"), loading=True, width="100%"),
                    rx.vstack(tenant_line, _dashboard(), width="100%", spacing="4")),
        ),
    )
