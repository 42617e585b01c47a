"""The ``k8snet`` command: the course's model, pointed at real manifests and real dumps.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
Errors the package raises on purpose (:class:`~k8snet_lesson.errors.K8snetError`)
become one message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import K8snetError

# The subcommands, in the order ``k8snet --help`` lists them.
SUBCOMMANDS = (
    "rules",
    "explain",
    "diff",
    "endpoints",
    "pods",
    "plan",
    "trace",
    "ladder",
    "classroom_links",
    "netlab",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="k8snet",
        description="Kubernetes networking, modelled faithfully: kube-proxy rules, "
        "EndpointSlices, CIDR plans, packet walks and the debugging ladder.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # not part of this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except K8snetError as exc:
        print(f"k8snet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
