"""Services and kube-proxy on screen: the readiness explorer and the client-IP table.

The readiness explorer has one checkbox per Pod a Service selects. Unticking one fails
that Pod's readiness probe in the model; the EndpointSlice controller moves it out of
the ready endpoints (``kubectl get endpoints`` shows it under ``notReadyAddresses``),
and kube-proxy's KUBE-SVC chain on the chosen node loses its rule, the remaining
probabilities becoming 1/(n-i) of the new n. With none ready, the rules are the filter
table's REJECT. Buttons switch the rules between kube-proxy's modes: iptables rules, or
the nftables lines of :func:`k8snet_lesson.view.proxy_modes.rules_text`. Its callback :func:`render_readiness` is a plain function of the
explorer: anything that goes wrong shows a message and clears the last result (never a
traceback), and the checkbox row wraps instead of running past a narrow notebook column.

:func:`client_ip_table` shows :func:`k8snet_lesson.client_ip.seen_sources` as a table.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import K8snetError
from .gates import sentence
from .widgets import Shown, message_html

if TYPE_CHECKING:  # pragma: no cover - names for the annotations only; ipywidgets loads on first use
    import ipywidgets

    from ..cluster import Cluster, Service
    from ..client_ip import SeenSource
    from ..distribution import Spread
    from .tables import Table

__all__ = ["ReadinessExplorer", "readiness_explorer", "render_readiness", "client_ip_table", "chain_text",
           "Panel", "unready_reveal", "chain_reveal", "lesson_spread", "naive_reveal", "client_ip_reveal"]


@dataclasses.dataclass
class ReadinessExplorer(Shown):
    """One checkbox per Pod the Service selects; Endpoints and the KUBE-SVC chain follow."""

    cluster: Cluster
    service: Service
    node_name: str
    checkboxes: dict[str, ipywidgets.Checkbox]  # by Pod name
    endpoints: ipywidgets.HTML
    rules: ipywidgets.HTML
    message: ipywidgets.HTML
    ui: ipywidgets.VBox
    current: Cluster | None = None  # the cluster as the checkboxes have it
    mode: ipywidgets.ToggleButtons | None = None  # kube-proxy's mode, iptables or nftables


def _pre(title: str, text: str) -> str:
    # pre-wrap: a long rule wraps inside the column rather than widening the output
    return (f'<div style="margin:6px 0 2px 0"><b>{html.escape(title)}</b></div>'
            '<pre style="margin:0;font-size:12px;line-height:1.3;white-space:pre-wrap;overflow-wrap:break-word">'
            f"{html.escape(text)}</pre>")


def chain_text(cluster: Cluster, service: Service, node_name: str) -> str:
    """The KUBE-SVC rules kube-proxy writes on ``node_name`` for each port of ``service``,
    as iptables-restore input lines; with no endpoint, the filter table's REJECT instead."""
    from .. import iptables, kube_proxy

    rules = kube_proxy.rules_for(cluster, node_name)
    lines: list[str] = []
    for port in service.ports:
        name = kube_proxy.chain_name("KUBE-SVC-", service.port_name(port), port.protocol)
        chain = kube_proxy.rules_in(rules, "nat", name)
        if chain:
            lines.extend(iptables.restore_line(rule) for rule in chain)
        else:
            lines.extend(iptables.restore_line(rule) for rule in kube_proxy.rules_in(rules, "filter", "KUBE-SERVICES")
                         if rule.comment and rule.comment.startswith(service.port_name(port) + " "))
    return "\n".join(lines)


def render_readiness(explorer: ReadinessExplorer) -> None:
    """The readiness explorer's callback: set each Pod's Ready condition, recompute, show."""
    from .kubectl_run import run
    from .proxy_modes import rules_text

    service = explorer.service
    try:
        cluster = explorer.cluster
        for name, box in explorer.checkboxes.items():
            pod = cluster.pod(name, service.namespace)
            cluster = cluster.with_pod(pod.with_ready(bool(box.value)))
        where = f"-n {service.namespace}"
        endpoints = (_pre("Endpoints (the older API)", run(cluster, f"get endpoints {service.name} {where}"))
                     + _pre("notReadyAddresses in the full object",
                            run(cluster, f"describe endpoints {service.name} {where}")))
        mode = explorer.mode.value if explorer.mode is not None else "iptables"
        rules = _pre(f"kube-proxy's rules for it on {explorer.node_name}, {mode} mode (lesson cluster, Calico VXLAN)",
                     rules_text(cluster, service, explorer.node_name, mode))
    except (K8snetError, ValueError, TypeError, LookupError) as exc:
        explorer.message.value = message_html(sentence(f"Could not recompute the endpoints: {exc}"))
        explorer.endpoints.value = ""
        explorer.rules.value = ""
        explorer.current = None
        return
    explorer.message.value = ""
    explorer.current = cluster
    explorer.endpoints.value = endpoints
    explorer.rules.value = rules


def readiness_explorer(cluster: Cluster, service: Service, *, node_name: str) -> ReadinessExplorer:
    """Tick or untick each selected Pod's readiness and watch Endpoints and rules change;
    the mode buttons show the rules as iptables or as nftables writes them."""
    import ipywidgets as w

    pods = [p for p in cluster.pods if service.selects(p)]
    checkboxes = {}
    for pod in pods:
        box = w.Checkbox(value=pod.ready, description=f"{pod.name} ({pod.pod_ip}) ready", indent=False,
                         layout=w.Layout(width="auto", min_width="0", margin="0 18px 2px 0"))
        box.add_class("k8snet-ready")
        checkboxes[pod.name] = box
    message = w.HTML()
    message.add_class("k8snet-message")
    endpoints_html = w.HTML(layout=w.Layout(max_width="100%"))
    rules_html = w.HTML(layout=w.Layout(max_width="100%"))
    endpoints_html.add_class("k8snet-readiness-endpoints")
    rules_html.add_class("k8snet-readiness-rules")
    # A row that wraps: beside an open file browser three long labels do not fit on one line.
    row = w.HBox(list(checkboxes.values()), layout=w.Layout(flex_flow="row wrap", width="100%"))
    row.add_class("k8snet-ready-row")
    mode = w.ToggleButtons(options=["iptables", "nftables"], value="iptables", description="kube-proxy mode",
                           style={"description_width": "initial"})
    mode.add_class("k8snet-proxy-mode")
    ui = w.VBox([row, mode, message, endpoints_html, rules_html], layout=w.Layout(width="100%"))
    explorer = ReadinessExplorer(cluster, service, node_name, checkboxes, endpoints_html, rules_html, message, ui,
                                 mode=mode)
    for box in (*checkboxes.values(), mode):
        box.observe(lambda change: render_readiness(explorer), names="value")
    render_readiness(explorer)
    return explorer


def client_ip_table(rows: Sequence[SeenSource]) -> Table:
    """The source IP the server pod sees, one row per way of reaching the Service."""
    from .tables import table

    return table([{"connection": r.case, "lands on": str(r.server), "SNAT": "yes" if r.masqueraded else "no",
                   "source the server sees": str(r.seen), "why": r.why} for r in rows],
                 caption="Lesson cluster (Calico VXLAN): what the server pod sees as the client's address")


# --- what a gate reveals -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Panel:
    """Terminal text, tables and figures, one under the other: what a gate shows once answered.

    A ``str`` part is terminal output (wrapped, never wider than the column); a
    matplotlib figure is drawn as a PNG; anything else (a table) by its ``_repr_html_``.
    """

    parts: tuple

    def _repr_html_(self) -> str:
        import base64

        from .plots import figure_png

        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append('<pre class="k8snet-terminal" style="margin:4px 0;font-size:12px;line-height:1.3;'
                           f'white-space:pre-wrap;overflow-wrap:break-word">{html.escape(part)}</pre>')
            elif hasattr(part, "savefig"):  # a matplotlib figure
                data = base64.b64encode(figure_png(part)).decode("ascii")
                out.append(f'<img alt="figure" style="max-width:100%" src="data:image/png;base64,{data}">')
            else:
                out.append(part._repr_html_())
        return '<div class="k8snet-panel">' + "".join(out) + "</div>"

    def __repr__(self) -> str:
        return "\n\n".join(part if isinstance(part, str) else "(figure)" if hasattr(part, "savefig") else str(part)
                             for part in self.parts)


def _svc_chain(service: Service) -> str:
    from .. import kube_proxy

    port = service.ports[0]
    return kube_proxy.chain_name("KUBE-SVC-", service.port_name(port), port.protocol)


def unready_reveal(cluster: Cluster, service: Service, pod_name: str, node_name: str) -> Callable[[], Panel]:
    """``describe endpoints`` once ``pod_name`` fails its readiness probe, and the KUBE-SVC chain left."""
    from .. import kube_proxy
    from .iptables_list import run as listing
    from .kubectl_run import run

    def reveal() -> Panel:
        after = cluster.with_pod(cluster.pod(pod_name, service.namespace).with_ready(False))
        rules = kube_proxy.rules_for(after, node_name, include_builtin=True)
        return Panel((run(after, f"describe endpoints {service.name} -n {service.namespace}"),
                      listing(rules, f"iptables -t nat -L {_svc_chain(service)} -n")))
    return reveal


def chain_reveal(cluster: Cluster, service: Service, node_name: str) -> Callable[[], Panel]:
    """``iptables -t nat -L KUBE-SVC-... -n`` on ``node_name`` and the chain drawn as a probability tree."""
    from .. import explain, kube_proxy
    from .iptables_list import run
    from .plots import probability_tree_figure

    def reveal() -> Panel:
        rules = kube_proxy.rules_for(cluster, node_name, include_builtin=True)
        explained = explain.explain_service(rules, service.port_name(service.ports[0]))
        figure = probability_tree_figure([e.probability_text for e in explained.endpoints],
                                         [e.share for e in explained.endpoints])
        return Panel((run(rules, f"iptables -t nat -L {explained.chain} -n"), figure))
    return reveal


def lesson_spread(cluster: Cluster, service: Service, node_name: str, connections: int, *, seed: int) -> Spread:
    """``connections`` new connections simulated through ``service``'s real chain on ``node_name``
    (a :class:`k8snet_lesson.distribution.Spread`, labelled with the Pods' addresses)."""
    from .. import distribution, explain, kube_proxy

    rules = kube_proxy.rules_for(cluster, node_name)
    return distribution.spread_of(explain.explain_service(rules, service.port_name(service.ports[0])),
                                  connections, seed=seed)


def naive_reveal(endpoints_count: int) -> Callable[[], Panel]:
    """The exact shares of kube-proxy's chain beside the naive 1/n-on-every-rule chain."""
    from .. import distribution
    from .plots import chain_shares_figure

    def reveal() -> Panel:
        kube = [e.share for e in distribution.service_chain(endpoints_count).endpoints]
        naive = distribution.naive_shares(endpoints_count)
        return Panel((chain_shares_figure({"kube-proxy: 1/(n-i) on rule i": kube,
                                           f"naive: 1/{endpoints_count} on every rule": naive},
                                          title=f"Exact share of new connections per endpoint, {endpoints_count} endpoints"),))
    return reveal


def client_ip_reveal(rows: Sequence[SeenSource]) -> Callable[[], Panel]:
    """The client-IP table, as a gate's reveal."""
    return lambda: Panel((client_ip_table(rows),))
