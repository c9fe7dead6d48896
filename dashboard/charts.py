"""Inline SVG charts drawn on the server; every label is escaped, nothing is fetched."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

COMPLETED = "#2e7d32"
FAILED = "#c62828"
NEUTRAL = "#417690"
WARNING = "#ef6c00"
MARKER_STEP = 11
PALETTE = ("#417690", "#ef6c00", "#6a1b9a", "#2e7d32", "#c62828", "#00838f", "#8d6e63")


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: a label, its value, the text beside it and an optional colour."""

    label: str
    value: float
    text: str = ""
    color: str = NEUTRAL
    href: str = ""


@dataclass(frozen=True)
class Series:
    """One stacked series of a column chart: a name, a colour and one value per column."""

    name: str
    color: str
    values: Sequence[float]


@dataclass(frozen=True)
class Marker:
    """A point of note on one column (a cost anomaly, say): a title and data attributes."""

    index: int
    title: str
    data: tuple[tuple[str, str], ...] = ()


def _svg(
    *,
    title: str,
    width: int,
    height: int,
    body: SafeString,
    css_class: str = "",
    fluid: bool = False,
) -> SafeString:
    """An SVG at its natural size (shrinking to fit), or ``fluid``: as wide as its container."""
    return format_html(
        '<svg class="chart {}" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" '
        'height="{}" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        "<title>{}</title>{}</svg>",
        css_class,
        title,
        width,
        height,
        "100%" if fluid else width,
        "auto" if fluid else height,
        title,
        body,
    )


def _empty(title: str, width: int, message: str) -> SafeString:
    body = format_html(
        '<text x="{}" y="24" text-anchor="middle" class="chart-empty" '
        'fill="currentColor">{}</text>',
        width // 2,
        message,
    )
    return _svg(title=title, width=width, height=40, body=body, css_class="chart-is-empty")


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    max_value: float | None = None,
    width: int = 460,
    label_width: int = 150,
    empty: str = "Nothing to show yet.",
) -> SafeString:
    """Horizontal bars, one row each, scaled to ``max_value`` (default: the largest value)."""
    if not bars:
        return _empty(title, width, empty)
    row, gap, text_width = 20, 6, 110
    track = width - label_width - text_width
    top = max(max_value or 0, *(b.value for b in bars)) or 1
    parts = []
    for i, bar in enumerate(bars):
        y = i * (row + gap)
        length = max(bar.value / top * track, 1 if bar.value else 0)
        label = format_html(
            '<text x="{}" y="{}" text-anchor="end" fill="currentColor">{}</text>',
            label_width - 8,
            y + 14,
            _truncate(bar.label, 24),
        )
        if bar.href:
            label = format_html('<a href="{}">{}</a>', bar.href, label)
        parts.append(
            format_html(
                '<g class="bar">{}<rect x="{}" y="{}" width="{}" height="{}" rx="2" fill="{}" '
                'opacity="0.18"/><rect class="bar-value" x="{}" y="{}" width="{}" height="{}" '
                'rx="2" fill="{}"><title>{}: {}</title></rect>'
                '<text x="{}" y="{}" fill="currentColor">{}</text></g>',
                label,
                label_width,
                y,
                track,
                row,
                bar.color,
                label_width,
                y,
                _f(length),
                row,
                bar.color,
                bar.label,
                bar.text or _number(bar.value),
                label_width + track + 6,
                y + 14,
                bar.text or _number(bar.value),
            )
        )
    height = len(bars) * (row + gap)
    return _svg(title=title, width=width, height=height, body=_join(parts))


def column_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 1100,
    height: int = 240,
    value_format: Callable[[float], str] | None = None,
    empty: str = "Nothing to show yet.",
    markers: Sequence[Marker] = (),
    marker_name: str = "anomaly",
) -> SafeString:
    """Stacked columns, one per label (a day, say), with a legend and a labelled y axis;
    ``markers`` are drawn as triangles above their columns (stacked when several share one)."""
    fmt = value_format or _number
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    if not labels or not any(totals):
        return _empty(title, width, empty)
    markers = [m for m in markers if 0 <= m.index < len(labels)]
    stacked: dict[int, int] = {}
    for m in markers:
        stacked[m.index] = stacked.get(m.index, 0) + 1
    left, bottom, legend = 56, 34, 22
    top_pad = 8 + MARKER_STEP * max(stacked.values(), default=0)
    plot_w, plot_h = width - left - 8, height - bottom - top_pad - legend
    top = max(totals)
    step = plot_w / len(labels)
    col_w = max(step * 0.7, 1)
    parts = [
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" opacity="0.3"/>'
            '<text x="{}" y="{}" text-anchor="end" fill="currentColor">{}</text>'
            '<text x="{}" y="{}" text-anchor="end" fill="currentColor">0</text>',
            left,
            top_pad + legend + plot_h,
            left + plot_w,
            top_pad + legend + plot_h,
            left - 6,
            top_pad + legend + 10,
            fmt(top),
            left - 6,
            top_pad + legend + plot_h,
        )
    ]
    for i, label in enumerate(labels):
        x = left + i * step + (step - col_w) / 2
        base = top_pad + legend + plot_h
        for s in series:
            value = s.values[i]
            if not value:
                continue
            h = value / top * plot_h
            base -= h
            parts.append(
                format_html(
                    '<rect class="column" x="{}" y="{}" width="{}" height="{}" '
                    'fill="{}"><title>{} — {}: {}</title></rect>',
                    _f(x),
                    _f(base),
                    _f(col_w),
                    _f(h),
                    s.color,
                    label,
                    s.name,
                    fmt(value),
                )
            )
    drawn: dict[int, int] = {}
    for m in markers:
        level = drawn[m.index] = drawn.get(m.index, 0) + 1
        cx = left + m.index * step + step / 2
        tip = top_pad + legend + plot_h - totals[m.index] / top * plot_h - 3
        tip -= (level - 1) * MARKER_STEP
        parts.append(
            format_html(
                '<path class="anomaly-marker" data-day="{}" {} d="M{} {} l-5 -9 h10 z" '
                'fill="{}" stroke="#fff" stroke-width="0.5"><title>{}</title></path>',
                labels[m.index],
                format_html_join(" ", '{}="{}"', ((f"data-{k}", v) for k, v in m.data)),
                _f(cx),
                _f(tip),
                FAILED,
                m.title,
            )
        )
    # Label the first, middle and last columns; every label would not fit.
    last = len(labels) - 1
    for i in sorted({0, len(labels) // 2, last}):
        # The last label ends at the plot's right edge, so it is not cut off.
        anchor = "end" if i == last and last else "middle"
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="{}" fill="currentColor">{}</text>',
                _f(left + (i + 1) * step if anchor == "end" else left + i * step + step / 2),
                height - 12,
                anchor,
                labels[i],
            )
        )
    parts.append(
        format_html_join(
            "",
            '<rect x="{}" y="4" width="12" height="12" fill="{}"/>'
            '<text x="{}" y="15" fill="currentColor">{}</text>',
            ((left + n * 130, s.color, left + n * 130 + 16, s.name) for n, s in enumerate(series)),
        )
    )
    if markers:
        x = left + len(series) * 130
        parts.append(
            format_html(
                '<path d="M{} 16 l-6 -11 h12 z" fill="{}"/>'
                '<text x="{}" y="15" fill="currentColor">{}</text>',
                x + 6,
                FAILED,
                x + 16,
                marker_name,
            )
        )
    return _svg(title=title, width=width, height=height, body=_join(parts), fluid=True)


def _join(parts: Sequence[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((p,) for p in parts))


def _f(value: float) -> str:
    return f"{value:.1f}"


def _truncate(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def money(value: float) -> str:
    return f"{value:,.2f}"
