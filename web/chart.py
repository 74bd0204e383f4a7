"""A bar chart drawn on the server as inline SVG: no chart library, no script, no CDN.

One stacked bar per day: the people who signed in (dark) below those who did not (light), up to
the people expected that day; days off are drawn paler. The SVG is an accessible image
(``role="img"`` with a ``<title>`` and ``<desc>``), and each bar carries its own ``<title>``
(the browser's tooltip, read by screen readers) with the figures in words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 16, 40
MOST_LABELS = 16  # day labels under the bars; with more days, every n-th


class Bar(Protocol):
    """What a bar needs: the day, how many were expected and how many signed in."""

    @property
    def expected(self) -> int: ...
    @property
    def present(self) -> int: ...
    @property
    def working(self) -> bool: ...


def bar_chart(
    bars: Sequence[Bar], labels: Sequence[str], title: str, desc: str, tip: Callable[[Bar], str],
    chart_id: str = "chart",
) -> Markup:  # fmt: skip
    """The SVG of ``bars`` with ``labels`` under them; ``tip(bar)`` is each bar's tooltip."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([b.expected for b in bars] + [1])
    slot = plot_w / max(len(bars), 1)
    gap = min(slot * 0.2, 6)
    every = max(1, -(-len(bars) // MOST_LABELS))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="bar-chart" id="{chart_id}" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#888" stroke-width="1"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="11">{top}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, (bar, label) in enumerate(zip(bars, labels, strict=True)):
        x = LEFT + i * slot + gap / 2
        w = max(slot - gap, 1)
        h_all = plot_h * bar.expected / top
        h_in = plot_h * bar.present / top
        y0 = TOP + plot_h
        dark, light = ("#2f6fb3", "#f0b7a4") if bar.working else ("#8fb0d6", "#f4d9cf")
        out.append(f'<g class="bar" data-present="{bar.present}" data-expected="{bar.expected}">'
                   f"<title>{escape(tip(bar))}</title>")  # fmt: skip
        out.append(f'<rect x="{x:.1f}" y="{y0 - h_all:.1f}" width="{w:.1f}" '
                   f'height="{h_all - h_in:.1f}" fill="{light}"/>')  # fmt: skip
        out.append(f'<rect x="{x:.1f}" y="{y0 - h_in:.1f}" width="{w:.1f}" height="{h_in:.1f}" '
                   f'fill="{dark}"/>')  # fmt: skip
        out.append("</g>")
        if i % every == 0:
            out.append(f'<text x="{x + w / 2:.1f}" y="{y0 + 16}" text-anchor="middle" '
                       f'font-size="11">{escape(label)}</text>')  # fmt: skip
    out.append("</svg>")
    return Markup("".join(out))
