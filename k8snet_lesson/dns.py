"""Cluster DNS: what CoreDNS answers, and how a pod's resolver asks it.

Models three things a real cluster does:

- **the kubelet's resolv.conf** for a ``dnsPolicy: ClusterFirst`` pod: ``nameserver`` is the
  kubelet's ``--cluster-dns``, which kubeadm sets to the tenth address of the service
  range (``10.96.0.10`` for ``10.96.0.0/12``, :func:`k8snet_lesson.ipam.dns_service_ip`),
  the search list is ``<namespace>.svc.<domain> svc.<domain> <domain>`` and ``options
  ndots:5`` (:func:`resolv_conf`);
- **CoreDNS's kubernetes plugin** (:func:`lookup`, :func:`reverse`): ``<service>.<namespace>.svc.<domain>``
  is the ClusterIP, whatever the endpoints (a headless Service answers with the addresses
  of its ready endpoints, NXDOMAIN when it has none);
  ``<hostname or a-b-c-d>.<service>.<namespace>.svc.<domain>`` is one endpoint;
  ``a-b-c-d.<namespace>.pod.<domain>`` is that address (``pods insecure``, kubeadm's
  Corefile); ``<namespace>.svc.<domain>`` has no records but exists (NODATA) when the
  namespace exists, and a name in a namespace that does not is NXDOMAIN. A PTR
  query for a ClusterIP names the Service; for an endpoint address, only an endpoint
  with a ``hostname`` has one (current CoreDNS);
- **the stub resolver** (musl's, as in netshoot and busybox images; :func:`search_names`,
  :func:`resolve`): a name with fewer dots than ``ndots`` is tried with each search domain
  first and as written last; a name with ``ndots`` dots or more, or ending in a dot, is
  tried only as written. Each query is a UDP packet to the nameserver, which crosses the
  client node's kube-proxy rules to a CoreDNS pod like any other Service traffic
  (:func:`k8snet_lesson.connect.connect`): when the kube-dns Service has no ready
  endpoints (CoreDNS pods absent or not ready), or the packet finds no pod listening,
  no DNS answer comes back and the resolver gives up ("DNS down"); ``refused`` says
  kube-proxy's REJECT sent an ICMP port unreachable, which musl never sees (it waits
  out its timeout) and glibc turns into ECONNREFUSED at once
  (:func:`k8snet_lesson.netshoot.resolver_wait`).

Also an ExternalName Service's CNAME, SRV records for ``_port._proto.<service>`` names,
and glibc's resolver beside musl's (:class:`Libc`).

What it simplifies: A records only (and SRV, and CNAME for ExternalName; no AAAA); names
outside the cluster domain are forwarded upstream, and the model's upstream knows no
names (NXDOMAIN); a namespace exists when an object of the cluster lives in it (or it
is one of the four every cluster has); the node's own search domains, ``dnsConfig`` and the other DNS
policies are not modelled; under musl a refused query (the ICMP port unreachable
kube-proxy's REJECT sends) is also a timeout, as musl's resolver (which never sees the
ICMP error on its unconnected socket) reports it.

    >>> from k8snet_lesson.cluster import Cluster, Pod, Service, ServicePort
    >>> cluster = Cluster(services=(Service("production", "checkout-api-svc",
    ...     cluster_ip="10.96.214.88", ports=(ServicePort(80, 3000),)),))
    >>> print(resolv_conf(cluster, Pod("production", "debug-pod")))
    search production.svc.cluster.local svc.cluster.local cluster.local
    nameserver 10.96.0.10
    options ndots:5
    >>> lookup(cluster, "checkout-api-svc.production.svc.cluster.local").addresses
    (IPv4Address('10.96.214.88'),)
    >>> search_names("checkout-api-svc", resolv_conf(cluster, Pod("production", "debug-pod")))
    ('checkout-api-svc.production.svc.cluster.local', 'checkout-api-svc.svc.cluster.local', 'checkout-api-svc.cluster.local', 'checkout-api-svc')
"""

from __future__ import annotations

import dataclasses
import enum
from ipaddress import IPv4Address, ip_address

from .cluster import Cluster, Container, ContainerPort, EndpointSlice, Pod, Protocol, Service, ServicePort, ServiceType
from .errors import InvalidValue
from .ipam import dns_service_ip

__all__ = [
    "DNS_NAMESPACE",
    "DNS_SERVICE",
    "Rcode",
    "ResolvConf",
    "Answer",
    "SrvRecord",
    "Libc",
    "Resolution",
    "lookup_srv",
    "nameserver",
    "resolv_conf",
    "search_names",
    "lookup",
    "reverse",
    "dns_service",
    "dns_endpoints",
    "resolve",
    "with_cluster_dns",
]

DNS_NAMESPACE = "kube-system"
DNS_SERVICE = "kube-dns"  # CoreDNS keeps the Service name kube-dns had, for compatibility
DNS_PORT = 53


class Rcode(str, enum.Enum):
    """A DNS response code, as dig prints it (NODATA is NOERROR with no answer)."""

    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"


@dataclasses.dataclass(frozen=True)
class ResolvConf:
    """A pod's ``/etc/resolv.conf``; ``str()`` is the file as containerd writes it."""

    nameservers: tuple[IPv4Address, ...]
    search: tuple[str, ...]
    ndots: int = 5

    def __str__(self) -> str:
        lines = []
        if self.search:
            lines.append("search " + " ".join(self.search))
        lines.extend(f"nameserver {ns}" for ns in self.nameservers)
        lines.append(f"options ndots:{self.ndots}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Answer:
    """CoreDNS's answer to an A query for one absolute ``name`` (no trailing dot)."""

    name: str
    rcode: Rcode
    addresses: tuple[IPv4Address, ...] = ()
    # An ExternalName Service's answer starts with a CNAME to its externalName; the
    # addresses are then the target's, when CoreDNS could resolve it.
    cname: str | None = None
    # SRV records (for an SRV query), in CoreDNS's order.
    srv: tuple[SrvRecord, ...] = ()

    @property
    def found(self) -> bool:
        return self.rcode is Rcode.NOERROR and bool(self.addresses or self.srv)


@dataclasses.dataclass(frozen=True)
class SrvRecord:
    """``_port._proto.<service>.<ns>.svc.<zone> SRV <priority> <weight> <port> <target>``."""

    priority: int
    weight: int
    port: int
    target: str

    def __str__(self) -> str:
        return f"{self.priority} {self.weight} {self.port} {self.target}."


class Libc(str, enum.Enum):
    """Whose stub resolver the pod's programs link: musl (Alpine, netshoot, busybox) or glibc."""

    MUSL = "musl"
    GLIBC = "glibc"


@dataclasses.dataclass(frozen=True)
class Resolution:
    """What a pod's resolver did for ``name``: the queries it sent, in order, and the outcome.

    ``candidates`` are the names the search list gives (:func:`search_names`);
    ``answers`` holds one :class:`Answer` per query sent, until the first NOERROR;
    ``timed_out`` is True when the nameserver never answered (DNS down), and then
    ``answers`` is empty and ``reason`` says why the queries were lost.
    """

    name: str
    nameserver: IPv4Address
    candidates: tuple[str, ...]
    answers: tuple[Answer, ...]
    timed_out: bool = False
    reason: str = ""
    libc: Libc = Libc.MUSL
    # The query met kube-proxy's REJECT (an ICMP port unreachable), not silence. glibc
    # sees it as ECONNREFUSED at once; musl never sees it and times out (timed_out too).
    refused: bool = False
    query_types: tuple[str, ...] = ("A",)  # asked per name; glibc sends A and AAAA together

    @property
    def answer(self) -> Answer | None:
        """The answer that ended the search (the first with records), if any."""
        return next((a for a in self.answers if a.found), None)

    @property
    def addresses(self) -> tuple[IPv4Address, ...]:
        found = self.answer
        return found.addresses if found else ()

    @property
    def fqdn(self) -> str | None:
        found = self.answer
        return found.name if found else None

    @property
    def ok(self) -> bool:
        return self.answer is not None


def nameserver(cluster: Cluster) -> IPv4Address:
    """The kubelet's ``--cluster-dns``: kubeadm's tenth address of the service range.

    >>> nameserver(Cluster())
    IPv4Address('10.96.0.10')
    """
    return dns_service_ip(cluster.service_cidr)


def resolv_conf(cluster: Cluster, pod: Pod) -> ResolvConf:
    """The resolv.conf the kubelet writes for a ClusterFirst ``pod``."""
    domain = cluster.dns_domain
    search = (f"{pod.namespace}.svc.{domain}", f"svc.{domain}", domain)
    return ResolvConf((nameserver(cluster),), search, 5)


# A DNS name (RFC 1035, RFC 1123): labels of 1 to 63 letters, digits and hyphens (and
# the underscores of SRV names), at most 253 characters without the final dot.
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def _normal(name: str) -> str:
    name = name.strip()
    if not name or name == "." or ".." in name or name.startswith("."):
        raise InvalidValue(f"{name!r} is not a DNS name")
    shown = repr(name) if len(name) <= 60 else f"The {len(name)}-character name"
    bad = sorted({c for c in name if c != "." and c not in _LABEL_CHARS})
    if bad:
        what = "a space" if bad == [" "] else "the characters " + " ".join(repr(c) for c in bad)
        raise InvalidValue(f"{shown} is not a DNS name: it holds {what}; a name is labels of letters, "
                           "digits and hyphens joined by dots")
    for label in name.rstrip(".").split("."):
        if len(label) > 63:
            raise InvalidValue(f"{shown} is not a DNS name: one of its labels has {len(label)} characters; "
                               "a label (the part between two dots) has at most 63")
    if len(name.rstrip(".")) > 253:
        raise InvalidValue(f"{shown} is not a DNS name: it has {len(name.rstrip('.'))} characters; "
                           "a DNS name has at most 253")
    return name


def search_names(name: str, conf: ResolvConf, libc: Libc | str = Libc.MUSL) -> tuple[str, ...]:
    """The names the resolver queries for ``name``, in order (musl's unless ``libc`` says glibc).

    Both try the search list first, then the name as written, for a name with fewer
    than ``ndots`` dots. A name with ``ndots`` dots or more is tried as written only by
    musl, and as written *then* through the search list by glibc (res_search, glibc
    resolv/res_query.c). A trailing dot means as written only, for both.

    >>> conf = ResolvConf((IPv4Address("10.96.0.10"),), ("production.svc.cluster.local", "svc.cluster.local", "cluster.local"))
    >>> search_names("checkout-api-svc.production.svc.cluster.local", conf)[0]
    'checkout-api-svc.production.svc.cluster.local.production.svc.cluster.local'
    >>> search_names("example.com.", conf)
    ('example.com',)
    >>> search_names("a.b.c.d.e.f", conf, "glibc")[:2]
    ('a.b.c.d.e.f', 'a.b.c.d.e.f.production.svc.cluster.local')
    """
    libc = _libc(libc)
    name = _normal(name)
    if name.endswith("."):
        return (name.rstrip("."),)
    searched = tuple(f"{name}.{domain}" for domain in conf.search)
    if name.count(".") >= conf.ndots:
        return (name,) + searched if libc is Libc.GLIBC else (name,)
    return searched + (name,)


def _libc(value: Libc | str) -> Libc:
    try:
        return Libc(value)
    except ValueError:
        raise InvalidValue(f"libc {value!r} is not one of {', '.join(m.value for m in Libc)}") from None


# --- CoreDNS's kubernetes plugin ----------------------------------------------------------


def _slices(cluster: Cluster) -> tuple[EndpointSlice, ...]:
    from .endpoints import slices_for

    return tuple(slices_for(cluster))


def _ready_endpoints(cluster: Cluster, service: Service) -> list:
    """The endpoints CoreDNS serves for ``service``: ready (or unknown) ones, de-duplicated."""
    from .endpoints import slices_for_service

    seen, out = set(), []
    for eps in slices_for_service(cluster, service):
        for endpoint in eps.endpoints:
            if endpoint.conditions.ready is False or endpoint.address in seen:
                continue
            seen.add(endpoint.address)
            out.append(endpoint)
    return out


# Namespaces every cluster has; others exist when an object lives in them.
_BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _namespaces(cluster: Cluster) -> set[str]:
    found = {*_BUILTIN_NAMESPACES}
    for items in (cluster.pods, cluster.services, cluster.endpoint_slices, cluster.network_policies):
        found.update(item.namespace.lower() for item in items)
    return found


def _find_service(cluster: Cluster, name: str, namespace: str) -> Service | None:
    return next(
        (s for s in cluster.services if s.name.lower() == name and s.namespace.lower() == namespace),
        None,
    )


def _dashed(address: IPv4Address) -> str:
    return str(address).replace(".", "-")


def lookup(cluster: Cluster, name: str, *, depth: int = 0) -> Answer:
    """CoreDNS's answer to an A query for the absolute ``name``.

    An ExternalName Service answers with a CNAME to its externalName (followed inside the
    cluster domain, at most :data:`MAX_CNAME_CHAIN` deep); ``_port._proto.<service>...``
    names answer as CoreDNS's kubernetes plugin does (:func:`lookup_srv` for SRV).

    >>> from k8snet_lesson.cluster import Cluster
    >>> lookup(Cluster(), "10-244-2-14.default.pod.cluster.local").addresses
    (IPv4Address('10.244.2.14'),)
    >>> lookup(Cluster(), "nosuch.production.svc.cluster.local").rcode
    <Rcode.NXDOMAIN: 'NXDOMAIN'>
    """
    qname = _normal(name).rstrip(".").lower()
    zone = cluster.dns_domain.lower()
    if qname == zone:
        return Answer(qname, Rcode.NOERROR)
    if not qname.endswith("." + zone):
        return Answer(qname, Rcode.NXDOMAIN)  # forwarded upstream; the model's upstream knows nothing
    labels = qname[: -len(zone) - 1].split(".")
    kind = labels[-1]
    if kind in ("svc", "pod") and len(labels) >= 2 and labels[-2] not in _namespaces(cluster):
        return Answer(qname, Rcode.NXDOMAIN)  # CoreDNS answers only for namespaces that exist
    if kind == "svc":
        if len(labels) <= 2:
            return Answer(qname, Rcode.NOERROR)  # svc.<zone>, <ns>.svc.<zone>: NODATA
        if len(labels) == 5 and labels[0].startswith("_") and labels[1].startswith("_"):
            return _port_lookup(cluster, qname, labels, depth)
        if len(labels) > 4:
            return Answer(qname, Rcode.NXDOMAIN)
        service = _find_service(cluster, labels[-3], labels[-2])
        if service is not None and service.type is ServiceType.EXTERNAL_NAME and len(labels) == 3:
            return _external_name(cluster, qname, service, depth)
        if service is None or service.type is ServiceType.EXTERNAL_NAME:
            return Answer(qname, Rcode.NXDOMAIN)
        if len(labels) == 4 or service.cluster_ip is None:
            wanted = labels[0] if len(labels) == 4 else None
            addresses = tuple(
                e.address
                for e in _ready_endpoints(cluster, service)
                if wanted is None or wanted in ((e.hostname or "").lower(), _dashed(e.address))
            )
            return Answer(qname, Rcode.NOERROR if addresses else Rcode.NXDOMAIN, addresses)
        return Answer(qname, Rcode.NOERROR, (service.cluster_ip,))
    if kind == "pod":
        if len(labels) == 2:
            return Answer(qname, Rcode.NOERROR)
        if len(labels) == 3 and labels[0].count("-") == 3:
            try:
                return Answer(qname, Rcode.NOERROR, (IPv4Address(labels[0].replace("-", ".")),))
            except ValueError:
                pass
        return Answer(qname, Rcode.NXDOMAIN)
    return Answer(qname, Rcode.NXDOMAIN)


# --- ExternalName and SRV (CoreDNS plugin/kubernetes and plugin/backend_lookup.go) -------

MAX_CNAME_CHAIN = 8  # backend_lookup.go stops adding CNAMEs after 8


def _external_name(cluster: Cluster, qname: str, service: Service, depth: int) -> Answer:
    """An ExternalName Service: a CNAME to ``spec.externalName``. CoreDNS follows a target
    inside its zone itself (CNAME and the target's A records); a target outside it is
    looked up upstream, and the model's upstream knows no names: the CNAME alone."""
    target = service.external_name or ""
    zone = cluster.dns_domain.lower()
    if not target or depth >= MAX_CNAME_CHAIN or target == qname:
        return Answer(qname, Rcode.NOERROR, cname=target or None)
    if target == zone or target.endswith("." + zone):
        chased = lookup(cluster, target, depth=depth + 1)
        return Answer(qname, Rcode.NOERROR, chased.addresses, cname=target)
    return Answer(qname, Rcode.NOERROR, cname=target)


def _port_match(service: Service, port_label: str, proto_label: str) -> list[ServicePort]:
    """The ports ``_<name>._<proto>`` names (``*`` matches any, as in CoreDNS)."""
    name, proto = port_label[1:], proto_label[1:]
    return [p for p in service.ports if p.name and name in ("*", p.name.lower())
            and proto in ("*", p.protocol.value.lower())]


def _port_lookup(cluster: Cluster, qname: str, labels: list[str], depth: int) -> Answer:
    """An A query for ``_port._proto.<service>.<ns>.svc.<zone>``: the Service's records
    when it has a port of that name and protocol, NXDOMAIN otherwise."""
    service = _find_service(cluster, labels[2], labels[3])
    if service is None or service.type is ServiceType.EXTERNAL_NAME or not _port_match(service, labels[0], labels[1]):
        return Answer(qname, Rcode.NXDOMAIN)
    inner = lookup(cluster, f"{labels[2]}.{labels[3]}.svc.{cluster.dns_domain.lower()}", depth=depth)
    return Answer(qname, inner.rcode, inner.addresses)


def lookup_srv(cluster: Cluster, name: str) -> Answer:
    """CoreDNS's answer to an SRV query for ``_port._proto.<service>.<ns>.svc.<zone>``.

    A Service with a ClusterIP has one record per matching named port, target the
    Service's name; a headless one has one per ready endpoint and port, target
    ``<hostname or a-b-c-d>.<service>.<ns>.svc.<zone>`` (the Kubernetes DNS
    specification, 2.4.2; CoreDNS gives each record priority 0 and an equal weight of
    100 divided among them).

    >>> from k8snet_lesson.cluster import Cluster, Service, ServicePort
    >>> web = Service("default", "web", cluster_ip="10.96.0.20", ports=(ServicePort(80, 8080, "http"),))
    >>> [str(r) for r in lookup_srv(Cluster(services=(web,)), "_http._tcp.web.default.svc.cluster.local").srv]
    ['0 100 80 web.default.svc.cluster.local.']
    """
    qname = _normal(name).rstrip(".").lower()
    zone = cluster.dns_domain.lower()
    labels = qname[: -len(zone) - 1].split(".") if qname.endswith("." + zone) else []
    if len(labels) != 5 or labels[4] != "svc" or not (labels[0].startswith("_") and labels[1].startswith("_")):
        answer = lookup(cluster, qname)  # a name that exists has no SRV records: NODATA
        return Answer(qname, answer.rcode)
    service = _find_service(cluster, labels[2], labels[3])
    ports = [] if service is None or service.type is ServiceType.EXTERNAL_NAME else _port_match(service, labels[0], labels[1])
    if not ports:
        return Answer(qname, Rcode.NXDOMAIN)
    base = f"{service.name}.{service.namespace}.svc.{zone}".lower()
    if service.cluster_ip is not None:
        targets = [(p.port, base) for p in ports]
    else:
        targets = [(p.port, f"{(e.hostname or _dashed(e.address)).lower()}.{base}")
                   for e in _ready_endpoints(cluster, service) for p in ports]
    if not targets:
        return Answer(qname, Rcode.NXDOMAIN)
    weight = 100 // len(targets)
    return Answer(qname, Rcode.NOERROR, srv=tuple(SrvRecord(0, weight, port, target) for port, target in targets))


def reverse(cluster: Cluster, address: IPv4Address | str) -> str | None:
    """CoreDNS's PTR answer for ``address`` (``None`` is NXDOMAIN).

    >>> from k8snet_lesson.cluster import Cluster, Service
    >>> reverse(Cluster(services=(Service("kube-system", "kube-dns", cluster_ip="10.96.0.10"),)), "10.96.0.10")
    'kube-dns.kube-system.svc.cluster.local'
    """
    try:
        address = ip_address(address)
    except ValueError:
        raise InvalidValue(f"{address!r} is not an IP address") from None
    domain = cluster.dns_domain
    for service in cluster.services:
        if service.cluster_ip == address:
            return f"{service.name}.{service.namespace}.svc.{domain}"
    for eps in _slices(cluster):
        for endpoint in eps.endpoints:
            if endpoint.address == address and endpoint.hostname and endpoint.conditions.ready is not False:
                return f"{endpoint.hostname}.{eps.service_name}.{eps.namespace}.svc.{domain}"
    return None


# --- the cluster DNS service and the resolver ---------------------------------------------


def dns_service(cluster: Cluster) -> Service | None:
    """``kube-system/kube-dns``, the Service in front of the CoreDNS pods, if the cluster has one."""
    return next((s for s in cluster.services if s.namespace == DNS_NAMESPACE and s.name == DNS_SERVICE), None)


def dns_endpoints(cluster: Cluster) -> tuple[IPv4Address, ...]:
    """The ready CoreDNS endpoint addresses behind kube-dns (empty: DNS is down)."""
    service = dns_service(cluster)
    return () if service is None else tuple(e.address for e in _ready_endpoints(cluster, service))


def resolve(cluster: Cluster, client: Pod, name: str, *, cni: str | None = None, seed: int = 0,
            libc: Libc | str = Libc.MUSL) -> Resolution:
    """Resolve ``name`` from ``client`` as its resolver does: search list, ndots, the query's path.

    The first query decides whether the nameserver answers at all: it is sent through
    the client node's kube-proxy rules (:func:`k8snet_lesson.connect.connect`, UDP port 53);
    when it does not reach a CoreDNS pod listening on 53/UDP, the resolution times out.

    ``libc`` picks the stub resolver. musl (the default: netshoot is Alpine) stops at the
    first NOERROR answer, even one without records, and never sees a refused query (its
    socket is not connected): it times out. glibc goes on through the search list past a
    NODATA answer, tries a name with ``ndots`` dots or more as written first and then
    through the search list, fails at once with ECONNREFUSED when kube-proxy's REJECT
    answers with ICMP port unreachable (its UDP socket is connected), and sends the A
    and AAAA queries together (glibc resolv/res_send.c).
    """
    from .connect import Outcome, connect

    libc = _libc(libc)
    conf = resolv_conf(cluster, client)
    server = conf.nameservers[0]
    candidates = search_names(name, conf, libc)
    types = ("A", "AAAA") if libc is Libc.GLIBC else ("A",)
    path = connect(cluster, client, server, DNS_PORT, Protocol.UDP, cni=cni, seed=seed)
    if path.outcome is Outcome.REFUSED and libc is Libc.GLIBC:
        return Resolution(name, server, candidates, (), reason=path.detail, libc=libc, refused=True, query_types=types)
    if path.outcome is not Outcome.ESTABLISHED:
        return Resolution(name, server, candidates, (), timed_out=True, reason=path.detail, libc=libc,
                          refused=path.outcome is Outcome.REFUSED, query_types=types)
    answers = []
    for candidate in candidates:
        answer = lookup(cluster, candidate)
        answers.append(answer)
        if answer.found if libc is Libc.GLIBC else answer.rcode is Rcode.NOERROR:
            break  # musl stops at the first NOERROR, even one with no records; glibc needs records
    return Resolution(name, server, candidates, tuple(answers), libc=libc, query_types=types)



# kubeadm's CoreDNS add-on: Deployment "coredns" (two replicas) behind Service "kube-dns".
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.10.1"
_COREDNS_PODS = ("coredns-5d78c9869d-4t2xk", "coredns-5d78c9869d-9qkzl", "coredns-5d78c9869d-wz6mb")


def with_cluster_dns(cluster: Cluster, replicas: int = 2) -> Cluster:
    """``cluster`` with kubeadm's DNS add-on, unless it already has a kube-dns Service.

    Adds Service ``kube-system/kube-dns`` (ClusterIP :func:`nameserver`, selector
    ``k8s-app=kube-dns``, ports ``dns`` 53/UDP, ``dns-tcp`` 53/TCP, ``metrics`` 9153/TCP)
    and ``replicas`` CoreDNS pods on the first nodes in order, with IPs from each node's
    podCIDR as host-local hands them out. Pod names are fixed, so renderings are stable.
    """
    from .ipam import allocate_pod_ips

    if dns_service(cluster) is not None:
        return cluster
    if not 1 <= replicas <= len(_COREDNS_PODS):
        raise InvalidValue(f"CoreDNS replicas {replicas!r}: between 1 and {len(_COREDNS_PODS)}")
    nodes = [n for n in cluster.nodes if n.pod_cidr is not None]
    if not nodes:
        raise InvalidValue("the cluster has no node with a podCIDR to run CoreDNS on")
    labels = {"k8s-app": "kube-dns", "pod-template-hash": "5d78c9869d"}
    container = Container(
        "coredns",
        ports=(
            ContainerPort(53, "dns", Protocol.UDP),
            ContainerPort(53, "dns-tcp", Protocol.TCP),
            ContainerPort(9153, "metrics", Protocol.TCP),
        ),
        image=COREDNS_IMAGE,
    )
    service = Service(
        DNS_NAMESPACE,
        DNS_SERVICE,
        ports=(
            ServicePort(53, 53, "dns", Protocol.UDP),
            ServicePort(53, 53, "dns-tcp", Protocol.TCP),
            ServicePort(9153, 9153, "metrics", Protocol.TCP),
        ),
        selector={"k8s-app": "kube-dns"},
        cluster_ip=nameserver(cluster),
    )
    out = cluster.with_service(service)
    for i in range(replicas):
        node = nodes[i % len(nodes)]
        out = out.with_pod(Pod(DNS_NAMESPACE, _COREDNS_PODS[i], labels=labels, node_name=node.name, containers=(container,)))
    return allocate_pod_ips(out)
