"""Refresh the README's pictures (docs/gallery/) from the browser tests' screenshots.

The browser tests (``pytest tests/browser``) run every notebook in JupyterLab in
Chromium and save what a learner sees under ``build/screenshots/``: each whole
notebook as ``<notebook>.png`` and each driven widget as
``<notebook>--<widget>.png``. This script picks the ones the README shows,
crops long ones to their top, scales them to at most ``--width`` pixels wide,
and writes them to ``docs/gallery/`` under stable names.

    .venv/bin/python -m pytest tests/browser      # writes build/screenshots/
    .venv/bin/python scripts/refresh_gallery.py   # writes docs/gallery/

If a chosen screenshot is missing it names it and exits with status 2, having
written nothing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Picture:
    """One gallery picture: screenshots matched by glob, stacked top to bottom, cropped and scaled."""

    name: str  # file name in docs/gallery/
    sources: tuple[str, ...]  # globs under build/screenshots/, one screenshot each
    caption: str
    max_height: int = 1400  # crop below this many pixels (of the stacked image, before scaling)


GALLERY = (
    Picture("00-start-here.png", ("00_*.png",), "The course's first notebook in JupyterLab"),
    Picture("04-packet-walk.png", ("04_*--walk.png",), "A packet walked hop by hop across nodes"),
    Picture("05-load-spread.png", ("05_*--spread.png",), "Connections spread over endpoints by kube-proxy's rules"),
    Picture("05-prediction-gate.png", ("05_*--gate-05-rule-two-share-wrong.png",),
            "A prediction gate: a wrong answer explained, then the rules and the probability tree"),
    Picture("08-lab-command-box.png", ("08_*--box-capture.png",),
            "The kernel lab: a real tcpdump in the lab's node shows the VXLAN outer headers"),
    Picture("06-debugging-ladder.png", ("06_*--ladder.png",), "A mystery fault diagnosed on the debugging ladder"),
    Picture(
        "07-quiz.png",
        ("07_*--quiz-wrong.png", "07_*--quiz-right.png"),
        "Quiz feedback that explains wrong and right answers",
    ),
)


def find(screenshots: Path, pattern: str) -> Path | None:
    """The newest screenshot matching ``pattern`` (whole-notebook globs exclude ``--`` widget shots)."""
    matches = [p for p in screenshots.glob(pattern) if "--" not in p.name or "--" in pattern]
    return max(matches, key=lambda p: p.stat().st_mtime, default=None)


def compose(paths: list[Path], *, max_height: int, width: int, gap: int = 16):
    """Stack ``paths`` on white, crop to ``max_height``, scale down to ``width``; a 256-colour PIL image."""
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in paths]
    canvas = Image.new(
        "RGB",
        (max(i.width for i in images), sum(i.height for i in images) + gap * (len(images) - 1)),
        "white",
    )
    top = 0
    for image in images:
        canvas.paste(image, (0, top))
        top += image.height + gap
    if canvas.height > max_height:
        canvas = canvas.crop((0, 0, canvas.width, max_height))
    if canvas.width > width:
        canvas = canvas.resize((width, round(canvas.height * width / canvas.width)), Image.LANCZOS)
    # Screenshots are flat colours and anti-aliased text: 256 colours keep them sharp at a third the size.
    return canvas.quantize(colors=256)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshots", type=Path, default=ROOT / "build" / "screenshots")
    parser.add_argument("--gallery", type=Path, default=ROOT / "docs" / "gallery")
    parser.add_argument("--width", type=int, default=1000, help="widest picture, in pixels (default 1000)")
    args = parser.parse_args(argv)

    chosen, missing = {}, []
    for picture in GALLERY:
        found = [find(args.screenshots, pattern) for pattern in picture.sources]
        missing += [f"{args.screenshots}/{p}" for p, f in zip(picture.sources, found) if f is None]
        chosen[picture] = found
    if missing:
        print(
            "refresh_gallery: error: no screenshot matches " + ", ".join(missing)
            + "\n(run `.venv/bin/python -m pytest tests/browser` first; nothing was written)",
            file=sys.stderr,
        )
        return 2

    composed = {p: compose(paths, max_height=p.max_height, width=args.width) for p, paths in chosen.items()}
    args.gallery.mkdir(parents=True, exist_ok=True)
    for picture, image in composed.items():
        target = args.gallery / picture.name
        image.save(target, optimize=True)
        print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
              f"{image.width}x{image.height}  ({', '.join(p.name for p in chosen[picture])})")
    print("\nFor the README:")
    for picture in GALLERY:
        print(f"![{picture.caption}](docs/gallery/{picture.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
