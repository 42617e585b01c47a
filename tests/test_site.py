"""The course site (`make site`): every notebook a static page that shows its saved
widget state and figures, with Binder, Colab and JupyterLite launch links, and search.

The site is built into a scratch folder and served on 127.0.0.1; Chromium, which
resolves no other host, opens every page, so a widget or a figure that needs the
network would not show.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import static_site

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_lite  # noqa: E402
import build_site  # noqa: E402

SCREENSHOTS = ROOT / "build" / "screenshots"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(bool(os.environ.get("K8SNET_NESTED")), reason="nested run inside the fresh-clone check"),
    pytest.mark.skipif(importlib.util.find_spec("jupyter_book") is None,
                       reason="Jupyter Book is not installed (pip install -e '.[site]')"),
]


def _outputs(notebook: Path, mime: str) -> int:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return sum(mime in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("site")
    lite = build_lite.build(output / "lite") if build_lite.TOOLS_PYTHON.exists() else None
    return build_site.build(output, lite, strict=True)


@pytest.fixture(scope="module")
def served(html):
    with static_site.served(html) as url:
        yield url


@pytest.fixture(scope="module")
def browser(served, tmp_path_factory, playwright_driver):
    with static_site.chromium(tmp_path_factory.mktemp("chromium"), playwright_driver) as context:
        yield context


def test_the_site_has_a_page_per_notebook_and_the_lite_site(html):
    assert sorted(p.stem for p in (html / "notebooks").glob("*.html")) == [p.stem for p in NOTEBOOKS]
    assert (html / "index.html").exists() and (html / "searchindex.js").exists()
    if build_lite.TOOLS_PYTHON.exists():
        assert (html / "lite" / "lab" / "index.html").exists()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_page_shows_its_widgets_figures_and_launch_links(served, browser, notebook):
    page = browser.new_page()
    missing = []
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("favicon.ico") and missing.append(r.url))
    page.on("requestfailed", lambda r: missing.append(r.url))
    try:
        page.goto(f"{served}/notebooks/{notebook.stem}.html")
        title = page.locator("article h1").first  # (the theme's print-only copy of it is hidden)
        title.wait_for(timeout=20_000)
        assert title.inner_text().startswith(notebook.name[:2])

        links = {a.inner_text(): a.get_attribute("href") for a in page.locator("a").all()
                 if a.inner_text() in ("Binder", "Colab", "JupyterLite")}
        assert urlsplit(links["Binder"]).netloc == "mybinder.org"
        assert parse_qs(urlsplit(links["Binder"]).query)["labpath"] == [f"notebooks/{notebook.name}"]
        assert links["Colab"].endswith(f"/blob/main/notebooks/{notebook.name}")
        if notebook.name.startswith("08") or not build_lite.TOOLS_PYTHON.exists():
            assert "JupyterLite" not in links  # the kernel lab needs Linux and root
        else:
            lite = page.request.get(f"{served}/notebooks/{links['JupyterLite']}")
            assert lite.ok, links["JupyterLite"]

        if _outputs(notebook, "application/vnd.jupyter.widget-view+json"):
            # The saved state is drawn by the widget manager the site serves itself.
            page.locator(".cell_output .jupyter-widgets").first.wait_for(timeout=30_000)
        if _outputs(notebook, "image/png"):
            figure = page.locator(".cell_output img").first
            figure.wait_for()
            assert figure.evaluate("img => img.complete && img.naturalWidth > 100")
        assert missing == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"site-{notebook.stem}.png"))
    finally:
        page.close()


def test_the_site_is_searchable(served, browser):
    page = browser.new_page()
    try:
        page.goto(f"{served}/search.html?q=KUBE-SEP")
        results = page.locator("#search-results li")
        # Sphinx adds results one page at a time and writes its summary when it is done.
        page.locator("#search-results .search-summary").wait_for(timeout=30_000)
        page.wait_for_function("() => /found|did not match/i.test("
                               "document.querySelector('#search-results .search-summary').innerText)", timeout=30_000)
        assert any("05" in text for text in results.all_inner_texts()), results.all_inner_texts()
    finally:
        page.close()
