"""The model against the kernel: devices and routes, the four rules, and the spread.

Each check runs real programs in the lab and puts the answer next to the model's,
in the model's own value types, so a notebook or a test can show both side by side:

- :func:`interfaces`: ``ip addr show eth0`` and ``ip route show`` in each pod, and
  ``ip route show`` on each node, against :mod:`k8snet_lesson.cni`'s rendering;
- :func:`four_rules`: the lesson's four rules measured with real requests (every pod
  asks every other pod that runs an application; the server reports the peer address it
  saw), as :class:`k8snet_lesson.networking_model.RuleCheck` values, next to
  :func:`k8snet_lesson.networking_model.check_all` on the same cluster;
- :func:`spread`: N new connections from a client pod to a ClusterIP, counted by the
  client (who answered) and by the kernel (the packet counter of each
  ``KUBE-SVC-...`` rule, ``iptables -t nat -L <chain> -v -x -n``), with a chi-square
  test against the model's exact shares.

What it simplifies: the four rules are checked over pods that run an application (a
pod that listens on nothing cannot report what it saw); interface comparisons ignore
trailing spaces (iproute2 ends some route lines with one).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from ipaddress import IPv4Address
from typing import Any

from ..cluster import LOOPBACK, Protocol
from ..errors import InvalidValue, NotFound
from .kernel import Lab

__all__ = [
    "Comparison",
    "interfaces",
    "own_addresses",
    "FourRules",
    "four_rules",
    "ChainCounter",
    "chain_counters",
    "Spread",
    "spread",
]


# --- devices and routes ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One command's output in the kernel and in the model."""

    where: str  # a pod key or a node name
    command: str
    kernel: str
    model: str

    @property
    def same(self) -> bool:
        return _lines(self.kernel) == _lines(self.model)

    @property
    def differences(self) -> tuple[tuple[str, str], ...]:
        """(kernel line, model line) pairs that differ, in order ("" where one side ended)."""
        kernel, model = _lines(self.kernel), _lines(self.model)
        width = max(len(kernel), len(model))
        kernel += [""] * (width - len(kernel))
        model += [""] * (width - len(model))
        return tuple((k, m) for k, m in zip(kernel, model) if k != m)


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def interfaces(lab: Lab, pods: Sequence[str] | None = None) -> tuple[Comparison, ...]:
    """What ``ip addr show eth0`` and ``ip route show`` print in pods (as a container sees
    them) and ``ip route show`` on each node, next to the CNI model's text."""
    from .. import cni
    from .topology import CNI

    cluster = lab.cluster
    out = []
    keys = pods if pods is not None else [p.key for p in lab.topology.pods if not p.host_network]
    for key in keys:
        pod_net = lab.topology.pod(key)
        model = cni.pod_namespace(cluster, cluster.pod(pod_net.key), CNI)
        out.append(Comparison(pod_net.key, "ip addr show eth0", lab.in_pod(pod_net.key, ["ip", "addr", "show", "eth0"]).stdout, model.ip_addr_show("eth0")))
        out.append(Comparison(pod_net.key, "ip route show", lab.in_pod(pod_net.key, ["ip", "route", "show"]).stdout, model.ip_route_show()))
    if pods is None:
        for node in lab.topology.nodes:
            model = cni.node_namespace(cluster, node.name, CNI)
            out.append(Comparison(node.name, "ip route show", lab.exec(node.name, ["ip", "route", "show"]).stdout, model.ip_route_show()))
    return tuple(out)


# --- the four rules ----------------------------------------------------------------------


def own_addresses(lab: Lab) -> dict[str, tuple[IPv4Address, ...]]:
    """The IPv4 addresses each pod sees on its own ``eth0`` (``ip -j addr show dev eth0``)."""
    script = "".join(
        f"echo '#{p.key}'; ip -n {p.netns} -j -4 addr show dev eth0\n" for p in lab.topology.pods if not p.host_network
    )
    text = lab.sandbox.run(["sh", "-e"], input=script).stdout
    out: dict[str, tuple[IPv4Address, ...]] = {}
    key = None
    for line in text.splitlines():
        if line.startswith("#"):
            key = line[1:]
        elif key is not None and line.strip():
            links = json.loads(line)
            out[key] = tuple(IPv4Address(a["local"]) for link in links for a in link.get("addr_info", ()))
    return out


@dataclasses.dataclass(frozen=True)
class FourRules:
    """The four rules measured in the kernel, and the model's verdict on the same cluster."""

    kernel: tuple[Any, ...]  # networking_model.RuleCheck, evidence from real requests
    model: tuple[Any, ...]  # networking_model.check_all(cluster)

    @property
    def agree(self) -> bool:
        return [c.holds for c in self.kernel] == [c.holds for c in self.model]

    @property
    def hold(self) -> bool:
        return all(c.holds for c in self.kernel)


def _servers(lab: Lab) -> dict[str, tuple[IPv4Address, int]]:
    """Pods whose application answers HTTP on their pod IP: (pod IP, port)."""
    out = {}
    for app in lab.apps.values():
        if app.program != "app":
            continue
        pod_net = lab.topology.pod(app.pod)
        if pod_net.host_network:
            continue
        for address, port, protocol in app.sockets:
            if protocol == Protocol.TCP and address != LOOPBACK:
                out[app.pod] = (pod_net.address, port)
                break
    return out


def four_rules(lab: Lab) -> FourRules:
    """Measure the lesson's four rules with real requests between every pair of pods."""
    from ..networking_model import RULES, Connection, PodAddress, RuleCheck, SelfView, check_all

    pods = [p for p in lab.topology.pods if not p.host_network]
    own = own_addresses(lab)
    servers = _servers(lab)
    by_name = {p.name: p.key for p in pods}

    def ask(client) -> tuple[str, dict]:
        targets = [f"{address}:{port}" for key, (address, port) in servers.items() if key != client.key]
        if not targets:
            return client.key, {}
        args = []
        for target in targets:
            args += ["--target", target]
        done = lab.exec(client.key, lab.sandbox.program("reach", *args), timeout=60)
        return client.key, json.loads(done.stdout)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = dict(pool.map(ask, pods))

    # Rule 1: the addresses the pods see on their own eth0.
    holders: dict[IPv4Address, list[str]] = {}
    for key, addresses in own.items():
        for address in addresses:
            holders.setdefault(address, []).append(key)
    rows1 = []
    for pod in pods:
        mine = own.get(pod.key, ())
        address = mine[0] if mine else None
        others = tuple(k for k in holders.get(address, []) if k != pod.key) if address else ()
        note = "no IPv4 address on eth0" if address is None else ("unique" if not others else "shared with " + ", ".join(others))
        rows1.append(PodAddress(pod.key, pod.node, address, others, note, address is not None and not others))
    shared = [r for r in rows1 if not r.holds]
    rule1 = RuleCheck(1, RULES[0], not shared, tuple(rows1),
                      f"{len(rows1)} pods, each with an address on eth0 that no other pod shows" if not shared
                      else f"{len(shared)} pods share or lack an address, e.g. {shared[0].pod}: {shared[0].note}")  # fmt: skip

    connections = []
    for client in pods:
        client_ip = (own.get(client.key) or (None,))[0]
        for server_key, (address, port) in servers.items():
            if server_key == client.key:
                continue
            server = lab.topology.pod(server_key)
            answer = answers.get(client.key, {}).get(f"{address}:{port}", {})
            reached = by_name.get(answer.get("pod", ""), None) if "pod" in answer else None
            seen = IPv4Address(answer["peer"]) if "peer" in answer else None
            server_ip = (own.get(server_key) or (None,))[0]
            direct = reached == server_key and seen == client_ip and address == server_ip
            note = answer.get("error", "") if "error" in answer else ("" if direct else f"server saw {seen}")
            connections.append(
                Connection(client.key, client.node, server_key, server.node, client_ip, server_ip, address, port,
                           reached, seen, (), direct, note)  # fmt: skip
            )

    def pairs(number: int, same_node: bool) -> Any:
        rows = tuple(c for c in connections if (c.client_node == c.server_node) == same_node)
        failing = [c for c in rows if not c.direct]
        where = "on the same node" if same_node else "on different nodes"
        if not failing:
            reason = f"{len(rows)} real requests between pods {where}: each server saw the client's own pod IP"
        else:
            first = failing[0]
            reason = f"{len(failing)} of {len(rows)} requests {where} were not direct, e.g. {first.client} -> {first.server}: {first.note}"
        return RuleCheck(number, RULES[number - 1], not failing, rows, reason)

    dial: dict[str, set[IPv4Address]] = {}
    observe: dict[str, set[IPv4Address]] = {}
    for c in connections:
        dial.setdefault(c.server, set()).add(c.dialled)
        if c.source_seen is not None:
            observe.setdefault(c.client, set()).add(c.source_seen)
    rows4 = []
    for pod in pods:
        mine = (own.get(pod.key) or (None,))[0]
        dialled = tuple(sorted(dial.get(pod.key, set())))
        observed = tuple(sorted(observe.get(pod.key, set())))
        rows4.append(SelfView(pod.key, pod.node, mine, dialled, observed, set(dialled) <= {mine} and set(observed) <= {mine}))
    failing4 = [r for r in rows4 if not r.holds]
    rule4 = RuleCheck(4, RULES[3], not failing4, tuple(rows4),
                      f"each of the {len(rows4)} pods is dialled at, and seen as, the IP on its own eth0" if not failing4
                      else f"{len(failing4)} pods are known to peers by another IP, e.g. {failing4[0].pod}")  # fmt: skip
    kernel = (rule1, pairs(2, True), pairs(3, False), rule4)
    return FourRules(kernel=kernel, model=check_all(lab.cluster))


# --- the spread ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChainCounter:
    """One row of ``iptables -L CHAIN -v -x -n``: its packet and byte counters and target."""

    packets: int
    bytes: int
    target: str


def chain_counters(listing: str) -> tuple[ChainCounter, ...]:
    """The counter columns of ``iptables -t nat -L CHAIN -v -x -n`` output.

    Only the first three columns are read (``pkts bytes target``); the rule itself is
    known from ``iptables-save``, which the core parser reads.

    >>> text = '''Chain KUBE-SVC-X (1 references)
    ...     pkts      bytes target     prot opt in     out     source               destination
    ...        0        0 KUBE-MARK-MASQ  6    --  *      *      !10.244.0.0/16        10.96.214.88
    ...     1007    60420 KUBE-SEP-A  0    --  *      *       0.0.0.0/0            0.0.0.0/0
    ... '''
    >>> chain_counters(text)[1]
    ChainCounter(packets=1007, bytes=60420, target='KUBE-SEP-A')
    """
    rows = []
    for line in listing.splitlines()[2:]:
        words = line.split()
        if len(words) >= 3 and words[0].isdigit() and words[1].isdigit():
            rows.append(ChainCounter(int(words[0]), int(words[1]), words[2]))
    return tuple(rows)


@dataclasses.dataclass(frozen=True)
class Spread:
    """Where N new connections to a ClusterIP went: the client's count and the kernel's."""

    client: str
    node: str
    service_port: str
    cluster_ip: IPv4Address
    port: int
    protocol: str
    connections: int
    endpoints: tuple[str, ...]  # "ip:port", in rule order
    chains: tuple[str, ...]  # the KUBE-SEP chain of each endpoint
    model_shares: tuple[float, ...]  # exact shares from the generated rules
    kernel_shares: tuple[float, ...]  # exact shares from the probabilities the kernel prints back
    kernel_probabilities: tuple[str | None, ...]  # as iptables-save prints them
    client_counts: tuple[int, ...]
    kernel_counts: tuple[int, ...]
    failures: tuple[tuple[str, int], ...]  # (error, count) seen by the client
    listing: str  # iptables -t nat -L <chain> -v -x -n
    syn_retransmits: int  # SYNs the client sent again (each may be drawn again by the kernel)
    chi_square: Any  # simulate.ChiSquare(statistic, dof, p_value); None for one endpoint

    @property
    def counts_agree(self) -> bool:
        return self.client_counts == self.kernel_counts


def _syn_retransmits(lab: Lab, pod: str) -> int:
    """The pod's ``TcpExtTCPSynRetrans`` counter (``/proc/net/netstat`` in its namespace)."""
    lines = lab.exec(pod, ["cat", "/proc/net/netstat"]).stdout.splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:])).get("TCPSynRetrans", 0))
    return 0


def _service_entry(explained: Sequence[Any], cluster_ip: IPv4Address, port: int, protocol: str) -> Any:
    for entry in explained:
        if entry.cluster_ip == cluster_ip and entry.port == port and entry.protocol == protocol:
            return entry
    return None


def spread(
    lab: Lab,
    client: str,
    service: str,
    connections: int = 3000,
    *,
    port: int | None = None,
    protocol: Protocol | str = Protocol.TCP,
    concurrency: int = 8,
) -> Spread:
    """Open ``connections`` new connections from ``client`` to ``service``'s ClusterIP.

    Conntrack is flushed and the counters zeroed on the client's node first: load
    balancing happens once per conntrack entry, so every connection must be new (UDP
    datagrams each come from a fresh source port for the same reason).
    """
    from ..explain import explain
    from ..simulate import chi_square

    protocol = Protocol(protocol.upper() if isinstance(protocol, str) else protocol)
    svc = lab.cluster.service(service)
    if svc.cluster_ip is None:
        raise InvalidValue(f"service {svc.key} is headless: it has no ClusterIP to spread over")
    ports = [p for p in svc.ports if p.protocol == protocol and (port is None or p.port == port)]
    if not ports:
        raise NotFound(f"service {svc.key} has no {protocol.value} port{'' if port is None else f' {port}'}")
    service_port = ports[0]
    node = lab.node_of(client)
    model = _service_entry(explain(lab.model_rules(node)), svc.cluster_ip, service_port.port, protocol.iptables)
    kernel = _service_entry(explain(lab.kernel_rules(node)), svc.cluster_ip, service_port.port, protocol.iptables)
    if model is None or not model.endpoints:
        raise InvalidValue(f"service {svc.key} has no endpoints on {node}: nothing to spread over")
    if kernel is None or [e.chain for e in kernel.endpoints] != [e.chain for e in model.endpoints]:
        raise InvalidValue(f"the kernel's rules for {svc.key} on {node} are not the model's: apply the cluster first")
    chain = _svc_chain(lab, node, kernel)
    from .programs import SOURCE_PORTS

    if connections > len(SOURCE_PORTS):
        raise InvalidValue(f"{connections} connections need as many distinct source ports; the client has {len(SOURCE_PORTS)}")
    first = lab.next_source_port if lab.next_source_port in SOURCE_PORTS else SOURCE_PORTS.start
    lab.next_source_port = SOURCE_PORTS[(SOURCE_PORTS.index(first) + connections) % len(SOURCE_PORTS)]
    lab.flush_conntrack(node)
    lab.zero_counters(node)
    retransmits = _syn_retransmits(lab, client)
    target = f"{svc.cluster_ip}:{service_port.port}"
    args = ["--target", target, "--protocol", protocol.iptables, "--count", str(connections),
            "--concurrency", str(concurrency), "--first-port", str(first)]  # fmt: skip
    answer = json.loads(lab.exec(client, lab.sandbox.program("client", *args), timeout=600).stdout)
    retransmits = _syn_retransmits(lab, client) - retransmits
    listing = lab.list_chain(node, chain)
    by_chain = {row.target: row.packets for row in chain_counters(listing)}
    pod_to_endpoint = {}
    for pod in lab.cluster.pods:
        if pod.pod_ip is not None and pod.namespace == svc.namespace:
            pod_to_endpoint[pod.name] = pod.pod_ip
    addresses = [e.address for e in model.endpoints]
    client_counts = [0] * len(addresses)
    for name, count in answer["counts"].items():
        address = pod_to_endpoint.get(name)
        if address in addresses:
            client_counts[addresses.index(address)] += count
    kernel_counts = tuple(by_chain.get(e.chain, 0) for e in kernel.endpoints)
    shares = tuple(e.share for e in model.endpoints)
    return Spread(
        client=lab.topology.pod(client).key,
        node=node,
        service_port=model.service_port,
        cluster_ip=svc.cluster_ip,
        port=service_port.port,
        protocol=protocol.value,
        connections=connections,
        endpoints=tuple(f"{e.address}:{e.port}" for e in model.endpoints),
        chains=tuple(e.chain for e in model.endpoints),
        model_shares=shares,
        kernel_shares=tuple(e.share for e in kernel.endpoints),
        kernel_probabilities=tuple(e.probability_text for e in kernel.endpoints),
        client_counts=tuple(client_counts),
        kernel_counts=kernel_counts,
        failures=tuple(sorted(answer["errors"].items())),
        listing=listing,
        syn_retransmits=retransmits,
        chi_square=chi_square(list(client_counts), list(shares)) if len(shares) > 1 else None,
    )


def _svc_chain(lab: Lab, node: str, entry: Any) -> str:
    """The KUBE-SVC chain whose rules jump to the endpoints' KUBE-SEP chains."""
    rules = lab.kernel_rules(node)
    seps = {e.chain for e in entry.endpoints}
    for table in rules.tables:
        if table.name != "nat":
            continue
        for rule in table.rules:
            if rule.chain.startswith(("KUBE-SVC-", "KUBE-SVL-")) and any(word in seps for word in rule.args):
                return rule.chain
    raise InvalidValue(f"no KUBE-SVC chain for {entry.service_port} on {node}")
