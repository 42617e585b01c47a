"""``k8snet explain DUMP``: what a node's kube-proxy rules do to each Service port.

Reads ``iptables-save`` output (with or without ``-c``), kube-proxy's iptables-restore
input, or ``iptables -t nat -S`` output, and prints each Service port's cluster IP and
port, its endpoints with their exact share of new connections and the probability
printed for each, session affinity and REJECT rules; ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import InvalidValue
from ..explain import explain, explanations_as_json, explanations_as_text
from ..iptables import TABLES, parse

HELP = "explain a node's iptables dump: each Service port's endpoints and their shares"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help=HELP,
        description=HELP + ". Reads iptables-save output (on a node: iptables-save > dump.txt), "
        "kube-proxy's iptables-restore input, or iptables -t nat -S output, spelled any way iptables "
        "accepts (-jACCEPT, --dport=80, --dest for --destination). A rule that matches more than its "
        "comment and statistic (-s, -i, -m mark...) is shown as conditional; --mode nth rules get their share. "
        "In nftables mode it reads nft list ruleset (or nft list table ip kube-proxy) or kube-proxy's "
        "nftables transaction.",
        epilog="examples: k8snet explain data/dumps/node-eu-west-1a.iptables-save.txt; "
        "sudo iptables-save | k8snet explain - --json",
    )
    parser.add_argument("dump", metavar="DUMP", help="the dump file, or - to read standard input")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "-t", "--table", choices=TABLES, default="nat",
        help="the table that iptables -S output holds (it does not name it; default: nat)",
    )
    parser.set_defaults(func=run)


def read_dump(name: str) -> tuple[str, str]:
    """The text of ``name`` (``-`` is standard input) and the source name errors should use."""
    from ..manifests import read_text

    return read_text(name, what="dump", error=InvalidValue)


def run(args: argparse.Namespace) -> int:
    text, source = read_dump(args.dump)
    from ..nftables import explain as nft

    as_text = explanations_as_text
    if nft.is_nftables_text(text):  # nft list ruleset, or kube-proxy's nftables transaction
        from ..nftables.parse import parse as parse_nft

        explanations, as_text = nft.explain(parse_nft(text, source=source)), nft.explanations_as_text
    else:
        explanations = explain(parse(text, source=source, table=args.table))
    if args.json:
        print(explanations_as_json(explanations))
    else:
        print(as_text(explanations))
    return 0
