"""The figure every plot returns: a matplotlib ``Figure`` that Jupyter shows by itself, without pyplot.

Not ``pyplot``: it keeps a reference to every figure (a memory leak over a long notebook), and Jupyter's
inline backend would draw it twice (at the cell's end and as the returned value). Shown once, any backend.
"""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure


class LessonFigure(Figure):
    """A Figure that renders itself to PNG in Jupyter (and in executed reports)."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def figure(width: float, height: float) -> LessonFigure:
    """A new ``LessonFigure`` of ``width`` x ``height`` inches with constrained layout."""
    return LessonFigure(figsize=(width, height), layout="constrained")


def figure_with_axes(width: float, height: float) -> tuple[LessonFigure, Axes]:
    fig = figure(width, height)
    return fig, fig.subplots()
