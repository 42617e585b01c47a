"""The debugging ladder climbed with real tools in the lab: the model's one climb, fed by the kernel.

The climb is :func:`k8snet_lesson.ladder.climb_with`, the same one the model climbs; this
module only supplies its evidence (:class:`KernelTools`) from real commands:

- ``curl -v`` (curl 7.88.1) in the client pod's namespace, with the pod's resolv.conf:
  by name, to the ClusterIP through the node's real kube-proxy rules, and to each pod
  IP; :func:`parse_curl` reads its exit status and verbose lines;
- ``nslookup`` (BIND 9) against dnsmasq behind the kube-dns ClusterIP;
  :func:`parse_nslookup` reads its answers or how it failed;
- ``ss -tlnp`` in a pod (:func:`listening_sockets`);
- kube-proxy's rules on the client's node as the kernel holds them: ``iptables-save``,
  parsed and read by :func:`k8snet_lesson.explain.explain` (``lab.kernel_rules``), or, on
  a lab in nftables mode (:class:`k8snet_lesson.lab.nft_mode.NftablesLab`), ``nft list
  table ip kube-proxy`` read by :func:`k8snet_lesson.nftables.explain.explain`.

What kubectl would read from the API (Endpoints, the pod's declared ports, labels,
NetworkPolicies) is read from ``lab.cluster``: in the lab, the API is the model's cluster
value, which the lab applies to the kernel. :func:`check_fault` breaks the lab with
one of the model's faults, climbs with the model's tools and with the real ones, fixes
it and climbs again.

What it simplifies: one request per rung, as the model does; timeouts are short (the
lab's network answers in milliseconds or not at all); the real tools draw their own
endpoints, so a climb here has no seed.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from ipaddress import IPv4Address
from typing import Any

from ..ladder import Climb, CurlSeen, LookupSeen, SocketsSeen, climb_with
from .kernel import Lab
from .topology import CNI

__all__ = [
    "Observation",
    "KernelTools",
    "climb",
    "FaultCheck",
    "check_fault",
    "parse_curl",
    "parse_nslookup",
    "listening_sockets",
]

PROMPT = "bash-5.1# "
CURL = ("curl", "-v", "-sS", "--connect-timeout", "2", "-m", "3")
NSLOOKUP = ("nslookup", "-timeout=2", "-retry=0")


@dataclasses.dataclass(frozen=True)
class Observation:
    """One real command run in a pod: what it printed (stdout and stderr) and its exit status."""

    where: str
    command: str
    text: str
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def transcript(self) -> str:
        return f"{PROMPT}{self.command}\n{self.text.rstrip()}"


_HTTP_STATUS = re.compile(r"^< HTTP/\S+ (\d{3})\b", re.MULTILINE)


def parse_curl(text: str, exit_code: int, output: Any = None) -> CurlSeen:
    """What ``curl -v`` showed, from its output and exit status.

    >>> seen = parse_curl('''*   Trying 10.244.2.14:3000...
    ... * connect to 10.244.2.14 port 3000 failed: Connection refused
    ... * Failed to connect to 10.244.2.14 port 3000 after 0 ms: Couldn't connect to server
    ... * Closing connection 0
    ... curl: (7) Failed to connect to 10.244.2.14 port 3000 after 0 ms: Couldn't connect to server''', 7)
    >>> seen.refused, seen.connected, seen.timed_out, seen.status, seen.ok
    (True, False, False, None, False)
    >>> seen.detail
    "curl: (7) Failed to connect to 10.244.2.14 port 3000 after 0 ms: Couldn't connect to server"
    """
    lines = [line for line in text.splitlines() if line.strip()]
    status = _HTTP_STATUS.search(text)
    error = next((line for line in reversed(lines) if line.startswith("curl: (")), None)
    return CurlSeen(
        output=output,
        exit_code=exit_code,
        resolved=exit_code != 6 and "Could not resolve host" not in text,
        connected="* Connected to " in text,
        refused="Connection refused" in text,
        timed_out=exit_code == 28,
        status=int(status.group(1)) if status else None,
        detail=error or (lines[-1] if lines else f"curl exited {exit_code} without output"),
    )


_SERVER = re.compile(r"^Server:\s+(\d+\.\d+\.\d+\.\d+)", re.MULTILINE)
_LOST_TO = re.compile(r"error to (\d+\.\d+\.\d+\.\d+)#")
_CANT_FIND = re.compile(r"server can't find \S+: (\w+)")


def parse_nslookup(text: str, output: Any = None, nameserver: IPv4Address | None = None) -> LookupSeen:
    """What BIND's ``nslookup`` showed: the addresses after ``Name:`` lines, or how it failed.

    ``nameserver`` is the one from the pod's resolv.conf, used when the output names none.

    >>> seen = parse_nslookup("Server:\\t\\t10.96.0.10\\nAddress:\\t10.96.0.10#53\\n\\n"
    ...                       "** server can't find nope.production.svc.cluster.local: NXDOMAIN\\n")
    >>> seen.ok, seen.timed_out, seen.rcode, seen.nameserver
    (False, False, 'NXDOMAIN', IPv4Address('10.96.0.10'))
    """
    addresses = []
    after_name = False
    for line in text.splitlines():
        if line.startswith("Name:"):
            after_name = True
        elif after_name and line.startswith("Address:"):
            addresses.append(IPv4Address(line.split()[1].split("#")[0]))
    server = _SERVER.search(text) or _LOST_TO.search(text)
    timed_out = not addresses and ("timed out" in text or "no servers could be reached" in text)
    found = _CANT_FIND.search(text)
    if addresses or timed_out:
        rcode = None if timed_out else "NOERROR"
    elif found:
        rcode = found.group(1)
    elif "No answer" in text:
        rcode = "NOERROR"
    else:
        rcode = None
    lines = [line for line in text.splitlines() if line.strip()]
    return LookupSeen(
        output=output,
        nameserver=IPv4Address(server.group(1)) if server else nameserver,
        addresses=tuple(addresses),
        timed_out=timed_out,
        rcode=rcode,
        detail=lines[-1] if lines else "no output",
    )


_SS_LOCAL = re.compile(r"^\s*LISTEN\s+\d+\s+\d+\s+(\S+):(\d+)\s")
_ANY = IPv4Address("0.0.0.0")


def listening_sockets(ss_output: str) -> tuple[tuple[IPv4Address, int], ...]:
    """The (address, port) of each listening TCP socket in ``ss -tlnp`` output.

    A socket on every address (``*`` or ``[::]``, dual stack) accepts IPv4 too, so it is
    listed as ``0.0.0.0``; other IPv6 sockets are left out.

    >>> listening_sockets('''State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
    ... LISTEN 0      5          127.0.0.1:3000      0.0.0.0:*    users:(("python",pid=7,fd=3))
    ... LISTEN 0      5                  *:8080            *:*    users:(("python",pid=8,fd=3))
    ... LISTEN 0      5              [::1]:9090         [::]:*    users:(("python",pid=9,fd=3))
    ... ''')
    ((IPv4Address('127.0.0.1'), 3000), (IPv4Address('0.0.0.0'), 8080))
    """
    out = []
    for line in ss_output.splitlines():
        match = _SS_LOCAL.match(line)
        if not match:
            continue
        address, port = match.group(1), int(match.group(2))
        if address in ("*", "[::]"):
            out.append((_ANY, port))
        elif not address.startswith("["):
            out.append((IPv4Address(address.split("%", 1)[0]), port))
    return tuple(out)


def _run(lab: Lab, pod: str, argv: tuple[str, ...] | list[str]) -> Observation:
    done = lab.in_pod(pod, list(argv), check=False, timeout=30)
    text = (done.stdout + done.stderr) if done.stdout and done.stderr else (done.stdout or done.stderr)
    return Observation(lab.topology.pod(pod).key, shlex.join(argv), text, done.returncode)


@dataclasses.dataclass(frozen=True)
class KernelTools:
    """The ladder's tools as real commands in the lab: a :class:`k8snet_lesson.ladder.Tools`."""

    lab: Lab
    client: str  # namespace/name of the client pod
    cni: str = CNI
    proxy_mode: str = "iptables"  # where kube_proxy reads the node's rules: iptables-save or nft

    def curl(self, url: str) -> CurlSeen:
        seen = _run(self.lab, self.client, [*CURL, url])
        return parse_curl(seen.text, seen.exit_code, seen)

    def nslookup(self, name: str) -> LookupSeen:
        from ..dns import nameserver

        seen = _run(self.lab, self.client, [*NSLOOKUP, name])
        return parse_nslookup(seen.text, seen, nameserver(self.lab.cluster))

    def resolv_conf(self) -> Observation:
        return _run(self.lab, self.client, ["cat", "/etc/resolv.conf"])

    def sockets(self, pod: Any) -> SocketsSeen:
        seen = _run(self.lab, pod.key, ["ss", "-tlnp"])
        return SocketsSeen(seen, "ss -tlnp", listening_sockets(seen.text))

    def kube_proxy(self, node: str) -> tuple[Any, ...]:
        if self.proxy_mode == "nftables":
            from ..nftables.explain import explain as explain_nft
            from .nft_mode import kernel_table

            return explain_nft(kernel_table(self.lab, node))
        from ..explain import explain

        return explain(self.lab.kernel_rules(node))


def climb(lab: Lab, *, client: str, service: str) -> Climb:
    """Climb the ladder from ``client`` to ``service`` with real tools in the lab (the model's climb)."""
    from .nft_mode import proxy_mode

    key = lab.topology.pod(client).key
    return climb_with(KernelTools(lab, key, proxy_mode=proxy_mode(lab)), lab.cluster, client=key, service=service)


@dataclasses.dataclass(frozen=True)
class FaultCheck:
    """One fault in the model and in the kernel: both climbs broken, then both fixed."""

    fault: str
    model: Climb  # the model's tools on the broken cluster
    kernel: Climb  # the real tools in the broken lab
    model_fixed: Climb
    kernel_fixed: Climb
    changes: tuple[str, ...]  # what the lab changed to break it

    @property
    def model_verdict(self) -> tuple[str, str | None] | None:
        return self.model.verdict

    @property
    def kernel_verdict(self) -> tuple[str, str | None] | None:
        return self.kernel.verdict

    @property
    def agree(self) -> bool:
        """Same verdict broken, and both ladders pass once fixed."""
        return self.model_verdict == self.kernel_verdict and self.model_fixed.passed and self.kernel_fixed.passed


def check_fault(lab: Lab, name: str, *, client: str, service: str, pod: str | None = None) -> FaultCheck:
    """Break the lab with fault ``name`` (the model's), climb both ladders, fix it, climb again.

    The lab applies the broken cluster as kube-proxy in its mode would: ``iptables-restore``
    of the changed chains, or, in nftables mode, the nftables transaction of that sync."""
    from .. import ladder
    from ..faults import inject
    from .nft_mode import proxy_mode

    mode = proxy_mode(lab)
    healthy = lab.cluster
    client_key = lab.topology.pod(client).key
    broken = inject(healthy, name, service=service, client=client_key, pod=pod)
    changes = lab.apply(broken.cluster)
    try:
        model = ladder.climb(broken.cluster, client=client_key, service=service, proxy_mode=mode)
        kernel = climb(lab, client=client_key, service=service)
    finally:
        lab.apply(broken.fixed())
    model_fixed = ladder.climb(lab.cluster, client=client_key, service=service, proxy_mode=mode)
    kernel_fixed = climb(lab, client=client_key, service=service)
    return FaultCheck(name, model, kernel, model_fixed, kernel_fixed, changes)
