"""Line charts as inline SVG, drawn on the server: no JavaScript library, no CDN, readable offline."""

from __future__ import annotations

from datetime import datetime
from html import escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 560, 160, 44, 22, 12
FEW_POINTS = 12
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")

Series = list[tuple[float, float]]


def line_chart(title: str, series: dict[str, Series], unit: str = "", ceiling: float | None = None) -> str:
    """An SVG chart of one or more (time, value) series sharing the axes; a note if there is no data."""
    points = [p for values in series.values() for p in values]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>'
    )
    if not points:
        return (
            head
            + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#888">'
            + "no data yet</text></svg>"
        )
    t0, t1 = min(t for t, _ in points), max(t for t, _ in points)
    top = ceiling if ceiling is not None else max(v for _, v in points)
    top = top if top > 0 else 1.0
    parts = [head, _axes(t0, t1, top, unit)]
    for i, (name, values) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        if values:
            coords = " ".join(f"{_x(t, t0, t1):.1f},{_y(v, top):.1f}" for t, v in values)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>')
            if len(values) <= FEW_POINTS:  # a line needs two points: show each one
                parts.extend(
                    f'<circle cx="{_x(t, t0, t1):.1f}" cy="{_y(v, top):.1f}" r="2.5" fill="{colour}"/>'
                    for t, v in values
                )
        parts.append(
            f'<text x="{PAD_LEFT + 6 + 110 * i}" y="{PAD_TOP + 2}" font-size="10" fill="{colour}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _axes(t0: float, t1: float, top: float, unit: str) -> str:
    base = HEIGHT - PAD_BOTTOM
    lines = [
        f'<line x1="{PAD_LEFT}" y1="{base}" x2="{WIDTH - 4}" y2="{base}" stroke="#999"/>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{base}" stroke="#999"/>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 8}" font-size="10" text-anchor="end">'
        f"{_num(top)}{escape(unit)}</text>",
        f'<text x="{PAD_LEFT - 4}" y="{base}" font-size="10" text-anchor="end">0</text>',
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}" font-size="10">{_clock(t0)}</text>',
        f'<text x="{WIDTH - 4}" y="{HEIGHT - 6}" font-size="10" text-anchor="end">{_clock(t1)}</text>',
    ]
    return "".join(lines)


def _x(t: float, t0: float, t1: float) -> float:
    span = (t1 - t0) or 1.0
    return PAD_LEFT + (WIDTH - PAD_LEFT - 4) * (t - t0) / span


def _y(v: float, top: float) -> float:
    base = HEIGHT - PAD_BOTTOM
    return base - (base - PAD_TOP) * min(max(v, 0.0), top) / top


def _num(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%d %b %H:%M")
