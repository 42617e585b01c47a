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
from typing import Any

from ..errors import K8snetError

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


def holding(output: Any, widget: Any) -> Any:
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

    endpoints: Any
    connections: Any
    seed: Any
    image: Any
    output: Any
    counts: Any
    message: Any
    ui: Any
    plot: Any = None  # a plots.SpreadPlot, reused across updates
    last: Any = None  # the latest distribution.Spread


def _counts_html(result) -> str:
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

@dataclasses.dataclass
class ReadinessExplorer(Shown):
    """One checkbox per Pod the Service selects; Endpoints and the KUBE-SVC chain follow."""

    cluster: Any
    service: Any
    node_name: str
    checkboxes: dict
    endpoints: Any
    rules: Any
    ui: Any
    current: Any = None  # the cluster as the checkboxes have it


def _pre(title: str, text: str) -> str:
    return (f'<div style="margin:6px 0 2px 0"><b>{html.escape(title)}</b></div>'
            f'<pre style="margin:0;font-size:12px;line-height:1.3">{html.escape(text)}</pre>')


def render_readiness(explorer: ReadinessExplorer) -> None:
    """The readiness explorer's callback: set each Pod's Ready condition, recompute, show."""
    from .. import iptables, kube_proxy
    from . import kubectl

    cluster = explorer.cluster
    for name, box in explorer.checkboxes.items():
        pod = cluster.pod(name, explorer.service.namespace)
        cluster = cluster.with_pod(pod.with_ready(bool(box.value)))
    explorer.current = cluster
    service = explorer.service
    explorer.endpoints.value = (
        _pre(f"$ kubectl get endpoints {service.name} -n {service.namespace}",
             kubectl.get_endpoints(cluster, namespace=service.namespace, name=service.name))
        + _pre(f"$ kubectl get endpoints {service.name} -n {service.namespace} -o yaml",
               kubectl.endpoints_yaml(cluster, service.name, service.namespace))
    )
    rules = kube_proxy.rules_for(cluster, explorer.node_name)
    lines = []
    for port in service.ports:
        name = kube_proxy.chain_name("KUBE-SVC-", service.port_name(port), port.protocol)
        chain = kube_proxy.rules_in(rules, "nat", name)
        if chain:
            lines.extend(iptables.to_restore(iptables.RuleSet((iptables.Table("nat", (iptables.Chain(name),), chain),)))
                         .splitlines()[2:-1])
        else:
            rejects = [r for r in kube_proxy.rules_in(rules, "filter", "KUBE-SERVICES")
                       if r.comment and r.comment.startswith(service.port_name(port) + " ")]
            lines.extend(iptables.to_restore(iptables.RuleSet((iptables.Table("filter", (), tuple(rejects)),)))
                         .splitlines()[1:-1])
    explorer.rules.value = _pre(f"kube-proxy's rules on {explorer.node_name} for {service.key}", "\n".join(lines))


def readiness_explorer(cluster, service, *, node_name: str) -> ReadinessExplorer:
    """Tick or untick each selected Pod's readiness and watch Endpoints and rules change."""
    import ipywidgets as w

    pods = [p for p in cluster.pods if service.selects(p)]
    checkboxes = {}
    for pod in pods:
        box = w.Checkbox(value=pod.ready, description=f"{pod.name} ({pod.pod_ip}) ready", indent=False,
                         layout=w.Layout(width="auto"))
        box.add_class("k8snet-ready")
        checkboxes[pod.name] = box
    endpoints_html = w.HTML()
    rules_html = w.HTML()
    endpoints_html.add_class("k8snet-readiness-endpoints")
    rules_html.add_class("k8snet-readiness-rules")
    ui = w.VBox([w.HBox(list(checkboxes.values())), endpoints_html, rules_html])
    explorer = ReadinessExplorer(cluster, service, node_name, checkboxes, endpoints_html, rules_html, ui)
    for box in checkboxes.values():
        box.observe(lambda change: render_readiness(explorer), names="value")
    render_readiness(explorer)
    return explorer
