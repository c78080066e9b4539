"""Pure plotting helpers for search progress: plain lists and dicts in, a Figure or PNG bytes out.

The tracker draws these after every round; the benchmark reuses them for its reports. They build
`matplotlib.figure.Figure` objects directly on the Agg canvas (no `pyplot`, no global state), so
they are safe in threads, in pods without a display, and in tests.

A *series* is either a sequence of values (plotted at steps ``0, 1, ...``) or a mapping from step
to value (plotted in step order), so a metric history read back from a tracker plots as it is.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Series: TypeAlias = Sequence[float] | Mapping[int, float]

__all__ = ["Series", "best_so_far_figure", "figure_to_png", "running_best", "weights_figure"]


def best_so_far_figure(
    curves: Mapping[str, Series],
    *,
    xlabel: str = "round",
    ylabel: str = "best validation accuracy",
    title: str = "Best architecture so far",
    dashed: Sequence[str] = (),
) -> Figure:
    """A step plot of best-so-far accuracy, one line per method (or search).

    Args:
        curves: method name -> its best-so-far series. Values need not be monotone: the plot
            shows what it is given (use `running_best` to turn raw accuracies into best-so-far).
        dashed: names of curves drawn dashed (a curve that may lie on top of another).

    Returns:
        A Figure with one `Line2D` per curve, labelled with the method name.
    """
    return _line_figure(
        curves, xlabel=xlabel, ylabel=ylabel, title=title, drawstyle="steps-post", dashed=dashed
    )


def weights_figure(
    weights: Mapping[str, Series],
    *,
    xlabel: str = "round",
    ylabel: str = "weight",
    title: str = "Scorer weights over rounds",
) -> Figure:
    """One line per scorer (the GP and each proxy) showing its fusion weight per round.

    Args:
        weights: scorer name -> its weight series (weights of one round sum to 1, not checked).
    """
    fig = _line_figure(weights, xlabel=xlabel, ylabel=ylabel, title=title, drawstyle="default")
    fig.axes[0].set_ylim(-0.02, 1.02)
    return fig


def running_best(values: Sequence[float]) -> list[float]:
    """The running maximum of `values` (NaN entries keep the previous best)."""
    best = -math.inf
    out: list[float] = []
    for v in values:
        if not math.isnan(v):
            best = max(best, v)
        out.append(best if best != -math.inf else math.nan)
    return out


def figure_to_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """Render `fig` to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _as_xy(series: Series) -> tuple[list[int], list[float]]:
    if isinstance(series, Mapping):
        steps = sorted(series)
        return [int(s) for s in steps], [float(series[s]) for s in steps]
    values = [float(v) for v in series]
    return list(range(len(values))), values


def _line_figure(
    series: Mapping[str, Series],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    drawstyle: str,
    dashed: Sequence[str] = (),
) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not series:
        raise ValueError(f"nothing to plot for {title!r}: pass at least one named series")
    fig = Figure(figsize=(6.4, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, s in series.items():
        x, y = _as_xy(s)
        style = "--" if name in dashed else "-"
        ax.plot(x, y, style, label=name, marker="o", markersize=3, drawstyle=drawstyle)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig
