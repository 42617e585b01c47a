"""A simulated netshoot pod: the debugging tools' output, answered from the model.

``kubectl run debug-pod --image=nicolaka/netshoot --rm -it --restart=Never -n production``
gives a shell inside the cluster network; this module is that shell. Each tool returns
an :class:`Output` (the command, the text a terminal shows, the exit status) shaped
like the real tool's, byte for byte where the real tool was checked:

- ``nslookup NAME`` in busybox's form, the lesson's (``Server:    10.96.0.10`` /
  ``Address 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local`` / ``Name:      ...``;
  each address followed by its PTR name, when CoreDNS has one), or in BIND 9.16's
  form (``Server:\\t\\t10.96.0.10`` / ``Address:\\t10.96.0.10#53``, ``** server can't find
  NAME: NXDOMAIN``, ``*** Can't find NAME: No answer`` for a name without records,
  ``;; connection timed out; no servers could be reached``);
- ``curl -v URL`` as curl 7.88.1 prints it on a terminal (``*   Trying 10.96.214.88:80...``,
  ``* Connected to ... (#0)``, request and response headers, ``* connect to 10.244.2.14
  port 3000 failed: Connection refused``, ``curl: (7) ...``; exit 6 when the host does not
  resolve, 7 when refused or unreachable, 28 when the connection times out);
- ``netstat -tlnp`` as net-tools prints it (``Proto Recv-Q Send-Q Local Address  Foreign
  Address  State  PID/Program name``); run in one container, sockets of the pod's other
  containers show ``-`` for the program, as their processes are in another PID namespace;
- ``cat /etc/resolv.conf``, and ``kubectl get endpoints`` / ``kubectl describe pod`` from
  :mod:`k8snet_lesson.view.kubectl`.

What it simplifies: every app answers HTTP ``GET`` on any path with ``200 OK`` and
``{"status":"healthy"}`` (the lesson's health endpoint) and minimal headers; times are
nominal, since the model has no clock: a refused connection takes 0 ms on the same node
and 1 ms across nodes, an unanswered ARP 3000 ms, an unanswered SYN 127000 ms (Linux's
six SYN retries, 1+2+...+64 s); the program name in netstat is the container image's
name; trailing blanks of net-tools' padded columns are trimmed; only IPv4, only HTTP.
"""

from __future__ import annotations

from datetime import timedelta

import dataclasses
import enum
from ipaddress import IPv4Address, ip_address
from urllib.parse import urlsplit

from .cluster import Cluster, Container, Pod, Protocol, Service
from .connect import Connection, Outcome, connect
from .dns import Rcode, Resolution, resolv_conf, resolve, reverse
from .errors import InvalidValue

__all__ = [
    "CURL_VERSION",
    "NETSHOOT_IMAGE",
    "PROMPT",
    "NslookupStyle",
    "Output",
    "debug_pod",
    "nslookup",
    "nslookup_address",
    "ptr_name",
    "resolver_wait",
    "RESOLVER",
    "curl",
    "netstat",
    "cat_resolv_conf",
    "kubectl_get_endpoints",
    "kubectl_describe_pod",
]

CURL_VERSION = "7.88.1"
NETSHOOT_IMAGE = "nicolaka/netshoot"
PROMPT = "bash-5.1# "
HEALTHY_BODY = '{"status":"healthy"}'

# Nominal durations (ms), see the module docstring.
REFUSED_LOCAL_MS = 0
REFUSED_REMOTE_MS = 1
ARP_FAILED_MS = 3000
SYN_TIMEOUT_MS = 127000


class NslookupStyle(str, enum.Enum):
    """Which nslookup: busybox's (the lesson's transcript) or BIND 9.16's (bind-tools)."""

    BUSYBOX = "busybox"
    BIND = "bind"


@dataclasses.dataclass(frozen=True)
class Output:
    """One command run in a shell: what the terminal shows and the exit status.

    ``connection`` and ``resolution`` keep the model's reasons behind the text (for curl
    and nslookup), so a caller can explain the output without parsing it.
    """

    command: str
    text: str
    exit_code: int = 0
    prompt: str = PROMPT
    connection: Connection | None = dataclasses.field(default=None, compare=False, repr=False)
    resolution: Resolution | None = dataclasses.field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.text

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def transcript(self) -> str:
        """The prompt, the command and its output, as in the lesson's listings."""
        return f"{self.prompt}{self.command}\n{self.text}"


def _pod(cluster: Cluster, pod: Pod | str) -> Pod:
    return pod if isinstance(pod, Pod) else cluster.pod(pod)


def debug_pod(cluster: Cluster, namespace: str = "default", *, node_name: str | None = None, name: str = "debug-pod",
              age: timedelta = timedelta(seconds=12)) -> tuple[Cluster, Pod]:
    """``kubectl run NAME --image=nicolaka/netshoot -n NAMESPACE``: the cluster with the pod, and the pod.

    ``kubectl run`` labels the pod ``run=NAME`` and names its one container after it; the
    pod was just created, so its age is seconds (``age``), not the cluster's days. The
    scheduler's choice is modelled as the Ready node with the fewest pods (then by
    name) unless ``node_name`` is given; the IP comes from that node's podCIDR as
    host-local hands it out.
    """
    from .ipam import allocate_pod_ips

    if node_name is None:
        ready = [n for n in cluster.nodes if n.ready and n.pod_cidr is not None]
        if not ready:
            raise InvalidValue("no Ready node with a podCIDR to schedule the debug pod on")
        node_name = min(ready, key=lambda n: (len(cluster.pods_on(n.name)), n.name)).name
    else:
        cluster.node(node_name)
    pod = Pod(
        namespace,
        name,
        labels={"run": name},
        node_name=node_name,
        containers=(Container(name, image=NETSHOOT_IMAGE),),
        age=age,
    )
    out = allocate_pod_ips(cluster.with_pod(pod))
    return out, out.pod(name, namespace)


# --- the resolver -----------------------------------------------------------------------------

# netshoot is an Alpine image: every program that looks names up with getaddrinfo()
# (ping, most apps) uses musl's resolver. Its defaults are timeout:5 and attempts:2 (each name is sent
# again after 2.5 s, and given up on after 5 s).
RESOLVER = "musl"
RESOLVER_TIMEOUT_S = 5.0


def resolver_wait(resolution: Resolution, libc: str = RESOLVER) -> float:
    """How long (seconds) ``libc``'s getaddrinfo() waits before it gives up on ``resolution``.

    CoreDNS's answers come at once (0 s). When no DNS answer comes, the two C libraries
    differ on a query that kube-proxy's REJECT answers with ICMP port unreachable (the
    kube-dns Service has no endpoints): musl sends from an unconnected UDP socket, and
    Linux reports an ICMP error to a UDP socket only when it is connected (or has asked
    for errors with IP_RECVERR, which musl does not), so musl hears nothing and waits
    its whole timeout; glibc connects its socket, reads ``ECONNREFUSED`` and gives up the
    whole search list at once. On silence (a dropped packet) both wait; the seconds
    given are musl's (glibc's retries add up differently and are not modelled).

        >>> from k8snet_lesson.dns import Resolution
        >>> from ipaddress import IPv4Address
        >>> rejected = Resolution("checkout-api-svc", IPv4Address("10.96.0.10"), (), (), timed_out=True, refused=True)
        >>> resolver_wait(rejected, "musl"), resolver_wait(rejected, "glibc")
        (5.0, 0.0)
    """
    if libc not in ("musl", "glibc"):
        raise InvalidValue(f"libc {libc!r}: the model knows musl (Alpine, netshoot) and glibc (Debian, Ubuntu)")
    if not resolution.timed_out:
        return 0.0
    if resolution.refused and libc == "glibc":
        return 0.0
    return RESOLVER_TIMEOUT_S


def ptr_name(address: IPv4Address) -> str:
    """The name a reverse (PTR) query asks for: ``10.96.214.88`` -> ``88.214.96.10.in-addr.arpa``."""
    return ".".join(reversed(str(address).split("."))) + ".in-addr.arpa"


# --- nslookup ---------------------------------------------------------------------------------


def _busybox_address_lines(cluster: Cluster, addresses: tuple[IPv4Address, ...], dns_up: bool) -> list[str]:
    lines = []
    for i, address in enumerate(addresses, 1):
        name = reverse(cluster, address) if dns_up else None
        lines.append(f"Address {i}: {address}" + (f" {name}" if name else ""))
    return lines


def nslookup(
    cluster: Cluster,
    client: Pod | str,
    name: str,
    *,
    style: NslookupStyle | str = NslookupStyle.BUSYBOX,
    cni: str | None = None,
    seed: int = 0,
) -> Output:
    """``nslookup NAME`` run in ``client``.

    An IPv4 address is not a name: nslookup asks CoreDNS the reverse (PTR) question
    for it, and no search list applies (:func:`nslookup_address`).
    """
    client = _pod(cluster, client)
    style = NslookupStyle(style)
    literal = _ip_literal(name.strip())
    if literal is not None:
        return nslookup_address(cluster, client, literal, style=style, cni=cni, seed=seed)
    resolution = resolve(cluster, client, name, cni=cni, seed=seed)
    server = resolution.nameserver
    shown = name.rstrip(".") if style is NslookupStyle.BIND else name
    if style is NslookupStyle.BUSYBOX:
        up = not resolution.timed_out
        lines = [f"{'Server:':<10} {server}", *_busybox_address_lines(cluster, (server,), up), ""]
        if resolution.ok:
            lines += [f"{'Name:':<10} {name}", *_busybox_address_lines(cluster, resolution.addresses, True)]
            code = 0
        else:
            lines.append(f"nslookup: can't resolve '{name}'")
            code = 1
    else:
        if resolution.timed_out:
            lines, code = [";; connection timed out; no servers could be reached", ""], 1
        else:
            lines = [f"Server:\t\t{server}", f"Address:\t{server}#53", ""]
            if resolution.ok:
                for address in resolution.addresses:
                    lines += [f"Name:\t{resolution.fqdn}", f"Address: {address}"]
                lines.append("")
                code = 0
            elif resolution.answers and resolution.answers[-1].rcode is Rcode.NOERROR:
                # NODATA: the name exists with no A record; BIND reports it and exits 0
                lines += [f"*** Can't find {resolution.answers[-1].name}: No answer", ""]
                code = 0
            else:
                lines += [f"** server can't find {shown}: NXDOMAIN", ""]
                code = 1
    return Output(f"nslookup {name}", "\n".join(lines), code, resolution=resolution)


def nslookup_address(
    cluster: Cluster,
    client: Pod | str,
    address: IPv4Address | str,
    *,
    style: NslookupStyle | str = NslookupStyle.BUSYBOX,
    cni: str | None = None,
    seed: int = 0,
) -> Output:
    """``nslookup ADDRESS``: one PTR query for ``ADDRESS``'s ``in-addr.arpa`` name, no search list.

    busybox prints the address with the name CoreDNS gives it (or without one) and
    succeeds either way; BIND prints ``name = ...`` or ``NXDOMAIN``.
    """
    from .dns import nameserver

    client = _pod(cluster, client)
    style = NslookupStyle(style)
    literal = _ip_literal(str(address).strip())
    if literal is None:
        raise InvalidValue(f"{address!r} is not an IPv4 address")
    address = literal
    server = nameserver(cluster)
    path = connect(cluster, client, server, 53, Protocol.UDP, cni=cni, seed=seed)
    up = path.established
    query = ptr_name(address)
    if not up:
        if style is NslookupStyle.BIND:
            return Output(f"nslookup {address}", ";; connection timed out; no servers could be reached\n", 1)
        text = f"{'Server:':<10} {server}\nAddress 1: {server}\n\nnslookup: can't resolve '{address}'"
        return Output(f"nslookup {address}", text, 1)
    name = reverse(cluster, address)
    if style is NslookupStyle.BUSYBOX:
        lines = [f"{'Server:':<10} {server}", *_busybox_address_lines(cluster, (server,), True), "",
                 f"{'Name:':<10} {address}", *_busybox_address_lines(cluster, (address,), True)]
        return Output(f"nslookup {address}", "\n".join(lines), 0)
    lines = [f"Server:\t\t{server}", f"Address:\t{server}#53", ""]
    if name:
        lines += [f"{query}\tname = {name}.", ""]
        return Output(f"nslookup {address}", "\n".join(lines), 0)
    lines += [f"** server can't find {query}: NXDOMAIN", ""]
    return Output(f"nslookup {address}", "\n".join(lines), 1)


# --- curl -------------------------------------------------------------------------------------


def _url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http":
        raise InvalidValue(f"URL {url!r}: the model speaks plain http only, not {parts.scheme!r}")
    if not parts.hostname:
        raise InvalidValue(f"URL {url!r} has no host")
    try:
        port = parts.port or 80
    except ValueError:
        raise InvalidValue(f"URL {url!r} has a bad port") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, port, path


def _ip_literal(host: str) -> IPv4Address | None:
    try:
        address = ip_address(host)
    except ValueError:
        return None
    if not isinstance(address, IPv4Address):
        raise InvalidValue(f"host {host!r}: the model is IPv4 only")
    return address


def curl(
    cluster: Cluster,
    client: Pod | str,
    url: str,
    *,
    cni: str | None = None,
    seed: int = 0,
    connect_timeout: float | None = None,
    max_time: float | None = None,
) -> Output:
    """``curl -v URL`` run in ``client`` (``--connect-timeout`` and ``-m`` optional)."""
    client = _pod(cluster, client)
    host, port, path = _url(url)
    flags = "curl -v"
    if connect_timeout is not None:
        flags += f" --connect-timeout {connect_timeout:g}"
    if max_time is not None:
        flags += f" -m {max_time:g}"
    command = f"{flags} {url}"
    limit = min((t for t in (connect_timeout, max_time) if t is not None), default=None)

    address = _ip_literal(host)
    resolution = None
    if address is None:
        resolution = resolve(cluster, client, host, cni=cni, seed=seed)
        if not resolution.ok:
            if resolution.timed_out and limit is not None:
                ms = int(limit * 1000)
                message = f"Resolving timed out after {ms} milliseconds"
                return Output(command, f"* {message}\n* Closing connection 0\ncurl: (28) {message}", 28, resolution=resolution)
            message = f"Could not resolve host: {host}"
            return Output(command, f"* {message}\n* Closing connection 0\ncurl: (6) {message}", 6, resolution=resolution)
        address = resolution.addresses[0]

    conn = connect(cluster, client, address, port, Protocol.TCP, cni=cni, seed=seed)
    lines = [f"*   Trying {address}:{port}..."]
    if conn.established:
        host_header = host if port == 80 else f"{host}:{port}"
        lines += [
            f"* Connected to {host} ({address}) port {port} (#0)",
            f"> GET {path} HTTP/1.1",
            f"> Host: {host_header}",
            f"> User-Agent: curl/{CURL_VERSION}",
            "> Accept: */*",
            "> ",
            "< HTTP/1.1 200 OK",
            "< Content-Type: application/json",
            f"< Content-Length: {len(HEALTHY_BODY)}",
            "< ",
            f"* Connection #0 to host {host} left intact",
            HEALTHY_BODY,
        ]
        return Output(command, "\n".join(lines), 0, connection=conn, resolution=resolution)

    if conn.outcome is Outcome.TIMED_OUT and limit is not None:
        ms = int(limit * 1000)
        if connect_timeout is not None and connect_timeout <= (max_time if max_time is not None else connect_timeout):
            message = f"Failed to connect to {address} port {port} after {ms + 1} ms: Timeout was reached"
            lines += [f"* ipv4 connect timeout after {ms}ms, move on!", f"* {message}"]
        else:
            message = f"Connection timed out after {ms + 1} milliseconds"
            lines.append(f"* {message}")
        lines += ["* Closing connection 0", f"curl: (28) {message}"]
        return Output(command, "\n".join(lines), 28, connection=conn, resolution=resolution)

    if conn.outcome is Outcome.REFUSED:
        local = conn.server is None or conn.server.node_name == client.node_name
        ms, code = (REFUSED_LOCAL_MS if local else REFUSED_REMOTE_MS), 7
    elif conn.outcome is Outcome.UNREACHABLE:
        ms, code = ARP_FAILED_MS, 7
    else:
        ms, code = SYN_TIMEOUT_MS, 28  # curl maps ETIMEDOUT to CURLE_OPERATION_TIMEDOUT
    message = f"Failed to connect to {address} port {port} after {ms} ms: Couldn't connect to server"
    lines += [
        f"* connect to {address} port {port} failed: {conn.outcome.value}",
        f"* {message}",
        "* Closing connection 0",
        f"curl: ({code}) {message}",
    ]
    return Output(command, "\n".join(lines), code, connection=conn, resolution=resolution)


# --- netstat and files ------------------------------------------------------------------------


def _program(container: Container) -> str:
    image = container.image or container.name
    base = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return base or container.name


def netstat(cluster: Cluster, pod: Pod | str, container: str | None = None) -> Output:
    """``kubectl exec -it POD -- netstat -tlnp``: the pod's listening TCP sockets.

    The pod's containers share one network namespace, so every TCP socket shows; the
    process is named (``1/node``) only for the container the command runs in (the first
    one unless ``container`` is given).
    """
    pod = _pod(cluster, pod)
    if not pod.containers:
        raise InvalidValue(f"pod {pod.key} has no containers to exec into")
    if container is None:
        inside = pod.containers[0]
    else:
        inside = next((c for c in pod.containers if c.name == container), None)
        if inside is None:
            names = ", ".join(c.name for c in pod.containers)
            raise InvalidValue(f"container {container!r} is not in pod {pod.key} (containers: {names})")
    rows = []
    for c in pod.containers:
        program = f"1/{_program(c)}" if c is inside else "-"
        for address, port, protocol in c.listening:
            if protocol is Protocol.TCP:
                rows.append((port, int(address), f"{address}:{port}", program))
    lines = [
        "Active Internet connections (only servers)",
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name",
    ]
    for _, _, local, program in sorted(set(rows)):
        lines.append(f"{'tcp':<4}  {0:>6} {0:>6} {local:<23} {'0.0.0.0:*':<23} {'LISTEN':<11} {program}".rstrip())
    where = f" -c {container}" if container else ""
    return Output(f"kubectl exec -it {pod.name} -n {pod.namespace}{where} -- netstat -tlnp", "\n".join(lines), 0, prompt="$ ")


def cat_resolv_conf(cluster: Cluster, pod: Pod | str) -> Output:
    """``cat /etc/resolv.conf`` in ``pod``."""
    pod = _pod(cluster, pod)
    return Output("cat /etc/resolv.conf", str(resolv_conf(cluster, pod)), 0)


# --- kubectl --------------------------------------------------------------------------------


def kubectl_get_endpoints(cluster: Cluster, service: Service | str) -> Output:
    """``kubectl get endpoints NAME -n NAMESPACE``, rendered by :mod:`k8snet_lesson.view.kubectl`."""
    from .view.kubectl import get_endpoints

    service = service if isinstance(service, Service) else cluster.service(service)
    text = get_endpoints(cluster, service.namespace, service.name).rstrip("\n")
    return Output(f"kubectl get endpoints {service.name} -n {service.namespace}", text, 0, prompt="$ ")


def kubectl_describe_pod(cluster: Cluster, pod: Pod | str) -> Output:
    """``kubectl describe pod NAME -n NAMESPACE``, rendered by :mod:`k8snet_lesson.view.kubectl`."""
    from .view.kubectl import describe_pod

    pod = _pod(cluster, pod)
    text = describe_pod(cluster, pod.name, pod.namespace).rstrip("\n")
    return Output(f"kubectl describe pod {pod.name} -n {pod.namespace}", text, 0, prompt="$ ")

