"""``k8snet pods``: what ``kubectl get pods`` (and ``describe pod``) would print for manifests."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Print the pods in MANIFEST files (YAML or JSON; - reads standard input) as kubectl would:

  (default)         kubectl get pods          NAME READY STATUS RESTARTS AGE
  -o wide           kubectl get pods -o wide  ... IP NODE NOMINATED NODE READINESS GATES
  --columns lesson  the lesson's abridged table: NAME READY STATUS NODE IP
  --describe NAME   kubectl describe pod NAME (the parts the model knows)

Rows come in the API server's order (by namespace, then name). Unlike kubectl, without
-n every namespace is shown, with a NAMESPACE column first.
"""

EXAMPLES = """\
examples:
  k8snet pods data/lesson-cluster.yaml -n production -o wide
  k8snet pods data/lesson-cluster.yaml -n production --columns lesson
  k8snet pods data/lesson-cluster.yaml -n production --describe checkout-api-6f8b9d-2xkpj
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pods",
        help="print kubectl's pod views (get, -o wide, describe) for manifests",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST", help="manifest file (YAML or JSON); - for stdin")
    parser.add_argument("-n", "--namespace", help="only this namespace (default: all namespaces)")
    parser.add_argument("-o", "--output", choices=("wide",), help="wide: add IP, NODE, NOMINATED NODE, READINESS GATES")
    parser.add_argument("--columns", choices=("lesson",), help="lesson: the lesson's NAME READY STATUS NODE IP")
    parser.add_argument("--describe", metavar="POD", help="print `kubectl describe pod POD` instead")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..manifests import load
    from ..view import kubectl

    cluster = load(args.manifests)
    if args.describe:
        text = kubectl.describe_pod(cluster, args.describe, args.namespace)
    elif args.columns == "lesson":
        text = kubectl.get_pods_wide(cluster, args.namespace, columns="lesson")
    else:
        text = kubectl.get_pods(cluster, args.namespace, wide=args.output == "wide")
    if not text:
        print(kubectl.no_resources(args.namespace), file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0
