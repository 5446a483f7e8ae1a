"""Helpers every renderer shares: an aligned plain-text table, a log axis for parameter shares, and
figures drawn off-screen and written atomically.

Figures are drawn on matplotlib's Agg canvas, never through ``pyplot``: no display is needed and no
global backend or figure registry is touched, so drawing is safe in a library and in threads.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopeft.records.io import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PathLike", "aligned_table", "log_x_axis", "new_figure", "save_figure"]

PathLike = str | os.PathLike[str]


def aligned_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """An aligned plain-text table: a header line, a rule of dashes, then one line per row.

    Columns are two spaces apart and as wide as their widest cell; ``right[k]`` right-aligns column
    ``k``, else it is left-aligned. A left-aligned last column is not padded, and no line has trailing
    spaces.

    Args:
        headers: the column names, ``m`` of them.
        rows: the cells, each row ``m`` strings.
        right: ``m`` flags, one per column.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for k, cell in enumerate(row):
            widths[k] = max(widths[k], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = []
        for k, cell in enumerate(cells):
            if k == len(cells) - 1 and not right[k]:
                out.append(cell)
            else:
                out.append(cell.rjust(widths[k]) if right[k] else cell.ljust(widths[k]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def log_x_axis(ax: Any, xs: Sequence[float]) -> None:
    """Give ``ax`` a log x axis for the parameter percentages ``xs`` (>= 0) it shows.

    Log when every value is positive; symlog when one is zero (zero cannot sit on a log axis), linear
    up to the smallest positive value (1e-3 when there is none) and log beyond it.
    """
    positive = [x for x in xs if x > 0]
    if len(positive) == len(xs):
        ax.set_xscale("log")
    else:
        ax.set_xscale("symlog", linthresh=min(positive) if positive else 1e-3)


def new_figure(width: float, height: float, *, layout: str | None = "constrained") -> Figure:
    """An empty figure of ``width`` × ``height`` inches at 100 dpi, attached to an Agg canvas.

    Args:
        width, height: the size in inches.
        layout: matplotlib's layout engine (``"constrained"``; None for none, e.g. to call
            ``tight_layout`` once drawn).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: PathLike, dpi: float | None = None) -> Path:
    """Write ``fig`` to ``path`` atomically, in the format its suffix names (PNG without one).

    Args:
        fig: the drawn figure.
        path: the target file; missing parent directories are created.
        dpi: resolution of raster formats; None keeps the figure's own.

    Returns:
        The path written.
    """
    target = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=target.suffix[1:].lower() or "png", dpi=dpi)
    return atomic_write_bytes(target, buffer.getvalue())
