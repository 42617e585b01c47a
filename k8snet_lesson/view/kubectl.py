"""kubectl's text views of the model: ``get pods -o wide``, ``get endpoints``,
``get endpointslices``, ``get endpoints -o yaml``, ``describe endpoints``, ``describe pod``.

Rendered the way kubectl renders them:

* tables go through Go's ``text/tabwriter`` with kubectl's settings (minimum cell width
  6, padding 3, spaces), header names upper case, ``<none>`` for empty optional cells,
  rows in the API server's order (namespace, then name); with no namespace given, a
  NAMESPACE column comes first, as with ``--all-namespaces``;
* AGE is ``duration.HumanDuration`` (``45s``, ``3m10s``, ``5h``, ``8d``, ``2y60d``);
* ``describe`` output goes through the tabwriter ``describe`` uses (minimum width 0,
  padding 2) with its two-space indentation per level;
* YAML is printed with sorted keys, block lists not indented under their key and
  strings quoted only when they would read back as something else, as kubectl's
  JSON-to-YAML printer does.

The columns and cells follow ``pkg/printers/internalversion/printers.go`` (``printPod``,
``formatEndpoints``, ``formatDiscoveryPorts``, ``formatDiscoveryEndpoints``) and
``describe.go`` (``describeEndpoints``, ``describePod``).

What it leaves out, because the model does not hold it: timestamps (``creationTimestamp``,
``Start Time``, container ``Started``), resource versions, container and image IDs, the
time since the last restart in RESTARTS (``3 (5m ago)`` is shown as ``3``), Service
labels on the Endpoints object, and events (always ``<none>``). ``describe pod`` shows a
pod as one created with ``automountServiceAccountToken: false`` (no token volume), with
the two default tolerations the DefaultTolerationSeconds admission plugin adds.
READY counts all containers ready when the pod is Ready and none otherwise; STATUS is the
phase (``Completed`` for Succeeded, ``Error`` for Failed) or ``Terminating``.

    >>> print(human_duration(timedelta(days=8)), human_duration(timedelta(minutes=3, seconds=10)))
    8d 3m10s
    >>> print(tab_aligned("NAME\\tENDPOINTS\\tAGE\\nweb\\t10.244.1.5:8080\\t8d\\n"), end="")
    NAME   ENDPOINTS         AGE
    web    10.244.1.5:8080   8d
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from ..cluster import Cluster, EndpointPort, EndpointSlice, Pod, PodPhase, Service
from ..endpoints import (
    EndpointAddress,
    Endpoints,
    endpoints_for,
    has_endpoints_object,
    pod_address,
    slices_for,
)
from ..errors import InvalidValue

if TYPE_CHECKING:  # pragma: no cover - names for the annotations only
    from ..cluster import Node

    #: An API object as ``-o yaml`` prints it: JSON-like data (maps with string keys, lists, scalars).
    Yaml = dict[str, "Yaml"] | list["Yaml"] | str | int | float | bool | None

#: An object kubectl lists by namespace and name (a Pod, a Service, an EndpointSlice).
_Named = TypeVar("_Named", Pod, Service, EndpointSlice)

__all__ = [
    "human_duration",
    "tab_aligned",
    "to_yaml",
    "no_resources",
    "get_pods",
    "get_pods_wide",
    "format_endpoints",
    "get_endpoints",
    "get_endpointslices",
    "endpoints_object",
    "endpoints_yaml",
    "describe_endpoints",
    "describe_pod",
]

# cli-runtime printers.GetNewTabWriter: minwidth 6, tabwidth 4, padding 3, pad with spaces.
TABLE_MIN_WIDTH, TABLE_PADDING = 6, 3
# kubectl describe's tabbedString: minwidth 0, tabwidth 8, padding 2, pad with spaces.
DESCRIBE_MIN_WIDTH, DESCRIBE_PADDING = 0, 2


# --- Go's text/tabwriter and apimachinery's HumanDuration -------------------------


def tab_aligned(text: str, *, minwidth: int = TABLE_MIN_WIDTH, padding: int = TABLE_PADDING) -> str:
    """``text`` (cells ended by tabs, lines by newlines) aligned as Go's ``text/tabwriter``
    aligns it with space padding: a column is a run of consecutive lines that have a
    tab-terminated cell in it, as wide as its widest cell plus ``padding`` (at least
    ``minwidth``); the last cell of a line belongs to no column and is not padded."""
    lines = [line.split("\t") for line in text.split("\n")]
    widths: list[int] = []
    out: list[str] = []

    def write(line0: int, line1: int) -> None:
        for cells in lines[line0:line1]:
            out.append("".join(c.ljust(widths[j]) if j < len(widths) else c for j, c in enumerate(cells)))

    def format_block(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            format_block(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    format_block(0, len(lines))
    return "\n".join(out)


def human_duration(d: timedelta) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``: about 2-3 significant figures.

    >>> [human_duration(timedelta(seconds=s)) for s in (0, 119, 120, 600, 3 * 3600 - 1, 3 * 3600)]
    ['0s', '119s', '2m', '10m', '179m', '3h']
    >>> [human_duration(timedelta(hours=h)) for h in (7.5, 47, 48, 50, 24 * 8, 24 * 365 * 2 + 24 * 60)]
    ['7h30m', '47h', '2d', '2d2h', '8d', '2y60d']
    """
    seconds = int(d.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    text = "\t".join(header) + "\n" + "".join("\t".join(row) + "\n" for row in rows)
    return tab_aligned(text)


def no_resources(namespace: str | None) -> str:
    """kubectl's message (on stderr) when a list is empty."""
    return "No resources found" + (f" in {namespace} namespace." if namespace else "")


# --- YAML as kubectl prints it ------------------------------------------------------

_PLAIN_UNSAFE_START = set("-?:,[]{}#&*!|>'\"%@`") | {" "}
_RESOLVES_TO_OTHER = re.compile(
    r"""~|null|Null|NULL|[yY]|yes|Yes|YES|[nN]|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
    |[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?0b[0-1_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?0o?[0-7_]+
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
    |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?""",
    re.VERBOSE,
)


def _scalar(value: Yaml) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if (
        text == ""
        or text[0] in _PLAIN_UNSAFE_START
        or text[-1] in " :"
        or ": " in text
        or " #" in text
        or "\t" in text
        or _RESOLVES_TO_OTHER.fullmatch(text)
    ):
        return json.dumps(text)
    return text


def _yaml_lines(value: Yaml, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            if isinstance(item, dict) and item:
                lines.append(f"{pad}{_scalar(key)}:")
                lines += _yaml_lines(item, indent + 2)
            elif isinstance(item, list) and item:
                lines.append(f"{pad}{_scalar(key)}:")
                lines += _yaml_lines(item, indent)  # block lists sit at their key's indent
            elif isinstance(item, str) and "\n" in item:
                chomp = "|" if item.endswith("\n") else "|-"
                lines.append(f"{pad}{_scalar(key)}: {chomp}")
                lines += [f"{pad}  {line}" if line else "" for line in item.rstrip("\n").split("\n")]
            else:
                lines.append(f"{pad}{_scalar(key)}: {_inline(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = _yaml_lines(item, indent + 2)
                inner[0] = f"{pad}- " + inner[0][indent + 2:]
                lines += inner
            else:
                lines.append(f"{pad}- {_inline(item)}")
    else:
        lines.append(pad + _inline(value))
    return lines


def _inline(value: Yaml) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def to_yaml(value: Yaml) -> str:
    """``value`` (dicts, lists, strings, numbers, booleans) as kubectl's ``-o yaml`` prints it.

    >>> print(to_yaml({"kind": "Endpoints", "subsets": [{"ports": [{"port": 3000, "name": ""}]}]}), end="")
    kind: Endpoints
    subsets:
    - ports:
      - name: ""
        port: 3000
    """
    return "\n".join(_yaml_lines(value, 0)) + "\n"


# --- pods ---------------------------------------------------------------------------


def _in_namespace(items: Iterable[_Named], namespace: str | None) -> list[_Named]:
    chosen = [i for i in items if namespace is None or i.namespace == namespace]
    return sorted(chosen, key=lambda i: (i.namespace, i.name))


def _pod_ready(pod: Pod) -> str:
    total = len(pod.containers)
    ready = total if pod.ready and pod.phase is PodPhase.RUNNING else 0
    return f"{ready}/{total}"


def _pod_status(pod: Pod) -> str:
    if pod.terminating and pod.phase not in (PodPhase.SUCCEEDED, PodPhase.FAILED):
        return "Terminating"
    return {PodPhase.SUCCEEDED: "Completed", PodPhase.FAILED: "Error"}.get(pod.phase, pod.phase.value)


def _pod_ip(nodes: dict[str, Node], pod: Pod) -> str:
    address = pod_address(pod, nodes.get(pod.node_name) if pod.node_name else None)
    return str(address) if address is not None else "<none>"


def get_pods(cluster: Cluster, namespace: str | None = None, *, wide: bool = False) -> str:
    """``kubectl get pods [-o wide]`` (``namespace=None``: ``--all-namespaces``);
    the empty string when there are none (see :func:`no_resources`)."""
    pods = _in_namespace(cluster.pods, namespace)
    if not pods:
        return ""
    header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    if wide:
        header += ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    nodes = {n.name: n for n in cluster.nodes}
    rows = []
    for pod in pods:
        row = [pod.name, _pod_ready(pod), _pod_status(pod), str(pod.restarts), human_duration(pod.age)]
        if wide:
            row += [_pod_ip(nodes, pod), pod.node_name or "<none>", "<none>", "<none>"]
        rows.append(([pod.namespace] if namespace is None else []) + row)
    return _table((["NAMESPACE"] if namespace is None else []) + header, rows)


def get_pods_wide(cluster: Cluster, namespace: str | None = None, *, columns: str = "wide") -> str:
    """``kubectl get pods -o wide``; ``columns="lesson"`` gives the lesson's abridged
    ``NAME READY STATUS NODE IP`` (same rows, same alignment rules)."""
    if columns == "wide":
        return get_pods(cluster, namespace, wide=True)
    if columns != "lesson":
        raise InvalidValue(f"columns {columns!r} is not one of wide, lesson")
    pods = _in_namespace(cluster.pods, namespace)
    if not pods:
        return ""
    nodes = {n.name: n for n in cluster.nodes}
    rows = [([p.namespace] if namespace is None else []) +
            [p.name, _pod_ready(p), _pod_status(p), p.node_name or "<none>", _pod_ip(nodes, p)] for p in pods]
    return _table((["NAMESPACE"] if namespace is None else []) + ["NAME", "READY", "STATUS", "NODE", "IP"], rows)


# --- endpoints ----------------------------------------------------------------------


def format_endpoints(endpoints: Endpoints) -> str:
    """``formatEndpoints``: the ready ``ip:port`` pairs, the first three and ``+ N more...``;
    ``<none>`` when there are no subsets at all, and an empty cell when every address is
    not ready (kubectl prints nothing then)."""
    if not endpoints.subsets:
        return "<none>"
    shown: list[str] = []
    more, count = False, 0
    for subset in endpoints.subsets:
        pairs = [str(a.ip) for a in subset.addresses] if not subset.ports else \
            [f"{a.ip}:{p.port}" for p in subset.ports for a in subset.addresses]
        for pair in pairs:
            count += 1
            if len(shown) == 3:
                more = True
            else:
                shown.append(pair)
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if more else text


def _services_with_endpoints(cluster: Cluster, namespace: str | None, name: str | None) -> list[Service]:
    services = [s for s in _in_namespace(cluster.services, namespace) if name is None or s.name == name]
    return [s for s in services if has_endpoints_object(cluster, s)]


def get_endpoints(cluster: Cluster, namespace: str | None = None, name: str | None = None) -> str:
    """``kubectl get endpoints [NAME]`` (``namespace=None``: ``--all-namespaces``)."""
    services = _services_with_endpoints(cluster, namespace, name)
    if not services:
        return ""
    rows = [([s.namespace] if namespace is None else []) +
            [s.name, format_endpoints(endpoints_for(cluster, s)), human_duration(s.age)] for s in services]
    return _table((["NAMESPACE"] if namespace is None else []) + ["NAME", "ENDPOINTS", "AGE"], rows)


def _more(items: list[str], count: int) -> str:
    # listWithMoreString
    text = ",".join(items[:3])
    if count > 3:
        return f"{text} + {count - 3} more..."
    return text or "<unset>"


def _slice_ports(ports: Sequence[EndpointPort]) -> str:
    return _more([str(p.port) if p.port is not None else (p.name or "*") for p in ports], len(ports))


def _slice_endpoints(endpoint_slice: EndpointSlice) -> str:
    addresses = [str(a) for e in endpoint_slice.endpoints for a in e.addresses]
    return _more(addresses, len(addresses))


def get_endpointslices(cluster: Cluster, namespace: str | None = None, service: str | None = None) -> str:
    """``kubectl get endpointslices [-l kubernetes.io/service-name=SERVICE]``. ENDPOINTS lists
    every address, ready or not, as kubectl does."""
    slices = [s for s in _in_namespace(slices_for(cluster), namespace) if service is None or s.service_name == service]
    if not slices:
        return ""
    rows = [([s.namespace] if namespace is None else []) +
            [s.name, s.address_type, _slice_ports(s.ports), _slice_endpoints(s), human_duration(s.age)] for s in slices]
    return _table((["NAMESPACE"] if namespace is None else []) + ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], rows)


def _address_object(address: EndpointAddress) -> dict[str, Yaml]:
    out: dict[str, Yaml] = {"ip": str(address.ip)}
    if address.hostname:
        out["hostname"] = address.hostname
    if address.node_name:
        out["nodeName"] = address.node_name
    if address.target_ref is not None:
        ref = address.target_ref
        out["targetRef"] = {k: v for k, v in (("kind", ref.kind), ("name", ref.name),
                                                ("namespace", ref.namespace), ("uid", ref.uid)) if v}
    return out


def endpoints_object(endpoints: Endpoints) -> dict[str, Yaml]:
    """The Endpoints object as the API returns it (empty fields left out)."""
    metadata: dict[str, Yaml] = {"name": endpoints.name, "namespace": endpoints.namespace}
    if endpoints.over_capacity:
        metadata["annotations"] = {"endpoints.kubernetes.io/over-capacity": "truncated"}
    out: dict[str, Yaml] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata}
    subsets = []
    for subset in endpoints.subsets:
        entry: dict[str, Yaml] = {}
        if subset.addresses:
            entry["addresses"] = [_address_object(a) for a in subset.addresses]
        if subset.not_ready_addresses:
            entry["notReadyAddresses"] = [_address_object(a) for a in subset.not_ready_addresses]
        if subset.ports:
            entry["ports"] = [{**({"name": p.name} if p.name else {}), "port": p.port, "protocol": p.protocol.value}
                              for p in subset.ports]
        subsets.append(entry)
    if subsets:
        out["subsets"] = subsets
    return out


def endpoints_yaml(cluster: Cluster, name: str | None = None, namespace: str | None = None) -> str:
    """``kubectl get endpoints NAME -o yaml``; without ``name``, the ``kind: List`` of all
    Endpoints in ``namespace`` (all namespaces when ``None``)."""
    if name is not None:
        service = cluster.service(name, namespace)
        if not has_endpoints_object(cluster, service):
            raise InvalidValue(f'endpoints "{service.name}" not found: service {service.key} has no selector '
                               "and no endpoints were given")
        return to_yaml(endpoints_object(endpoints_for(cluster, service)))
    items = [endpoints_object(endpoints_for(cluster, s)) for s in _services_with_endpoints(cluster, namespace, None)]
    return to_yaml({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})


# --- describe -----------------------------------------------------------------------


def _labels_lines(title: str, labels: Mapping[str, str]) -> list[str]:
    # printLabelsMultiline: sorted keys, one per line, continuation lines start with a tab
    keys = sorted(labels)
    if not keys:
        return [f"{title}:\t<none>"]
    return [f"{title}:\t{keys[0]}={labels[keys[0]]}"] + [f"\t{k}={labels[k]}" for k in keys[1:]]


def describe_endpoints(cluster: Cluster, name: str, namespace: str | None = None) -> str:
    """``kubectl describe endpoints NAME``."""
    service = cluster.service(name, namespace)
    endpoints = endpoints_for(cluster, service)
    lines = [f"Name:\t{endpoints.name}", f"Namespace:\t{endpoints.namespace}", "Labels:\t<none>"]
    annotations = {"endpoints.kubernetes.io/over-capacity": "truncated"} if endpoints.over_capacity else {}
    lines += _labels_lines("Annotations", annotations)
    lines.append("Subsets:")
    for subset in endpoints.subsets:
        lines.append("  Addresses:\t" + (",".join(str(a.ip) for a in subset.addresses) or "<none>"))
        lines.append("  NotReadyAddresses:\t" + (",".join(str(a.ip) for a in subset.not_ready_addresses) or "<none>"))
        if subset.ports:
            lines += ["  Ports:", "    Name\tPort\tProtocol", "    ----\t----\t--------"]
            lines += [f"    {p.name or '<unset>'}\t{p.port}\t{p.protocol.value}" for p in subset.ports]
        lines.append("")
    lines.append("Events:\t<none>")
    return tab_aligned("\n".join(lines) + "\n", minwidth=DESCRIBE_MIN_WIDTH, padding=DESCRIBE_PADDING)


def _controlled_by(pod: Pod) -> str | None:
    # A Deployment's pod is named <replicaset>-<5 chars> and labelled pod-template-hash;
    # its owner is the ReplicaSet <deployment>-<hash>. Inferred: the model keeps no ownerReferences.
    template_hash = pod.labels.get("pod-template-hash")
    if template_hash and f"-{template_hash}-" in pod.name:
        return f"ReplicaSet/{pod.name.rsplit('-', 1)[0]}"
    return None


def _ports_text(ports: Sequence[str]) -> tuple[str, str]:
    text = ", ".join(ports)
    return ("Ports" if "," in text else "Port", text or "<none>")


def describe_pod(cluster: Cluster, name: str, namespace: str | None = None) -> str:
    """``kubectl describe pod NAME``, abridged to what the model knows (see the module
    docstring): identity, node, labels, status, IP, containers with their ports,
    readiness and restarts, and the pod conditions."""
    pod = cluster.pod(name, namespace)
    node = next((n for n in cluster.nodes if n.name == pod.node_name), None)
    lines = [f"Name:\t{pod.name}", f"Namespace:\t{pod.namespace}", "Priority:\t0", "Service Account:\tdefault"]
    lines.append(f"Node:\t{pod.node_name}/{node.internal_ip if node else ''}" if pod.node_name else "Node:\t<none>")
    lines += _labels_lines("Labels", pod.labels)
    lines.append("Annotations:\t<none>")
    if pod.terminating and pod.phase not in (PodPhase.SUCCEEDED, PodPhase.FAILED):
        lines += ["Status:\tTerminating (lasts <unknown>)", "Termination Grace Period:\t30s"]
    else:
        lines.append(f"Status:\t{pod.phase.value}")
    address = pod_address(pod, node)
    lines.append(f"IP:\t{address if address is not None else ''}")
    lines += ["IPs:", f"  IP:\t{address}"] if address is not None else ["IPs:\t<none>"]
    owner = _controlled_by(pod)
    if owner:
        lines.append(f"Controlled By:\t{owner}")
    lines.append("Containers:" if pod.containers else "Containers: <none>")
    state = {PodPhase.RUNNING: "Running", PodPhase.PENDING: "Waiting"}.get(pod.phase, "Terminated")
    for i, container in enumerate(pod.containers):
        label, ports = _ports_text([f"{p.container_port}/{p.protocol.value}" for p in container.ports])
        host_label, host_ports = _ports_text([f"0/{p.protocol.value}" for p in container.ports])
        lines += [
            f"  {container.name}:",
            f"    Image:\t{container.image}",
            f"    {label}:\t{ports}",
            f"    {host_label.replace('Port', 'Host Port')}:\t{host_ports}",
            f"    State:\t{state}",
            f"    Ready:\t{'True' if pod.ready and pod.phase is PodPhase.RUNNING else 'False'}",
            f"    Restart Count:\t{pod.restarts if i == 0 else 0}",
            "    Environment:\t<none>",
            "    Mounts:\t<none>",
        ]
    scheduled = pod.node_name is not None
    started = scheduled and pod.phase is not PodPhase.PENDING
    ready = "True" if pod.ready and pod.phase is PodPhase.RUNNING else "False"
    lines += ["Conditions:", "  Type\tStatus"]
    for kind, status in (("PodReadyToStartContainers", started), ("Initialized", scheduled),
                         ("Ready", ready == "True"), ("ContainersReady", ready == "True"), ("PodScheduled", scheduled)):
        lines.append(f"  {kind} \t{'True' if status else 'False'} ")
    lines += [
        "Volumes:\t<none>",
        "QoS Class:\tBestEffort",
        "Node-Selectors:\t<none>",
        "Tolerations:\tnode.kubernetes.io/not-ready:NoExecute op=Exists for 300s",
        "\tnode.kubernetes.io/unreachable:NoExecute op=Exists for 300s",
        "Events:\t<none>",
    ]
    return tab_aligned("\n".join(lines) + "\n", minwidth=DESCRIBE_MIN_WIDTH, padding=DESCRIBE_PADDING)
