"""Tables and widgets for the first three notebooks: the course map, the networking
model's four rules, and the three network layers (node, pod, service).

Everything here renders what the model computes (:mod:`k8snet_lesson.ipam`,
:mod:`k8snet_lesson.networking_model`, :mod:`k8snet_lesson.churn`,
:mod:`k8snet_lesson.endpoints`, :mod:`k8snet_lesson.discrepancies`).

Widgets follow :mod:`k8snet_lesson.view.widgets`: a dataclass holding the controls, a
``render_*`` callback that reads them, calls the model and fills the output, or shows a
message (``k8snet-message``) for input that makes no sense.

    >>> from k8snet_lesson.ipam import plan
    >>> table = sizing_table(plan(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12"))
    >>> table.loc["nodes (node CIDRs handed out)", "value"]
    '256'
"""

from __future__ import annotations

import dataclasses
import enum
import html
from collections.abc import Iterable, Mapping, Sequence
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from .. import __version__
from ..churn import Churn, ChurnEvent, Replacement, churn
from ..cluster import Cluster, Pod, Protocol
from ..errors import InvalidValue, K8snetError, NotFound
from ..ipam import HostLocal, Plan, ServiceIPRange, plan
from ..networking_model import (
    FLAT,
    Connection,
    Network,
    Reach,
    Reachability,
    RuleCheck,
    natted,
    what_the_app_sees,
)
from .widgets import Shown
from .widgets import message_html as _message_html

if TYPE_CHECKING:  # pragma: no cover - names for the annotations only; these load on first use
    import ipywidgets
    import numpy
    from IPython.display import HTML
    from matplotlib.figure import Figure
    from pandas import DataFrame

    from .tables import Table

__all__ = [
    "CourseEntry",
    "COURSE",
    "course_map",
    "environment_check",
    "PodsView",
    "pods_command",
    "pods_view",
    "render_pods",
    "NetworkLayer",
    "LESSON_NETWORK_LAYERS",
    "network_layers",
    "network_members",
    "rules_table",
    "evidence_table",
    "connection_table",
    "access_log_line",
    "rewrite_rules",
    "ConnectionExplorer",
    "connection_explorer",
    "render_connection",
    "node_cidr_table",
    "host_local_table",
    "service_ip_table",
    "ChurnEvent",
    "Replacement",
    "Churn",
    "churn",
    "churn_table",
    "replacements_table",
    "sizing_table",
    "CIDRState",
    "node_cidr_grid",
    "node_cidr_figure",
    "SizingExplorer",
    "sizing_explorer",
    "render_sizing",
    "StripSegment",
    "cidr_strip",
    "server_log",
    "reach_figure",
    "discrepancies_table",
    "get_pods_printed",
    "connection_report",
    "sizing_summary",
]


# --- 00: the course ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CourseEntry:
    """One notebook of the series: its number, title, what it covers and what you do."""

    number: str
    title: str
    covers: str
    you_do: str


#: The series, in order (shared/design/COURSE.md).
COURSE = (
    CourseEntry("00", "Start here", "how to use the course, the map, the lesson's cluster",
                "look at the cluster as kubectl get pods -o wide shows it; check the environment"),
    CourseEntry("01", "The networking model", "the four rules, the flat network, no hidden translation",
                "check each rule on the lesson's cluster; break one with a NAT'd network and see what an app sees"),
    CourseEntry("02", "Three network layers", "node, pod and service networks and their CIDRs; ephemeral pod IPs",
                "allocate node CIDRs and pod IPs; replace pods and watch IPs change while the ClusterIP stays; "
                "size a cluster"),
    CourseEntry("03", "What the CNI plugin does", "the four CNI steps; Flannel, Calico, Cilium, AWS VPC CNI",
                "run a CNI ADD step by step and read the pod's ip addr and ip route; compare plugins"),
    CourseEntry("04", "A request across nodes", "the /32 and 169.254.1.1, VXLAN encapsulation, the cross-node flow",
                "walk a packet hop by hop with its inner and outer headers; switch the CNI"),
    CourseEntry("05", "Services and kube-proxy", "Endpoints and notReadyAddresses, the iptables chains, 1/3, 1/2, 1",
                "read kube-proxy's rules; flip readiness; simulate many connections"),
    CourseEntry("06", "The debugging ladder", "netshoot, DNS name -> ClusterIP -> Pod IP, an app bound to 127.0.0.1",
                "climb the ladder on clusters with injected faults; find a mystery fault"),
    CourseEntry("07", "Practice and quiz", "the three practice questions and the three quiz questions",
                "answer and get feedback that explains; parameterised variants"),
    CourseEntry("08", "Kernel lab (Linux, root)", "all of the above, for real",
                "build the cluster in network namespaces; measure; capture a VXLAN packet; break and fix it"),
)


def course_map() -> DataFrame:
    """The series as a DataFrame indexed by notebook number.

    >>> course_map().loc["05", "title"]
    'Services and kube-proxy'
    """
    import pandas as pd

    frame = pd.DataFrame([dataclasses.asdict(e) for e in COURSE]).set_index("number")
    frame.index.name = "#"
    frame.columns = ["title", "covers from the lesson", "you do"]
    return frame


def environment_check() -> DataFrame:
    """What this kernel can do: versions, whether widgets answer, whether the kernel lab runs.

    The ``widgets`` row builds a slider, observes it and moves it: ``yes`` means the
    callback fired in this kernel (whether the browser draws widgets is a matter of the
    front end). The ``kernel lab`` row is the lab's own probe, when the lab is installed.
    """
    import platform

    import pandas as pd

    rows = [("k8snet_lesson", __version__), ("Python", platform.python_version())]
    for name in ("ipywidgets", "matplotlib", "pandas", "numpy"):
        try:
            module = __import__(name)
            rows.append((name, module.__version__))
        except ImportError:
            rows.append((name, "not installed"))
    try:
        import ipywidgets as w

        seen: list[int] = []
        slider = w.IntSlider(value=1, min=0, max=2)
        slider.observe(lambda change: seen.append(change["new"]), names="value")
        slider.value = 2
        slider.close()  # a test slider, never drawn: take its model out of the front end again
        rows.append(("widgets", "yes: a slider's callback fired" if seen == [2] else "no: the callback did not fire"))
    except ImportError:
        rows.append(("widgets", "no: ipywidgets is not installed"))
    try:
        from ..lab import probe
    except ImportError:
        pass
    else:
        answer = probe()
        rows.append(("kernel lab", "available" if answer.ok else f"not available: {answer.reason}"))
    return pd.DataFrame(rows, columns=["check", "result"]).set_index("check")


def discrepancies_table() -> Table:
    """Where the lesson's numbers disagree with each other or with real clusters, and how
    the course resolves each (:mod:`k8snet_lesson.discrepancies`), 12 rows shown, the rest folded."""
    from ..discrepancies import discrepancies
    from .tables import table

    rows = [{"#": i, "the lesson says": d.lesson, "a real cluster": d.real, "the course": d.course,
             "shown in": f"notebook {d.notebook}"} for i, d in enumerate(discrepancies(), start=1)]
    return table(rows, caption="The lesson's numbers against each other and against real clusters")


_COLUMN_CHOICES = (("kubectl -o wide (real columns)", "wide"), ("the lesson's abridged columns", "lesson"))


@dataclasses.dataclass
class PodsView(Shown):
    """Namespace, node and columns in; ``kubectl get pods -o wide`` as it would print out."""

    cluster: Cluster
    namespace: ipywidgets.Dropdown
    node: ipywidgets.Dropdown
    columns: ipywidgets.ToggleButtons
    output: ipywidgets.HTML
    message: ipywidgets.HTML
    ui: ipywidgets.VBox
    last: str | None = None  # the command and its output, as printed


def pods_command(namespace: str | None, node: str | None) -> str:
    """The kubectl command a view shows (``-A`` for all namespaces; a node is a field selector).

    >>> pods_command("production", "node-eu-west-1a")
    'kubectl get pods -o wide -n production --field-selector spec.nodeName=node-eu-west-1a'
    """
    command = "kubectl get pods -o wide " + (f"-n {namespace}" if namespace else "-A")
    return command + (f" --field-selector spec.nodeName={node}" if node else "")


def get_pods_printed(cluster: Cluster, namespace: str | None = None, node: str | None = None, *,
                     columns: str = "wide") -> str:
    """The ``kubectl get pods -o wide`` command for a namespace (or all) and a node (or any),
    and what kubectl prints for it.

    >>> from k8snet_lesson.scenarios import lesson_cluster
    >>> print(get_pods_printed(lesson_cluster(), "production", "node-eu-west-1b", columns="lesson"))
    $ kubectl get pods -o wide -n production --field-selector spec.nodeName=node-eu-west-1b
    NAME                        READY   STATUS    NODE              IP
    checkout-api-6f8b9d-7rvqn   1/1     Running   node-eu-west-1b   10.244.3.7
    <BLANKLINE>
    """
    from . import kubectl

    if node is not None:
        cluster.node(node)
        cluster = cluster.with_(pods=tuple(p for p in cluster.pods if p.node_name == node))
    text = kubectl.get_pods_wide(cluster, namespace, columns=columns)
    return f"$ {pods_command(namespace, node)}\n" + (text or kubectl.no_resources(namespace) + "\n")


def render_pods(view: PodsView) -> None:
    """The pods view's callback: the command and what kubectl prints for it."""
    namespace = view.namespace.value or None
    node = view.node.value or None
    try:
        printed = get_pods_printed(view.cluster, namespace, node, columns=view.columns.value)
    except K8snetError as exc:
        view.message.value = _message_html(str(exc))
        view.output.value = ""
        view.last = None
        return
    view.message.value = ""
    view.output.value = (
        '<pre class="k8snet-pods-text" style="white-space:pre;overflow-x:auto;font-size:12px;line-height:1.35">'
        f"{html.escape(printed)}</pre>"
    )
    view.last = printed


def pods_view(cluster: Cluster, namespace: str | None = "production", node: str | None = None,
              columns: str = "wide") -> PodsView:
    """Dropdowns for the namespace (or all) and the node (or any), buttons for the columns."""
    import ipywidgets as w

    namespaces = sorted({p.namespace for p in cluster.pods})
    nodes = [n.name for n in cluster.nodes]
    if namespace is not None and namespace not in namespaces:
        raise NotFound(f"no pods in namespace {namespace!r} (namespaces: {', '.join(namespaces) or 'none'})")
    if node is not None and node not in nodes:
        raise NotFound(f"no node {node!r} (nodes: {', '.join(nodes) or 'none'})")
    if columns not in dict(_COLUMN_CHOICES).values():
        raise InvalidValue(f"columns {columns!r} is not one of wide, lesson")
    style = {"description_width": "90px"}
    namespace_box = w.Dropdown(options=[("all namespaces (-A)", "")] + [(n, n) for n in namespaces],
                               value=namespace or "", description="namespace", style=style)
    node_box = w.Dropdown(options=[("any node", "")] + [(n, n) for n in nodes], value=node or "",
                          description="node", style=style)
    column_buttons = w.ToggleButtons(options=list(_COLUMN_CHOICES), value=columns, description="columns",
                                     style={"description_width": "90px", "button_width": "230px"})
    output = w.HTML()
    message = w.HTML()
    namespace_box.add_class("k8snet-pods-namespace")
    node_box.add_class("k8snet-pods-node")
    column_buttons.add_class("k8snet-pods-columns")
    output.add_class("k8snet-pods-output")
    message.add_class("k8snet-message")
    ui = w.VBox([w.HBox([namespace_box, node_box]), column_buttons, message, output])
    view = PodsView(cluster, namespace_box, node_box, column_buttons, output, message, ui)
    for control in (namespace_box, node_box, column_buttons):
        control.observe(lambda change: render_pods(view), names="value")
    render_pods(view)
    return view


# --- the three network layers ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NetworkLayer:
    """One row of the lesson's table "The Three Network Layers in Every Cluster"."""

    network: str
    typical_cidr: IPv4Network
    lives_here: str
    managed_by: str


#: The lesson's table, word for word.
LESSON_NETWORK_LAYERS = (
    NetworkLayer("Node Network", IPv4Network("192.168.0.0/16"),
                 "Physical or virtual machines (the nodes). The real IP addresses you SSH into.",
                 "Cloud VPC / data centre networking"),
    NetworkLayer("Pod Network", IPv4Network("10.244.0.0/16"),
                 "Pod IPs. Every Pod gets an IP from this range. Ephemeral — changes with every Pod restart.",
                 "CNI plugin (Calico, Flannel, Cilium, WeaveNet)"),
    NetworkLayer("Service Network", IPv4Network("10.96.0.0/12"),
                 "Service ClusterIPs. Virtual IPs — no actual network interface holds them. Stable, survive Pod churn.",
                 "kube-proxy / eBPF rules on every node"),
)


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _in_pod_network(pod: Pod) -> bool:
    return pod.node_name is not None and not pod.host_network and pod.pod_ip is not None


def network_layers(cluster: Cluster, max_pods: int = 110) -> DataFrame:
    """The lesson's table of the three networks, extended with ``cluster``'s own CIDRs,
    what is in use and what the ranges hold (:func:`k8snet_lesson.ipam.plan`).

    ``max_pods`` is kubelet's ``--max-pods`` (default 110).
    """
    import pandas as pd

    p = plan(
        cluster_cidr=cluster.cluster_cidr,
        node_cidr_mask_size=cluster.node_cidr_mask_size,
        service_cidr=cluster.service_cidr,
        node_network=cluster.node_network,
        max_pods=max_pods,
    )
    node_network = "(not given)" if cluster.node_network is None else str(cluster.node_network)
    node_capacity = "-" if p.node_addresses is None else _count(p.node_addresses, "node address", "node addresses")
    pods = [pod for pod in cluster.pods if _in_pod_network(pod)]
    cluster_ips = [s for s in cluster.services if s.cluster_ip is not None]
    ours = (
        (node_network, _count(len(cluster.nodes), "node"), node_capacity),
        (str(cluster.cluster_cidr), _count(len(pods), "pod"),
         f"{_count(p.nodes, 'node CIDR')} (/{p.node_cidr_mask_size}) x {p.pods_per_node} pods = {p.total_pods:,} pods"),
        (str(cluster.service_cidr), _count(len(cluster_ips), "ClusterIP"), _count(p.service_ips, "ClusterIP")),
    )
    rows = []
    for layer, (cidr, in_use, capacity) in zip(LESSON_NETWORK_LAYERS, ours):
        rows.append({
            "network": layer.network,
            "typical CIDR": str(layer.typical_cidr),
            "what lives here": layer.lives_here,
            "who manages it": layer.managed_by,
            "this cluster's CIDR": cidr,
            "in use": in_use,
            "capacity (computed)": capacity,
        })
    return pd.DataFrame(rows).set_index("network")


def network_members(cluster: Cluster) -> DataFrame:
    """Every address in ``cluster``, with the network it belongs to and whether it lies in
    that network's CIDR: nodes' InternalIPs (node network), pod IPs (pod network, and
    their node's podCIDR), ClusterIPs (service network).

    A ``hostNetwork`` pod uses its node's IP, so it is listed in the node network.
    ``inside`` is ``None`` where the cluster does not give the CIDR.
    """
    import pandas as pd

    def text(value: IPv4Address | IPv4Network | None, missing: str) -> str:
        return missing if value is None else str(value)

    def inside(address: IPv4Address | None, network: IPv4Network | None) -> bool | None:
        return None if address is None or network is None else address in network

    node_network = text(cluster.node_network, "(not given)")
    rows = []
    for node in cluster.nodes:
        rows.append(("node network", node_network, "Node", node.name, str(node.internal_ip),
                     inside(node.internal_ip, cluster.node_network), ""))
    for pod in cluster.pods:
        if pod.host_network:
            address = pod.pod_ip or (cluster.node(pod.node_name).internal_ip if pod.node_name else None)
            rows.append(("node network", node_network, "Pod", pod.key, text(address, "<none>"),
                         inside(address, cluster.node_network), "hostNetwork: its node's IP"))
            continue
        where = ""
        if pod.node_name is not None:
            node = cluster.node(pod.node_name)
            where = f"on {node.name}, podCIDR {text(node.pod_cidr, '<none>')}"
            if inside(pod.pod_ip, node.pod_cidr) is False:
                where += " (outside it)"
        rows.append(("pod network", str(cluster.cluster_cidr), "Pod", pod.key, text(pod.pod_ip, "<none>"),
                     inside(pod.pod_ip, cluster.cluster_cidr), where))
    for service in cluster.services:
        note = "headless (clusterIP: None)" if service.cluster_ip is None else "virtual: no interface holds it"
        rows.append(("service network", str(cluster.service_cidr), "Service", service.key,
                     text(service.cluster_ip, "None"), inside(service.cluster_ip, cluster.service_cidr), note))
    return pd.DataFrame(rows, columns=["network", "CIDR", "kind", "name", "address", "inside the CIDR", "note"])


# --- 01: the four rules ----------------------------------------------------------------


def rules_table(checks: Sequence[RuleCheck]) -> DataFrame:
    """One row per rule: the lesson's words, whether it holds, and why (the check's reason)."""
    import pandas as pd

    return pd.DataFrame(
        [{"rule": c.number, "the lesson says": c.statement, "holds": c.holds, "evidence": c.reason} for c in checks]
    ).set_index("rule")


_EVIDENCE_COLUMNS = {
    1: ("pod", "node", "pod_ip", "note", "holds"),
    2: ("client", "server", "client_ip", "server_ip", "dialled", "dialled_port", "source_seen", "direct"),
    3: ("client", "server", "client_ip", "server_ip", "dialled", "dialled_port", "source_seen", "direct"),
    4: ("pod", "node", "own_ip", "peers_dial", "peers_observe", "holds"),
}


def evidence_table(check: RuleCheck) -> DataFrame:
    """A rule's evidence rows as a DataFrame, with the columns that decide it.

    Rules 2 and 3: one row per connection (who dials what, and the source the server
    sees); rule 1: one row per pod and its address; rule 4: one row per pod, the IP on
    its ``eth0`` against the IPs peers dial and observe.
    """
    import pandas as pd

    frame = pd.DataFrame(check.rows(), columns=list(_EVIDENCE_COLUMNS[check.number]))
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = ["" if v is None else str(v) for v in frame[column]]
    return frame


def connection_table(connection: Connection) -> DataFrame:
    """One connection as both applications see it, one fact per row."""
    import pandas as pd

    c = connection
    dialled = "nothing to dial" if c.dialled is None else f"{c.dialled}:{c.dialled_port}"
    rows = [
        ("client pod", f"{c.client} on {c.client_node}"),
        ("client's own IP (its eth0)", str(c.client_ip)),
        ("server pod", f"{c.server} on {c.server_node}"),
        ("server's own IP (its eth0)", str(c.server_ip)),
        ("the client dials", dialled),
        ("the connection reaches", c.reached or "nothing"),
        ("source IP the server sees", "-" if c.source_seen is None else str(c.source_seen)),
        ("address rewrites on the way", str(len(c.translations))),
        ("direct (no NAT, real IPs)", "yes" if c.direct else "no"),
    ]
    if c.note:
        rows.append(("note", c.note))
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def access_log_line(connection: Connection, request: str = "GET /health HTTP/1.1", status: int = 200) -> str:
    """The server's access-log line for one request, in the common log format
    (``remote_addr - - [time] "request" status bytes``) with the time and size left out.

    ``remote_addr`` is the source address the server's socket sees. A connection that
    reaches nothing leaves no log line (``""``).
    """
    if connection.reached is None or connection.source_seen is None:
        return ""
    return f'{connection.source_seen} - - [...] "{request}" {status} -'


def _dns_server(cluster: Cluster, connection: Connection) -> bool:
    """Whether the connection is a query to a DNS server: UDP to a pod port 53."""
    if connection.protocol is not Protocol.UDP:
        return False
    server = cluster.pod(connection.server)
    return any(p.container_port == 53 and p.protocol is Protocol.UDP for c in server.containers for p in c.ports)


def server_log(connection: Connection, cluster: Cluster,
               dns_name: str = "checkout-api-svc.production.svc.cluster.local") -> str:
    """What the server records for the connection, in its own terms.

    An HTTP server logs an access-log line (:func:`access_log_line`). A DNS server
    (UDP to port 53, CoreDNS) gets no HTTP request: it gets a query, here an A query for
    ``dns_name``, and sends an answer (:func:`k8snet_lesson.dns.lookup` on ``cluster``).
    A connection that reaches nothing leaves nothing (``""``).
    """
    from ..dns import lookup

    if connection.reached is None or connection.source_seen is None:
        return ""
    if not _dns_server(cluster, connection):
        return "access log: " + access_log_line(connection)
    answer = lookup(cluster, dns_name)
    records = ", ".join(f"A {a}" for a in answer.addresses) or "no record"
    return (f"DNS query from {connection.source_seen}: A? {dns_name}.\n"
            f"DNS answer: {records} ({answer.rcode.value})")


def rewrite_rules(connection: Connection) -> str:
    """The iptables rules that rewrote the connection's addresses, per node, as
    ``iptables-save -t nat`` prints them (empty when nothing was rewritten)."""
    lines = []
    for t in connection.translations:
        lines.append(f"# {t.node_name}, nat table: {t.field} {t.before} -> {t.after}")
        lines.append(t.rule)
    return "\n".join(lines)


def connection_report(connection: Connection, cluster: Cluster) -> Table:
    """One connection as both sides see it, what the server records (:func:`server_log`)
    and the rules that rewrote it, as one readable table."""
    import pandas as pd

    from .tables import table

    frame = connection_table(connection)
    extra = [("what the server records", line) for line in server_log(connection, cluster).splitlines()]
    extra += [(f"rule on {t.node_name}", t.rule) for t in connection.translations]
    frame = pd.concat([frame, pd.DataFrame(extra, columns=["", "value"]).set_index("")])
    return table(frame, index=True)


_REACH_COLOURS = {Reach.DIRECT: "#2e7d32", Reach.TRANSLATED: "#ef6c00", Reach.LOOPBACK: "#1565c0",
                  Reach.REFUSED: "#c62828", Reach.NONE: "#d9d9d9"}
_REACH_LABELS = {Reach.DIRECT: "reaches it, real addresses", Reach.TRANSLATED: "reaches it through NAT",
                 Reach.LOOPBACK: "itself, at 127.0.0.1", Reach.REFUSED: "arrives, refused", Reach.NONE: "cannot reach it"}


def reach_figure(panels: Mapping[str, Sequence[Reachability]], *, width: float = 9.0) -> Figure:
    """Who reaches whom, one panel per network: a row per source (each node's agents, then
    each pod), a column per pod, a cell coloured by how the connection ends
    (:func:`k8snet_lesson.networking_model.who_reaches_whom`)."""
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    order = list(Reach)
    first = next(iter(panels.values()))
    targets = list(dict.fromkeys(r.target for r in first))
    sources = list(dict.fromkeys(r.source for r in first))
    number = {t: f"P{i}" for i, t in enumerate(targets, start=1)}

    def label(source: str) -> str:
        kind, name = source.split("/", 1)
        return f"agents of {name}" if kind == "node" else f"{number.get(source, '')} {name}"

    fig = Figure(figsize=(width, 0.34 * len(sources) + 1.9), dpi=100, facecolor="white")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (title, rows) in zip(axes, panels.items()):
        grid = np.full((len(sources), len(targets)), order.index(Reach.NONE))
        for r in rows:
            grid[sources.index(r.source), targets.index(r.target)] = order.index(r.reach)
        ax.imshow(grid, cmap=ListedColormap([_REACH_COLOURS[r] for r in order]), vmin=0, vmax=len(order) - 1,
                  interpolation="nearest", aspect="auto")
        ax.set_xticks(range(len(targets)))
        ax.set_xticklabels([number[t] for t in targets], fontsize=8)
        ax.set_xticks([x - 0.5 for x in range(1, len(targets))], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, len(sources))], minor=True)
        ax.grid(which="minor", color="white", linewidth=1.2)
        ax.tick_params(which="minor", length=0)
        ax.set_title(title, fontsize=10, color="#222222")
        ax.set_xlabel("to the app of pod ...", fontsize=9, color="#222222")
    axes[0].set_yticks(range(len(sources)))
    axes[0].set_yticklabels([label(s) for s in sources], fontsize=8)
    axes[0].set_ylabel("from ...", fontsize=9, color="#222222")
    shown = [r for r in order if any(row.reach is r for rows in panels.values() for row in rows)]
    fig.legend(handles=[Patch(color=_REACH_COLOURS[r], label=_REACH_LABELS[r]) for r in shown],
               loc="lower center", ncol=len(shown), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


_NETWORK_CHOICES = (("flat (what Kubernetes requires)", "flat"), ("NAT'd per node (plain Docker hosts)", "natted"))


@dataclasses.dataclass
class ConnectionExplorer(Shown):
    """Client, server and network in; what each application sees out."""

    cluster: Cluster
    natted_cluster: Cluster
    natted_network: Network
    client: ipywidgets.Dropdown
    server: ipywidgets.Dropdown
    network: ipywidgets.ToggleButtons
    result: ipywidgets.HTML
    message: ipywidgets.HTML
    ui: ipywidgets.VBox
    last: Connection | None = None


def _connection_html(c: Connection, log_text: str, rules: str) -> str:
    table = connection_table(c)
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(str(k))}</th>"
        f"<td><code>{html.escape(str(v))}</code></td></tr>"
        for k, v in table["value"].items()
    )
    lines = "<br>".join(f"<code>{html.escape(line)}</code>" for line in log_text.splitlines())
    log = (
        f'<div class="k8snet-log-line">what the server records:<br>{lines}</div>'
        if log_text else '<div class="k8snet-log-line">the server records nothing: the connection reaches no pod</div>'
    )
    rewritten = (
        f'<div>the rules that rewrote it:</div><pre class="k8snet-rewrite-rules">{html.escape(rules)}</pre>'
        if rules else "<div>no rule rewrote an address</div>"
    )
    return (
        f'<div class="k8snet-connection-summary" data-direct="{str(c.direct).lower()}">'
        f'<table class="k8snet-connection-table">{rows}</table>{log}{rewritten}</div>'
    )


def render_connection(explorer: ConnectionExplorer) -> None:
    """The connection explorer's callback: connect the chosen pods over the chosen network."""
    client, server = explorer.client.value, explorer.server.value
    problem = ""
    if client is None or server is None:
        problem = "choose a client pod and a server pod"
    elif client == server:
        problem = f"the client and the server are the same pod ({client}): choose two different pods"
    if problem:
        explorer.message.value = _message_html(problem)
        explorer.result.value = ""
        explorer.last = None
        return
    if explorer.network.value == "natted":
        cluster, network = explorer.natted_cluster, explorer.natted_network
    else:
        cluster, network = explorer.cluster, FLAT
    try:
        connection = what_the_app_sees(cluster, network, client, server)
    except K8snetError as exc:
        explorer.message.value = _message_html(str(exc))
        explorer.result.value = ""
        explorer.last = None
        return
    explorer.message.value = ""
    explorer.result.value = _connection_html(connection, server_log(connection, cluster), rewrite_rules(connection))
    explorer.last = connection


def connection_explorer(cluster: Cluster, client: str | None = None, server: str | None = None,
                        network: str = "flat") -> ConnectionExplorer:
    """Dropdowns for the client and server pods, buttons for flat or NAT'd, and the result.

    The NAT'd network is :func:`k8snet_lesson.networking_model.natted` of ``cluster``,
    built once. ``client``/``server`` are pod keys (``namespace/name``).
    """
    import ipywidgets as w

    keys = [pod.key for pod in cluster.pods if _in_pod_network(pod)]
    if len(keys) < 2:
        raise InvalidValue(f"the cluster has {len(keys)} pod(s) in the pod network: a connection needs two")
    for key in (client, server):
        if key is not None and key not in keys:
            raise NotFound(f"no pod {key!r} in the pod network (pods: {', '.join(keys)})")
    if network not in dict(_NETWORK_CHOICES).values():
        raise InvalidValue(f"network {network!r} is not one of flat, natted")
    natted_cluster, natted_network = natted(cluster)
    style = {"description_width": "70px"}
    client_box = w.Dropdown(options=keys, value=client or keys[0], description="client", style=style,
                            layout=w.Layout(width="420px"))
    server_box = w.Dropdown(options=keys, value=server or keys[1], description="server", style=style,
                            layout=w.Layout(width="420px"))
    network_buttons = w.ToggleButtons(options=list(_NETWORK_CHOICES), value=network, description="network",
                                      style={"description_width": "70px", "button_width": "260px"})
    result = w.HTML()
    message = w.HTML()
    client_box.add_class("k8snet-connection-client")
    server_box.add_class("k8snet-connection-server")
    network_buttons.add_class("k8snet-connection-network")
    result.add_class("k8snet-connection-result")
    message.add_class("k8snet-message")
    ui = w.VBox([w.HBox([client_box, server_box]), network_buttons, message, result])
    explorer = ConnectionExplorer(cluster, natted_cluster, natted_network, client_box, server_box, network_buttons,
                                  result, message, ui)
    for control in (client_box, server_box, network_buttons):
        control.observe(lambda change: render_connection(explorer), names="value")
    render_connection(explorer)
    return explorer


# --- 02: allocation ------------------------------------------------------------------


def node_cidr_table(blocks: Mapping[str, IPv4Network]) -> DataFrame:
    """Node name -> ``spec.podCIDR``, with what host-local makes of each block: the
    ``cni0`` gateway (``.1``), the first and last pod IP and how many pods fit.

    >>> node_cidr_table({"node-a": IPv4Network("10.244.0.0/24")}).loc["node-a", "pod IPs"]
    '10.244.0.2 - 10.244.0.254'
    """
    import pandas as pd

    rows = []
    for name, block in blocks.items():
        if block.prefixlen > 30:
            rows.append((name, str(block), "-", "none (a /31 or /32 is too small for host-local)", 0))
            continue
        ipam = HostLocal(block)
        rows.append((name, str(block), str(ipam.gateway), f"{ipam.gateway + 1} - {ipam.range_end}", ipam.capacity))
    return pd.DataFrame(rows, columns=["node", "spec.podCIDR", "cni0 (gateway)", "pod IPs", "pod addresses"]).set_index("node")


def host_local_table(ipam: HostLocal) -> DataFrame:
    """The addresses one node's host-local has handed out, ``.1`` (``cni0``) first; the
    ``last reserved`` column marks the round-robin cursor (the next pod gets the next
    free address after it)."""
    import pandas as pd

    rows = [(str(ipam.gateway), "cni0 (bridge, the pods' gateway)", "")]
    for address, owner in ipam.allocated.items():
        rows.append((str(address), owner, "<- last reserved" if address == ipam.last_reserved_ip else ""))
    return pd.DataFrame(rows, columns=["address", "held by", "cursor"]).set_index("address")


def service_ip_table(service_range: ServiceIPRange) -> DataFrame:
    """The ClusterIPs handed out from one service CIDR, lowest first, with the band each
    lies in: the lower (static) band is preferred for requested IPs such as
    ``kubernetes`` (.1) and ``kube-dns`` (.10); dynamic allocation uses the upper band."""
    import pandas as pd

    last_static = service_range.static_band_last
    rows = []
    for address, owner in service_range.allocated.items():
        band = "lower (static)" if last_static is not None and address <= last_static else "upper (dynamic)"
        rows.append((str(address), owner, band))
    return pd.DataFrame(rows, columns=["ClusterIP", "Service", "band"]).set_index("ClusterIP")


# --- 02: pod churn (the model is k8snet_lesson.churn) ------------------------------


def churn_table(history: Churn) -> DataFrame:
    """One row per step: the Service's ready endpoints (``ip:port``, as kube-proxy will
    program them), its ClusterIP and its DNS name (the last two do not change)."""
    import pandas as pd

    from ..endpoints import endpoints_for

    rows = []
    for step, cluster in enumerate(history.clusters):
        service = cluster.service(history.service)
        endpoints = endpoints_for(cluster, service)
        pairs = [f"{address.ip}:{port.port}" for subset in endpoints.subsets
                 for address in subset.addresses for port in subset.ports]
        rows.append({
            "step": step,
            "event": "(start)" if step == 0 else history.events[step - 1].value,
            "ready endpoints": ",".join(pairs) or "<none>",
            "ClusterIP": str(service.cluster_ip),
            "DNS name": service.dns_name,
        })
    return pd.DataFrame(rows).set_index("step")


def replacements_table(history: Churn, pod: str | None = None) -> DataFrame:
    """One row per pod per step: the pod before and after the event, and its IP.

    ``pod`` (a name or ``namespace/name``) keeps only the rows of that pod and its successors.
    """
    import pandas as pd

    replacements = list(history.replacements)
    if pod is not None:
        lineage = {pod if "/" in pod else f"{history.service.split('/', 1)[0]}/{pod}"}
        kept = []
        for r in replacements:  # in step order: a replacement's successor is followed too
            if r.old_pod in lineage:
                lineage.add(r.new_pod)
                kept.append(r)
        if not kept:
            raise NotFound(f"no replacement of pod {pod!r} in this history")
        replacements = kept
    rows = [
        {"step": r.step, "event": r.event.value, "node": r.node, "old pod": r.old_pod.split("/", 1)[1],
         "old IP": str(r.old_ip), "new pod": r.new_pod.split("/", 1)[1], "new IP": str(r.new_ip),
         "IP changed": r.ip_changed}
        for r in replacements
    ]
    columns = ["step", "event", "node", "old pod", "old IP", "new pod", "new IP", "IP changed"]
    return pd.DataFrame(rows, columns=columns).set_index("step")


# --- 02: sizing ------------------------------------------------------------------------


def sizing_table(p: Plan) -> DataFrame:
    """What a set of flags gives a cluster, one quantity per row (values as text)."""
    import pandas as pd

    rows = [
        ("cluster CIDR (--cluster-cidr)", str(p.cluster_cidr)),
        ("node CIDR mask (--node-cidr-mask-size)", f"/{p.node_cidr_mask_size}"),
        ("node CIDRs in the cluster CIDR", f"{p.node_cidrs:,}"),
        ("nodes (node CIDRs handed out)", f"{p.nodes:,}"),
        ("pod addresses per node CIDR (host-local)", f"{p.pod_addresses_per_node:,}"),
        ("max pods per node (--max-pods)", f"{p.max_pods:,}"),
        ("pods per node", f"{p.pods_per_node:,}"),
        ("pods in the cluster", f"{p.total_pods:,}"),
        ("service CIDR (--service-cluster-ip-range)", str(p.service_cidr)),
        ("ClusterIPs", f"{p.service_ips:,}"),
        ("kubernetes.default ClusterIP", "-" if p.kubernetes_service_ip is None else str(p.kubernetes_service_ip)),
        ("kube-dns ClusterIP", "-" if p.dns_service_ip is None else str(p.dns_service_ip)),
        ("node network", "(not given)" if p.node_network is None else str(p.node_network)),
        ("node addresses", "-" if p.node_addresses is None else f"{p.node_addresses:,}"),
        ("overlaps", "; ".join(str(o) for o in p.overlaps) or "none"),
    ]
    return pd.DataFrame(rows, columns=["quantity", "value"]).set_index("quantity")


class CIDRState(enum.IntEnum):
    """What became of a node CIDR (a cell of :func:`node_cidr_grid`)."""

    FREE = 0
    ASSIGNED = 1
    SERVICE_OVERLAP = 2  # kube-controller-manager filters it out: never assigned
    NODE_OVERLAP = 3  # assignable, but its pod IPs collide with node addresses

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = ("free", "assigned to a node", "overlaps the service CIDR (never assigned)",
                 "overlaps the node network")
_STATE_COLOURS = ("#e6e6e6", "#1f77b4", "#d62728", "#ff7f0e")
# a merged cell shows the most telling state of its blocks
_STATE_RANK = (0, 1, 3, 2)
_MAX_CELLS = 4096


def node_cidr_grid(p: Plan, used: Iterable[IPv4Network] = ()) -> tuple[numpy.ndarray, int]:
    """The cluster CIDR's node CIDRs as a 2-D array of states, and how many node CIDRs each
    cell stands for (1 up to 4,096 node CIDRs; beyond, cells merge in powers of two and
    take the most telling state of their blocks: service overlap, then node-network
    overlap, then assigned).

    ``used`` are podCIDRs assigned to nodes. Cells are in address order, row by row.

    >>> from k8snet_lesson.ipam import plan
    >>> grid, per_cell = node_cidr_grid(plan(cluster_cidr="10.96.0.0/14", node_cidr_mask_size=16,
    ...                                      service_cidr="10.96.0.0/12"))
    >>> grid.tolist(), per_cell
    ([[2, 2], [2, 2]], 1)
    """
    import numpy as np

    total = p.node_cidrs
    per_cell = 1
    while total // per_cell > _MAX_CELLS:
        per_cell *= 2
    cells = total // per_cell
    cell_bits = 32 - p.node_cidr_mask_size + (per_cell.bit_length() - 1)
    base = int(p.cluster_cidr.network_address)
    states = np.zeros(cells, dtype=np.int8)

    rank = np.array(_STATE_RANK)

    def mark(network: IPv4Network, state: CIDRState) -> None:
        if not network.overlaps(p.cluster_cidr):
            return
        first = max(int(network.network_address), base)
        last = min(int(network.broadcast_address), int(p.cluster_cidr.broadcast_address))
        region = states[(first - base) >> cell_bits:((last - base) >> cell_bits) + 1]
        region[rank[region] < rank[state]] = state

    for block in used:
        mark(block, CIDRState.ASSIGNED)
    if p.node_network is not None:
        mark(p.node_network, CIDRState.NODE_OVERLAP)
    mark(p.service_cidr, CIDRState.SERVICE_OVERLAP)
    columns = 1 << ((cells.bit_length() - 1 + 1) // 2)
    return states.reshape(-1, columns), per_cell


def node_cidr_figure(p: Plan, used: Iterable[IPv4Network] = (), *, width: float = 6.0,
                     height: float = 3.6) -> Figure:
    """How the node CIDRs tile the cluster CIDR: one cell per node CIDR (or per group of
    them), coloured free, assigned, or lost to an overlap."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    used = tuple(used)
    grid, per_cell = node_cidr_grid(p, used)
    rows, columns = grid.shape
    fig = Figure(figsize=(width, height), dpi=100, facecolor="white")
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(grid, cmap=ListedColormap(_STATE_COLOURS), vmin=0, vmax=3, interpolation="nearest", aspect="auto")
    unit = "one" if per_cell == 1 else f"{per_cell:,}"
    ax.set_xlabel(f"position in the row (1 cell = {unit} /{p.node_cidr_mask_size} node CIDR"
                  f"{'' if per_cell == 1 else 's'}; {columns} per row)", color="#222222")
    if columns <= 64:
        # white lines between cells, so each node CIDR reads as a square
        ax.set_xticks([x - 0.5 for x in range(1, columns)], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, rows)], minor=True)
        ax.grid(which="minor", color="white", linewidth=0.8)
        ax.tick_params(which="minor", length=0)
    ax.set_ylabel("row (its first node CIDR)", color="#222222")
    ax.set_title(f"{p.cluster_cidr} as /{p.node_cidr_mask_size} node CIDRs: {p.node_cidrs:,} blocks, "
                 f"{p.nodes:,} assignable", fontsize=10, color="#222222")
    ax.set_xticks([0, columns - 1] if columns > 1 else [0])
    ax.set_xticklabels(["1", str(columns)] if columns > 1 else ["1"])
    ax.set_yticks([0, rows - 1] if rows > 1 else [0])
    ax.set_yticklabels([str(p.node_cidr(r * columns * per_cell)) for r in ((0, rows - 1) if rows > 1 else (0,))])
    ax.tick_params(colors="#222222", labelsize=8)
    shown = sorted({int(s) for s in grid.flat} | {CIDRState.FREE})
    legend = ax.legend(handles=[Patch(color=_STATE_COLOURS[s], label=_STATE_LABELS[s]) for s in shown],
                       loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8, frameon=False)
    for text in legend.get_texts():
        text.set_color("#222222")
    fig.tight_layout()
    return fig


@dataclasses.dataclass(frozen=True)
class StripSegment:
    """A run of the cluster CIDR whose node CIDRs share one state (a piece of :func:`cidr_strip`)."""

    first: IPv4Address
    last: IPv4Address
    state: CIDRState
    blocks: int  # node CIDRs the run touches


def cidr_strip(p: Plan, used: Iterable[IPv4Network] = ()) -> tuple[tuple[StripSegment, float], ...]:
    """The cluster CIDR from its lowest address to its highest, cut into runs of one state:
    assigned to a node (``used``), free, lost to the service CIDR (the range allocator
    never hands those blocks out) or colliding with the node network; each run with its
    share of the addresses.

    >>> from k8snet_lesson.ipam import plan
    >>> runs = cidr_strip(plan(cluster_cidr="10.96.0.0/11", node_cidr_mask_size=16, service_cidr="10.96.0.0/12"))
    >>> [(str(s.first), s.state.name, s.blocks, share) for s, share in runs]
    [('10.96.0.0', 'SERVICE_OVERLAP', 16, 0.5), ('10.112.0.0', 'FREE', 16, 0.5)]
    """
    base, end = int(p.cluster_cidr.network_address), int(p.cluster_cidr.broadcast_address)
    marks = [(n, CIDRState.ASSIGNED) for n in used]
    if p.node_network is not None:
        marks.append((p.node_network, CIDRState.NODE_OVERLAP))
    marks.append((p.service_cidr, CIDRState.SERVICE_OVERLAP))
    spans = [(max(int(n.network_address), base), min(int(n.broadcast_address), end), state)
             for n, state in marks if n.overlaps(p.cluster_cidr)]
    cuts = sorted({base, end + 1} | {a for a, _, _ in spans} | {b + 1 for _, b, _ in spans})
    bits = 32 - p.node_cidr_mask_size
    runs: list[list[int]] = []  # [first, last, state]
    for first, after in zip(cuts, cuts[1:]):
        covering = [state for a, b, state in spans if a <= first and after - 1 <= b]
        state = max(covering, key=lambda st: _STATE_RANK[st], default=CIDRState.FREE)
        if runs and runs[-1][2] == state:
            runs[-1][1] = after - 1
        else:
            runs.append([first, after - 1, state])
    size = end - base + 1
    return tuple((StripSegment(IPv4Address(a), IPv4Address(b), CIDRState(st), (b >> bits) - (a >> bits) + 1),
                  (b - a + 1) / size) for a, b, st in runs)


@dataclasses.dataclass
class SizingExplorer(Shown):
    """Five text boxes (the flags) in; capacities, overlaps, warnings and the strip out."""

    cluster_cidr: ipywidgets.Text
    mask: ipywidgets.Text
    max_pods: ipywidgets.Text
    service_cidr: ipywidgets.Text
    node_network: ipywidgets.Text
    result: ipywidgets.HTML
    message: ipywidgets.HTML
    ui: ipywidgets.VBox
    used: tuple[IPv4Network, ...] = ()
    last: Plan | None = None


def _strip_html(p: Plan, used: Iterable[IPv4Network]) -> str:
    runs = cidr_strip(p, used)
    pieces = "".join(
        f'<div class="k8snet-strip-run" data-state="{seg.state.name.lower()}" '
        f'title="{seg.first} - {seg.last}: {html.escape(seg.state.label)}" '
        f'style="flex:{max(share, 0.006):.4f} 0 0;background:{_STATE_COLOURS[seg.state]};min-width:2px"></div>'
        for seg, share in runs
    )
    counts: dict[CIDRState, int] = {}
    for seg, _ in runs:
        counts[seg.state] = counts.get(seg.state, 0) + seg.blocks
    keys = "".join(
        f'<span style="white-space:nowrap;margin-right:14px"><span style="display:inline-block;width:10px;height:10px;'
        f'background:{_STATE_COLOURS[st]};margin-right:4px"></span>{counts[st]:,} {html.escape(st.label)}</span> '
        for st in sorted(counts, key=lambda st: st.value)
    )
    return (
        f'<div class="k8snet-sizing-strip" style="max-width:640px;margin:6px 0">'
        f'<div style="display:flex;height:22px;border:1px solid #888">{pieces}</div>'
        f'<div style="display:flex;justify-content:space-between;font-size:12px;color:#444">'
        f"<span>{p.cluster_cidr.network_address}</span><span>/{p.node_cidr_mask_size} node CIDRs, "
        f"lowest address left</span><span>{p.cluster_cidr.broadcast_address}</span></div>"
        f'<div class="k8snet-sizing-legend" style="font-size:12px;line-height:1.6">{keys}</div></div>'
    )


def _sizing_html(p: Plan, used: Iterable[IPv4Network] = ()) -> str:
    problems = "".join(f'<li class="k8snet-sizing-overlap" style="color:#b00020">{html.escape(str(o))}</li>'
                       for o in p.overlaps)
    problems += "".join(f'<li class="k8snet-sizing-warning" style="color:#8a4b00">{html.escape(w)}</li>'
                        for w in p.warnings)
    verdict = ("the three networks are disjoint" if p.ok
               else f"{len(p.overlaps)} overlap{'s' if len(p.overlaps) != 1 else ''}: addresses would be ambiguous")
    return (
        f'<div class="k8snet-sizing-summary" data-ok="{str(p.ok).lower()}" data-nodes="{p.nodes}" '
        f'data-pods-per-node="{p.pods_per_node}" data-total-pods="{p.total_pods}" '
        f'data-service-ips="{p.service_ips}"><b>{p.nodes:,} nodes x {p.pods_per_node} pods = '
        f"{p.total_pods:,} pods; {p.service_ips:,} ClusterIPs; {verdict}</b></div>"
        + _strip_html(p, used)
        + (f'<ul style="margin:4px 0">{problems}</ul>' if problems else "")
    )


def sizing_summary(p: Plan, used: Iterable[IPv4Network] = ()) -> HTML:
    """What a plan gives, as the sizing explorer shows it (the summary line, the strip, the
    problems), for a notebook cell."""
    from IPython.display import HTML

    return HTML(f'<div style="max-width:720px">{_sizing_html(p, used)}</div>')


def render_sizing(explorer: SizingExplorer) -> None:
    """The sizing explorer's callback: plan the flags, sum up, draw the strip (or say what is wrong)."""
    node_network = explorer.node_network.value.strip() or None
    try:
        p = plan(
            cluster_cidr=explorer.cluster_cidr.value,
            node_cidr_mask_size=explorer.mask.value,
            service_cidr=explorer.service_cidr.value,
            node_network=node_network,
            max_pods=explorer.max_pods.value,
        )
    except K8snetError as exc:
        # nothing stale stays on screen next to the message
        explorer.message.value = _message_html(str(exc))
        explorer.result.value = ""
        explorer.last = None
        return
    explorer.message.value = ""
    used = [n for n in explorer.used if n.subnet_of(p.cluster_cidr) and n.prefixlen == p.node_cidr_mask_size]
    explorer.result.value = _sizing_html(p, used)
    explorer.last = p


def sizing_explorer(cluster_cidr: str = "10.244.0.0/16", node_cidr_mask_size: int | str = 24,
                    max_pods: int | str = 110, service_cidr: str = "10.96.0.0/12",
                    node_network: str = "192.168.0.0/16", used: Iterable[IPv4Network] = ()) -> SizingExplorer:
    """Text boxes for the cluster CIDR, node mask, max pods, service CIDR and node network;
    ``used`` are node CIDRs already handed to nodes (shown as assigned while they fit the flags)."""
    import ipywidgets as w

    style = {"description_width": "150px"}
    layout = w.Layout(width="360px")

    def box(value: str | int, description: str, css: str) -> ipywidgets.Text:
        text = w.Text(value=str(value), description=description, continuous_update=False, style=style, layout=layout)
        text.add_class(css)
        return text

    cluster_box = box(cluster_cidr, "cluster CIDR", "k8snet-sizing-cluster-cidr")
    mask_box = box(node_cidr_mask_size, "node CIDR mask", "k8snet-sizing-mask")
    pods_box = box(max_pods, "max pods per node", "k8snet-sizing-max-pods")
    service_box = box(service_cidr, "service CIDR", "k8snet-sizing-service-cidr")
    node_box = box(node_network, "node network", "k8snet-sizing-node-network")
    result = w.HTML(layout=w.Layout(max_width="720px"))
    result.add_class("k8snet-sizing-result")
    message = w.HTML()
    message.add_class("k8snet-message")
    ui = w.VBox([w.HBox([w.VBox([cluster_box, mask_box, pods_box]), w.VBox([service_box, node_box])]),
                 message, result])
    explorer = SizingExplorer(cluster_box, mask_box, pods_box, service_box, node_box, result, message, ui,
                              used=tuple(used))
    for control in (cluster_box, mask_box, pods_box, service_box, node_box):
        control.observe(lambda change: render_sizing(explorer), names="value")
    render_sizing(explorer)
    return explorer
