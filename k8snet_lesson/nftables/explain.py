"""What a node's nftables-mode kube-proxy table does to each Service port.

The same answer as :func:`k8snet_lesson.explain.explain` gives for iptables mode (the
same :class:`~k8snet_lesson.explain.ServiceExplanation` values, so the same text and
JSON), read from table ``ip kube-proxy``:

- every ``service-ips`` element whose address is in ``cluster-ips`` is a Service port's
  ClusterIP and names the chain that balances it (``service-…``, or ``local-…`` for
  internalTrafficPolicy Local); the Service port's name is in the chain's name;
- that chain's ``numgen random mod N vmap { i : goto endpoint-… }`` gives each endpoint
  chain the share (number of its keys)/N; each endpoint chain's ``dnat to ip:port``
  says where it goes; keys missing from 0..N-1 fall through, unbalanced;
- ``ip saddr @affinity-… goto …`` rules are ClientIP affinity (the set's timeout is the
  affinity time); ``ip saddr != NET jump mark-for-masquerade`` masquerades clients
  outside NET;
- ``no-endpoint-services`` elements: ``goto reject-chain`` (no endpoints: reject) or
  ``drop`` (traffic policy Local without a local endpoint), named by their comment;
- NodePorts (``service-nodeports``, ``no-endpoint-nodeports``) and the other addresses
  of ``service-ips`` (external and load-balancer IPs, told apart by ``firewall-ips``
  only, so an LB IP without source ranges shows as an external IP) are attached to their
  Service port through the shared name base of their ``external-`` chain.

    >>> from k8snet_lesson.nftables.parse import parse
    >>> tx = parse('''add table ip kube-proxy
    ... add set ip kube-proxy cluster-ips { type ipv4_addr ; }
    ... add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
    ... add chain ip kube-proxy endpoint-AAAAAAAA-ns/web/tcp/__10.0.0.1/80
    ... add chain ip kube-proxy endpoint-BBBBBBBB-ns/web/tcp/__10.0.0.2/80
    ... add chain ip kube-proxy service-CCCCCCCC-ns/web/tcp/
    ... add rule ip kube-proxy endpoint-AAAAAAAA-ns/web/tcp/__10.0.0.1/80 meta l4proto tcp dnat to 10.0.0.1:80
    ... add rule ip kube-proxy endpoint-BBBBBBBB-ns/web/tcp/__10.0.0.2/80 meta l4proto tcp dnat to 10.0.0.2:80
    ... add rule ip kube-proxy service-CCCCCCCC-ns/web/tcp/ numgen random mod 2 vmap { 0 : goto endpoint-AAAAAAAA-ns/web/tcp/__10.0.0.1/80 , 1 : goto endpoint-BBBBBBBB-ns/web/tcp/__10.0.0.2/80 }
    ... add element ip kube-proxy cluster-ips { 10.96.0.5 }
    ... add element ip kube-proxy service-ips { 10.96.0.5 . tcp . 80 : goto service-CCCCCCCC-ns/web/tcp/ }
    ... ''')
    >>> (web,) = explain(tx)
    >>> web.service_port, str(web.cluster_ip), [(e.destination, e.share) for e in web.endpoints]
    ('ns/web', '10.96.0.5', [('10.0.0.1:80', 0.5), ('10.0.0.2:80', 0.5)])
"""

from __future__ import annotations

import re
from fractions import Fraction
from ipaddress import IPv4Address, IPv4Network

from ..explain import EndpointShare, ServiceExplanation
from .generate import Transaction

__all__ = ["explain", "explanations_as_text", "is_nftables_text", "service_port_of_chain"]

_NUMGEN = re.compile(r"^numgen random mod (\d+) vmap \{ (.*) \}$")
_DNAT = re.compile(r"dnat to (\d+\.\d+\.\d+\.\d+)(?::(\d+))?")
_AFFINITY = re.compile(r"^ip saddr @(affinity-\S+) goto (\S+)$")
# (kube-proxy before v1.34 also matched the port: "ip daddr X tcp dport 80 ip saddr != …")
_MASQ_OUTSIDE = re.compile(r"^ip daddr \S+ (?:\S+ dport \d+ )?ip saddr != (\S+) jump mark-for-masquerade$")
_MASQ_ALL = re.compile(r"^ip daddr \S+ (?:\S+ dport \d+ )?jump mark-for-masquerade$")
_COMMENT = re.compile(r' comment "([^"]*)"')
_TIMEOUT = re.compile(r"timeout (\d+)s")


def is_nftables_text(text: str) -> bool:
    """Whether a dump is nftables (a transaction or ``nft list`` output) rather than iptables."""
    for line in text.split("\n"):
        word = line.strip().split(" ", 1)[0]
        if word and not word.startswith("#"):
            return word in ("table", "add", "flush", "delete", "create", "insert")
    return False


def service_port_of_chain(chain: str) -> str | None:
    """``service-HASH8-ns/svc/tcp/port`` -> ``ns/svc:port`` (``ns/svc`` for an unnamed port)."""
    parts = chain.split("-", 2)
    if len(parts) < 3 or "/" not in parts[2]:
        return None
    words = parts[2].split("/")
    if len(words) < 4:
        return None
    namespace, name, port = words[0], words[1], "/".join(words[3:]).split("__")[0]
    return f"{namespace}/{name}:{port}" if port else f"{namespace}/{name}"


def _base(chain: str) -> str:
    return chain.split("-", 1)[1] if "-" in chain else chain


def _elements(tx: Transaction, container: str) -> list[tuple[list[str], str | None, str]]:
    """(key words, comment, verdict) of each element."""
    out = []
    for name, text in tx.elements:
        if name != container:
            continue
        key, _, verdict = text.partition(" : ")
        comment = _COMMENT.search(key)
        key = _COMMENT.sub("", key)
        out.append(([w.strip() for w in key.split(" . ")], comment.group(1) if comment else None, verdict.strip()))
    return out


class _Port:
    def __init__(self, name: str, protocol: str, cluster_ip: IPv4Address, port: int) -> None:
        self.name, self.protocol, self.cluster_ip, self.port = name, protocol, cluster_ip, port
        self.chain: str | None = None
        self.reject = self.drop = False
        self.node_ports: list[int] = []
        self.external_ips: list[IPv4Address] = []
        self.load_balancer_ips: list[IPv4Address] = []


def explain(tx: Transaction) -> tuple[ServiceExplanation, ...]:
    """Every Service port in the table, with its endpoints and their exact shares."""
    cluster_ips = {k[0] for k, _, _ in _elements(tx, "cluster-ips")}
    firewall = {(k[0], k[1], k[2]) for k, _, _ in _elements(tx, "firewall-ips")}
    ports: dict[tuple[str, str, int], _Port] = {}
    by_base: dict[str, list[_Port]] = {}
    by_name: dict[str, list[_Port]] = {}

    def entry(name: str, ip: str, protocol: str, port: int) -> _Port:
        key = (ip, protocol, port)
        if key not in ports:
            ports[key] = _Port(name, protocol, IPv4Address(ip), port)
            by_name.setdefault(name, []).append(ports[key])
        return ports[key]

    for key, _, verdict in _elements(tx, "service-ips"):
        chain = verdict.split("goto ", 1)[-1].strip()
        if len(key) == 3 and key[0] in cluster_ips and chain.startswith(("service-", "local-")):
            name = service_port_of_chain(chain) or chain
            item = entry(name, key[0], key[1], int(key[2]))
            item.chain = chain
            by_base.setdefault(_base(chain), []).append(item)
    for key, comment, verdict in _elements(tx, "no-endpoint-services"):
        if len(key) == 3 and key[0] in cluster_ips:
            item = entry(comment or f"{key[0]}:{key[2]}", key[0], key[1], int(key[2]))
            item.reject = item.reject or "reject" in verdict
            item.drop = item.drop or verdict == "drop"
    for key, _, verdict in _elements(tx, "service-ips"):
        chain = verdict.split("goto ", 1)[-1].strip()
        if len(key) == 3 and key[0] not in cluster_ips:
            for item in by_base.get(_base(chain), []):
                if item.protocol == key[1] and item.port == int(key[2]):
                    target = item.load_balancer_ips if tuple(key) in firewall else item.external_ips
                    target.append(IPv4Address(key[0]))
    for key, comment, verdict in _elements(tx, "service-nodeports") + _elements(tx, "no-endpoint-nodeports"):
        chain = verdict.split("goto ", 1)[-1].strip()
        owners = by_base.get(_base(chain), []) if comment is None else by_name.get(comment, [])
        for item in owners:
            if item.protocol == key[0] and int(key[1]) not in item.node_ports:
                item.node_ports.append(int(key[1]))
    return tuple(_explained(tx, item) for item in sorted(ports.values(), key=lambda p: (p.name, p.port)))


def _explained(tx: Transaction, item: _Port) -> ServiceExplanation:
    endpoints: list[EndpointShare] = []
    affinity = None
    masq_outside = None
    masq_all = False
    unmatched = Fraction(0)
    for rule in tx.rules.get(item.chain or "", []):
        match = _AFFINITY.match(rule)
        if match:
            timeout = _TIMEOUT.search(tx.sets.get(match.group(1), ""))
            affinity = int(timeout.group(1)) if timeout else affinity
            continue
        match = _MASQ_OUTSIDE.match(rule)
        if match:
            masq_outside = IPv4Network(match.group(1), strict=False)
            continue
        if _MASQ_ALL.match(rule):
            masq_all = True
            continue
        match = _NUMGEN.match(rule)
        if not match:
            continue
        n = int(match.group(1))
        counts: dict[str, int] = {}
        for part in match.group(2).split(","):
            index, _, verdict = part.partition(":")
            if index.strip().isdigit() and int(index) < n:
                target = verdict.replace("goto", "").replace("jump", "").strip()
                counts[target] = counts.get(target, 0) + 1
        unmatched = Fraction(n - sum(counts.values()), n) if n else Fraction(0)
        for target, count in counts.items():
            dnat = next((_DNAT.search(r) for r in tx.rules.get(target, []) if _DNAT.search(r)), None)
            if dnat is None:
                continue
            port = int(dnat.group(2)) if dnat.group(2) else item.port
            endpoints.append(EndpointShare(IPv4Address(dnat.group(1)), port, float(Fraction(count, n)), target, None))
        break  # the draw takes every packet it has a key for
    return ServiceExplanation(
        service_port=item.name,
        protocol=item.protocol,
        cluster_ip=item.cluster_ip,
        port=item.port,
        endpoints=tuple(endpoints),
        reject=item.reject,
        session_affinity_seconds=affinity,
        masquerade_source_outside=masq_outside,
        masquerade_all=masq_all,
        drop=item.drop,
        chain=item.chain,
        node_ports=tuple(item.node_ports),
        external_ips=tuple(item.external_ips),
        load_balancer_ips=tuple(item.load_balancer_ips),
        unmatched_share=float(unmatched) if endpoints else 0.0,
    )


# iptables' words in the shared text, and what the same thing is called in nftables mode.
_NFT_WORDS = (
    ("(-m recent)", "(an affinity- set per endpoint)"),
    ("(KUBE-MARK-MASQ)", "(mark-for-masquerade)"),
    ("(filter KUBE-SERVICES answers icmp-port-unreachable)", "(no-endpoint-services: goto reject-chain)"),
    ("(traffic policy Local)", "(traffic policy Local; no-endpoint-services: drop)"),
    ("no Service ports found (no 'cluster IP' rules in nat KUBE-SERVICES, no REJECT rules in filter)",
     "no Service ports found (no ClusterIP in service-ips or no-endpoint-services)"),
)


def explanations_as_text(explanations) -> str:
    """:func:`k8snet_lesson.explain.explanations_as_text`, naming nftables' objects."""
    from ..explain import explanations_as_text as shared

    text = shared(explanations)
    for old, new in _NFT_WORDS:
        text = text.replace(old, new)
    return text
