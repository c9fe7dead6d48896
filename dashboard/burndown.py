"""Budget burn-down charts (inline SVG drawn on the server, every label escaped)."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from budgets.selectors import BudgetStatus

ACTUAL, FORECAST, LIMIT, THRESHOLD = "#417690", "#ef6c00", "#c62828", "#8d6e63"
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 560, 200, 56, 12, 12, 24


def burndown_chart(*, name: str, status: BudgetStatus, thresholds: list[dict]) -> SafeString:
    """Cumulative actual cost, the forecast to period end, the budget and threshold lines."""
    days = (status.period_end - status.period_start).days + 1
    amount = float(status.amount)
    top = max(amount, float(status.forecast), float(status.actual)) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: float) -> float:
        return LEFT + plot_w * index / max(days - 1, 1)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    points, total = [], 0.0
    for index, (_, cost) in enumerate(status.daily):
        total += float(cost)
        points.append(f"{x(index):.1f},{y(total):.1f}")
    parts = [
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1.5"/>'
            '<text x="{}" y="{}" font-size="10" fill="{}">budget {}</text>',
            LEFT,
            f"{y(amount):.1f}",
            WIDTH - RIGHT,
            f"{y(amount):.1f}",
            LIMIT,
            LEFT + 4,
            f"{y(amount) - 3:.1f}",
            LIMIT,
            f"{amount:,.2f}",
        )
    ]
    for threshold in thresholds:
        level = amount * int(threshold["percent"]) / 100
        parts.append(
            format_html(
                '<line class="threshold" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" '
                'stroke-dasharray="2 3"/><text x="{}" y="{}" font-size="10" fill="{}" '
                'text-anchor="end">{} {}%</text>',
                LEFT,
                f"{y(level):.1f}",
                WIDTH - RIGHT,
                f"{y(level):.1f}",
                THRESHOLD,
                WIDTH - RIGHT,
                f"{y(level) - 3:.1f}",
                THRESHOLD,
                threshold["kind"],
                threshold["percent"],
            )
        )
    if points:
        parts.append(
            format_html(
                '<polyline class="actual" points="{}" fill="none" stroke="{}" stroke-width="2"/>',
                " ".join(points),
                ACTUAL,
            )
        )
        last = len(status.daily) - 1
        parts.append(
            format_html(
                '<line class="forecast" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" '
                'stroke-width="2" stroke-dasharray="6 4"/>',
                f"{x(last):.1f}",
                f"{y(float(status.actual)):.1f}",
                f"{x(days - 1):.1f}",
                f"{y(float(status.forecast)):.1f}",
                FORECAST,
            )
        )
    parts.append(
        format_html(
            '<text x="{}" y="{}" font-size="10" fill="currentColor">{}</text>'
            '<text x="{}" y="{}" font-size="10" fill="currentColor" text-anchor="end">{}</text>',
            LEFT,
            HEIGHT - 6,
            status.period_start.isoformat(),
            WIDTH - RIGHT,
            HEIGHT - 6,
            status.period_end.isoformat(),
        )
    )
    title = (
        f"Budget {name}: actual {float(status.actual):,.2f}, forecast "
        f"{float(status.forecast):,.2f} of {amount:,.2f}"
    )
    return format_html(
        '<svg class="chart budget-burndown" role="img" aria-label="{}" viewBox="0 0 {} {}" '
        'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}</svg>',
        title,
        WIDTH,
        HEIGHT,
        title,
        format_html_join("", "{}", ((p,) for p in parts)),
    )
