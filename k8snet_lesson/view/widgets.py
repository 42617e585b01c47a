"""ipywidgets for the notebooks: controls, a callback, and what it renders.

Each explorer is a small dataclass holding its widgets; its callback is a plain
function of the explorer (read the controls, call the model, render), so tests set
widget values and read the result without a browser. A value that makes no sense
shows a message in the widget (``.message``), never a traceback.

Widgets carry CSS classes (``k8snet-...``) so the browser tests can find them.
"""

from __future__ import annotations

import dataclasses
import html
from typing import TYPE_CHECKING

from ..errors import K8snetError

if TYPE_CHECKING:  # pragma: no cover - names for the annotations only; ipywidgets loads on first use
    import ipywidgets

    from ..distribution import Spread
    from .plots import SpreadPlot
    from .services import ReadinessExplorer, readiness_explorer, render_readiness

__all__ = [
    "SpreadExplorer",
    "spread_explorer",
    "render_spread",
    "ReadinessExplorer",
    "readiness_explorer",
    "render_readiness",
]


class Shown:
    """Mixin of the explorers: in a notebook, an explorer shows as its ``ui`` box."""

    def _ipython_display_(self) -> None:  # pragma: no cover - display only
        from IPython.display import display

        display(self.ui)


def holding(output: ipywidgets.Output, widget: ipywidgets.DOMWidget) -> ipywidgets.Output:
    """``output`` (an ipywidgets Output) showing ``widget``, as ``with output: display(widget)`` would,
    without printing the widget's repr where no notebook front end is listening."""
    output.outputs = (
        {
            "output_type": "display_data",
            "data": {
                "text/plain": repr(widget),
                "application/vnd.jupyter.widget-view+json": {
                    "version_major": 2, "version_minor": 0, "model_id": widget.model_id,
                },
            },
            "metadata": {},
        },
    )
    return output


def message_html(text: str) -> str:
    """A clear message for input that makes no sense, shown in a widget instead of a traceback."""
    return (
        '<div class="k8snet-message" style="color:#b00020;background:#fff3f3;border:1px solid #b00020;'
        f'padding:4px 8px;border-radius:4px;line-height:1.4">{html.escape(text)}</div>'
    )


# --- load distribution -----------------------------------------------------------

@dataclasses.dataclass
class SpreadExplorer(Shown):
    """Endpoints, connections and seed in; a bar chart and a table of counts out."""

    endpoints: ipywidgets.IntSlider
    connections: ipywidgets.FloatLogSlider
    seed: ipywidgets.BoundedIntText
    image: ipywidgets.Image
    output: ipywidgets.Output
    counts: ipywidgets.HTML
    message: ipywidgets.HTML
    ui: ipywidgets.VBox
    plot: SpreadPlot | None = None  # reused across updates
    last: Spread | None = None  # the latest result


def _counts_html(result: Spread) -> str:
    rows = []
    for position, (label, text, share, count) in enumerate(
        zip(result.labels, result.probability_texts, result.shares, result.counts), start=1
    ):
        rows.append(
            f'<tr class="k8snet-count-row"><td>{position}</td><td>{html.escape(label)}</td>'
            f'<td><code>{html.escape(text) if text else "(last rule: always)"}</code></td>'
            f"<td>{share:.4f}</td>"
            f'<td class="k8snet-count" data-count="{count}">{count:,}</td>'
            f"<td>{count / result.connections:.4f}</td></tr>"
        )
    p = result.chi_square.p_value
    return (
        f'<div class="k8snet-spread-summary" data-connections="{result.connections}" '
        f'data-endpoints="{len(result.counts)}"><b>{result.connections:,} connections over '
        f"{len(result.counts)} endpoint{'s' if len(result.counts) != 1 else ''}</b> "
        f"of a made-up Service, not the lesson's cluster "
        f"(seed {result.seed}; chi-square against the exact shares: p = {p:.3g})</div>"
        '<style>.k8snet-counts-table th, .k8snet-counts-table td {padding: 2px 12px; text-align: right}'
        " .k8snet-counts-table th:nth-child(-n+3), .k8snet-counts-table td:nth-child(-n+3) {text-align: left}</style>"
        '<table class="k8snet-counts-table"><thead><tr><th>#</th><th>endpoint</th><th>--probability as printed</th>'
        "<th>exact share</th><th>connections</th><th>observed share</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def render_spread(explorer: SpreadExplorer) -> None:
    """The spread explorer's callback: simulate, draw, tabulate (or show why not)."""
    from .. import distribution
    from .plots import SpreadPlot

    try:
        n = int(explorer.endpoints.value)
        connections = int(round(float(explorer.connections.value)))
        seed = int(explorer.seed.value)
        result = distribution.spread(n, connections, seed=seed)
    except (K8snetError, ValueError, TypeError) as exc:
        explorer.message.value = message_html(str(exc))
        explorer.image.value, explorer.counts.value, explorer.last = b"", "", None  # no stale result under it
        return
    explorer.message.value = ""
    if explorer.plot is None:
        explorer.plot = SpreadPlot(max_endpoints=max(10, n))
    explorer.image.value = explorer.plot.png(result.counts, result.shares, p_value=result.chi_square.p_value, seed=seed)
    explorer.counts.value = _counts_html(result)
    explorer.last = result


def spread_explorer(endpoints: int = 3, connections: int = 1000, seed: int = 7) -> SpreadExplorer:
    """Sliders for endpoints (1-10), connections (10 to 1,000,000, log scale) and a seed."""
    import ipywidgets as w

    style = {"description_width": "110px"}
    layout = w.Layout(width="440px")
    endpoint_slider = w.IntSlider(value=endpoints, min=1, max=10, step=1, description="endpoints",
                                  continuous_update=False, style=style, layout=layout)
    connection_slider = w.FloatLogSlider(value=connections, base=10, min=1, max=6, step=0.5, description="connections",
                                         readout_format=",.0f", continuous_update=False, style=style, layout=layout)
    seed_box = w.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed", style=style,
                                layout=w.Layout(width="220px"))
    image = w.Image(format="png", layout=w.Layout(width="560px"))
    output = holding(w.Output(), image)
    counts = w.HTML()
    message = w.HTML()
    endpoint_slider.add_class("k8snet-endpoints")
    connection_slider.add_class("k8snet-connections")
    seed_box.add_class("k8snet-seed")
    output.add_class("k8snet-spread-output")
    counts.add_class("k8snet-spread-counts")
    message.add_class("k8snet-message")
    ui = w.VBox([w.HBox([w.VBox([endpoint_slider, connection_slider]), seed_box]), message, output, counts])
    explorer = SpreadExplorer(endpoint_slider, connection_slider, seed_box, image, output, counts, message, ui)
    from .plots import SpreadPlot

    explorer.plot = SpreadPlot(max_endpoints=max(10, endpoints))
    for control in (endpoint_slider, connection_slider, seed_box):
        control.observe(lambda change: render_spread(explorer), names="value")
    render_spread(explorer)
    return explorer


# --- readiness and endpoints -------------------------------------------------------
# The readiness explorer lives with the other Service views (view/services.py), which
# import this module: its names are looked up there on first use.
_MOVED_TO_SERVICES = ("ReadinessExplorer", "readiness_explorer", "render_readiness")


def __getattr__(name: str) -> object:
    if name in _MOVED_TO_SERVICES:
        from . import services

        return getattr(services, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
