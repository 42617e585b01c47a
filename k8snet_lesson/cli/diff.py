"""``k8snet diff MANIFEST... --node NAME DUMP``: has kube-proxy programmed what it should?

Compares what kube-proxy should have programmed on ``--node`` for the manifests with the
node's dump, in whichever mode the dump is (``iptables-save`` or kube-proxy's
iptables-restore input; ``nft list ruleset``, ``nft list table ip kube-proxy`` or
kube-proxy's nftables transaction). Lists Service ports that are missing, extra or
stale, with their missing and stale endpoints. Exit status 0 when in sync, 1 on drift,
2 on bad input.
"""

from __future__ import annotations

import argparse
import json

HELP = "compare a node's kube-proxy dump with what the manifests say it should hold"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help=HELP,
        description=HELP + ". The dump's mode (iptables or nftables) is detected from its text. "
        "Exit status 1 when Service ports or endpoints are missing, stale or extra.",
        epilog="example: k8snet diff data/lesson-cluster.yaml --node node-eu-west-1a "
        "data/dumps/node-eu-west-1a.iptables-save.txt",
    )
    # MANIFEST... --node NAME DUMP: options may come between the files, so the files are
    # read again by _split (argparse alone stops at the first option).
    parser.add_argument("paths", nargs=argparse.REMAINDER, metavar="MANIFEST... DUMP",
                        help="manifest files (YAML or JSON), then the node's dump (- reads standard input)")
    parser.add_argument("--node", metavar="NAME", help="the node the dump comes from (required)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run)


def _split(args: argparse.Namespace) -> tuple[list[str], str, bool]:
    from ..errors import InvalidValue

    inner = argparse.ArgumentParser(prog="k8snet diff", add_help=False)
    inner.add_argument("paths", nargs="*")
    inner.add_argument("--node", default=args.node)
    inner.add_argument("--json", action="store_true", default=args.json)
    known, unknown = inner.parse_known_intermixed_args(args.paths)
    if unknown:
        raise InvalidValue(f"unknown arguments: {' '.join(unknown)}")
    if not known.node:
        raise InvalidValue("--node NAME is required: the node the dump comes from")
    if len(known.paths) < 2:
        raise InvalidValue("give at least one MANIFEST and then the node's DUMP")
    return known.paths, known.node, known.json


def run(args: argparse.Namespace) -> int:
    from ..drift import drift_as_dict, drift_as_text, drift_of_dump
    from ..manifests import load
    from .explain import read_dump

    paths, node, as_json = _split(args)
    *manifest_paths, dump = paths
    cluster = load(manifest_paths)
    if cluster.nodes:
        cluster.node(node)  # an unknown node is an error, named
    text, source = read_dump(dump)
    result = drift_of_dump(cluster, node, text, source=source)
    print(json.dumps(drift_as_dict(result)) if as_json else drift_as_text(result))
    return 1 if result.drifted else 0
