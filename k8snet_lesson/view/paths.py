"""Tables, widgets and the two-node diagram of notebooks 03 (CNI plugins) and 04 (a
request across nodes).

Everything here renders what the model computes: the plugins' facts and the CNI ADD
(:mod:`k8snet_lesson.cni`), the frames and their sizes (:mod:`k8snet_lesson.frames`,
encoded with scapy), and the packet walk (:mod:`k8snet_lesson.walk`). It adds no
networking of its own; what it does add is how to show it:

* the lesson's outputs set beside the model's, line by line (:func:`lesson_lines`);
* each header a frame carries and its size, read from the encoded frame's layers
  (:func:`frame_layers`), so "VXLAN adds 50 bytes" is a measurement;
* a diagram of the nodes a walk crosses as a networkx graph of places (pods, host veths,
  the ``cni0`` bridge, the node's routing and netfilter, the tunnel device, the node
  NICs, the node network), laid out on a fixed grid so every run draws the same
  picture, and a map from each hop of a walk to its place (:func:`hop_place`);
* two widgets: the CNI ADD explorer (pick a plugin and a pod) and the walk stepper
  (Next/Previous through the hops, the CNI to walk under).

What the diagram simplifies: a node shows at most three pods (the walk's own first);
netfilter's hooks and the routing decision are one place per node; the node network is
one box, whatever routers it has. Widgets follow :mod:`k8snet_lesson.view.widgets`: a
dataclass of controls, a ``render_*`` callback that reads them, calls the model and
fills the outputs, and a ``.message`` that says what is wrong instead of a traceback.

    >>> lines = lesson_lines(LESSON_IP_ADDR_SHOW, LESSON_IP_ROUTE_SHOW)
    >>> lines["inet"], lines["default route"]
    ('inet 10.244.2.14/32 brd 10.244.2.14 scope global eth0', 'default via 169.254.1.1 dev eth0')
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Sequence
from typing import Any

from .. import cni, frames
from ..cluster import Cluster, Pod
from ..errors import InvalidValue, K8snetError
from .widgets import Shown
from .widgets import message_html as _message_html

__all__ = [
    "LESSON_PLUGINS",
    "LESSON_IP_ADDR_SHOW",
    "LESSON_IP_ROUTE_SHOW",
    "lesson_cni_table",
    "extended_cni_table",
    "plugins_table",
    "lesson_table_notes",
    "CommandOutput",
    "calico_install_table",
    "inner_outer_table",
    "walk_table",
    "ends_table",
    "cni_paths",
    "cni_add_text",
    "step_changes",
    "lesson_lines",
    "lesson_comparison",
    "frame_layers",
    "wire_frames",
    "frame_sizes",
    "frame_sizes_figure",
    "added_headers",
    "max_pods_table",
    "CNIExplorer",
    "cni_explorer",
    "render_cni",
    "hops_table",
    "path_comparison",
    "capture_table",
    "header_fields",
    "headers_table",
    "MAX_PODS_SHOWN",
    "topology",
    "hop_place",
    "walk_places",
    "walk_topology",
    "WalkDiagram",
    "walk_diagram",
    "diagram_png",
    "walk_figure",
    "WalkStepper",
    "hop_caption",
    "render_walk",
    "step",
    "walk_stepper",
]

#: The four plugins of the lesson's table, as profiles.
LESSON_PLUGINS = ("flannel", "calico", "cilium", "aws-vpc")

#: What the lesson prints for ``kubectl exec checkout-api-6f8b9d-2xkpj -- ip addr show eth0``.
LESSON_IP_ADDR_SHOW = (
    "3: eth0@if8: <BROADCAST,MULTICAST,UP,LOWER_UP>\n"
    "    inet 10.244.2.14/32 brd 10.244.2.14 scope global eth0\n"
    "    link/ether 6e:2a:4c:8d:1b:3f brd ff:ff:ff:ff:ff:ff"
)
#: What the lesson prints for ``kubectl exec checkout-api-6f8b9d-2xkpj -- ip route show``.
LESSON_IP_ROUTE_SHOW = "default via 169.254.1.1 dev eth0\n169.254.1.1 dev eth0 scope link"

_LESSON_COLUMNS = ["Plugin", "Approach", "Notable features", "Common in"]


def _pre(text: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return (
        f'<pre{klass} style="white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;line-height:1.35;margin:2px 0 8px 0">'
        f"{html.escape(text)}</pre>"
    )


@dataclasses.dataclass(frozen=True)
class CommandOutput:
    """A command and what it prints, shown as a terminal shows it (wrapped, never cut)."""

    command: str
    text: str

    def _repr_html_(self) -> str:
        return f"<b>$ {html.escape(self.command)}</b>" + _pre(self.text, "k8snet-command-output")

    def __repr__(self) -> str:
        return f"$ {self.command}\n{self.text}"


# --- 03: the plugins compared --------------------------------------------------------


def lesson_cni_table() -> Any:
    """The lesson's table "CNI Plugin / Approach / Notable features / Common in", word for
    word, read from the same data as every other fact about the plugins.

    >>> list(lesson_cni_table().index)
    ['Flannel', 'Calico', 'Cilium', 'AWS VPC CNI']
    """
    table = cni.comparison_table().loc[list(LESSON_PLUGINS), _LESSON_COLUMNS]
    return table.set_index("Plugin").rename_axis("CNI Plugin")


def extended_cni_table() -> Any:
    """Every profile (a plugin in one mode) with what the lesson's table leaves out:
    encapsulation, the bytes it adds (measured from frames), the pod MTU, where a node's
    routes to other nodes' pods come from, NetworkPolicy and how Services work."""
    table = cni.comparison_table()
    return table.drop(columns=["Approach", "Notable features", "Common in"])


def plugins_table(columns: Sequence[str] = ("Plugin", "Mode", "Encapsulation", "Overhead (bytes)", "MTU",
                                            "NetworkPolicy")) -> Any:
    """:func:`extended_cni_table`'s ``columns`` as a readable table (text wraps, never cut)."""
    from .tables import table

    frame = cni.comparison_table()
    return table(frame[list(columns)].rename_axis("profile"))


def lesson_table_notes() -> Any:
    """The footnotes to the lesson's plugin table: what it says, what holds, the source."""
    from .tables import table

    return table([{"plugin": cni.profile(n.profile).plugin, "the lesson says": n.says, "what holds": n.fact,
                   "source": n.source} for n in cni.lesson_table_notes()])


def calico_install_table() -> Any:
    """How Calico encapsulates per install method, from the data file."""
    from .tables import table

    rows = []
    for m in cni.calico_install_methods():
        p = cni.profile(m.profile)
        encapsulation = {"none": "none", "vxlan": "VXLAN", "ipip": "IP-in-IP"}[p.encapsulation.value]
        if m.cross_subnet:
            encapsulation += " between subnets only"
        rows.append({"install method": m.method, "IP pool setting": m.pool_setting, "encapsulation": encapsulation,
                     "overhead (bytes)": frames.encapsulation_overhead(p), "source": m.source})
    return table(rows)


# --- 03: the CNI ADD ----------------------------------------------------------------


def cni_add_text(add: cni.CNIAdd) -> str:
    """The CNI ADD as a transcript: each step's title, the commands it amounts to and
    what it did, then what ``ip addr show eth0`` and ``ip route show`` print in the pod
    and ``ip route show`` on the node."""
    out = [f"CNI ADD of {add.pod.key} on {add.node.name} with {add.profile.plugin} ({add.profile.mode})", ""]
    for step in add.steps:
        out.append(f"Step {step.number}: {step.title}")
        out += [f"  $ {line}" if not line.startswith("#") else f"  {line}" for line in step.commands]
        out.append(f"  -> {step.explanation}")
        out.append("")
    out.append(f"$ kubectl exec {add.pod.name} -n {add.pod.namespace} -- ip addr show eth0")
    out.append(add.ip_addr_show)
    out.append(f"$ kubectl exec {add.pod.name} -n {add.pod.namespace} -- ip route show")
    out.append(add.ip_route_show)
    out.append(f"$ ip route show    # on {add.node.name}")
    out.append(add.node_route_show)
    return "\n".join(out)


def step_changes(add: cni.CNIAdd) -> Any:
    """What each step changed: the pod's devices and routes, and the node's new devices
    and new routes (compared with the state before the step)."""
    import pandas as pd

    rows = []
    before_node = add.steps[0].node
    before_pod_routes: set[str] = set()
    for step in add.steps:
        pod, node = step.pod, step.node
        old_links = {link.name for link in before_node.links}
        old_routes = {str(r) for r in before_node.routes}
        pod_routes = [str(r) for r in sorted(pod.routes, key=lambda r: r.sort_key)]
        rows.append({
            "step": step.number,
            "what": step.title,
            "pod: devices": ", ".join(link.name for link in pod.links),
            "pod: eth0 address": ", ".join(str(a) for link in pod.links if link.name == "eth0" for a in link.addresses)
            or "-",
            "pod: new routes": "; ".join(r for r in pod_routes if r not in before_pod_routes) or "-",
            "node: new devices": ", ".join(link.name for link in node.links if link.name not in old_links) or "-",
            "node: new routes": "; ".join(str(r) for r in sorted(node.routes, key=lambda r: r.sort_key)
                                          if str(r) not in old_routes) or "-",
        })
        before_node, before_pod_routes = node, set(pod_routes)
    return pd.DataFrame(rows).set_index("step")


def lesson_lines(ip_addr_show: str, ip_route_show: str) -> dict[str, str]:
    """The lines worth comparing in an ``ip addr show eth0`` / ``ip route show`` pair:
    the interface line, ``link/ether``, ``inet``, the default route and the others."""
    addr = [line.strip() for line in ip_addr_show.splitlines()]
    routes = [line.strip() for line in ip_route_show.splitlines() if line.strip()]
    default = next((r for r in routes if r.startswith("default ")), "-")
    return {
        "interface": next((line for line in addr if line.split(":")[0].isdigit()), "-"),
        "link/ether": next((line for line in addr if line.startswith("link/ether")), "-"),
        "inet": next((line for line in addr if line.startswith("inet ")), "-"),
        "default route": default,
        "other routes": "; ".join(r for r in routes if r != default) or "-",
    }


def lesson_comparison(cluster: Cluster, pod: Pod | str, cnis: Sequence[str] = ("calico", "flannel")) -> Any:
    """The lesson's ``ip addr show eth0`` and ``ip route show`` for ``pod`` beside what
    each plugin really prints for it, line by line."""
    import pandas as pd

    columns = {"lesson": lesson_lines(LESSON_IP_ADDR_SHOW, LESSON_IP_ROUTE_SHOW)}
    for name in cnis:
        add = cni.cni_add(cluster, pod, name)
        columns[f"{add.profile.plugin} ({name})"] = lesson_lines(add.ip_addr_show, add.ip_route_show)
    return pd.DataFrame(columns).rename_axis("line")


# --- 03: frames, overhead, MTU ------------------------------------------------------------


def frame_layers(inner: frames.Headers, outer: frames.Outer | None = None) -> list[tuple[str, int]]:
    """Each header of the encoded frame, outermost first, with its length in bytes as the
    encoded frame holds it (scapy's layers: ``len(layer) - len(layer.payload)``).

    TCP's length includes its options (20 + 20 for Linux's SYN).
    """
    packet = frames.build(inner, outer)
    layers: list[tuple[str, int]] = []
    seen = 0
    layer = packet
    while layer is not None and layer.__class__.__name__ not in ("NoPayload", "Padding"):
        own = len(layer) - len(layer.payload)
        name = layer.__class__.__name__
        label = {"Ether": "Ethernet", "IP": "IPv4", "SCTPChunkInit": "SCTP INIT"}.get(name, name)
        if seen and name in ("Ether", "IP") and any(n.startswith(label) for n, _ in layers):
            label = f"inner {label}"
        layers.append((label, own))
        seen += own
        layer = layer.payload if layer.payload is not None and len(layer.payload) else None
    return layers


def wire_frames(cluster: Cluster, source: Pod | str, destination: Any, port: int,
                cnis: Iterable[str] | None = None, *, seed: int = 0) -> dict[str, tuple[Any, Any]]:
    """For each CNI (every profile unless named), the request's first hop and its hop on
    the node network (what a capture on the pod's ``eth0`` and on the node's ``eth0``
    would show), from :func:`k8snet_lesson.walk.request`."""
    from .. import walk

    out = {}
    for name in cnis if cnis is not None else cni.profiles():
        w = walk.request(cluster, source, destination, port, cni=name, seed=seed)
        between = [h for h in w.hops if h.node is None]
        if not between:
            raise InvalidValue(f"the request from {w.client.key} to {destination} stays on {w.client.node_name}: "
                               "no frame crosses the node network")
        out[w.cni.name] = (w.hops[0], between[0])
    return out


def frame_sizes(wire: dict[str, tuple[Any, Any]]) -> Any:
    """For each CNI of :func:`wire_frames`, the first packet encoded as the pod sends it
    and as it crosses the node network, and what the difference makes of the MTU.

    ``overhead`` is the measured difference; ``pod MTU`` is the underlay's MTU minus it,
    which is what each project documents (the profile's ``mtu``).
    """
    import pandas as pd

    rows = []
    for name, (first, between) in wire.items():
        p = cni.profile(name)
        pod_frame = frames.frame_length(first.inner, first.outer)
        wire_frame = frames.frame_length(between.inner, between.outer)
        overhead = wire_frame - pod_frame
        rows.append({
            "profile": p.name,
            "encapsulation": p.encapsulation.value,
            "pod's frame (bytes)": pod_frame,
            "on the node network (bytes)": wire_frame,
            "overhead (bytes)": overhead,
            "underlay MTU": p.underlay_mtu,
            "pod MTU = underlay - overhead": p.underlay_mtu - overhead,
            "documented MTU": p.mtu,
        })
    return pd.DataFrame(rows).set_index("profile")


_LAYER_COLOURS = {
    "Ethernet": "#8c564b", "IPv4": "#1f77b4", "UDP": "#ff7f0e", "VXLAN": "#d62728",
    "inner Ethernet": "#c49c94", "inner IPv4": "#aec7e8", "TCP": "#2ca02c", "SCTP": "#98df8a",
}


def frame_sizes_figure(layers_by_cni: dict[str, list[tuple[str, int]]], *, pod_frames: dict[str, int] | None = None,
                       title: str | None = None, width: float = 8.0, height: float = 4.2):
    """One horizontal bar per CNI: the frame on the node network, header by header.

    ``layers_by_cni`` maps a label to :func:`frame_layers` of its wire frame; the headers
    the encapsulation adds (:func:`added_headers`) are hatched, so the hatched length is
    the overhead: 50 bytes for VXLAN, 20 for IP-in-IP (its outer Ethernet header is not
    added, it replaces the Pod's). With ``pod_frames`` (label -> the pod's own frame
    length) each bar says what it adds. The legend sits below the axes in rows of four.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(width, height), dpi=100, facecolor="white")
    ax = fig.add_subplot(1, 1, 1)
    ink = "#222222"
    names = list(layers_by_cni)
    seen: dict[str, Any] = {}
    for row, name in enumerate(names):
        layers = layers_by_cni[name]
        added = added_headers(layers)
        left = 0
        for i, (label, size) in enumerate(layers):
            colour = _LAYER_COLOURS.get(label, "#7f7f7f")
            ax.barh(row, size, left=left, color=colour, edgecolor="white", hatch="//" if i in added else None)
            seen.setdefault(label, colour)
            left += size
        note = f"{left} bytes"
        if pod_frames is not None and name in pod_frames:
            note += f" = {pod_frames[name]} + {left - pod_frames[name]} added"
        ax.text(left + 2, row, note, va="center", fontsize=9, color=ink)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("frame length on the node network (bytes)", fontsize=9)
    ax.set_xlim(0, max(sum(s for _, s in layers) for layers in layers_by_cni.values()) * 1.45)
    ax.set_title(title or "The first packet (a TCP SYN) as it crosses the node network", fontsize=10, color=ink)
    handles = [Patch(facecolor=c, label=l) for l, c in seen.items()]
    handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="//", label="added by the encapsulation"))
    legend = ax.legend(handles=handles, fontsize=8.5, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=4,
                       frameon=False, handlelength=1.6, columnspacing=1.4)
    for text in legend.get_texts():
        text.set_color(ink)
    ax.set_facecolor("white")
    for spine in ax.spines.values():
        spine.set_color(ink)
    ax.tick_params(colors=ink)
    ax.xaxis.label.set_color(ink)
    fig.tight_layout()
    return fig


def added_headers(layers: Sequence[tuple[str, int]]) -> set[int]:
    """Which of a wire frame's headers (:func:`frame_layers`) the encapsulation added.

    VXLAN carries the Pod's whole frame: everything before the inner Ethernet header is
    added. IP-in-IP carries the Pod's IP packet behind a new Ethernet header that
    replaces the Pod's own: only the outer IPv4 header is added. No inner header: none.

    >>> sorted(added_headers([("Ethernet", 14), ("IPv4", 20), ("inner IPv4", 20), ("TCP", 40)]))
    [1]
    """
    labels = [label for label, _ in layers]
    if "inner Ethernet" in labels:
        return set(range(labels.index("inner Ethernet")))
    if "inner IPv4" in labels:
        first = 1 if labels and labels[0] == "Ethernet" else 0
        return set(range(first, labels.index("inner IPv4")))
    return set()


def max_pods_table() -> Any:
    """The AWS VPC CNI's pods per node, ``ENIs x (IPs per ENI - 1) + 2``, for the
    instance types of the data file, beside what ``eni-max-pods.txt`` lists."""
    import pandas as pd

    rows = [
        {
            "instance type": t.name,
            "ENIs": t.enis,
            "IPv4 addresses per ENI": t.ips_per_eni,
            "ENIs x (IPs - 1) + 2": t.max_pods,
            "eni-max-pods.txt": t.max_pods_listed,
        }
        for t in cni.instance_types().values()
    ]
    return pd.DataFrame(rows).set_index("instance type")


# --- 03: the CNI ADD explorer -----------------------------------------------------------


@dataclasses.dataclass
class CNIExplorer(Shown):
    """A plugin and a pod in; the CNI ADD's four steps and what the pod prints out."""

    cluster: Cluster
    pods: dict[str, Pod]
    cni: Any
    pod: Any
    output: Any
    message: Any
    ui: Any
    last: cni.CNIAdd | None = None


def _pod_choices(cluster: Cluster) -> dict[str, Pod]:
    """The cluster's pods on the pod network, then one new pod (no IP yet) per node."""
    choices: dict[str, Pod] = {}
    for pod in cluster.pods:
        if pod.host_network or pod.node_name is None:
            continue
        choices[f"{pod.key} ({pod.pod_ip}, {pod.node_name})"] = pod
    for node in cluster.nodes:
        new = Pod("production", f"new-pod-{node.name}", labels={"app": "new-pod"}, node_name=node.name)
        choices[f"a new pod on {node.name} (no IP yet)"] = new
    return choices


def render_cni(explorer: CNIExplorer) -> None:
    """The explorer's callback: run the CNI ADD and show its steps and outputs."""
    try:
        pod = explorer.pods.get(explorer.pod.value)
        if pod is None:
            raise InvalidValue(f"no pod {explorer.pod.value!r} to choose")
        add = cni.cni_add(explorer.cluster, pod, explorer.cni.value)
    except K8snetError as exc:
        explorer.message.value = _message_html(str(exc))
        explorer.output.value = ""
        explorer.last = None
        return
    steps = "".join(
        f'<div class="k8snet-cni-step" data-step="{s.number}"><b>Step {s.number}: {html.escape(s.title)}</b>'
        + _pre("\n".join(s.commands))
        + f'<div style="max-width:760px;margin-bottom:8px">{html.escape(s.explanation)}</div></div>'
        for s in add.steps
    )
    where = f"{add.pod.name} -n {add.pod.namespace}"
    outputs = (
        f"<b>$ kubectl exec {html.escape(where)} -- ip addr show eth0</b>"
        + _pre(add.ip_addr_show, "k8snet-cni-ip-addr")
        + f"<b>$ kubectl exec {html.escape(where)} -- ip route show</b>"
        + _pre(add.ip_route_show, "k8snet-cni-ip-route")
        + f"<b>$ ip route show</b> (on {html.escape(add.node.name)})"
        + _pre(add.node_route_show, "k8snet-cni-node-route")
    )
    notes = "".join(f'<div style="max-width:760px;color:#444"><i>{html.escape(n)}</i></div>' for n in add.notes)
    explorer.message.value = ""
    explorer.output.value = (
        f'<div class="k8snet-cni-summary" data-cni="{html.escape(add.profile.name)}" '
        f'data-address="{add.address}"><b>{html.escape(add.profile.plugin)} ({html.escape(add.profile.mode)}) '
        f"gives {html.escape(add.pod.key)} {add.address} on {html.escape(add.node.name)}</b></div>"
        + steps + outputs + notes
    )
    explorer.last = add


def cni_explorer(cluster: Cluster, pod: str | None = None, cni_name: str = "flannel") -> CNIExplorer:
    """Dropdowns for the CNI profile and the pod (the cluster's, or a new one per node)."""
    import ipywidgets as w

    pods = _pod_choices(cluster)
    if not pods:
        raise InvalidValue("the cluster has no pod on the pod network and no node to start one on")
    labels = list(pods)
    chosen = labels[0]
    if pod is not None:
        key = cluster.pod(pod).key
        chosen = next((label for label, p in pods.items() if p.key == key), None)
        if chosen is None:
            raise InvalidValue(f"pod {key} is not on the pod network (hostNetwork or unscheduled)")
    profile = cni.profile(cni_name)
    style = {"description_width": "60px"}
    cni_box = w.Dropdown(options=[(f"{p.plugin} ({p.mode})", name) for name, p in cni.profiles().items()],
                         value=profile.name, description="CNI", style=style, layout=w.Layout(width="420px"))
    pod_box = w.Dropdown(options=labels, value=chosen, description="pod", style=style,
                         layout=w.Layout(width="560px"))
    output = w.HTML()
    message = w.HTML()
    cni_box.add_class("k8snet-cni-choice")
    pod_box.add_class("k8snet-cni-pod")
    output.add_class("k8snet-cni-output")
    message.add_class("k8snet-message")
    ui = w.VBox([w.HBox([cni_box, pod_box]), message, output])
    explorer = CNIExplorer(cluster, pods, cni_box, pod_box, output, message, ui)
    for control in (cni_box, pod_box):
        control.observe(lambda change: render_cni(explorer), names="value")
    render_cni(explorer)
    return explorer


# --- 04: a walk as tables -------------------------------------------------------------------


def _hop_rows(hops: Iterable[Any]) -> list[dict[str, Any]]:
    rows = []
    for number, hop in enumerate(hops, start=1):
        inner = hop.inner
        rows.append({
            "hop": number,
            "node": hop.node or "(between nodes)",
            "where": hop.where,
            "source": f"{inner.src_ip}:{inner.src_port}",
            "destination": f"{inner.dst_ip}:{inner.dst_port}",
            "outer headers": str(hop.outer) if hop.outer is not None else "-",
            "frame (bytes)": hop.frame_bytes if hop.frame_bytes is not None else "-",
            "what happens": hop.action,
        })
    return rows


def hops_table(w: Any, *, reply: bool = False) -> Any:
    """The request's hops (or the reply's) of a :class:`k8snet_lesson.walk.Walk`: where
    the packet is, its addresses and ports there (the inner packet when encapsulated),
    the outer headers between nodes, the encoded frame's size and what happens."""
    import pandas as pd

    hops = w.reply if reply else w.hops
    return pd.DataFrame(_hop_rows(hops)).set_index("hop")


def _changed_nothing(hop: Any, before: Any | None) -> bool:
    """A netfilter hook the packet passed without any rewrite."""
    from ..walk import HopKind

    return (hop.kind is HopKind.NAT and before is not None and hop.inner == before.inner
            and hop.outer == before.outer)


def _without_quiet_hooks(hops: Sequence[Any]) -> list[Any]:
    return [h for i, h in enumerate(hops) if not _changed_nothing(h, hops[i - 1] if i else None)]


def walk_table(w: Any, *, reply: bool = False, caption: str = "", quiet_hooks: bool = False) -> Any:
    """:func:`hops_table` as a learner reads it (:func:`k8snet_lesson.view.tables.table`:
    text left-aligned and wrapped, never cut): where the packet is, the packet's
    addresses, ports and TTL there (the inner packet when encapsulated), the outer header
    between nodes and what happens. ``quiet_hooks`` leaves out netfilter hooks that
    rewrote nothing."""
    import pandas as pd

    from .tables import table

    hops = list(w.reply if reply else w.hops)
    if quiet_hooks:
        hops = _without_quiet_hooks(hops)
    rows = [{"hop": r["hop"], "node": r["node"], "where": r["where"],
             "packet (inner)": f"{r['source']} -> {r['destination']}, TTL {h.inner.ttl}",
             "outer header": r["outer headers"], "what happens": r["what happens"]}
            for r, h in zip(_hop_rows(hops), hops)]
    frame = pd.DataFrame(rows).set_index("hop")
    if all(h.outer is None for h in hops):
        frame = frame.drop(columns=["outer header"])
    return table(frame, caption=caption or f"{w.client.key} -> {w.destination}, {w.cni.plugin} ({w.cni.mode})")


def ends_table(w: Any) -> Any:
    """The packet as the client Pod sent it and as the server Pod received it."""
    from .tables import table

    sent, got = w.hops[0].inner, w.arrived
    return table(caption=f"{w.cni.plugin} ({w.cni.mode})", data=[{"": label, "source": f"{h.src_ip}:{h.src_port}", "destination": f"{h.dst_ip}:{h.dst_port}",
                   "TTL": h.ttl} for label, h in ((f"sent by {w.client.name}", sent),
                                                  (f"received by {w.server.name if w.server else w.destination}", got))])


def inner_outer_table(hop: Any) -> Any:
    """The headers of one hop side by side: the outer header the tunnel added and the
    packet the pods exchange inside it, field by field (``-`` where a header has no such
    field)."""
    from .tables import table

    fields = header_fields(hop)
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for header, field, value in fields:
        layer = "outer" if header.startswith(("outer ", "VXLAN")) else "inner"
        kind = header.removeprefix("outer ").removeprefix("inner ")
        rows.setdefault((kind, field), {"outer": "-", "inner": "-"})[layer] = value
    records = [{"header": k, "field": f, "outer (node to node)": v["outer"], "inner (Pod to Pod)": v["inner"]}
               for (k, f), v in rows.items() if k != "frame" and f != "MSS option"]
    return table(records, caption=f"at {hop.where}: the outer header in front, the Pod's packet inside "
                                  f"({hop.outer.encapsulation.value if hop.outer else 'no tunnel'})")


def header_fields(hop: Any) -> list[tuple[str, str, str]]:
    """Every header field of a hop's frame as ``(header, field, value)``, outermost first:
    the outer Ethernet, IPv4, UDP and VXLAN headers when encapsulated, then the packet the
    pods exchange (its Ethernet header where the link has one)."""
    from ..cluster import Protocol

    fields: list[tuple[str, str, str]] = []
    outer, inner = hop.outer, hop.inner
    prefix = ""
    if outer is not None:
        fields += [
            ("outer Ethernet", "source MAC", str(outer.src_mac)),
            ("outer Ethernet", "destination MAC", str(outer.dst_mac)),
            ("outer IPv4", "source", str(outer.src_ip)),
            ("outer IPv4", "destination", str(outer.dst_ip)),
            ("outer IPv4", "protocol", "17 (UDP)" if outer.encapsulation is cni.Encapsulation.VXLAN else "4 (IP-in-IP)"),
            ("outer IPv4", "TTL", str(outer.ttl)),
        ]
        if outer.encapsulation is cni.Encapsulation.VXLAN:
            fields += [
                ("outer UDP", "source port", str(outer.src_port)),
                ("outer UDP", "destination port", str(outer.dst_port)),
                ("VXLAN", "VNI", str(outer.vni)),
            ]
        prefix = "inner "
    if inner.src_mac is not None and inner.dst_mac is not None:
        fields += [
            (f"{prefix}Ethernet", "source MAC", str(inner.src_mac)),
            (f"{prefix}Ethernet", "destination MAC", str(inner.dst_mac)),
        ]
    fields += [
        (f"{prefix}IPv4", "source", str(inner.src_ip)),
        (f"{prefix}IPv4", "destination", str(inner.dst_ip)),
        (f"{prefix}IPv4", "TTL", str(inner.ttl)),
    ]
    transport = inner.protocol.value
    fields += [(transport, "source port", str(inner.src_port)), (transport, "destination port", str(inner.dst_port))]
    if inner.protocol is Protocol.TCP:
        flags = {"S": "SYN", "SA": "SYN-ACK"}.get(inner.tcp_flags, inner.tcp_flags)
        fields += [(transport, "flags", flags), (transport, "MSS option", str(inner.mss))]
    if hop.frame_bytes is not None:
        fields.append(("frame", "length (bytes)", str(hop.frame_bytes)))
    return fields


def headers_table(hop: Any) -> Any:
    """:func:`header_fields` as a DataFrame indexed by header and field."""
    import pandas as pd

    return pd.DataFrame(header_fields(hop), columns=["header", "field", "value"]).set_index(["header", "field"])


def _where_short(hop: Any) -> str:
    if hop.node is None:
        return "node network" if hop.where.startswith("node network") else hop.where
    if hop.where.endswith(" eth0") and "/" in hop.where:
        return "pod eth0"
    return hop.where


def path_comparison(walks: dict[str, Any]) -> Any:
    """One row per CNI for the same request (``walks`` maps a label to its
    :class:`~k8snet_lesson.walk.Walk`): the places it passes, what crosses the node
    network, where the Service's address is translated, and what each end sees."""
    import pandas as pd

    from ..walk import Rewrite

    rows = []
    for label, w in walks.items():
        wire = [h for h in w.hops if h.node is None]
        if not wire:
            on_wire = "(stays on the node)"
        elif wire[0].outer is not None:
            on_wire = str(wire[0].outer)
        else:
            on_wire = f"no encapsulation: {wire[0].inner.src_ip} -> {wire[0].inner.dst_ip}"
        dnat = [h for h in w.hops if h.rewrite is Rewrite.DNAT]
        if dnat:
            translated = f"DNAT in {dnat[0].node}'s {dnat[0].table} {dnat[0].chain}"
        elif w.service is not None and w.cni.replaces_kube_proxy:
            translated = "at connect(), by Cilium's socket LB: no DNAT on the wire"
        else:
            translated = "-"
        reply = w.reply_arrived
        rows.append({
            "CNI": label,
            "request hops": len(w.hops),
            "path": " > ".join(_where_short(h) for h in w.hops),
            "between the nodes": on_wire,
            "frame there (bytes)": wire[0].frame_bytes if wire and wire[0].frame_bytes is not None else "-",
            "Service address translated": translated,
            "server sees source": str(w.arrived.src_ip),
            "reply reaches the client from": f"{reply.src_ip}:{reply.src_port}" if reply is not None else "-",
        })
    return pd.DataFrame(rows).set_index("CNI")


def cni_paths(walks: dict[str, Any], *, caption: str = "") -> Any:
    """The same Pod-to-Pod request under several CNIs (``walks`` maps a label to its
    walk): how many hops, what is on the node network, the bytes there beside the
    Pod's own frame, and the TTL and source Pod B sees."""
    from ..walk import HopKind
    from .tables import table

    rows = []
    for label, w in walks.items():
        wire = next((h for h in w.hops if h.kind is HopKind.WIRE), None)
        if wire is None:
            between = "(stays on the node)"
        elif wire.outer is not None:
            between = str(wire.outer)
        else:
            between = f"no tunnel: {wire.inner.src_ip} -> {wire.inner.dst_ip} as sent"
        added = (wire.frame_bytes - w.hops[0].frame_bytes) if wire is not None and wire.frame_bytes else 0
        rows.append({
            "CNI": label,
            "hops": len(w.hops),
            "on the node network": between,
            "bytes added": added,
            "TTL at Pod B": w.arrived.ttl,
            "Pod B sees source": str(w.arrived.src_ip),
        })
    first = next(iter(walks.values()), None)
    default = f"{first.client.key} -> {first.destination}, one row per CNI profile" if first is not None else ""
    return table(rows, caption=caption or default)


def capture_table(packets: Sequence[Any]) -> Any:
    """Frames read back from a pcap (scapy packets, :func:`k8snet_lesson.frames.read_pcap`)
    as a capture tool lists them: length, the stack of headers, the outer and the inner
    addresses and ports (numbers, not service names)."""
    import pandas as pd

    rows = []
    for number, packet in enumerate(packets, start=1):
        stack, layer = [], packet
        while layer is not None and layer.__class__.__name__ not in ("NoPayload", "Raw", "Padding"):
            stack.append(layer)
            layer = layer.payload if len(layer.payload) else None
        names = [l.__class__.__name__ for l in stack]
        ips = [l for l in stack if l.__class__.__name__ == "IP"]
        transport = stack[-1]
        outer = f"{ips[0].src} -> {ips[0].dst}" if len(ips) > 1 else "-"
        if "UDP" in names and len(ips) > 1:
            udp = stack[names.index("UDP")]
            outer += f" UDP {udp.sport}->{udp.dport}"
        inner = ips[-1]
        ports = (transport.sport, transport.dport) if hasattr(transport, "sport") else ("", "")
        rows.append({
            "frame": number,
            "bytes": len(packet),
            "headers": " / ".join(names),
            "outer": outer,
            "packet": f"{inner.src}:{ports[0]} -> {inner.dst}:{ports[1]}",
        })
    return pd.DataFrame(rows).set_index("frame")


# --- 04: the diagram ----------------------------------------------------------------------

#: How many pods a node shows in the diagram (the walk's own pods first).
MAX_PODS_SHOWN = 3
_NODE_WIDTH = 6.0
_Y = {"pod": 5.0, "veth": 3.9, "bridge": 2.8, "routing": 1.7, "tunnel": 0.75, "nic": -0.2, "network": -1.4}


def _short(pod: Pod) -> str:
    """The workload part of a pod's name (``checkout-api`` of ``checkout-api-6f8b9d-2xkpj``)."""
    parts = pod.name.split("-")
    return "-".join(parts[:-2]) if len(parts) > 2 else pod.name


def topology(cluster: Cluster, cni_name: str | cni.CNIProfile, nodes: Sequence[str],
             pods: Iterable[Pod | str] = ()) -> Any:
    """The places a packet can be on ``nodes`` under a CNI, as a networkx graph.

    Graph nodes are tuples: ``("pod", node, pod key)``, ``("veth", node, pod key)``,
    ``("bridge", node)`` (bridge plugins), ``("routing", node)`` (routing and netfilter; the
    eBPF datapath for Cilium), ``("tunnel", node)`` (plugins with a tunnel device),
    ``("nic", node)`` and ``("network",)``. Each carries ``node``, ``kind``, ``label``,
    ``answers`` (the device names a hop's ``device`` finds it by) and ``pos`` (x, y): nodes side by
    side in the order given, ``_NODE_WIDTH`` apart, layers at fixed heights. Edges are the
    links a packet can take. ``pods`` are shown first on their node, then the node's
    other pods, at most :data:`MAX_PODS_SHOWN` per node.
    """
    import networkx as nx

    p = cni.profile(cni_name)
    wanted = [cluster.pod(q) if isinstance(q, str) else q for q in pods]
    g = nx.Graph(cni=p.name)
    network = ("network",)
    if not nodes:
        raise InvalidValue("a diagram needs at least one node")
    for column, node_name in enumerate(nodes):
        node = cluster.node(node_name)
        x0 = column * _NODE_WIDTH
        shown = [q for q in wanted if q.node_name == node.name]
        for q in cluster.pods_on(node.name):
            if q.host_network or q.pod_ip is None or any(s.key == q.key for s in shown):
                continue
            shown.append(q)
        shown = shown[:MAX_PODS_SHOWN]
        routing = ("routing", node.name)
        ebpf = p.route_source is cni.RouteSource.CILIUM_AGENT
        g.add_node(routing, node=node.name, kind="routing", pos=(x0, _Y["routing"]),
                   label="eBPF datapath\n(no iptables)" if ebpf else "routing +\nnetfilter (nat)",
                   answers=set())  # found by kind: the routing decision and the netfilter hooks
        below = routing
        if p.attachment is cni.Attachment.BRIDGE:
            bridge = ("bridge", node.name)
            address = f"{node.pod_cidr.network_address + 1}/{node.pod_cidr.prefixlen}" if node.pod_cidr else ""
            g.add_node(bridge, node=node.name, kind="bridge", pos=(x0, _Y["bridge"]),
                       label=f"{p.bridge}\n{address}", answers={p.bridge})
            g.add_edge(bridge, routing)
            below = bridge
        for i, q in enumerate(shown):
            x = x0 + (i - (len(shown) - 1) / 2) * 1.9
            veth = cni.host_veth_name(p, q.namespace, q.name)
            pod_place, veth_place = ("pod", node.name, q.key), ("veth", node.name, q.key)
            g.add_node(pod_place, node=node.name, kind="pod", pos=(x, _Y["pod"]),
                       label=f"{_short(q)}\n{q.pod_ip}", answers=set())  # found by the hop's pod
            g.add_node(veth_place, node=node.name, kind="veth", pos=(x, _Y["veth"]), label=veth, answers={veth})
            g.add_edge(pod_place, veth_place)
            g.add_edge(veth_place, below)
        nic = ("nic", node.name)
        g.add_node(nic, node=node.name, kind="nic", pos=(x0, _Y["nic"]),
                   label=f"eth0\n{node.internal_ip}", answers={"eth0"})
        if p.tunnel_device is not None:
            tunnel = ("tunnel", node.name)
            g.add_node(tunnel, node=node.name, kind="tunnel", pos=(x0 + 1.5, _Y["tunnel"]),
                       label=p.tunnel_device, answers={p.tunnel_device})
            g.add_edge(routing, tunnel)
            g.add_edge(tunnel, nic)
        g.add_edge(routing, nic)
        g.add_edge(nic, network)
    subnet = cni.node_subnet(cluster, cluster.node(nodes[0]))
    label = "VPC (routes pod IPs to ENIs)" if p.route_source is cni.RouteSource.VPC else f"node network {subnet}"
    g.add_node(network, node=None, kind="network", pos=((len(nodes) - 1) * _NODE_WIDTH / 2, _Y["network"]),
               label=label, answers=set())
    return g


def hop_place(graph: Any, hop: Any) -> tuple[str, ...] | None:
    """The graph node where ``hop`` is (None for a ``stop`` hop, which stays where the
    packet was), found by the hop's values, never its words: a Pod's ``eth0`` by the Pod,
    a netfilter hook at the node's routing (on its bridge for a bridged frame), the
    routing decision at the routing, a device by its name."""
    from ..walk import HopKind

    if hop.node is None:
        return ("network",)
    if hop.kind is HopKind.STOP:
        return None
    if hop.kind is HopKind.NAT:
        if hop.bridged and ("bridge", hop.node) in graph:
            return ("bridge", hop.node)  # bridged frames meet iptables on the bridge
        return ("routing", hop.node)
    if hop.pod is not None:
        place = ("pod", hop.node, hop.pod)
        if place in graph:
            return place
    elif hop.device is None:
        return ("routing", hop.node)
    else:
        for place, data in graph.nodes(data=True):
            if data["node"] == hop.node and hop.device in data["answers"]:
                return place
    raise InvalidValue(f"hop {hop.index} at {hop.node} {hop.where!r} has no place in the diagram")


def walk_places(graph: Any, hops: Sequence[Any]) -> list[tuple[str, ...]]:
    """:func:`hop_place` for every hop; a ``stop`` stays at the place before it."""
    places: list[tuple[str, ...]] = []
    for hop in hops:
        place = hop_place(graph, hop)
        if place is None:
            place = places[-1] if places else next(iter(graph.nodes))
        places.append(place)
    return places


def walk_topology(cluster: Cluster, w: Any) -> Any:
    """:func:`topology` for the nodes a walk visits, its client's node first."""
    nodes = list(w.nodes)
    for hop in w.reply:
        if hop.node is not None and hop.node not in nodes:
            nodes.append(hop.node)
    pods = [w.client] + ([w.server] if w.server is not None else [])
    return topology(cluster, w.cni, nodes, pods)


_KIND_COLOURS = {
    "pod": "#dbe9f6", "veth": "#eeeeee", "bridge": "#e2f0d9", "routing": "#fff2cc",
    "tunnel": "#fde0dd", "nic": "#e5e0ef", "network": "#f2f2f2",
}
_INK = "#222222"
_HIGHLIGHT = "#d62728"
_TRAIL = "#ff7f0e"


@dataclasses.dataclass
class WalkDiagram:
    """A drawn :func:`topology` and the three things that change from hop to hop: the
    trail (the way the packet came), the boxes of the places it passed, and the box of
    the place it is at. ``boxes`` holds each place's label box in data coordinates.

    Made by :func:`walk_diagram`. With ``animated`` the base is drawn once and kept as
    pixels (``background``), so :func:`diagram_png` only draws the three overlays.
    """

    graph: Any
    figure: Any
    boxes: dict[tuple[str, ...], tuple[float, float, float, float]]
    trail: Any
    visited: Any
    here: Any
    animated: bool
    background: Any = None


def walk_diagram(graph: Any, *, width: float = 8.0, height: float = 4.4, dpi: int = 84,
                 animated: bool = True) -> WalkDiagram:
    """Draw ``graph`` (from :func:`topology`): the node boxes, the links, every place
    labelled; the packet's overlays start empty."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    pos = {n: d["pos"] for n, d in graph.nodes(data=True)}
    fig = Figure(figsize=(width, height), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    xs = [d["pos"][0] for _, d in graph.nodes(data=True) if d["kind"] == "routing"]
    ax.set_xlim(min(xs) - _NODE_WIDTH / 2, max(xs) + _NODE_WIDTH / 2)
    ax.set_ylim(_Y["network"] - 0.6, _Y["pod"] + 0.95)
    for node in dict.fromkeys(d["node"] for _, d in graph.nodes(data=True) if d["node"] is not None):
        x = pos[("routing", node)][0]
        ax.add_patch(Rectangle((x - _NODE_WIDTH / 2 + 0.2, _Y["nic"] - 0.5), _NODE_WIDTH - 0.4,
                               _Y["pod"] - _Y["nic"] + 1.3, facecolor="none", edgecolor="#999999", lw=1, ls="--"))
        ax.text(x - _NODE_WIDTH / 2 + 0.35, _Y["pod"] + 0.6, f"node {node}", fontsize=8, color="#555555", va="center")
    ax.add_collection(LineCollection([(pos[a], pos[b]) for a, b in graph.edges], colors="#bbbbbb", linewidths=1.2))
    labels = {}
    for n, d in graph.nodes(data=True):
        x, y = d["pos"]
        labels[n] = ax.text(x, y, d["label"], ha="center", va="center", fontsize=7.5, color=_INK, zorder=3,
                            bbox=dict(boxstyle="round,pad=0.3", facecolor=_KIND_COLOURS[d["kind"]],
                                      edgecolor="#888888", linewidth=1.0))
    trail = LineCollection([], colors=_TRAIL, linewidths=3.0, zorder=2, animated=animated)
    visited = PolyCollection([], facecolors="none", edgecolors=_TRAIL, linewidths=1.8, zorder=4, animated=animated)
    here = PolyCollection([], facecolors="none", edgecolors=_HIGHLIGHT, linewidths=3.0, zorder=5, animated=animated)
    for artist in (trail, visited, here):
        ax.add_collection(artist)
    canvas.draw()  # lays the labels out, so their boxes are known
    to_data = ax.transData.inverted()
    boxes = {}
    for n, text in labels.items():
        extent = text.get_bbox_patch().get_window_extent()
        (x0, y0), (x1, y1) = to_data.transform([(extent.x0, extent.y0), (extent.x1, extent.y1)])
        boxes[n] = (x0, y0, x1, y1)
    background = canvas.copy_from_bbox(fig.bbox) if animated else None
    return WalkDiagram(graph, fig, boxes, trail, visited, here, animated, background)


def _outline(box: tuple[float, float, float, float], grow: float = 0.08) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    return [(x0 - grow, y0 - grow), (x1 + grow, y0 - grow), (x1 + grow, y1 + grow), (x0 - grow, y1 + grow)]


def _leave(inside: tuple[float, float], towards: tuple[float, float], box: tuple[float, float, float, float]) -> float:
    """How far (0-1) along the segment from ``inside`` to ``towards`` it leaves ``box``."""
    (x, y), (tx, ty) = inside, towards
    x0, y0, x1, y1 = box
    t = 1.0
    for d, lo, hi, start in ((tx - x, x0, x1, x), (ty - y, y0, y1, y)):
        if d > 0:
            t = min(t, (hi - start) / d)
        elif d < 0:
            t = min(t, (lo - start) / d)
    return max(0.0, t)


def _between(a: tuple[float, float], b: tuple[float, float], box_a: tuple[float, float, float, float],
             box_b: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    """The segment from ``a`` to ``b`` cut to the stretch outside both labels, so the
    trail, drawn last, never covers a label."""
    ta, tb = _leave(a, b, box_a), 1.0 - _leave(b, a, box_b)
    if tb < ta:
        ta = tb = (ta + tb) / 2
    (ax, ay), (bx, by) = a, b
    return [(ax + (bx - ax) * ta, ay + (by - ay) * ta), (ax + (bx - ax) * tb, ay + (by - ay) * tb)]


def _trail_links(graph: Any, places: Sequence[tuple[str, ...]]) -> list[tuple[Any, Any]]:
    """The links the packet took between consecutive places; where a hop skips a place
    (Cilium's eBPF redirect, the VPC delivering to the node), along the shortest path."""
    import networkx as nx

    links: list[tuple[Any, Any]] = []
    for a, b in zip(places, places[1:]):
        if a == b:
            continue
        path = [a, b] if graph.has_edge(a, b) else nx.shortest_path(graph, a, b)
        links += [(u, v) for u, v in zip(path, path[1:]) if (u, v) not in links]
    return links


def _place_overlays(diagram: WalkDiagram, places: Sequence[tuple[str, ...]], position: int) -> None:
    if not 0 <= position < len(places):
        raise InvalidValue(f"position {position} is outside the walk's {len(places)} hops")
    pos = {n: d["pos"] for n, d in diagram.graph.nodes(data=True)}
    diagram.trail.set_segments([
        _between(pos[a], pos[b], diagram.boxes[a], diagram.boxes[b])
        for a, b in _trail_links(diagram.graph, places[: position + 1])
    ])
    here = places[position]
    passed = [p for p in dict.fromkeys(places[:position]) if p != here]
    diagram.visited.set_verts([_outline(diagram.boxes[p]) for p in passed])
    diagram.here.set_verts([_outline(diagram.boxes[here], 0.14)])


def diagram_png(diagram: WalkDiagram, places: Sequence[tuple[str, ...]], position: int) -> bytes:
    """The diagram with the packet at ``places[position]`` (0-based) as PNG bytes: the
    kept base, then the trail in orange, the places passed outlined in orange and the
    place it is at in red."""
    import io

    import numpy as np
    from PIL import Image

    _place_overlays(diagram, places, position)
    canvas = diagram.figure.canvas
    if diagram.animated:
        canvas.restore_region(diagram.background)
        ax = diagram.figure.axes[0]
        for artist in (diagram.trail, diagram.visited, diagram.here):
            ax.draw_artist(artist)
    else:
        canvas.draw()
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB").save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def walk_figure(graph: Any, places: Sequence[tuple[str, ...]], position: int, *, width: float = 8.0,
                height: float = 4.4):
    """The diagram with the packet at ``places[position]`` as a matplotlib Figure (for
    :func:`k8snet_lesson.view.plots.show`); the widget draws faster with :func:`diagram_png`."""
    diagram = walk_diagram(graph, width=width, height=height, dpi=100, animated=False)
    _place_overlays(diagram, places, position)
    return diagram.figure


# --- 04: the walk stepper ------------------------------------------------------------------


@dataclasses.dataclass
class WalkStepper(Shown):
    """A request walked hop by hop: Next/Previous, the CNI to walk it under, the diagram
    with the packet's place, and its headers there.

    ``position`` is the 0-based hop over the request's hops and then the reply's;
    ``walks`` keeps each CNI's walk, places and drawn diagram once computed.
    """

    cluster: Cluster
    source: str
    destination: Any
    port: int
    seed: int
    quiet_hooks: bool
    cni: Any
    next: Any
    prev: Any
    hop: Any
    output: Any
    image: Any
    headers: Any
    message: Any
    ui: Any
    position: int = 0
    walks: dict[str, tuple[Any, list[tuple[str, ...]], WalkDiagram]] = dataclasses.field(default_factory=dict)

    @property
    def walk(self) -> Any:
        """The walk under the chosen CNI (None until it could be computed)."""
        entry = self.walks.get(self.cni.value)
        return entry[0] if entry is not None else None

    @property
    def current(self) -> Any:
        """The hop shown now."""
        w = self.walk
        return w.all_hops[self.position] if w is not None else None


def _walk_entry(stepper: WalkStepper) -> tuple[Any, list[tuple[str, ...]], WalkDiagram]:
    from .. import walk

    name = stepper.cni.value
    if name not in stepper.walks:
        w = walk.request(stepper.cluster, stepper.source, stepper.destination, stepper.port, cni=name,
                         seed=stepper.seed)
        if stepper.quiet_hooks:
            w = dataclasses.replace(w, hops=tuple(_without_quiet_hooks(w.hops)), reply=tuple(_without_quiet_hooks(w.reply)))
        graph = walk_topology(stepper.cluster, w)
        stepper.walks[name] = (w, walk_places(graph, w.all_hops), walk_diagram(graph))
    return stepper.walks[name]


def hop_caption(w: Any, position: int) -> str:
    """``Hop i of n: request, node-1, cni0``: which hop of the request and reply, where."""
    hops = w.all_hops
    if not 0 <= position < len(hops):
        raise InvalidValue(f"position {position} is outside the walk's {len(hops)} hops")
    hop = hops[position]
    return f"Hop {position + 1} of {len(hops)}: {hop.direction.value}, {hop.node or 'between the nodes'}, {hop.where}"


def _headers_html(hop: Any, before: Any | None) -> str:
    earlier = {(h, f): v for h, f, v in header_fields(before)} if before is not None else {}
    rows = []
    for header, field, value in header_fields(hop):
        changed = before is not None and earlier.get((header, field)) != value
        style = ' style="color:#b00020;font-weight:bold"' if changed else ""
        rows.append(
            f'<tr class="k8snet-walk-field{" k8snet-walk-changed" if changed else ""}"><td>{html.escape(header)}</td>'
            f"<td>{html.escape(field)}</td><td{style}><code>{html.escape(value)}</code></td></tr>"
        )
    return (
        '<table class="k8snet-walk-headers-table" style="white-space:nowrap;font-size:12px;line-height:1.2">'
        "<thead><tr><th>header</th><th>field</th><th>value</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        + ('<div style="color:#555;font-size:12px">in red: changed since the previous hop</div>' if before else "")
    )


def render_walk(stepper: WalkStepper) -> None:
    """The stepper's callback: walk under the chosen CNI (once), then show the hop at
    ``position``: its caption, the diagram with the packet's place, its headers."""
    try:
        w, places, diagram = _walk_entry(stepper)
    except K8snetError as exc:
        stepper.message.value = _message_html(str(exc))
        stepper.hop.value = ""
        stepper.headers.value = ""
        stepper.image.layout.visibility = "hidden"
        stepper.next.disabled = stepper.prev.disabled = True
        return
    hops = w.all_hops
    stepper.position = max(0, min(stepper.position, len(hops) - 1))
    hop = hops[stepper.position]
    before = hops[stepper.position - 1] if stepper.position > 0 else None
    if before is not None and before.direction is not hop.direction:
        before = None  # the reply starts afresh
    stepper.message.value = ""
    stepper.image.value = diagram_png(diagram, places, stepper.position)
    stepper.image.layout.visibility = "visible"
    end = ""
    if stepper.position == len(w.hops) - 1 or stepper.position == len(hops) - 1:
        end = f'<div class="k8snet-walk-outcome"><i>{html.escape(w.outcome if hop.direction.value == "request" else "the reply is back at the client")}</i></div>'
    stepper.hop.value = (
        f'<div class="k8snet-walk-caption" data-hop="{stepper.position + 1}" data-hops="{len(hops)}" '
        f'data-cni="{html.escape(w.cni.name)}">{html.escape(hop_caption(w, stepper.position))}</div>'
        f'<div style="max-width:760px">{html.escape(hop.action)}</div>{end}'
    )
    stepper.headers.value = _headers_html(hop, before)
    stepper.prev.disabled = stepper.position == 0
    stepper.next.disabled = stepper.position == len(hops) - 1


def step(stepper: WalkStepper, delta: int) -> None:
    """Move ``delta`` hops (Next is +1, Previous -1), staying inside the walk."""
    stepper.position += delta
    render_walk(stepper)


def walk_stepper(cluster: Cluster, source: str, destination: Any, port: int, *, cni_name: str = "flannel",
                 seed: int = 0, position: int = 0, quiet_hooks: bool = False) -> WalkStepper:
    """Previous/Next buttons, a CNI drop-down, the diagram and the header table for a
    request from pod ``source`` to ``destination``:``port`` (a Service name, a ClusterIP
    or a pod IP), walked by :func:`k8snet_lesson.walk.request`. ``quiet_hooks`` leaves
    out netfilter hooks that rewrote nothing (a call by Pod IP meets no rule)."""
    import ipywidgets as w

    from .widgets import holding

    profile = cni.profile(cni_name)
    cni_box = w.Dropdown(options=[(f"{p.plugin} ({p.mode})", name) for name, p in cni.profiles().items()],
                         value=profile.name, description="CNI", style={"description_width": "40px"},
                         layout=w.Layout(width="380px"))
    prev = w.Button(description="Previous", icon="arrow-left", layout=w.Layout(width="110px"))
    nxt = w.Button(description="Next", icon="arrow-right", button_style="primary", layout=w.Layout(width="110px"))
    hop = w.HTML(layout=w.Layout(max_width="780px"))
    image = w.Image(format="png", layout=w.Layout(width="672px"))
    output = holding(w.Output(), image)
    headers = w.HTML()
    message = w.HTML()
    cni_box.add_class("k8snet-walk-cni")
    prev.add_class("k8snet-walk-prev")
    nxt.add_class("k8snet-walk-next")
    hop.add_class("k8snet-walk-hop")
    output.add_class("k8snet-walk-output")
    headers.add_class("k8snet-walk-headers")
    message.add_class("k8snet-message")
    ui = w.VBox([w.HBox([prev, nxt, cni_box]), message, hop, output, headers])
    stepper = WalkStepper(cluster, source, destination, port, seed, quiet_hooks, cni_box, nxt, prev, hop, output, image, headers,
                          message, ui, position=position)

    def on_cni(change: Any) -> None:
        stepper.position = 0
        render_walk(stepper)

    cni_box.observe(on_cni, names="value")
    nxt.on_click(lambda _: step(stepper, +1))
    prev.on_click(lambda _: step(stepper, -1))
    render_walk(stepper)
    return stepper
