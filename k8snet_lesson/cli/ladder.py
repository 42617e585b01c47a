"""``k8snet ladder``: climb the debugging ladder from a pod to a Service, with faults injected.

    k8snet ladder data/lesson-cluster.yaml --from debug-pod --service production/checkout-api-svc
    k8snet ladder cluster.yaml --from production/web-1 --service production/api --fault bound-to-localhost --cni flannel
    k8snet ladder cluster.yaml --from debug-pod --service production/api --fault kube-proxy-stale --proxy-mode nftables

Prints each rung (DNS name, ClusterIP, Endpoints, Pod IP, inside the pod) with what its
tools print, then the finding: the layer, the likely fault, the evidence and the fix. A
stale kube-proxy's finding names, as ``k8snet diff`` does, the Service ports and endpoints
its rules lack or still hold.
Exit status 0 when every rung passes, 1 when the ladder found a break, 2 on bad input
(an unknown pod, Service, CNI or fault: one line naming the value and what exists).
"""

from __future__ import annotations

import argparse

from ..errors import InvalidValue, NotFound

DEBUG_POD = "debug-pod"


def _fault_list() -> str:
    from ..faults import FAULTS

    width = max(len(name) for name in FAULTS)
    lines = ["faults (--fault NAME, repeatable):"]
    lines += [f"  {name:<{width}}  {f.summary}" for name, f in FAULTS.items()]
    lines += [
        "",
        f"--from {DEBUG_POD} (or NAMESPACE/{DEBUG_POD}), when the manifests hold no such pod, is the lesson's",
        "netshoot pod, as 'kubectl run debug-pod --image=nicolaka/netshoot -n NAMESPACE' creates it",
        "(NAMESPACE defaults to the Service's).",
    ]
    return "\n".join(lines)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ladder",
        help="climb the debugging ladder (DNS, ClusterIP, Endpoints, Pod IP, netstat) from a pod to a Service",
        description="Climb the lesson's debugging ladder from a client pod to a Service: DNS name -> ClusterIP "
        "-> Endpoints -> Pod IP -> inside the pod, printing what nslookup, curl -v, kubectl and netstat would, "
        "and name the layer and the likely fault where it breaks.",
        epilog=_fault_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST", help="Kubernetes manifests (YAML or JSON); - is standard input")
    parser.add_argument("--from", dest="client", required=True, metavar="POD", help="the client pod (name or namespace/name)")
    parser.add_argument("--service", required=True, metavar="NAMESPACE/NAME", help="the Service to reach")
    parser.add_argument("--fault", dest="faults", action="append", default=[], metavar="NAME", help="inject this fault first (repeatable; see below)")
    parser.add_argument(
        "--fault-pod", metavar="POD", help="break only this backend pod with pod faults (default: every backend)"
    )
    parser.add_argument("--cni", metavar="PROFILE", help="the CNI profile (default: the cluster's): flannel ignores NetworkPolicy")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seed for kube-proxy's endpoint draws (default: 0)")
    parser.add_argument("--proxy-mode", default="iptables", choices=("iptables", "nftables"),
                        help="kube-proxy's mode: the rules the ClusterIP rung reads and diffs (default: iptables)")
    parser.set_defaults(func=run)


def _client(cluster, name: str, service):
    from ..netshoot import debug_pod

    try:
        return cluster, cluster.pod(name)
    except NotFound:
        namespace, _, short = name.rpartition("/")
        if short != DEBUG_POD:
            raise
        return debug_pod(cluster, namespace or service.namespace)


def run(args: argparse.Namespace) -> int:
    from ..cni import profile
    from ..faults import fault, inject
    from ..ladder import climb
    from ..manifests import load

    for name in args.faults:
        fault(name)
    if args.fault_pod is not None and not args.faults:
        raise InvalidValue(f"--fault-pod {args.fault_pod!r} needs a --fault to apply to it")
    if args.cni is not None:
        profile(args.cni)
    cluster = load(args.manifests)
    service = cluster.service(args.service)
    cluster, client = _client(cluster, args.client, service)
    if args.faults:
        cluster = inject(cluster, args.faults, service=service, client=client, pod=args.fault_pod).cluster
    result = climb(cluster, client=client.key, service=service.key, cni=args.cni, seed=args.seed,
                   proxy_mode=args.proxy_mode)
    print(result)
    return 0 if result.passed else 1
