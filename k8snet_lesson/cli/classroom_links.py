"""``k8snet classroom-links``: the Binder, Colab and nbgitpuller link of every notebook."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .. import classroom
from ..errors import NotFound
from ..resources import DATA_DIR


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "classroom-links",
        help="print the Binder, Colab (and nbgitpuller) link of every notebook",
        description="Print the launch links of every notebook in the course's checkout. --ref names "
        "a branch (default main). Binder and Colab may also be given a tag; a hub may not: nbgitpuller "
        "updates a learner's copy from a branch on every click after the first. Binder allows about "
        "100 concurrent users per repository, so for a whole cohort give --hub (a JupyterHub with "
        "nbgitpuller) as well.",
    )
    parser.add_argument("--repo", required=True, help="OWNER/NAME of the course's repository")
    parser.add_argument("--ref", default="main", help="the branch to launch (default: main)")
    parser.add_argument("--hub", help="JupyterHub base URL for nbgitpuller links")
    parser.add_argument("--no-colab", dest="colab", action="store_false", help="leave out the Colab links")
    parser.set_defaults(func=run)


def _checkouts() -> list[Path]:
    """Where the course's notebooks may be: beside the package's data, or the current folder."""
    return [DATA_DIR.parent, Path.cwd()]


def notebooks() -> list[str]:
    for root in _checkouts():
        found = sorted(f"notebooks/{p.name}" for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        if found:
            return found
    raise NotFound("no notebooks/NN_*.ipynb here: run this in the course's checkout")


def local_tags() -> frozenset[str]:
    """The tags of the checkout the command runs in (none outside a git checkout)."""
    try:
        done = subprocess.run(["git", "tag", "--list"], capture_output=True, text=True, timeout=10,
                              cwd=_checkouts()[0])
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(done.stdout.split()) if done.returncode == 0 else frozenset()


def run(args: argparse.Namespace) -> int:
    classroom.check_repo(args.repo)
    if args.hub:
        classroom.check_hub(args.hub)
        if classroom.looks_like_tag(args.ref, local_tags()):
            print("k8snet classroom-links: warning: " + classroom.TAG_ON_HUB.format(ref=args.ref), file=sys.stderr)
    for path in notebooks():
        print(f"{path}\n  binder:      {classroom.binder_link(args.repo, args.ref, path)}")
        if args.colab:
            print(f"  colab:       {classroom.colab_link(args.repo, args.ref, path)}")
        if args.hub:
            print(f"  nbgitpuller: {classroom.nbgitpuller_link(args.hub, args.repo, args.ref, path)}")
    return 0
