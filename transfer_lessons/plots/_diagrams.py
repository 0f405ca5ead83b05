"""Block diagrams drawn from a lesson's own objects: the numbers in the boxes come from the caller, so the picture
shows what was built or measured in the run, never typed numbers.
"""

from __future__ import annotations

from typing import Optional, Sequence

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from ._figure import figure_with_axes

_WIDTH, _GAP, _HEIGHT, _ROW = 1.0, 0.35, 0.85, 1.5  # box width, gap between boxes, box height, row pitch


def block_diagram(rows: Sequence[Sequence[tuple[str, str]]], title: str, *, row_labels: Optional[Sequence[str]] = None,
                  shares: Optional[Sequence[Sequence[float]]] = None, links: Sequence[tuple] = ()) -> Figure:
    """Boxes joined left to right by arrows, one row per sequence of ``(heading, detail)`` pairs.

    ``rows``: e.g. ``[[("image", "3 x 256 x 320"), ("backbone", "stride 8: 40 x 32 x 40")]]``; details may hold
    line breaks. ``row_labels``: a label left of each row (e.g. ``"rank 0"``). ``shares``: per row, each box's share
    of a total (0 to 1, e.g. of the measured time), drawn as a bar along the box's foot with its percentage.
    ``links``: ``((row, column), (row, column), label)``: a two-headed arrow between boxes of different rows.
    """
    columns = max((len(row) for row in rows), default=0)
    if not columns:
        raise ValueError("block_diagram: no boxes given.")
    if shares is not None and [len(s) for s in shares] != [len(row) for row in rows]:
        raise ValueError("block_diagram: shares must give one number per box, row by row.")
    fig, ax = figure_with_axes(2.4 * columns + (1.0 if row_labels else 0.3), 0.5 + 1.3 * len(rows))
    for r, row in enumerate(rows):
        y = -r * _ROW
        for c, (heading, detail) in enumerate(row):
            x = c * (_WIDTH + _GAP)
            ax.add_patch(FancyBboxPatch((x, y), _WIDTH, _HEIGHT, boxstyle="round,pad=0.02", facecolor="#eef3fb",
                                        edgecolor="tab:blue"))
            ax.text(x + _WIDTH / 2, y + _HEIGHT - 0.1, heading, ha="center", va="top", fontsize=9, weight="bold")
            ax.text(x + _WIDTH / 2, y + _HEIGHT - 0.3, detail, ha="center", va="top", fontsize=7.5, linespacing=1.3)
            if shares is not None:
                share = float(shares[r][c])
                ax.add_patch(Rectangle((x, y), _WIDTH * min(max(share, 0.0), 1.0), 0.09, color="tab:orange"))
                ax.text(x + _WIDTH - 0.03, y + 0.12, f"{share:.0%}", ha="right", va="bottom", fontsize=7,
                        color="tab:orange")
            if c:
                ax.annotate("", xy=(x, y + _HEIGHT / 2), xytext=(x - _GAP, y + _HEIGHT / 2),
                            arrowprops={"arrowstyle": "->", "color": "0.3"})
        if row_labels:
            ax.text(-0.08, y + _HEIGHT / 2, row_labels[r], ha="right", va="center", fontsize=9, weight="bold")
    for (ra, ca), (rb, cb), label in links:
        top, bottom = sorted((ra, rb))
        xa, xb = (c * (_WIDTH + _GAP) + _WIDTH / 2 for c in (ca, cb))
        ax.annotate("", xy=(xb, -bottom * _ROW + _HEIGHT), xytext=(xa, -top * _ROW),
                    arrowprops={"arrowstyle": "<->", "color": "tab:red", "lw": 1.5})
        ax.text((xa + xb) / 2 + 0.04, -top * _ROW - (_ROW - _HEIGHT) / 2, label, color="tab:red", fontsize=8,
                va="center", ha="left")
    ax.set(xlim=(-(0.75 if row_labels else 0.05), columns * (_WIDTH + _GAP) - _GAP + 0.05),
           ylim=(-(len(rows) - 1) * _ROW - 0.05, _HEIGHT + 0.05), title=title)
    ax.set_axis_off()
    return fig
