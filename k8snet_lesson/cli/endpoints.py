"""``k8snet endpoints``: what ``kubectl get endpoints`` would print for a set of manifests.

The Endpoints and EndpointSlices come from :mod:`k8snet_lesson.endpoints` (the
controllers run over the pods in the manifests), the text from
:mod:`k8snet_lesson.view.kubectl`.
"""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Print the Endpoints of the Services in MANIFEST files (YAML or JSON, as written or as
`kubectl get -o yaml` prints them; - reads standard input), as kubectl would:

  (default)    kubectl get endpoints            NAME  ENDPOINTS  AGE
  -o wide      kubectl get endpointslices       NAME  ADDRESSTYPE  PORTS  ENDPOINTS  AGE
               (kubectl has no wide endpoints view; the slices are the detail behind it)
  -o yaml      kubectl get endpoints [-s NAME] -o yaml
  --describe   kubectl describe endpoints [NAME]

The EndpointSlice and Endpoints controllers run over the pods in the manifests: ready
pods' ip:port pairs are listed, not-ready ones go to notReadyAddresses, terminating ones
are left out. Unlike kubectl, without -n every namespace is shown (a NAMESPACE column
comes first, as with --all-namespaces).
"""

EXAMPLES = """\
examples:
  k8snet endpoints data/lesson-cluster.yaml -n production
  k8snet endpoints data/lesson-cluster.yaml -n production -s checkout-api-svc -o yaml
  kubectl get pods,services,endpointslices -A -o yaml | k8snet endpoints - -o wide
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "endpoints",
        help="print kubectl's endpoints views (get, -o wide slices, -o yaml, describe) for manifests",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST", help="manifest file (YAML or JSON); - for stdin")
    parser.add_argument("-n", "--namespace", help="only this namespace (default: all namespaces)")
    parser.add_argument("-s", "--service", metavar="NAME", help="only the Endpoints of this Service")
    parser.add_argument("-o", "--output", choices=("wide", "yaml"),
                        help="wide: the EndpointSlices view; yaml: the Endpoints objects")
    parser.add_argument("--describe", action="store_true", help="print `kubectl describe endpoints` instead")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..endpoints import has_endpoints_object
    from ..manifests import load
    from ..view import kubectl

    cluster = load(args.manifests)
    namespace, name = args.namespace, args.service
    if name is not None:
        service = cluster.service(name, namespace)  # NotFound names the Services there are
        namespace = service.namespace
    if args.describe:
        services = sorted(
            (s for s in cluster.services
             if (namespace is None or s.namespace == namespace) and (name is None or s.name == name)
             and has_endpoints_object(cluster, s)),
            key=lambda s: (s.namespace, s.name),
        )
        text = "\n\n".join(kubectl.describe_endpoints(cluster, s.name, s.namespace) for s in services)
    elif args.output == "yaml":
        text = kubectl.endpoints_yaml(cluster, name, namespace)
    elif args.output == "wide":
        text = kubectl.get_endpointslices(cluster, namespace, name)
    else:
        text = kubectl.get_endpoints(cluster, namespace, name)
    if not text:
        print(kubectl.no_resources(namespace), file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0
