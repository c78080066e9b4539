"""Pure plotting helpers: plain data in, Figure or PNG bytes out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from components.plots import best_so_far_figure, figure_to_png, running_best, weights_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_best_so_far_draws_one_labelled_line_per_method_with_its_data() -> None:
    fig = best_so_far_figure({"proxybo": [0.5, 0.7, 0.7], "random": {2: 0.6, 0: 0.4}})

    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(lines) == {"proxybo", "random"}
    assert np.asarray(lines["proxybo"].get_xdata()).tolist() == [0, 1, 2]
    assert np.asarray(lines["proxybo"].get_ydata()).tolist() == [0.5, 0.7, 0.7]
    # A mapping is step -> value, drawn in step order.
    assert np.asarray(lines["random"].get_xdata()).tolist() == [0, 2]
    assert np.asarray(lines["random"].get_ydata()).tolist() == [0.4, 0.6]


def test_named_curves_are_dashed_so_a_curve_on_top_of_another_stays_visible() -> None:
    fig = best_so_far_figure(
        {"best": [0.5, 0.7], "recommended": [0.5, 0.7]}, dashed=["recommended"]
    )
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[0].get_lines()}
    assert styles == {"best": "-", "recommended": "--"}


def test_weights_figure_has_a_line_per_scorer_on_a_unit_axis() -> None:
    fig = weights_figure({"gp": [0.1, 0.5], "synflow": [0.9, 0.5]})

    ax = fig.axes[0]
    assert sorted(str(line.get_label()) for line in ax.get_lines()) == ["gp", "synflow"]
    low, high = ax.get_ylim()
    assert low < 0 and high > 1


def test_figures_render_to_png_bytes() -> None:
    png = figure_to_png(best_so_far_figure({"proxybo": [0.1, 0.2]}))
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 1000


def test_nothing_to_plot_is_an_error_naming_the_plot() -> None:
    with pytest.raises(ValueError, match="Scorer weights"):
        weights_figure({})


def test_running_best_is_the_running_maximum_and_skips_nan() -> None:
    out = running_best([math.nan, 0.3, 0.2, math.nan, 0.5])
    assert math.isnan(out[0])
    assert out[1:] == [0.3, 0.3, 0.3, 0.5]
