"""The spread chart's legend keys fit their slots, and its title says what was connected to.

The expected-count marker is a 30-point bar on the chart; drawn at that width in the
legend it ran over its own label ("exact share x N" struck through). A legend key is
``handlelength`` font sizes wide; a marker key must fit in it.
"""

from __future__ import annotations

import math

import pytest
from matplotlib.collections import PathCollection

from k8snet_lesson.view import plots


def _marker_keys_fit(legend) -> list[tuple[float, float]]:
    slot = legend.handlelength * legend._fontsize  # points
    widths = [math.sqrt(max(h.get_sizes())) for h in legend.legend_handles if isinstance(h, PathCollection)]
    assert widths, "the legend shows no marker key"
    return [(width, slot) for width in widths if width > slot]


def test_the_static_chart_legend_keys_fit_beside_their_labels():
    fig = plots.spread_figure([940, 1010, 1050], [1 / 3] * 3, seed=7)
    assert _marker_keys_fit(fig.axes[0].get_legend()) == []


def test_the_explorer_chart_legend_keys_fit_beside_their_labels():
    plot = plots.SpreadPlot()
    assert _marker_keys_fit(plot.ax.get_legend()) == []


@pytest.mark.parametrize("subject, expected", [
    ("checkout-api-svc (lesson's cluster)", "checkout-api-svc (lesson's cluster)\n3,000 new connections over 3 endpoints"),
    (None, "3,000 new connections over 3 endpoints"),
])
def test_the_title_names_what_was_connected_to_and_fits_the_figure(subject, expected):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = plots.spread_figure([940, 1010, 1050], [1 / 3] * 3, subject=subject, seed=7, p_value=0.054)
    title = fig.axes[0].title
    assert title.get_text().startswith(expected)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    box, page = title.get_window_extent(canvas.get_renderer()), fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and box.y1 <= page.y1, (box, page)


def test_the_explorer_says_its_endpoints_are_not_the_lessons():
    """Its table lists 10.244.2.10, .11, ...: no pod of the lesson's cluster, and it says so."""
    from k8snet_lesson.view.widgets import spread_explorer

    explorer = spread_explorer(endpoints=3, connections=1000, seed=7)
    assert "10.244.2.10:3000" in explorer.counts.value
    assert "of a made-up Service, not the lesson's cluster" in explorer.counts.value
