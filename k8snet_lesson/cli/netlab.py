"""``k8snet netlab``: the lesson's cluster built in the kernel, to check the model against Linux.

Subcommands:

``run``     build a scenario, check devices, rules, the four rules, the spread, every
            fault on the debugging ladder and a VXLAN capture against the model, tear
            it down, print the report. Exit 0 when the kernel agrees with the model.
``up``      build a scenario and leave it running (detached, until ``down`` or --ttl).
``status``  show the running lab (or that none runs).
``exec``    run a command in a pod or node of the running lab.
``down``    stop the running lab and remove anything a lab left the host can see.

The lab needs Linux with CAP_NET_ADMIN and CAP_SYS_ADMIN (root), or unprivileged user
namespaces (it then runs rootless), and iproute2, iptables, conntrack, dnsmasq, nslookup
and curl; where it cannot run, run/up/exec say why and exit with status 2. Everything
lives in private namespaces of one child process: the host's network is never touched.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import LabUnavailable


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "netlab",
        help="build the lesson's cluster from real namespaces, VXLAN and iptables, and check the model",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="netlab_command", metavar="SUBCOMMAND")
    commands.required = True

    def scenario_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--scenario", default="lesson", choices=("lesson", "two-node"),
                       help="the lesson's three-node cluster (default) or its two-node flow")  # fmt: skip
        p.add_argument("--manifest", nargs="+", metavar="FILE", help="build these manifests instead of a scenario")
        p.add_argument("--service", metavar="NAMESPACE/NAME", help="the Service to test (with --manifest)")
        p.add_argument("--client", metavar="NAMESPACE/NAME", help="the pod to test from (with --manifest; default: a debug pod)")
        p.add_argument("--backend", default="nft", choices=("nft", "legacy"), help="iptables backend (default nft)")

    run = commands.add_parser("run", help="a full end-to-end run, then teardown and the report")
    scenario_options(run)
    run.add_argument("--connections", type=int, default=3000, metavar="N", help="connections for the spread (default 3000)")
    run.add_argument("--fault", action="append", metavar="NAME", help="faults to check (default: the lesson's set)")
    run.add_argument("--no-capture", action="store_true", help="skip the VXLAN capture")
    run.add_argument("--prefix", metavar="PREFIX", help="the run's namespace prefix (k8snet-<a-z0-9>-; default random)")
    run.add_argument("--pcap", metavar="FILE", help="also write the captured frames to FILE")
    run.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    run.add_argument("--proxy-mode", default="iptables", choices=("iptables", "nftables"),
                     help="kube-proxy's mode (default iptables); nftables checks the tables, the four rules, "
                     "the spread and the fault ladder")
    run.add_argument("--seed", type=int, default=0, help="nftables mode: seed of the client's source ports")
    run.set_defaults(func=_run)

    up = commands.add_parser("up", help="build a lab and leave it running")
    scenario_options(up)
    up.add_argument("--ttl", type=float, default=3600.0, metavar="SECONDS", help="stop by itself after this long (default 3600)")
    up.set_defaults(func=_up)

    status = commands.add_parser("status", help="show the running lab")
    status.set_defaults(func=_status)

    exec_ = commands.add_parser("exec", help="run a command in a pod or node of the running lab")
    exec_.add_argument("where", metavar="POD_OR_NODE")
    exec_.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    exec_.set_defaults(func=_exec)

    down = commands.add_parser("down", help="stop the running lab and clean up what a lab left")
    down.set_defaults(func=_down)


def _probe() -> None:
    from ..lab.probe import probe

    found = probe()
    if not found.ok:
        raise LabUnavailable(found.reason)


def _scenario(args: argparse.Namespace):
    from ..errors import InvalidValue
    from ..lab.run import from_manifests, scenario

    if args.manifest:
        if not args.service:
            raise InvalidValue("--manifest needs --service NAMESPACE/NAME (the Service to test)")
        return from_manifests(args.manifest, client=args.client, service=args.service)
    if args.service or args.client:
        raise InvalidValue("--service and --client go with --manifest; the scenarios choose their own")
    return scenario(args.scenario)


def _run(args: argparse.Namespace) -> int:
    from ..lab.run import DEFAULT_FAULTS, full_run
    from ..lab.topology import check_prefix

    if args.prefix:
        check_prefix(args.prefix)
    chosen = _scenario(args)
    _probe()
    started = time.monotonic()

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"[{time.monotonic() - started:6.2f}s] {line}", file=sys.stderr, flush=True)

    if args.proxy_mode == "nftables":
        from ..lab.nft_mode import full_run as nft_run

        report = nft_run(chosen, connections=args.connections, seed=args.seed,
                         faults=tuple(args.fault) if args.fault else DEFAULT_FAULTS, prefix=args.prefix,
                         backend=args.backend, progress=progress)
        print(report.text())
        return 0 if report.ok else 1
    report = full_run(
        chosen,
        connections=args.connections,
        faults=tuple(args.fault) if args.fault else DEFAULT_FAULTS,
        capture=not args.no_capture,
        prefix=args.prefix,
        backend=args.backend,
        progress=progress,
    )
    if args.pcap and report.capture is not None:
        report.capture.write(args.pcap)
    print(report.text())
    return 0 if report.ok else 1


def _up(args: argparse.Namespace) -> int:
    from ..errors import InvalidValue
    from ..lab import state
    from ..lab.kernel import build

    existing = state.load()
    if existing is not None:
        raise InvalidValue(f"a lab ({existing.prefix}, PID {existing.pid}) is recorded already: `k8snet netlab down` first")
    chosen = _scenario(args)
    _probe()
    lab = build(chosen.cluster, backend=args.backend, ttl=args.ttl, detach=True)
    try:
        source = " ".join(args.manifest) if args.manifest else chosen.name
        path = state.save(lab, scenario=source, client=chosen.client, service=chosen.service)
    except BaseException:
        lab.teardown()
        raise
    print(f"lab {lab.prefix} is up (PID {lab.sandbox.pid}, stops by itself in {args.ttl:g} s); state in {path}")
    for note in lab.notes:
        print(f"note: {note}")
    _print_layout(lab)
    print(f"try: k8snet netlab exec {chosen.client} -- curl -sS http://{chosen.service.split('/')[1]}/health")
    return 0


def _print_layout(lab) -> None:
    from ..lab.run import layout

    print(layout(lab.topology, lab.apps.values()))


def _attached():
    from ..errors import NotFound
    from ..lab import state

    recorded = state.load()
    if recorded is None:
        raise NotFound("no lab is running (start one with `k8snet netlab up`)")
    chosen = _recorded_scenario(recorded)
    return recorded, state.attach(recorded, chosen.cluster)


def _recorded_scenario(recorded):
    from ..lab.run import from_manifests, scenario

    if recorded.scenario in ("lesson", "two-node"):
        return scenario(recorded.scenario)
    return from_manifests(recorded.scenario.split(" "), client=recorded.client, service=recorded.service)


def _status(args: argparse.Namespace) -> int:
    from ..lab import state
    from ..lab.sandbox import Sandbox

    recorded = state.load()
    if recorded is None:
        print("no lab is running")
        return 0
    sandbox = Sandbox(prefix=recorded.prefix, pid=recorded.pid, start_time=recorded.start_time, detached=True)
    if not sandbox.alive:
        print(f"lab {recorded.prefix} is recorded but not running (PID {recorded.pid} is gone): `k8snet netlab down` removes the record")
        return 1
    left = recorded.created + recorded.ttl - time.time()
    print(f"lab {recorded.prefix} is up: PID {recorded.pid}, scenario {recorded.scenario}, backend {recorded.backend}, "
          f"stops by itself in {max(left, 0):.0f} s")  # fmt: skip
    _, lab = _attached()
    names = lab.sandbox.run(["ip", "netns", "list"]).stdout.split()
    print(f"{len([n for n in names if n.startswith(recorded.prefix)])} network namespaces")
    _print_layout(lab)
    print(f"client {recorded.client}, Service {recorded.service}")
    return 0


def _exec(args: argparse.Namespace) -> int:
    from ..errors import InvalidValue

    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        raise InvalidValue("give a command after --, e.g. k8snet netlab exec debug-pod -- curl -sS http://checkout-api-svc/health")
    _, lab = _attached()
    is_node = any(n.name == args.where for n in lab.topology.nodes)
    run = lab.exec if is_node else lab.in_pod
    done = run(args.where, command, check=False, timeout=120)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def _down(args: argparse.Namespace) -> int:
    from ..lab.state import down

    result = down()
    if result.stopped:
        print(f"stopped lab {', '.join(result.stopped)}")
    if result.deleted_namespaces:
        print(f"deleted leftover namespaces: {', '.join(result.deleted_namespaces)}"
              + (f" (killed PIDs {', '.join(map(str, result.killed))})" if result.killed else ""))  # fmt: skip
    if result.left:
        print(f"still running after 5 s: PIDs {', '.join(map(str, result.left))}", file=sys.stderr)
        return 1
    if not (result.stopped or result.deleted_namespaces or result.state_removed):
        print("no lab was running")
    elif result.state_removed and not result.stopped:
        print("removed the record of a lab that was no longer running")
    return 0
