"""The overview's charts as inline SVG, drawn on the server: no script, no library, nothing
fetched, readable in any browser and in a screenshot.

Every bar is a <rect> with its value in `data-value` and a <title> (the browser shows it
on hover); each chart says what it shows in `aria-label`. Labels are escaped.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 220
LEFT = 44  # room for the y axis labels
BOTTOM = 24  # room for the x axis labels
TOP = 10


@dataclass
class Series:
    """One coloured part of a bar chart: its name, CSS class and one value per label."""

    name: str
    css: str
    values: list[int]


def _nice_max(value: float) -> int:
    """A round upper end for an axis (1, 2, 5, 10, 20, 50, ...) at or above `value`."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for mult in (1, 2, 5):
            if step * mult >= value:
                return step * mult
        step *= 10


def _svg(label: str, body: list[str], points: int, height: int = HEIGHT, width: int = WIDTH) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(label)}" data-points="{points}" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


def _x_labels(labels: list[str], x_of, y: float) -> list[str]:
    """At most about eight labels along the x axis, evenly spaced, always the first and last."""
    if not labels:
        return []
    if all(len(t) == 10 and t[4] == "-" for t in labels) and len({t[:4] for t in labels}) == 1:
        labels = [t[5:] for t in labels]  # days of one year: 11-05 (the year is in each bar's title)
    step = max(1, round(len(labels) / 8))
    chosen = sorted(set(range(0, len(labels), step)) | {len(labels) - 1})
    if len(chosen) > 1 and chosen[-1] - chosen[-2] < step / 2:
        chosen.pop(-2)
    def anchor(i: int) -> str:  # the first and last labels stay inside the chart
        return "start" if i == 0 and len(labels) > 1 else "end" if i == len(labels) - 1 and len(labels) > 1 else "middle"

    def x(i: int) -> float:
        return x_of(i) - 4 * (anchor(i) == "start") + 4 * (anchor(i) == "end")

    return [f'<text class="axis" x="{x(i):.1f}" y="{y:.1f}" text-anchor="{anchor(i)}">{escape(labels[i])}</text>' for i in chosen]


def stacked_bars(label: str, labels: list[str], series: list[Series]) -> Markup:
    """Vertical bars, one per label, each stacked from `series` (e.g. questions per day by outcome)."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    bar = max(1.0, slot * 0.8)
    body = _y_axis(top, plot_h)
    for i, name in enumerate(labels):
        y = TOP + plot_h
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            body.append(
                f'<rect class="{s.css}" x="{LEFT + i * slot + (slot - bar) / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" data-value="{value}"><title>{escape(name)} · {escape(s.name)}: {value}</title></rect>'
            )
    body += _x_labels(labels, lambda i: LEFT + (i + 0.5) * slot, HEIGHT - 6)
    return _svg(label, body, sum(totals))


def diverging_bars(label: str, labels: list[str], up: Series, down: Series) -> Markup:
    """Bars above the axis for `up` and below it for `down` (👍 and 👎 per day)."""
    top = _nice_max(max([*up.values, *down.values, 0]))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - TOP - BOTTOM
    half = plot_h / 2
    axis_y = TOP + half
    slot = plot_w / max(1, len(labels))
    bar = max(1.0, slot * 0.8)
    body = [
        f'<text class="axis" x="{LEFT - 6}" y="{TOP + 8}" text-anchor="end">{top}</text>',
        f'<text class="axis" x="{LEFT - 6}" y="{axis_y + 4:.1f}" text-anchor="end">0</text>',
        f'<text class="axis" x="{LEFT - 6}" y="{TOP + plot_h - 2:.1f}" text-anchor="end">{top}</text>',
        f'<line class="grid" x1="{LEFT}" x2="{WIDTH - 8}" y1="{axis_y:.1f}" y2="{axis_y:.1f}"/>',
    ]
    for i, name in enumerate(labels):
        x = LEFT + i * slot + (slot - bar) / 2
        for s, sign in ((up, -1), (down, 1)):
            value = s.values[i]
            if value <= 0:
                continue
            h = half * value / top
            y = axis_y - h if sign < 0 else axis_y
            body.append(
                f'<rect class="{s.css}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'data-value="{value}"><title>{escape(name)} · {escape(s.name)}: {value}</title></rect>'
            )
    body += _x_labels(labels, lambda i: LEFT + (i + 0.5) * slot, HEIGHT - 6)
    return _svg(label, body, sum(up.values) + sum(down.values))


def horizontal_bars(label: str, items: list[tuple[str, int]], css: str = "bar") -> Markup:
    """One labelled horizontal bar per item (languages, channels, answer-time buckets)."""
    row = 26
    height = TOP + row * max(1, len(items)) + 4
    top = max((n for _, n in items), default=0) or 1
    total = sum(n for _, n in items) or 1
    width = 460  # drawn half as wide as the day charts: it sits in half the page
    name_w = 90
    plot_w = width - name_w - 90
    body = []
    for i, (name, value) in enumerate(items):
        y = TOP + i * row
        w = plot_w * value / top
        body.append(f'<text class="axis" x="{name_w - 8}" y="{y + 15}" text-anchor="end">{escape(name)}</text>')
        body.append(
            f'<rect class="{css}" x="{name_w}" y="{y + 2}" width="{max(w, 0.5 if value else 0):.1f}" height="{row - 8}" '
            f'data-value="{value}"><title>{escape(name)}: {value}</title></rect>'
        )
        body.append(f'<text class="value" x="{name_w + w + 6:.1f}" y="{y + 15}">{value} ({value / total:.0%})</text>')
    return _svg(label, body, sum(n for _, n in items), height, width)


def _y_axis(top: int, plot_h: float) -> list[str]:
    out = []
    for frac in (0, 0.5, 1):
        y = TOP + plot_h * (1 - frac)
        value = top * frac
        text = f"{value:g}"
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
    return out
