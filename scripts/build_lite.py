"""Build the course as a JupyterLite site: static files, Python in the learner's browser.

    python scripts/build_lite.py [--output-dir build/lite] [--pyodide PATH_OR_URL]

The site holds notebooks 00-07 (08, the kernel lab, needs Linux and root) and the
course's wheel, which each notebook's hidden first cell installs with piplite.

JupyterLite's tools live in a venv of their own, ``build/lite-venv`` (``--install-tools``
makes it from the ``lite`` extra, at the pinned versions; ``make lite`` and ``make test``
run it): installed beside JupyterLab, the Pyodide kernel's extension would load into
JupyterLab too and fail there. The build itself reads nothing from the network: the
wheel is built without build isolation and JupyterLite's files come from that venv.

    python scripts/build_lite.py --install-tools   # once (make does it); needs the package index

The learner's browser
loads the Pyodide distribution from JupyterLite's default location, or from the one
given with ``--pyodide`` (a folder or archive of a full Pyodide release), which the
site then carries.

Publish ``build/lite/site`` on any static host (a code host's pages, an object store, a
web server's folder): every learner runs their own Python in their own browser, so it
serves any class size with no server to run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LITE_NOTEBOOKS = "0[0-7]_*.ipynb"  # 08 is the kernel lab: Linux and root only
TOOLS = ROOT / "build" / "lite-venv"
TOOLS_PYTHON = TOOLS / "bin" / "python"
# Pure-Python wheels the site serves beside the course's (Pyodide's own packages, such as
# numpy and matplotlib, come from its distribution): fetched with the tools, pinned.
SITE_WHEELS = TOOLS / "wheels"
SITE_PACKAGES = ("scapy",)


def install_tools() -> None:
    """Make ``build/lite-venv`` with the ``lite`` extra's packages at the pinned versions."""
    import tomllib

    lite = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]["lite"]
    if not TOOLS_PYTHON.exists():
        run([sys.executable, "-m", "venv", str(TOOLS)])
    run([str(TOOLS_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--constraint", str(ROOT / "constraints.txt"), *lite], timeout=1200)
    run([str(TOOLS_PYTHON), "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--only-binary", ":all:", "--constraint", str(ROOT / "constraints.txt"), "--dest", str(SITE_WHEELS),
         *SITE_PACKAGES], timeout=600)


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    """Run ``argv``; on failure, print the tail of its output and exit naming it."""
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"{' '.join(map(str, argv[:4]))} ... failed with exit status {done.returncode}")
    return done


def build_wheel(into: Path) -> Path:
    """The course's wheel, built here without reaching a package index."""
    into.mkdir(parents=True, exist_ok=True)
    for old in into.glob("k8snet_lesson-*.whl"):
        old.unlink()
    run([str(TOOLS_PYTHON), "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--no-index", "--wheel-dir", str(into), str(ROOT)])
    (wheel,) = into.glob("k8snet_lesson-*.whl")
    return wheel


def build(output: Path, pyodide: str | None = None) -> Path:
    """Build the site into ``output/site``; returns that folder."""
    if not TOOLS_PYTHON.exists():
        raise SystemExit(f"no JupyterLite tools in {TOOLS.relative_to(ROOT)}: run make lite "
                         "(or python scripts/build_lite.py --install-tools)")
    wheel = build_wheel(output / "wheels")
    contents = output / "contents"
    shutil.rmtree(contents, ignore_errors=True)
    contents.mkdir(parents=True)
    notebooks = sorted(NOTEBOOKS.glob(LITE_NOTEBOOKS))
    if not notebooks:
        raise SystemExit(f"no {LITE_NOTEBOOKS} in {NOTEBOOKS}")
    for notebook in notebooks:
        shutil.copy2(notebook, contents / notebook.name)
    site = output / "site"
    shutil.rmtree(site, ignore_errors=True)
    wheels = [wheel, *sorted(SITE_WHEELS.glob("*.whl"))]
    argv = [str(TOOLS / "bin" / "jupyter"), "lite", "build", "--contents", str(contents),
            *(f"--piplite-wheels={w}" for w in wheels), "--output-dir", str(site),
            "--lite-dir", str(output / "lite-dir")]
    if pyodide:
        argv += ["--pyodide", pyodide]
    (output / "lite-dir").mkdir(exist_ok=True)
    run(argv, cwd=output)
    return site


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "build" / "lite")
    parser.add_argument("--pyodide", help="a full Pyodide distribution (folder, archive or URL) for the site to carry")
    parser.add_argument("--install-tools", action="store_true",
                        help=f"make {TOOLS.relative_to(ROOT)} with JupyterLite's tools (and build nothing)")
    args = parser.parse_args(argv)
    if args.install_tools:
        install_tools()
        return 0
    site = build(args.output_dir.resolve(), args.pyodide)
    print(f"built {site} ({len(list((site / 'files').glob('*.ipynb')))} notebooks); "
          f"serve it with: python -m http.server --directory {site}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
