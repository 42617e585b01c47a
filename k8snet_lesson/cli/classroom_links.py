"""``k8snet classroom-links``: the Binder and nbgitpuller link of every notebook."""

from __future__ import annotations

import argparse

from .. import classroom
from ..resources import DATA_DIR


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "classroom-links",
        help="print the Binder (and nbgitpuller) link of every notebook",
        description="Print one launch link per notebook. Pin --ref to a release tag so a class "
        "sees the same course all term; Binder allows about 100 concurrent users per repository, "
        "so for a whole cohort give --hub (a JupyterHub with nbgitpuller) as well.",
    )
    parser.add_argument("--repo", required=True, help="OWNER/NAME of the course's repository")
    parser.add_argument("--ref", default="main", help="branch or tag to launch (default: main)")
    parser.add_argument("--hub", help="JupyterHub base URL for nbgitpuller links")
    parser.set_defaults(func=run)


def notebooks() -> list[str]:
    folder = DATA_DIR.parent / "notebooks"
    return sorted(f"notebooks/{p.name}" for p in folder.glob("[0-9][0-9]_*.ipynb"))


def run(args: argparse.Namespace) -> int:
    classroom.check_repo(args.repo)
    if args.hub:
        classroom.check_hub(args.hub)
    for path in notebooks():
        print(f"{path}\n  binder:      {classroom.binder_link(args.repo, args.ref, path)}")
        if args.hub:
            print(f"  nbgitpuller: {classroom.nbgitpuller_link(args.hub, args.repo, args.ref, path)}")
    return 0
