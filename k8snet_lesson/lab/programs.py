"""The small programs the kernel lab runs inside its namespaces (standard library only).

This file is executed by path (``python -I -S programs.py COMMAND ...``) inside lab
namespaces, so it imports nothing from the package and starts in milliseconds:

``init``
    The lab's first process: PID 1 of the lab's private PID, mount and network
    namespaces. It mounts a tmpfs on ``/run`` (so ``/run/netns`` and every name the
    lab gives a namespace live only here) and an overlay on ``/etc`` (so
    ``/etc/netns/<name>/resolv.conf`` is private too), prints one JSON line, then reaps
    orphans until its controller goes away (EOF on stdin), it is told to stop
    (SIGTERM), or its time to live runs out. When it exits the kernel kills every
    process of the lab, and the namespaces, links, rules and servers go with them.
``serve``
    A pod's application: HTTP on each TCP socket the model says it listens on
    (``GET /health`` answers JSON with the pod's name and the peer address it saw)
    and a JSON echo on each UDP socket. It binds first, then detaches, prints its PID
    and exits by itself after ``--ttl`` seconds.
``launch``
    Detach any command (dnsmasq) into the lab, optionally wait until it listens, print its PID.
``reach``
    One HTTP request to each of several pod IPs: who answered, and the peer address it saw.
``client``
    Open N new connections (TCP: one HTTP request each; UDP: one datagram from a fresh
    source port each) to an address and count the answers per pod name.
``capture``
    Capture frames on an interface with an AF_PACKET socket and write them as pcap.

Every command line carries ``--lab PREFIX`` so a run's processes can be told apart.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

RUN_DIR = "/run/k8snet-lab"


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, sort_keys=True) + "\n")
    sys.stdout.flush()


def _detach(log_path: str | None = None) -> int:
    """Fork; the parent gets the child's PID, the child leaves the session and closes stdio."""
    pid = os.fork()
    if pid:
        return pid
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if log_path else null
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    return 0


# --- init -------------------------------------------------------------------------


def _mount(*argv: str) -> None:
    subprocess.run(["mount", *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def init(args: argparse.Namespace) -> int:
    if os.getpid() != 1:
        _print_json({"error": "init must be PID 1 of a new PID namespace"})
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        # Everything below lives in this private mount namespace only.
        _mount("-t", "tmpfs", "-o", "mode=755", "k8snet-lab-run", "/run")
        os.makedirs("/run/netns")
        os.makedirs(RUN_DIR + "/etc-upper")
        os.makedirs(RUN_DIR + "/etc-work")
        os.makedirs(RUN_DIR + "/logs")
    except (OSError, subprocess.CalledProcessError) as exc:
        _print_json({"error": f"cannot mount a private /run: {exc}"})
        return 1
    etc_netns = True
    try:
        _mount(
            "-t", "overlay", "k8snet-lab-etc",
            "-o", f"lowerdir=/etc,upperdir={RUN_DIR}/etc-upper,workdir={RUN_DIR}/etc-work",
            "/etc",
        )  # fmt: skip
        os.makedirs("/etc/netns", exist_ok=True)
        os.mkdir("/etc/netns/.k8snet-lab")  # writable here? (not in a user namespace when the
        os.rmdir("/etc/netns/.k8snet-lab")  # host's /etc/netns exists and belongs to the real root)
    except (OSError, subprocess.CalledProcessError):
        etc_netns = False  # no private /etc: pods fall back to the node's resolver settings
    _print_json({"ready": True, "etc_netns": etc_netns, "lab": args.lab})
    deadline = time.monotonic() + args.ttl
    watch_stdin = not args.detach
    while not stop.is_set() and time.monotonic() < deadline:
        if watch_stdin:
            readable, _, _ = select.select([0], [], [], 0.2)
            if readable and not os.read(0, 4096):
                break  # the controller is gone: take the whole lab down with us
        else:
            stop.wait(0.2)
        _reap()
    return 0


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# --- serve ------------------------------------------------------------------------


def _parse_listen(text: str) -> tuple[str, int, str]:
    address, _, rest = text.rpartition(":")
    port, _, protocol = rest.partition("/")
    return address, int(port), (protocol or "tcp").lower()


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}


def _answer_http(conn: socket.socket, peer: tuple[str, int], pod: str) -> None:
    """Read one request (up to the blank line) and answer it; HTTP/1.1, then close."""
    try:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        words = data.split(b"\r\n", 1)[0].split()
        path = words[1].decode(errors="replace") if len(words) == 3 else ""
        local = conn.getsockname()
        code = 200 if words[:1] == [b"GET"] and path in ("/", "/health", "/healthz") else (404 if path else 400)
        body = json.dumps(
            {"status": "healthy", "pod": pod, "peer": peer[0], "peer_port": peer[1],
             "local": f"{local[0]}:{local[1]}", "path": path},
            sort_keys=True,
        ).encode() + b"\n"  # fmt: skip
        head = (
            f"HTTP/1.1 {code} {_REASONS[code]}\r\nServer: k8snet-lab\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        conn.sendall(head.encode() + body)
    except OSError:
        pass
    finally:
        conn.close()


def _accept_http(listener: socket.socket, pod: str) -> None:
    while True:
        conn, peer = listener.accept()
        threading.Thread(target=_answer_http, args=(conn, peer, pod), daemon=True).start()


def _udp_echo(sock: socket.socket, pod: str) -> None:
    while True:
        data, peer = sock.recvfrom(2048)
        local = sock.getsockname()
        body = {"status": "healthy", "pod": pod, "peer": peer[0], "peer_port": peer[1], "local": f"{local[0]}:{local[1]}"}
        sock.sendto(json.dumps(body, sort_keys=True).encode(), peer)


def _bind(sock: socket.socket, where: tuple[str, int], patience: float = 5.0) -> None:
    """Bind, waiting while the app this one replaces is still exiting (SIGTERM is asynchronous:
    until it has exited, its listening socket holds the port)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            sock.bind(where)
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def serve(args: argparse.Namespace) -> int:
    tcp: list[socket.socket] = []
    udp: list[socket.socket] = []
    try:
        for spec in args.listen:
            address, port, protocol = _parse_listen(spec)
            kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
            sock = socket.socket(socket.AF_INET, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            _bind(sock, (address, port))
            if protocol == "udp":
                udp.append(sock)
            else:
                sock.listen(1024)
                tcp.append(sock)
    except OSError as exc:
        _print_json({"error": f"cannot listen on {spec}: {exc}"})
        return 1
    pid = _detach()
    if pid:
        _print_json({"pid": pid, "listening": args.listen})
        os._exit(0)
    for sock in tcp:
        threading.Thread(target=_accept_http, args=(sock, args.pod), daemon=True).start()
    for sock in udp:
        threading.Thread(target=_udp_echo, args=(sock, args.pod), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    time.sleep(args.ttl)
    os._exit(0)


# --- launch -----------------------------------------------------------------------


def _listening(protocol: str, port: int) -> bool:
    """Whether a socket in this network namespace is bound to ``port`` (reads /proc/self/net)."""
    path = "/proc/self/net/" + protocol
    with open(path) as table:
        next(table)
        for line in table:
            local = line.split()[1]
            if int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


def launch(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        _print_json({"error": "launch needs a command after --"})
        return 1
    read_end, write_end = os.pipe()
    pid = _detach(args.log)
    if pid == 0:
        os.close(read_end)
        os.set_inheritable(write_end, False)  # closes on exec: the parent learns exec worked
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            os.write(write_end, str(exc).encode())
            os._exit(127)
    os.close(write_end)
    failure = os.read(read_end, 4096).decode()
    if failure:
        _print_json({"error": f"cannot run {command[0]}: {failure}"})
        return 1
    if args.wait:
        protocol, _, port = args.wait.partition(":")
        deadline = time.monotonic() + 5
        while not _listening(protocol, int(port)):
            if time.monotonic() > deadline:
                _print_json({"error": f"{command[0]} is not listening on {args.wait} after 5 s", "pid": pid})
                return 1
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    _print_json({"error": f"{command[0]} exited before listening on {args.wait}"})
                    return 1
            except ChildProcessError:
                pass
            time.sleep(0.01)
    _print_json({"pid": pid})
    return 0


# --- client -----------------------------------------------------------------------


def _in_threads(function, items, workers: int) -> list:
    """``function`` over ``items`` in ``workers`` threads, results in order (no executor import)."""
    items = list(items)
    results: list = [None] * len(items)
    cursor = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            results[i] = function(items[i])

    threads = [threading.Thread(target=work) for _ in range(max(1, min(workers, len(items))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results



def _tcp_once(address: str, port: int, timeout: float, source_port: int) -> str:
    request = f"GET /health HTTP/1.1\r\nHost: {address}:{port}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((address, port), timeout=timeout, source_address=("0.0.0.0", source_port)) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace") or "empty answer")
    return json.loads(body)["pod"]


# Source ports the client hands out itself, below Linux's ephemeral range (32768-60999),
# each to one connection, from a cursor the caller moves on between runs. A port the
# kernel picked could repeat a recent 4-tuple: for UDP that is the same conntrack entry
# (not load balanced again); for TCP, once DNAT'd, it can meet the server's TIME_WAIT
# socket of an earlier connection, whose answer makes the client reset and resend its
# SYN, which is drawn again (the kernel then counts two draws for one connection).
SOURCE_PORTS = range(10000, 32000)


def _udp_once(address: str, port: int, timeout: float, source_port: int) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.bind(("0.0.0.0", source_port))  # a source port of its own: a new conntrack entry, a new draw
        sock.connect((address, port))
        sock.send(b"k8snet")
        return json.loads(sock.recv(2048))["pod"]


def client(args: argparse.Namespace) -> int:
    address, _, port_text = args.target.rpartition(":")
    port = int(port_text)
    if args.count > len(SOURCE_PORTS):
        _print_json({"error": f"{args.count} connections need as many source ports; {len(SOURCE_PORTS)} are set aside"})
        return 1
    once = _udp_once if args.protocol == "udp" else _tcp_once
    counts: dict[str, int] = {}
    errors: dict[str, int] = {}
    lock = threading.Lock()
    first = SOURCE_PORTS.index(args.first_port) if args.first_port in SOURCE_PORTS else 0

    def attempt(i: int) -> None:
        try:
            pod = once(address, port, args.timeout, SOURCE_PORTS[(first + i) % len(SOURCE_PORTS)])
        except (OSError, ValueError, KeyError) as exc:
            kind = type(exc).__name__ if not isinstance(exc, OSError) or not exc.strerror else exc.strerror
            with lock:
                errors[kind] = errors.get(kind, 0) + 1
            return
        with lock:
            counts[pod] = counts.get(pod, 0) + 1

    started = time.monotonic()
    _in_threads(attempt, range(args.count), args.concurrency)
    _print_json({"counts": counts, "errors": errors, "seconds": round(time.monotonic() - started, 3)})
    return 0


def reach(args: argparse.Namespace) -> int:
    """One request to each target; report who answered and the peer address it saw."""

    def one(target: str) -> tuple[str, dict]:
        address, _, port = target.rpartition(":")
        try:
            request = f"GET /health HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n".encode()
            with socket.create_connection((address, int(port)), timeout=args.timeout) as sock:
                local = sock.getsockname()
                sock.sendall(request)
                data = b""
                while chunk := sock.recv(4096):
                    data += chunk
            body = json.loads(data.partition(b"\r\n\r\n")[2])
            return target, {"pod": body["pod"], "peer": body["peer"], "local": local[0]}
        except (OSError, ValueError, KeyError) as exc:
            return target, {"error": getattr(exc, "strerror", None) or type(exc).__name__}

    answers = dict(_in_threads(one, args.target, 8))
    _print_json(answers)
    return 0


# --- capture ----------------------------------------------------------------------

_ETH_P_ALL = 0x0003
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET


def _udp_dport(frame: bytes) -> int | None:
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    ihl = (frame[14] & 0x0F) * 4
    return struct.unpack("!H", frame[14 + ihl + 2 : 14 + ihl + 4])[0]


def capture(args: argparse.Namespace) -> int:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
    sock.bind((args.interface, 0))
    sock.settimeout(0.1)
    sys.stderr.write("capturing\n")
    sys.stderr.flush()
    out = sys.stdout.buffer
    out.write(_PCAP_HEADER)
    kept = 0
    deadline = time.monotonic() + args.timeout
    while kept < args.count and time.monotonic() < deadline:
        try:
            frame = sock.recv(65535)
        except socket.timeout:
            continue
        if args.udp_port and _udp_dport(frame) != args.udp_port:
            continue
        now = time.time()
        out.write(struct.pack("<IIII", int(now), int((now % 1) * 1e6), len(frame), len(frame)) + frame)
        kept += 1
    out.flush()
    return 0


# --- entry point ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="programs.py")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("init")
    p.add_argument("--lab", required=True)
    p.add_argument("--ttl", type=float, required=True)
    p.add_argument("--detach", action="store_true")
    p.set_defaults(func=init)

    p = commands.add_parser("serve")
    p.add_argument("--lab", required=True)
    p.add_argument("--pod", required=True)
    p.add_argument("--listen", action="append", default=[], help="ADDRESS:PORT/PROTOCOL")
    p.add_argument("--ttl", type=float, required=True)
    p.set_defaults(func=serve)

    p = commands.add_parser("launch")
    p.add_argument("--lab", required=True)
    p.add_argument("--wait", help="tcp:PORT or udp:PORT")
    p.add_argument("--log")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=launch)

    p = commands.add_parser("client")
    p.add_argument("--lab", required=True)
    p.add_argument("--target", required=True, help="ADDRESS:PORT")
    p.add_argument("--protocol", choices=("tcp", "udp"), default="tcp")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--first-port", type=int, default=SOURCE_PORTS.start, help="the first source port to hand out")
    p.set_defaults(func=client)

    p = commands.add_parser("reach")
    p.add_argument("--lab", required=True)
    p.add_argument("--target", action="append", default=[], help="ADDRESS:PORT")
    p.add_argument("--timeout", type=float, default=2.0)
    p.set_defaults(func=reach)

    p = commands.add_parser("capture")
    p.add_argument("--lab", required=True)
    p.add_argument("--interface", required=True)
    p.add_argument("--count", type=int, default=16)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--udp-port", type=int, default=0)
    p.set_defaults(func=capture)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
