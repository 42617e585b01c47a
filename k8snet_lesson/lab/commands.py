"""The lab's command box: one real command, typed by a learner, run in a pod's or a node's namespace.

:func:`parse` reads a line the way a shell would split it (``shlex``), but no shell
ever runs it: a shell metacharacter (``;``, ``|``, ``&``, ``<``, ``>``, ``$``, a
backquote, a backslash or a newline) is refused, and so is every tool outside a fixed
set, and every option of those tools that changes the lab or writes a file. The set:

========================  =======================================================
``ip``                    ``addr``, ``route`` (``show``, ``get``), ``link``, ``neigh``: read only
``iptables-save``         ``-t TABLE``, ``-c``
``iptables``              ``-t TABLE -L [CHAIN]`` or ``-S [CHAIN]``, with ``-n -v -x --line-numbers``
``nft``                   ``list ruleset``, ``list tables``, ``list table ...``, ``list chain ...``
``conntrack``             ``-L`` (with ``-p``, ``-s``, ``-d``, ``--dport``, ...), ``-C``, ``-S``
``ss``                    ``-t -u -l -n -p -a -e -4`` in any combination
``curl``                  ``http://`` URLs to the cluster's addresses or names (and 127.0.0.1); ``-v -s -S -i -I -m``
``nslookup``, ``dig``     a DNS name or an address; in pods only (a node asks the machine's resolver)
``cat``                   ``/etc/resolv.conf`` and ``/etc/hosts``, in pods
``tcpdump``               ``-c N`` (at most 20) with ``-n -e -v -i IFACE -T vxlan`` and a filter
``kubectl``               ``get pods``, ``get endpoints``, ``get endpointslices``, ``describe pod``,
                          ``describe endpoints``: answered from the model's cluster; and
                          ``kubectl exec POD -- COMMAND``, which runs COMMAND in that pod
========================  =======================================================

:func:`execute` runs a :class:`Command` in the running :class:`~k8snet_lesson.lab.kernel.Lab`
as a container there would (``Lab.in_pod``: the pod's namespace and resolv.conf) or on a
node, each under ``timeout`` (:data:`TIME_LIMIT` seconds), keeping at most
:data:`MAX_LINES` lines of output, and with no lab namespace names in sight. Of its
:class:`Result`, :attr:`Result.head` is what a screen shows first (:data:`LINES` lines),
:attr:`Result.rest` what it folds. Destinations are checked too: curl, nslookup and dig
may only name addresses in the cluster's pod, service or node networks (or the
namespace's own loopback), so nothing outside the lab is ever asked.

A ``tcpdump`` needs traffic while it listens: :func:`execute` runs the box's
``traffic`` command (a request from a pod, named in the result's ``note``) once the
capture has started.

What it leaves out: shells, pipes and `grep` (the box folds long output instead), every
command that changes the lab (the notebook applies faults and fixes), ``ping`` (not
installed by default), and kubectl verbs other than the read-only ones above.

    >>> from k8snet_lesson.scenarios import lesson_cluster
    >>> parse("ip route", where="node-eu-west-1a", cluster=lesson_cluster()).argv
    ('ip', 'route')
    >>> parse("ip route | grep flannel", where="node-eu-west-1a", cluster=lesson_cluster())
    Traceback (most recent call last):
    ...
    k8snet_lesson.lab.commands.CommandRefused: '|' is a shell character: the box runs one command without a shell (no pipes, redirections, variables or command lists)
"""

from __future__ import annotations

import dataclasses
import re
import select
import shlex
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv4Network
from urllib.parse import urlsplit

from ..cluster import Cluster
from ..errors import InvalidValue, LabUnavailable, NotFound

__all__ = ["LINES", "TIME_LIMIT", "TOOLS", "CommandRefused", "Command", "Result", "parse", "execute", "places"]

LINES = 25  # what a screen shows before it folds the rest
MAX_LINES = 2000  # what the box keeps of one command's output
TIME_LIMIT = 8.0  # seconds: every command is stopped after this
CAPTURE_LIMIT = 20  # tcpdump -c N: at most this many packets
CURL_MAX_TIME = "5"
TOOLS = ("ip", "iptables-save", "iptables", "nft", "conntrack", "ss", "curl", "nslookup", "dig", "cat", "tcpdump", "kubectl")
POD_ONLY = ("nslookup", "dig", "cat")
NAMESPACE = "production"  # the box's kubectl context, as after `kubectl config set-context --current --namespace=production`

_SHELL = ";|&<>`$\\\n"
_WORD = re.compile(r"^[A-Za-z0-9._:/@+=,%-]+$")
_FILTER = re.compile(r"^[A-Za-z0-9._:/()!-]+$")
_DNS_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$")


class CommandRefused(InvalidValue):
    """A line the box will not run; the message says which word and why."""


@dataclasses.dataclass(frozen=True)
class Command:
    """A checked command: the line as typed, where it runs, and its words."""

    line: str
    where: str  # a pod (namespace/name) or a node name
    argv: tuple[str, ...]

    @property
    def tool(self) -> str:
        return self.argv[0]

    @property
    def from_model(self) -> bool:
        """kubectl lookups are answered from the model's cluster (the lab has no API server)."""
        return self.tool == "kubectl"


@dataclasses.dataclass(frozen=True)
class Result:
    """What a command printed (stdout, then stderr), its exit status, and where it came from."""

    command: Command
    text: str
    exit_code: int
    source: str  # "kernel" (a real program in the lab) or "model" (kubectl)
    note: str = ""  # what the box did besides: a time limit hit, traffic sent during a capture

    @property
    def lines(self) -> list[str]:
        return self.text.rstrip("\n").splitlines() if self.text.strip() else []

    @property
    def head(self) -> list[str]:
        return self.lines[:LINES]

    @property
    def rest(self) -> list[str]:
        return self.lines[LINES:]


# --- where ----------------------------------------------------------------------------------


def places(cluster: Cluster) -> tuple[str, ...]:
    """Where a command can run: every running pod with an IP (namespace/name), then every node."""
    from ..cluster import PodPhase

    pods = [p.key for p in cluster.pods if p.pod_ip is not None and p.node_name and p.phase is PodPhase.RUNNING
            and not p.host_network]  # fmt: skip
    return (*pods, *(n.name for n in cluster.nodes))


def _where(cluster: Cluster, where: str) -> str:
    known = places(cluster)
    if where in known:
        return where
    matches = [k for k in known if "/" in k and k.split("/", 1)[1] == where]
    if len(matches) == 1:
        return matches[0]
    raise NotFound(f"no pod or node {where!r} to run in (pods and nodes: {', '.join(known)})")


def _is_node(cluster: Cluster, where: str) -> bool:
    return any(n.name == where for n in cluster.nodes)


# --- parsing --------------------------------------------------------------------------------


def _split(line: str) -> list[str]:
    if not isinstance(line, str) or not line.strip():
        raise CommandRefused("type a command, e.g. ip route")
    if len(line) > 500:
        raise CommandRefused(f"a command of {len(line)} characters is too long for the box (at most 500)")
    for char in _SHELL:
        if char in line:
            shown = "a newline" if char == "\n" else repr(char)
            raise CommandRefused(f"{shown} is a shell character: the box runs one command without a shell "
                                 "(no pipes, redirections, variables or command lists)")
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise CommandRefused(f"cannot read {line.strip()!r}: {exc} (close your quotes)") from None
    if not words:
        raise CommandRefused("type a command, e.g. ip route")
    return words


def parse(line: str, *, where: str, cluster: Cluster) -> Command:
    """Check ``line`` for the box: a listed tool with allowed arguments, run at ``where``.

    ``kubectl exec [-n NS] [-it] POD -- COMMAND`` becomes COMMAND run in POD. Anything
    else the box refuses with a :class:`CommandRefused` that names the word at fault.
    """
    words = _split(line)
    place = _where(cluster, where)
    if words[0] == "kubectl" and len(words) > 1 and words[1] == "exec":
        place, words = _exec_target(cluster, words)
    tool = words[0]
    if tool not in TOOLS:
        if tool in ("sh", "bash", "ash", "zsh"):
            raise CommandRefused(f"{tool} is a shell: the box runs one listed command at a time ({', '.join(TOOLS)})")
        raise CommandRefused(f"{tool!r} is not one of the box's commands: {', '.join(TOOLS)}")
    if tool in POD_ONLY and _is_node(cluster, place):
        raise CommandRefused(f"{tool} runs in pods only: a node would ask the machine's own resolver, which the lab "
                             "never asks; pick a pod in 'run in'")
    _CHECKS[tool](words[1:], cluster, place)
    return Command(line.strip(), place, tuple(words))


def _exec_target(cluster: Cluster, words: list[str]) -> tuple[str, list[str]]:
    """``kubectl exec [-n NS] [-i] [-t] [-it] [-c CONTAINER] POD -- COMMAND...``."""
    if "--" not in words:
        raise CommandRefused("kubectl exec needs -- before the command, e.g. kubectl exec debug-pod -- ip route")
    split = words.index("--")
    head, command = words[2:split], words[split + 1 :]
    namespace, pod = None, None
    i = 0
    while i < len(head):
        word = head[i]
        if word in ("-n", "--namespace") and i + 1 < len(head):
            namespace, i = head[i + 1], i + 2
            continue
        if word in ("-c", "--container") and i + 1 < len(head):
            i += 2
            continue
        if word in ("-i", "-t", "-it", "-ti", "--stdin", "--tty"):
            i += 1
            continue
        if word.startswith("-"):
            raise CommandRefused(f"kubectl exec option {word!r} is not supported by the box")
        if pod is not None:
            raise CommandRefused(f"kubectl exec names two pods: {pod!r} and {word!r}")
        pod, i = word, i + 1
    if pod is None:
        raise CommandRefused("kubectl exec names no pod, e.g. kubectl exec debug-pod -- ip route")
    if not command:
        raise CommandRefused("kubectl exec has no command after --")
    try:
        found = cluster.pod(pod, None if "/" in pod else (namespace or NAMESPACE))
    except NotFound:
        raise CommandRefused(f"no pod {pod!r} in namespace {namespace or NAMESPACE} "
                             "(kubectl get pods -o wide lists them)") from None
    return _where(cluster, found.key), command


def _option_values(args: Sequence[str], flags: set[str], with_value: dict[str, Callable[[str], None]],
                   tool: str) -> list[str]:
    """Walk ``args``: allowed flags, options with a checked value; return the other words."""
    rest: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word in with_value:
            if i + 1 >= len(args):
                raise CommandRefused(f"{tool} {word} needs a value")
            with_value[word](args[i + 1])
            i += 2
            continue
        if word.startswith("-") and word != "-":
            if word not in flags:
                raise CommandRefused(f"{tool} option {word!r} is not in the box's set ({', '.join(sorted(flags | set(with_value)))})")
        else:
            rest.append(word)
        i += 1
    return rest


def _plain(word: str, tool: str) -> None:
    if not _WORD.match(word):
        raise CommandRefused(f"{tool}: {word!r} is not a name, an address or a number")


def _number(low: int, high: int, what: str) -> Callable[[str], None]:
    def check(word: str) -> None:
        if not word.isdigit() or not low <= int(word) <= high:
            raise CommandRefused(f"{what} must be a whole number from {low} to {high}, not {word!r}")

    return check


def _one_of(options: Sequence[str], what: str) -> Callable[[str], None]:
    def check(word: str) -> None:
        if word not in options:
            raise CommandRefused(f"{what} must be one of {', '.join(options)}, not {word!r}")

    return check


_LOOPBACK = IPv4Network("127.0.0.0/8")  # the namespace's own loopback: it never leaves the lab


def _lab_networks(cluster: Cluster) -> list[IPv4Network]:
    networks = [cluster.cluster_cidr, cluster.service_cidr, _LOOPBACK]
    if cluster.node_network is not None:
        networks.append(cluster.node_network)
    networks += [IPv4Network(f"{n.internal_ip}/32") for n in cluster.nodes]
    return networks


def _lab_address(cluster: Cluster, text: str, tool: str) -> IPv4Address:
    try:
        address = IPv4Address(text)
    except ValueError:
        raise CommandRefused(f"{tool}: {text!r} is not an IPv4 address") from None
    if not any(address in network for network in _lab_networks(cluster)):
        ranges = ", ".join(str(n) for n in _lab_networks(cluster)[:3])
        raise CommandRefused(f"{tool}: {address} is outside the lab's cluster ({ranges}): the box only talks to the lab")
    return address


def _dns_name(text: str, tool: str) -> None:
    name = text[:-1] if text.endswith(".") else text
    if not name or len(name) > 253:
        raise CommandRefused(f"{tool}: a DNS name has 1 to 253 characters; {text[:40]!r} has {len(name)}")
    for label in name.split("."):
        if len(label) > 63 or not _DNS_LABEL.match(label):
            raise CommandRefused(f"{tool}: {label[:70]!r} is not a DNS label (letters, digits and '-', at most 63)")


def _host(cluster: Cluster, text: str, tool: str, at_node: bool) -> None:
    """An address in the lab's networks, or (from a pod) a DNS name the cluster's DNS answers."""
    if re.fullmatch(r"[0-9.]+", text):
        _lab_address(cluster, text, tool)
        return
    if at_node:
        raise CommandRefused(f"{tool}: on a node, use an address ({text!r} is a name, and a node resolves names "
                             "with the machine's resolver, which the lab never asks)")
    _dns_name(text, tool)


# --- each tool's arguments ------------------------------------------------------------------

_IP_OBJECTS = {"addr": "address", "address": "address", "a": "address", "route": "route", "r": "route",
               "ro": "route", "link": "link", "l": "link", "neigh": "neigh", "neighbour": "neigh", "n": "neigh"}
_IP_CHANGES = ("add", "del", "delete", "change", "replace", "set", "flush", "append", "prepend", "save", "restore",
               "monitor")
_IP_FLAGS = {"-4", "-j", "-json", "-d", "-details", "-s", "-stats", "-br", "-brief", "-o", "-oneline", "-p", "-pretty",
             "-c", "-color"}


def _check_ip(args: Sequence[str], cluster: Cluster, where: str) -> None:
    rest = list(args)
    while rest and rest[0].startswith("-"):
        if rest[0] not in _IP_FLAGS:
            raise CommandRefused(f"ip option {rest[0]!r} is not in the box's set ({', '.join(sorted(_IP_FLAGS))})")
        rest.pop(0)
    if not rest:
        raise CommandRefused("ip needs an object: ip addr, ip route, ip link or ip neigh")
    obj = _IP_OBJECTS.get(rest[0])
    if obj is None:
        if rest[0] == "netns":
            raise CommandRefused("ip netns: the lab's namespaces are chosen with 'run in', not named")
        raise CommandRefused(f"ip {rest[0]!r}: the box shows ip addr, ip route, ip link and ip neigh")
    if len(rest) > 1 and rest[1] in _IP_CHANGES:
        raise CommandRefused(f"ip {rest[0]} {rest[1]} changes the lab: the box only looks (ip {rest[0]} show)")
    for word in rest[1:]:
        _plain(word, "ip")
    if obj != "route" and "get" in rest[1:2]:
        raise CommandRefused(f"ip {rest[0]} get: the box shows ip {rest[0]} show (ip route get ADDRESS is the one get)")
    if len(rest) > 1 and rest[1] == "get":
        if len(rest) < 3:
            raise CommandRefused("ip route get needs an address, e.g. ip route get 10.244.3.7")
        _lab_address(cluster, rest[2], "ip route get")


def _check_iptables_save(args: Sequence[str], cluster: Cluster, where: str) -> None:
    rest = _option_values(args, {"-c", "--counters"}, {"-t": _one_of(_TABLES, "the table")}, "iptables-save")
    if rest:
        raise CommandRefused(f"iptables-save takes no word {rest[0]!r} (options: -t TABLE, -c)")


_TABLES = ("nat", "filter", "mangle", "raw")


def _check_iptables(args: Sequence[str], cluster: Cluster, where: str) -> None:
    listing = {"-L", "--list", "-S", "--list-rules"}
    flags = {"-n", "-v", "-x", "-nv", "-vn", "-nvx", "-vnx", "-xvn", "--line-numbers", "--numeric", "--verbose", "--exact"}
    words = list(args)
    chosen = [w for w in words if w in listing]
    changing = [w for w in words if w.startswith("-") and w not in listing | flags | {"-t", "--table"}]
    if changing:
        raise CommandRefused(f"iptables {changing[0]}: the box only lists rules (iptables -t nat -L CHAIN -n -v -x)")
    if len(chosen) != 1:
        raise CommandRefused("iptables needs one of -L or -S, e.g. iptables -t nat -L KUBE-SERVICES -n")
    rest = _option_values(words, flags | listing, {"-t": _one_of(_TABLES, "the table"),
                                                   "--table": _one_of(_TABLES, "the table")}, "iptables")
    if len(rest) > 1:
        raise CommandRefused(f"iptables lists one chain at a time, not {' '.join(rest)}")
    for word in rest:
        _plain(word, "iptables")


def _check_nft(args: Sequence[str], cluster: Cluster, where: str) -> None:
    words = [w for w in args if w not in ("-a", "-n", "--handle", "--numeric")]
    if not words or words[0] != "list":
        raise CommandRefused("nft: the box only lists, e.g. nft list ruleset or nft list table ip nat")
    if len(words) < 2 or words[1] not in ("ruleset", "tables", "table", "chain", "chains"):
        raise CommandRefused("nft list needs ruleset, tables, table [family] NAME or chain [family] TABLE CHAIN")
    for word in words[2:]:
        _plain(word, "nft")
    if any(w.startswith("-") for w in words):
        raise CommandRefused("nft: options other than -a and -n are not in the box's set")


def _check_conntrack(args: Sequence[str], cluster: Cluster, where: str) -> None:
    modes = [w for w in args if w in ("-L", "--dump", "-C", "--count", "-S", "--stats")]
    if len(modes) != 1:
        changing = [w for w in args if w in ("-F", "--flush", "-D", "--delete", "-I", "-U", "-E", "--event")]
        if changing:
            raise CommandRefused(f"conntrack {changing[0]}: the box only lists connections (conntrack -L)")
        raise CommandRefused("conntrack needs one of -L (list), -C (count) or -S (statistics)")
    address = lambda w: _lab_address(cluster, w, "conntrack")  # noqa: E731
    rest = _option_values(
        args, {"-L", "--dump", "-C", "--count", "-S", "--stats", "-n", "-g", "--src-nat", "--dst-nat"},
        {"-p": _one_of(("tcp", "udp", "icmp"), "the protocol"), "-s": address, "-d": address,
         "--orig-src": address, "--orig-dst": address, "--reply-src": address, "--reply-dst": address,
         "--dport": _number(1, 65535, "the port"), "--sport": _number(1, 65535, "the port"),
         "-o": _one_of(("extended", "id"), "the output format")}, "conntrack")  # fmt: skip
    if rest:
        raise CommandRefused(f"conntrack: unexpected word {rest[0]!r}")


def _check_ss(args: Sequence[str], cluster: Cluster, where: str) -> None:
    for word in args:
        if not re.fullmatch(r"-[tulnpae4]+|--(tcp|udp|listening|numeric|processes|all|extended)", word):
            raise CommandRefused(f"ss {word!r}: the box's ss takes -t -u -l -n -p -a -e -4 (e.g. ss -tlnp)")


def _check_curl(args: Sequence[str], cluster: Cluster, where: str) -> None:
    flags = {"-v", "-s", "-S", "-sS", "-Ss", "-sv", "-vs", "-vsS", "-i", "-I", "--head", "--verbose", "--silent",
             "--show-error", "--include", "-f", "--fail"}
    refused = {"-o": "writes a file", "-O": "writes a file", "--output": "writes a file", "-T": "uploads a file",
               "-K": "reads a file", "--config": "reads a file", "-x": "uses a proxy", "--proxy": "uses a proxy",
               "--unix-socket": "leaves the network", "-d": "sends data", "--data": "sends data"}
    for word in args:
        if word in refused:
            raise CommandRefused(f"curl {word} {refused[word]}: not in the box's set")
    seconds = _number(1, int(TIME_LIMIT), "the time limit (seconds)")
    urls = _option_values(args, flags, {"-m": seconds, "--max-time": seconds, "--connect-timeout": seconds}, "curl")
    if len(urls) != 1:
        raise CommandRefused("curl needs one URL, e.g. curl -s http://checkout-api-svc/health")
    url = urls[0] if "://" in urls[0] else f"http://{urls[0]}"
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise CommandRefused(f"curl: the lab's servers speak http://, not {parts.scheme}://")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise CommandRefused(f"curl: {urls[0]!r} has no valid port") from None
    if not host:
        raise CommandRefused(f"curl: {urls[0]!r} names no host")
    if port is not None and not 0 < port < 65536:
        raise CommandRefused(f"curl: port {port} is not a TCP port")
    _host(cluster, host, "curl", _is_node(cluster, where))
    if not re.fullmatch(r"[A-Za-z0-9._~/%?=&-]*", parts.path + ("?" + parts.query if parts.query else "")):
        raise CommandRefused(f"curl: the path of {urls[0]!r} holds characters the box does not send")


def _check_nslookup(args: Sequence[str], cluster: Cluster, where: str) -> None:
    rest = []
    for word in args:
        if word.startswith("-"):
            if not re.fullmatch(r"-(timeout=\d{1,2}|retry=\d|type=[A-Za-z]{1,5}|query=[A-Za-z]{1,5}|debug|nodebug|port=53)",
                                word):  # fmt: skip
                raise CommandRefused(f"nslookup option {word!r} is not in the box's set "
                                     "(-timeout=N, -retry=N, -type=T, -debug)")
        else:
            rest.append(word)
    if not 1 <= len(rest) <= 2:
        raise CommandRefused("nslookup needs a name (and optionally a server), e.g. nslookup checkout-api-svc")
    _host(cluster, rest[0], "nslookup", False)
    if len(rest) == 2:
        _lab_address(cluster, rest[1], "nslookup (the server)")


def _check_dig(args: Sequence[str], cluster: Cluster, where: str) -> None:
    names = []
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("@"):
            _lab_address(cluster, word[1:], "dig (the server)")
        elif word.startswith("+"):
            if not re.fullmatch(r"\+(no)?(short|search|all|answer|question|stats|comments|cmd|recurse)|\+(timeout|tries|ndots)=\d{1,2}", word):
                raise CommandRefused(f"dig option {word!r} is not in the box's set (+short, +search, +timeout=N, ...)")
        elif word == "-x":
            if i + 1 >= len(words):
                raise CommandRefused("dig -x needs an address")
            _lab_address(cluster, words[i + 1], "dig -x")
            i += 1
            names.append(words[i])
        elif word.upper() in ("A", "AAAA", "PTR", "SRV", "TXT", "ANY", "NS", "SOA", "CNAME"):
            pass
        elif word.startswith("-"):
            raise CommandRefused(f"dig option {word!r} is not in the box's set")
        else:
            _host(cluster, word, "dig", False)
            names.append(word)
        i += 1
    if not names:
        raise CommandRefused("dig needs a name, e.g. dig +search checkout-api-svc")


def _check_cat(args: Sequence[str], cluster: Cluster, where: str) -> None:
    if not args or any(a not in ("/etc/resolv.conf", "/etc/hosts") for a in args):
        raise CommandRefused("cat: the box shows /etc/resolv.conf and /etc/hosts only")


def _check_tcpdump(args: Sequence[str], cluster: Cluster, where: str) -> None:
    refused = {"-w": "writes a file", "-r": "reads a file", "-F": "reads a file", "-z": "runs a program",
               "-Z": "changes user", "-C": "writes files", "-G": "writes files", "-W": "writes files"}
    for word in args:
        if word in refused:
            raise CommandRefused(f"tcpdump {word} {refused[word]}: not in the box's set")
    if "-c" not in args:
        raise CommandRefused(f"tcpdump needs -c N (a packet count, at most {CAPTURE_LIMIT}), "
                             "e.g. tcpdump -c 6 -n -i eth0 udp port 8472")
    flags = {"-n", "-nn", "-e", "-v", "-vv", "-q", "-t", "-l", "-x", "-X", "-A", "-ne", "-en", "-nne", "-nv", "-vn"}
    rest = _option_values(args, flags, {"-c": _number(1, CAPTURE_LIMIT, "tcpdump -c (packets)"),
                                        "-i": lambda w: _plain(w, "tcpdump -i"),
                                        "-s": _number(0, 262144, "tcpdump -s (snapshot length)"),
                                        "-T": _one_of(("vxlan",), "tcpdump -T (decode as)")}, "tcpdump")
    for word in rest:
        if not _FILTER.match(word):
            raise CommandRefused(f"tcpdump: {word!r} is not a filter word (e.g. udp port 8472, host 10.244.3.7)")


_KUBECTL_HELP = ("the box answers kubectl get pods [-o wide], get endpoints [NAME], get endpointslices "
                 "[-l kubernetes.io/service-name=NAME], describe pod NAME, describe endpoints NAME, and kubectl exec")


def _kubectl_words(args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """kubectl's positional words and its options (-n, -A, -o, -l)."""
    words: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(args):
        word = args[i]
        if word in ("-n", "--namespace", "-o", "--output", "-l", "--selector") and i + 1 < len(args):
            options[word.lstrip("-")[0]] = args[i + 1]
            i += 2
            continue
        if word.startswith(("--namespace=", "--output=", "--selector=")) or re.fullmatch(r"-[nol]\S+", word):
            key = word.lstrip("-")[0]
            options[key] = word.split("=", 1)[1] if "=" in word else word[2:]
        elif word in ("-A", "--all-namespaces"):
            options["A"] = ""
        elif word.startswith("-"):
            raise CommandRefused(f"kubectl option {word!r}: {_KUBECTL_HELP}")
        else:
            words.append(word)
        i += 1
    return words, options


_KINDS = {"pods": "pods", "pod": "pods", "po": "pods", "endpoints": "endpoints", "ep": "endpoints",
          "endpointslices": "endpointslices", "endpointslice": "endpointslices"}


def _check_kubectl(args: Sequence[str], cluster: Cluster, where: str) -> None:
    words, options = _kubectl_words(args)
    if len(words) < 2 or words[0] not in ("get", "describe") or words[1] not in _KINDS:
        raise CommandRefused(_KUBECTL_HELP)
    if options.get("o", "wide") not in ("wide",):
        raise CommandRefused(f"kubectl -o {options['o']}: the box prints the table form and -o wide")
    for word in (*words[2:], *options.values()):
        _plain(word, "kubectl")
    if words[0] == "describe" and (len(words) != 3 or _KINDS[words[1]] == "endpointslices"):
        raise CommandRefused("kubectl describe takes pod NAME or endpoints NAME")


_CHECKS: dict[str, Callable[[Sequence[str], Cluster, str], None]] = {
    "ip": _check_ip, "iptables-save": _check_iptables_save, "iptables": _check_iptables, "nft": _check_nft,
    "conntrack": _check_conntrack, "ss": _check_ss, "curl": _check_curl, "nslookup": _check_nslookup,
    "dig": _check_dig, "cat": _check_cat, "tcpdump": _check_tcpdump, "kubectl": _check_kubectl,
}  # fmt: skip


# --- kubectl, from the model -------------------------------------------------------------------


def kubectl(command: Command, cluster: Cluster, namespace: str = NAMESPACE) -> str:
    """What ``kubectl`` prints for ``command`` on ``cluster`` (the box's namespace: ``namespace``)."""
    from ..view import kubectl as views

    words, options = _kubectl_words(command.argv[1:])
    chosen = None if "A" in options else options.get("n", namespace)
    verb, kind = words[0], _KINDS[words[1]]
    name = words[2] if len(words) > 2 else None
    if verb == "describe":
        try:
            if kind == "pods":
                return views.describe_pod(cluster, name, chosen)
            return views.describe_endpoints(cluster, name, chosen)
        except NotFound:
            return f'Error from server (NotFound): {kind} "{name}" not found'
    if kind == "pods":
        shown = cluster
        if name is not None:
            shown = cluster.with_(pods=tuple(p for p in cluster.pods if p.name == name))
        if "l" in options:
            wanted = dict(pair.split("=", 1) for pair in options["l"].split(",") if "=" in pair)
            shown = shown.with_(pods=tuple(p for p in shown.pods if all(p.labels.get(k) == v for k, v in wanted.items())))
        text = views.get_pods(shown, chosen, wide=options.get("o") == "wide")
    elif kind == "endpoints":
        text = views.get_endpoints(cluster, chosen, name)
        if text:
            text = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\n" + text
    else:
        service = options.get("l", "").removeprefix("kubernetes.io/service-name=") or None
        text = views.get_endpointslices(cluster, chosen, service)
    return text or views.no_resources(chosen)


# --- running ----------------------------------------------------------------------------------

_HIDE_NAMES = 'mount -t tmpfs k8snet-box /run/netns && exec "$@"'
_PREFIX = re.compile(r"\bk8snet-[0-9a-z]{1,12}-")  # a lab run's prefix, should a program print one


def _real_argv(command: Command, lab) -> tuple[list[str], str]:
    """The argv the lab runs (the lab's iptables backend, curl's own time limit) and a note."""
    argv = list(command.argv)
    note = ""
    if argv[0] == "iptables":
        argv = [lab.backend.iptables, "-w", *argv[1:]]
    elif argv[0] == "iptables-save":
        argv = [lab.backend.save, *argv[1:]]
    elif argv[0] == "curl":
        # A terminal shows no progress meter when the body is printed to it; the box shows what a terminal shows.
        argv = ["curl", "--no-progress-meter", *argv[1:]]
        if not {"-m", "--max-time"} & set(argv):
            argv[1:1] = ["-m", CURL_MAX_TIME]
            note = f"curl ran with -m {CURL_MAX_TIME} (it gives up after {CURL_MAX_TIME} s)"
    elif argv[0] == "tcpdump":
        argv = ["tcpdump", "-l", *argv[1:]]
    return ["timeout", "-s", "INT", "-k", "2", f"{TIME_LIMIT:g}", *argv], note


# The Debian package of each tool the box runs (iptables' tools come with the lab itself).
PACKAGES = {"ip": "iproute2", "ss": "iproute2", "curl": "curl", "nslookup": "bind9-dnsutils", "dig": "bind9-dnsutils",
            "conntrack": "conntrack", "tcpdump": "tcpdump", "nft": "nftables", "cat": "coreutils"}


def _missing(tool: str, lab) -> str:
    """Why ``tool`` cannot run here ("" when it can): the program is not installed."""
    import shutil

    from .probe import _PATH

    program = {"iptables": lab.backend.iptables, "iptables-save": lab.backend.save}.get(tool, tool)
    if shutil.which(program, path=_PATH) is not None:
        return ""
    return f"{program} is not installed on this machine (Debian: apt-get install {PACKAGES.get(tool, 'iptables')})"


def _run_at(lab, where: str, argv: list[str], **kw):
    """Run at a pod (as its container sees it) or a node, with no lab namespace names in sight; stderr
    goes where stdout goes, so the lines come in the order a terminal shows them."""
    argv = ["sh", "-c", 'exec "$@" 2>&1', "sh", *argv]  # the words stay "$@": no shell reads them
    if "/" in where:
        return lab.in_pod(where, argv, check=False, **kw)
    return lab.exec(where, ["unshare", "--mount", "sh", "-c", _HIDE_NAMES, "sh", *argv], check=False, **kw)


def _combined(stdout: str, stderr: str) -> str:
    if stdout and stderr:
        return stdout.rstrip("\n") + "\n" + stderr
    return stdout or stderr


def execute(command: Command, *, lab=None, cluster: Cluster | None = None,
            traffic: tuple[str, Sequence[str]] | None = None) -> Result:
    """Run ``command``: in the ``lab`` (a real program), or for kubectl from the model's cluster.

    ``cluster`` is what kubectl reads where there is no lab (with a lab: ``lab.cluster``,
    which holds any fault the notebook applied). ``traffic`` is ``(pod, argv)``, the request
    a ``tcpdump`` waits for. Without a lab, a real command raises LabUnavailable.
    """
    if command.from_model:
        source = lab.cluster if lab is not None else cluster
        if source is None:
            raise InvalidValue("kubectl needs a cluster to answer from")
        return Result(command, kubectl(command, source), 0, "model")
    if lab is None:
        raise LabUnavailable(f"{command.tool} runs in the kernel lab, which is not running here")
    missing = _missing(command.tool, lab)
    if missing:
        raise LabUnavailable(missing)
    argv, note = _real_argv(command, lab)
    if command.tool == "tcpdump" and traffic is not None:
        text, code, sent = _capture(lab, command.where, argv, traffic)
        note = "; ".join(n for n in (note, sent) if n)
    else:
        done = _run_at(lab, command.where, argv, timeout=TIME_LIMIT + 5)
        text, code = _combined(done.stdout, done.stderr), done.returncode
    if code == 124:
        note = "; ".join(n for n in (note, f"the box stopped it after {TIME_LIMIT:g} s") if n)
    lines = text.splitlines(keepends=True)
    if len(lines) > MAX_LINES:
        text = "".join(lines[:MAX_LINES])
        note = "; ".join(n for n in (note, f"the box kept the first {MAX_LINES:,} of {len(lines):,} lines") if n)
    return Result(command, _PREFIX.sub("<lab>-", text), code, "kernel", note)


def _capture(lab, where: str, argv: list[str], traffic: tuple[str, Sequence[str]]) -> tuple[str, int, str]:
    """tcpdump at ``where`` while ``traffic`` runs once it listens; (text, exit status, what was sent)."""
    wrapped = ["unshare", "--mount", "sh", "-c", _HIDE_NAMES, "sh", *argv]
    process = lab.sandbox.popen(wrapped, netns=lab.netns(where))
    first = b""
    try:
        deadline = time.monotonic() + 3.0
        while b"listening on" not in first and time.monotonic() < deadline:  # tcpdump is ready when it says so
            ready, _, _ = select.select([process.stderr], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                break
            line = process.stderr.readline()
            if not line:
                break
            first += line
        pod, request = traffic
        time.sleep(0.1)
        lab.in_pod(pod, list(request), check=False, timeout=TIME_LIMIT)
        out, err = process.communicate(timeout=TIME_LIMIT + 5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = _combined(first.decode(errors="replace") + out.decode(errors="replace"), err.decode(errors="replace"))
    sent = f"while it listened, {lab.topology.pod(pod).name} ran: {shlex.join(request)}"
    return text, process.returncode, sent
