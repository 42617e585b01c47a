"""Build the course site: the executed notebooks as static, searchable pages.

    python scripts/build_site.py [--output-dir build/site]

Jupyter Book 1 (Sphinx with MyST-NB) renders every notebook as committed, its outputs
and its saved widget state included (nothing is executed), with Sphinx's search. Each
page opens with three launch links: Binder, Colab and the JupyterLite site, which
`make site` puts beside the pages (``lite/``).

It builds offline: the widget manager's and RequireJS's files, which MyST-NB would
otherwise have each reader's browser fetch from a CDN, are taken once from the npm
registry's tarballs (``npm pack``, cached in ``build/node``) and served with the pages.
Publish ``build/site/html`` on any static host.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import build_lite  # noqa: E402
from build_lite import run  # noqa: E402
from build_notebooks import REPO  # noqa: E402  (the README's repository, as the setup cell names it)

from k8snet_lesson import classroom  # noqa: E402

BRANCH = "main"
NPM_CACHE = ROOT / "build" / "node" / "packs"
# The widget manager MyST-NB's pages load, and the loader it needs (npm name, file in the tarball).
WIDGET_JS = {
    "@jupyter-widgets/html-manager@1.0.15": "package/dist/",
    "requirejs@2.3.8": "package/require.js",
}
TITLE = "Kubernetes networking, exactly"


def widget_files(static: Path) -> dict[str, dict[str, str]] | None:
    """Copy the widget manager and RequireJS into ``static`` (served as ``_static/``, but
    not Jupyter Book's own ``_static``, whose every script it loads on every page);
    returns MyST-NB's ``nb_ipywidgets_js``, or None (MyST-NB's CDN links) without npm."""
    static.mkdir(parents=True, exist_ok=True)
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    for spec, member in WIDGET_JS.items():
        name, version = spec.rsplit("@", 1)
        tarball = NPM_CACHE / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
        if not tarball.exists():
            packed = None
            if shutil.which("npm") is not None:
                packed = subprocess.run(["npm", "pack", "--silent", spec], cwd=NPM_CACHE, capture_output=True,
                                        text=True, timeout=300)
            if packed is None or packed.returncode != 0:
                print(f"warning: cannot get {spec} with npm: the pages will load the widget manager "
                      "from a CDN, so widgets show only online", file=sys.stderr)
                return None
        with tarfile.open(tarball) as archive:
            for item in archive.getmembers():
                if item.isfile() and (item.name == member or (member.endswith("/") and item.name.startswith(member))):
                    target = static / Path(item.name).name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.extractfile(item).read())
    return {"require.js": {}, "embed-amd.js": {}}


def launch_cell(path: str, lite: bool) -> dict:
    links = [f"[Binder]({classroom.binder_link(REPO, BRANCH, path)})",
             f"[Colab]({classroom.colab_link(REPO, BRANCH, path)})"]
    if lite:
        # A relative link in MyST is a cross-reference; as HTML it stays a plain link.
        links.append(f'<a href="../lite/lab/index.html?path={Path(path).name}">JupyterLite</a>')
    return {"cell_type": "markdown", "id": "launch", "metadata": {"tags": ["launch"]},
            "source": "Launch this notebook: " + " · ".join(links)}


def page(notebook: Path, lite: bool) -> dict:
    """The notebook as a page: launch links under its title, its setup cell left out, and
    the cells hidden in JupyterLab shown folded."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "setup" in tags:
            tags.append("remove-cell")
        elif cell["metadata"].get("jupyter", {}).get("source_hidden"):
            tags.append("hide-input")
    lite = lite and not notebook.name.startswith("08")
    nb["cells"].insert(1, launch_cell(f"notebooks/{notebook.name}", lite))
    return nb


def title_of(nb: dict) -> str:
    first = "".join(nb["cells"][0]["source"]).splitlines()[0]
    return first.lstrip("# ").strip()


def build(output: Path, lite_site: Path | None = None, strict: bool = False) -> Path:
    """Build into ``output``; returns the HTML folder (``output/html``). ``strict``: a
    warning of the build is an error (the tests build so)."""
    if importlib.util.find_spec("jupyter_book") is None:
        raise SystemExit("Jupyter Book is not installed: pip install -e '.[site]' (make site does)")
    book = output / "book"
    shutil.rmtree(book, ignore_errors=True)
    (book / "notebooks").mkdir(parents=True)
    widgets_js = widget_files(book / "_widgets")
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    titles = []
    for notebook in notebooks:
        nb = page(notebook, lite_site is not None)
        (book / "notebooks" / notebook.name).write_text(json.dumps(nb, indent=1), encoding="utf-8")
        titles.append((notebook.stem, title_of(nb)))
    intro = [f"# {TITLE}", "",
             "Kubernetes networking as a small, exact model you can run, change and break: the",
             "flat network, CNI plugins, a request across nodes, kube-proxy's iptables rules,",
             "Endpoints and the debugging ladder. Every page below is a notebook, shown as it ran;",
             "open one with Binder, Colab or JupyterLite from the links at its top, or run the",
             f"whole course on your machine (`make lab`, [the repository](https://github.com/{REPO})).", ""]
    intro += [f"- [{title}](notebooks/{stem}.ipynb)" for stem, title in titles]
    (book / "intro.md").write_text("\n".join(intro) + "\n", encoding="utf-8")
    toc = ["format: jb-book", "root: intro", "chapters:"] + [f"- file: notebooks/{stem}" for stem, _ in titles]
    (book / "_toc.yml").write_text("\n".join(toc) + "\n", encoding="utf-8")
    config = {
        "title": TITLE,
        "author": "k8snet-lesson",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "repository": {"url": f"https://github.com/{REPO}", "branch": BRANCH, "path_to_book": ""},
        "launch_buttons": {"notebook_interface": "jupyterlab", "binderhub_url": "https://mybinder.org",
                           "colab_url": "https://colab.research.google.com"},
        "html": {"use_repository_button": True},
        "sphinx": {"config": {"html_static_path": ["_widgets"],
                              **({"nb_ipywidgets_js": widgets_js} if widgets_js else {})}},
    }
    (book / "_config.yml").write_text(json.dumps(config, indent=1), encoding="utf-8")  # JSON is YAML
    build_dir = output / "jb"
    shutil.rmtree(build_dir, ignore_errors=True)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    done = run([str(jupyter_book), "build", str(book), "--path-output", str(build_dir), "--keep-going"], timeout=1800)
    warnings = [line for line in (done.stdout + done.stderr).splitlines() if "WARNING" in line or "ERROR" in line]
    for line in warnings:
        print(line, file=sys.stderr)
    if strict and warnings:
        raise SystemExit(f"the site's build gave {len(warnings)} warnings")
    html = output / "html"
    shutil.rmtree(html, ignore_errors=True)
    shutil.copytree(build_dir / "_build" / "html", html)
    # The widget manager's two style sheets look for its icon fonts beside the page, under
    # the npm package's name and under its dist/ folder.
    fonts = [p for p in (book / "_widgets").iterdir() if p.suffix in (".woff", ".woff2", ".ttf", ".eot", ".svg")]
    for folder in {p.parent for p in html.rglob("*.html")}:
        for target in (folder / "@jupyter-widgets", folder / "@jupyter-widgets" / "html-manager" / "dist"):
            target.mkdir(parents=True, exist_ok=True)
            for font in fonts:
                shutil.copy2(font, target / font.name)
    if lite_site is not None:
        shutil.copytree(lite_site, html / "lite")
    return html


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--no-lite", action="store_true", help="leave out the JupyterLite site and its links")
    args = parser.parse_args(argv)
    output = args.output_dir.resolve()
    lite = None
    if not args.no_lite and build_lite.TOOLS_PYTHON.exists():
        lite = build_lite.build(output / "lite")
    html = build(output, lite)
    print(f"built {html}; serve it with: python -m http.server --directory {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
