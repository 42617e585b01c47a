"""scripts/refresh_gallery.py: picks, stacks, crops and scales screenshots, or writes nothing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PIL = pytest.importorskip("PIL.Image")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "refresh_gallery.py"
spec = importlib.util.spec_from_file_location("refresh_gallery", SCRIPT)
refresh_gallery = importlib.util.module_from_spec(spec)
sys.modules["refresh_gallery"] = refresh_gallery  # dataclasses look their module up there
spec.loader.exec_module(refresh_gallery)


def screenshot(path: Path, width: int, height: int, colour: str = "navy") -> Path:
    PIL.new("RGB", (width, height), colour).save(path)
    return path


def every_source(directory: Path) -> None:
    """One screenshot for every glob the gallery names, 1200x500 each."""
    for picture in refresh_gallery.GALLERY:
        for pattern in picture.sources:
            screenshot(directory / pattern.replace("*", "_notebook"), 1200, 500)


def test_a_missing_screenshot_writes_nothing(tmp_path, capsys):
    (tmp_path / "shots").mkdir()
    every_source(tmp_path / "shots")
    (tmp_path / "shots" / "05__notebook--spread.png").unlink()
    status = refresh_gallery.main(["--screenshots", str(tmp_path / "shots"), "--gallery", str(tmp_path / "gallery")])
    assert status == 2
    assert "05_*--spread.png" in capsys.readouterr().err
    assert not (tmp_path / "gallery").exists()


def test_every_picture_is_written_scaled_to_the_width(tmp_path):
    (tmp_path / "shots").mkdir()
    every_source(tmp_path / "shots")
    status = refresh_gallery.main(
        ["--screenshots", str(tmp_path / "shots"), "--gallery", str(tmp_path / "gallery"), "--width", "600"]
    )
    assert status == 0
    written = sorted(p.name for p in (tmp_path / "gallery").iterdir())
    assert written == sorted(p.name for p in refresh_gallery.GALLERY)
    # 1200x500 scaled to 600 wide is 600x250; the quiz stacks two (500 + 16 gap + 500) -> 600x508.
    sizes = {name: PIL.open(tmp_path / "gallery" / name).size for name in written}
    assert sizes["05-load-spread.png"] == (600, 250)
    assert sizes["07-quiz.png"] == (600, 508)


def test_long_screenshots_are_cropped_to_their_top(tmp_path):
    tall = screenshot(tmp_path / "00_start_here.png", 800, 5000)
    image = refresh_gallery.compose([tall], max_height=1400, width=1000)
    assert image.size == (800, 1400)


def test_whole_notebook_globs_skip_widget_shots(tmp_path):
    screenshot(tmp_path / "00_start_here.png", 10, 10)
    screenshot(tmp_path / "00_start_here--detail.png", 10, 10)
    assert refresh_gallery.find(tmp_path, "00_*.png").name == "00_start_here.png"
