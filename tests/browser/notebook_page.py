"""One notebook open in JupyterLab in Chromium: run it as a learner would, then read what they saw.

The page is driven through JupyterLab's own application object
(``window.jupyterapp``, exposed by ``LabApp.expose_app_in_browser``): the same
commands the Run menu calls (``notebook:clear-all-cell-outputs``,
``notebook:run-all-cells``), the notebook model the page renders from, and the
session's kernel connection. What is checked comes from three places that must
agree:

- the notebook model in the page (errors, stderr streams, widget-view outputs);
- the kernel, asked with a silent ``user_expressions`` request that neither
  prints nor counts as an execution (which widget models are alive);
- the page's widget manager and DOM (how many views of each model are attached
  to the document, "Error displaying widget", console errors).

Waits are on state, never on fixed sleeps: the kernel "connected and idle"
(the run indicator alone says idle before any kernel exists), an image's bytes
changing after a slider step.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"

KERNEL_READY_JS = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.content || !panel.content.model) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""

# The widget models alive in the kernel that draw something (DOMWidgets), by model id.
WIDGET_CENSUS_CODE = r"""
import json as _json
try:
    import ipywidgets as _w
except ImportError:
    _w = None
alive = {}
if _w is not None:
    for model_id, widget in list(_w.Widget.widgets.items()):
        if isinstance(widget, _w.DOMWidget):
            alive[model_id] = type(widget).__name__
result = _json.dumps(alive)
"""
WIDGET_CENSUS_EXPRESSION = f"(lambda ns: (exec({WIDGET_CENSUS_CODE!r}, ns), ns['result'])[1])({{}})"

# For each model id: how many of its views are attached to the document, asked of the
# page's widget manager (reached through a widget output's renderer); -1 when the page
# has no such model. ``null`` when no widget output leads to a manager.
WIDGET_VIEWS_JS = """async ([ids, mime]) => {
    const panel = window.jupyterapp.shell.currentWidget;
    let manager = null;
    const roots = [];
    for (const cell of panel.content.widgets) {
        if (cell.model.type !== 'code') continue;
        const area = cell.outputArea;
        for (let i = 0; i < area.model.length; i++) {
            const view = area.model.get(i).data[mime];
            if (!view) continue;
            roots.push(view.model_id);
            for (const part of (area.widgets[i] && area.widgets[i].widgets) || []) {
                if (!manager && part._manager) manager = await part._manager.promise;
            }
        }
    }
    const errors = Array.from(panel.content.node.querySelectorAll('.jp-OutputArea-output'))
        .map(node => node.innerText)
        .filter(text => text.includes('Error displaying widget'));
    if (!manager) return {roots, errors, views: null};
    const views = {};
    for (const id of new Set([...ids, ...roots])) {
        let model = null;
        try { model = await manager.get_model(id); } catch (error) { model = null; }
        if (!model) { views[id] = -1; continue; }
        const drawn = await Promise.all(Object.values(model.views || {}));
        views[id] = drawn.filter(view => view && view.el && view.el.isConnected).length;
    }
    return {roots, errors, views};
}"""


# What a learner would see as broken, measured in the laid-out page after Run All:
# - two pieces of visible text overlapping (text rectangles from Range.getClientRects,
#   clipped by every ancestor that hides overflow, so folded or scrolled-away text
#   does not count; a pair counts when they share more than 2 px across and a third
#   of the shorter one's height, which line boxes of wrapped text never do);
# - a table cell ending in an ellipsis, or any text cut by CSS text-overflow;
# - an output wider than the notebook column, or scrolling sideways inside it.
VISUAL_JS = r"""() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const root = panel.content.node;
  const columnRight = root.getBoundingClientRect().right;
  const styles = new Map();
  const style = el => { if (!styles.has(el)) styles.set(el, getComputedStyle(el)); return styles.get(el); };
  const cellOf = el => { const c = el.closest('.jp-Cell'); return c ? Array.from(c.parentElement.children).filter(x => x.classList.contains('jp-Cell')).indexOf(c) : -1; };
  const clip = (el, rect) => {
    let l = rect.left, t = rect.top, r = rect.right, b = rect.bottom;
    for (let a = el; a && a !== root.parentElement; a = a.parentElement) {
      const cs = style(a);
      if (cs.display === 'none' || cs.visibility === 'hidden' || cs.opacity === '0') return null;
      // A closed <details> shows only its summary; its other content still has boxes.
      if (a.tagName === 'DETAILS' && !a.open && a !== el && !Array.from(a.children).some(
          c => c.tagName === 'SUMMARY' && c.contains(el))) return null;
      if (a === el) continue;
      const box = a.getBoundingClientRect();
      if (cs.overflowX !== 'visible') { l = Math.max(l, box.left); r = Math.min(r, box.right); }
      if (cs.overflowY !== 'visible') { t = Math.max(t, box.top); b = Math.min(b, box.bottom); }
    }
    return (r - l >= 1 && b - t >= 1) ? {l, t, r, b} : null;
  };
  const problems = [];
  // An output inside another output (a gate's reveal is an Output widget in a cell's
  // output) is walked once, as part of the outer one; walking both would make every
  // text box overlap itself.
  const outputs = Array.from(root.querySelectorAll('.jp-OutputArea-output'))
    .filter(o => !o.parentElement.closest('.jp-OutputArea-output'));
  const boxes = [];
  let nodeId = 0;
  for (const output of outputs) {
    const walker = document.createTreeWalker(output, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      const parent = node.parentElement;
      if (!parent || parent.closest('style, script, svg')) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      nodeId += 1;
      for (const rect of range.getClientRects()) {
        const r = clip(parent, rect);
        if (r) boxes.push({...r, id: nodeId, text: node.textContent.trim().slice(0, 40), cell: cellOf(parent)});
      }
    }
  }
  boxes.sort((a, b) => a.t - b.t);
  let overlaps = 0;
  for (let i = 0; i < boxes.length && overlaps < 20; i++) {
    const a = boxes[i];
    for (let j = i + 1; j < boxes.length && boxes[j].t < a.b; j++) {
      const b = boxes[j];
      if (a.id === b.id) continue;
      const wide = Math.min(a.r, b.r) - Math.max(a.l, b.l);
      const high = Math.min(a.b, b.b) - Math.max(a.t, b.t);
      if (wide > 2 && high > Math.min(a.b - a.t, b.b - b.t) / 3) {
        problems.push(`cell ${a.cell}: text ${JSON.stringify(a.text)} overlaps ${JSON.stringify(b.text)}`);
        overlaps += 1;
      }
    }
  }
  for (const output of outputs) {
    if (!clip(output, output.getBoundingClientRect())) continue;
    for (const cell of output.querySelectorAll('td, th')) {
      const text = cell.innerText.trim();
      if (clip(cell, cell.getBoundingClientRect()) && (text.endsWith('\u2026') || text.endsWith('...')))
        problems.push(`cell ${cellOf(cell)}: a table cell ends in an ellipsis: ${JSON.stringify(text.slice(-50))}`);
    }
    for (const el of output.querySelectorAll('*')) {
      const cs = style(el);
      if (cs.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1 && el.innerText.trim()
          && clip(el, el.getBoundingClientRect()))
        problems.push(`cell ${cellOf(el)}: text cut with an ellipsis: ${JSON.stringify(el.innerText.trim().slice(0, 50))}`);
      if ((cs.overflowX === 'auto' || cs.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 2
          && el.clientWidth > 0 && clip(el, el.getBoundingClientRect()))
        problems.push(`cell ${cellOf(el)}: an output scrolls sideways (${el.scrollWidth} px in ${el.clientWidth} px)`);
    }
    const box = output.getBoundingClientRect();
    if (box.right > columnRight + 2 || output.scrollWidth > output.clientWidth + 2)
      problems.push(`cell ${cellOf(output)}: an output is wider than the notebook column`);
  }
  return problems;
}"""


# The prediction gates the kernel showed, with what a test needs to drive each one:
# the right answer, a wrong one (the tempting answer when there is one) and the
# explanations the learner must then read, as the page shows them (no markdown marks).
GATES_CODE = r"""
import json as _json, re as _re
from k8snet_lesson.view.gates import shown_gates as _shown
from k8snet_lesson.predictions import check as _check
def _plain(text):
    return _re.sub(r"\s+", " ", text.replace("`", "").replace("**", "")).strip()
found = {}
for _pid, _gate in _shown().items():
    _p = _gate.prediction
    _candidates = [o.text for o in (_p.tempting_option,) if o is not None] + [o.text for o in _p.wrong]
    _candidates += list(_p.choices) + (["192.0.2.7"] if _p.kind.value == "address" else ["12345"])
    _wrong = next(c for c in _candidates if c and not _check(_p, c).correct)
    found[_pid] = {"kind": _p.kind.value, "answer": _p.answer, "why": _plain(_p.why),
                   "wrong": _wrong, "wrong_explanation": _plain(_check(_p, _wrong).explanation),
                   "right_explanation": _plain(_check(_p, _p.answer).explanation)}
result = _json.dumps(found)
"""
GATES_EXPRESSION = f"(lambda ns: (exec({GATES_CODE!r}, ns), ns['result'])[1])({{}})"


@dataclass(frozen=True)
class WidgetCensus:
    """Widget models the kernel holds, and how many views of each the page has drawn."""

    alive: dict[str, str]  # model id -> widget class, for every DOMWidget alive in the kernel
    roots: list[str]  # model ids of the widget-view outputs in the notebook, in order
    views: dict[str, int] | None  # model id -> views attached to the page (-1: unknown to the page)
    error_texts: list[str]  # "Error displaying widget..." texts found in the notebook

    def problems(self) -> list[str]:
        """Everything that says a widget was not drawn; empty when all is well."""
        found = [f"page shows {text!r}" for text in self.error_texts]
        if self.views is None:
            if self.roots:
                found.append("no widget output leads to the page's widget manager: cannot count views")
            return found
        for model_id in self.roots:
            if model_id not in self.alive:
                found.append(f"an output shows widget {model_id}, which the kernel no longer has")
        for model_id, kind in self.alive.items():
            drawn = self.views.get(model_id, -1)
            if drawn == -1:
                found.append(f"{kind} {model_id} is alive in the kernel but unknown to the page")
            elif drawn == 0:
                found.append(f"{kind} {model_id} was created but is not drawn anywhere in the page")
        return found


@dataclass
class NotebookPage:
    """A Playwright page showing one served notebook, with what the browser reported."""

    page: object  # playwright.sync_api.Page
    server: object  # course_server.CourseServer
    path: str  # the notebook's path under the server root, e.g. "notebooks/05_x.ipynb"
    console_errors: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    run_all_result: bool | None = None

    @classmethod
    def open(cls, context, server, path: str, *, timeout_s: float = 90.0) -> NotebookPage:
        """Open ``path`` in a fresh workspace and wait for its kernel to be connected and idle."""
        start = time.monotonic()
        page = context.new_page()
        notebook = cls(page=page, server=server, path=path)
        page.on("console", notebook._on_console)
        page.on("pageerror", lambda error: notebook.console_errors.append(f"uncaught: {error}"))
        workspace = re.sub(r"[^A-Za-z0-9_-]", "-", path) + f"-{int(time.time() * 1000)}"
        try:
            page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={server.token}")
            page.wait_for_function(KERNEL_READY_JS, timeout=timeout_s * 1000)
        except BaseException:
            notebook.close()
            raise
        notebook.timings["open"] = time.monotonic() - start
        return notebook

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def run_all(self, *, timeout_s: float = 180.0) -> bool:
        """Clear every output, then Run > Run All Cells; wait for the kernel to be idle again.

        Returns what JupyterLab's command returns: False when a cell failed (the
        cells after it are then never run).
        """
        start = time.monotonic()
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        self.run_all_result = bool(
            self._await("window.jupyterapp.commands.execute('notebook:run-all-cells')", timeout_s, "Run All")
        )
        self.wait_idle(timeout_s=timeout_s)
        self.timings["run_all"] = time.monotonic() - start
        return self.run_all_result

    def _await(self, promise: str, timeout_s: float, what: str):
        """The value of the JavaScript ``promise``, or an error after ``timeout_s`` (evaluate never times out)."""
        return self.page.evaluate(
            f"""(ms) => Promise.race([{promise}, new Promise((_, fail) => setTimeout(
                () => fail(new Error(`{what} did not finish within ${{ms}} ms`)), ms))])""",
            timeout_s * 1000,
        )

    def wait_idle(self, *, timeout_s: float = 60.0) -> None:
        self.page.wait_for_function(KERNEL_READY_JS, timeout=timeout_s * 1000)

    def cells(self) -> list[dict]:
        """The notebook as the page holds it (nbformat cell dicts, outputs included)."""
        return self.page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.toJSON().cells")

    def code_outputs(self) -> list[tuple[int, dict]]:
        return [
            (index, output)
            for index, cell in enumerate(self.cells())
            if cell["cell_type"] == "code"
            for output in cell.get("outputs", [])
        ]

    def errors(self) -> list[str]:
        """Each error output as ``cell N: Name: value``."""
        return [
            f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
            for index, output in self.code_outputs()
            if output["output_type"] == "error"
        ]

    def stderr(self) -> list[str]:
        """Each stderr stream as ``cell N: text``."""
        return [
            f"cell {index}: {''.join(output.get('text', ''))}"
            for index, output in self.code_outputs()
            if output["output_type"] == "stream" and output.get("name") == "stderr"
        ]

    def unexecuted_code_cells(self) -> list[int]:
        return [
            index
            for index, cell in enumerate(self.cells())
            if cell["cell_type"] == "code" and "".join(cell["source"]).strip() and cell.get("execution_count") is None
        ]

    def kernel_expression(self, expression: str) -> str:
        """Evaluate ``expression`` in the kernel silently (no output, no execution count); its repr."""
        reply = self.page.evaluate(
            """async (expression) => {
                const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                const future = kernel.requestExecute(
                    {code: '', silent: true, store_history: false, user_expressions: {value: expression}});
                const reply = await future.done;
                return reply.content.user_expressions.value;
            }""",
            expression,
        )
        if reply.get("status") != "ok":
            raise RuntimeError(f"kernel expression failed: {reply.get('ename')}: {reply.get('evalue')}")
        return reply["data"]["text/plain"]

    def widget_census(self) -> WidgetCensus:
        alive = json.loads(ast.literal_eval(self.kernel_expression(WIDGET_CENSUS_EXPRESSION)))
        page = self.page.evaluate(WIDGET_VIEWS_JS, [sorted(alive), WIDGET_VIEW_MIME])
        return WidgetCensus(alive=alive, roots=page["roots"], views=page["views"], error_texts=page["errors"])

    def visual_problems(self) -> list[str]:
        """What reads as broken on screen: overlapping text, ellipses, over-wide outputs (empty when sound)."""
        return list(dict.fromkeys(self.page.evaluate(VISUAL_JS)))

    def gates(self) -> dict[str, dict]:
        """The prediction gates on the page, by id, in page order, with their answers from the kernel."""
        known = json.loads(ast.literal_eval(self.kernel_expression(GATES_EXPRESSION)))
        on_page = self.page.evaluate(
            """() => Array.from(document.querySelectorAll('.k8snet-gate')).map(node => {
                const name = Array.from(node.classList).find(c => c.startsWith('k8snet-gate-')
                    && !['k8snet-gate-prompt', 'k8snet-gate-entry', 'k8snet-gate-commit', 'k8snet-gate-verdict',
                         'k8snet-gate-reveal'].includes(c));
                const cell = node.closest('.jp-Cell');
                return [name ? name.slice('k8snet-gate-'.length) : '',
                        Array.from(cell.parentElement.children).filter(x => x.classList.contains('jp-Cell')).indexOf(cell)];
            })"""
        )
        return {pid: {**known[pid], "cell": cell} for pid, cell in on_page if pid in known}

    def outputs_text(self, *, from_cell: int = 0) -> str:
        """The text of every output of the cells from ``from_cell`` on, whitespace collapsed."""
        text = self.page.evaluate(
            """(first) => Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell')).slice(first)
                .map(cell => Array.from(cell.querySelectorAll('.jp-OutputArea-output')).map(o => o.innerText).join(' '))
                .join(' ')""",
            from_cell,
        )
        return re.sub(r"\s+", " ", text)

    def restart_and_run_all(self, *, timeout_s: float = 180.0) -> bool:
        """Restart the kernel (no dialog), wait for it, then Run All again."""
        self._await("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()",
                    timeout_s, "the kernel restart")
        self.wait_idle(timeout_s=timeout_s)
        return self.run_all(timeout_s=timeout_s)

    # --- interacting ----------------------------------------------------------------

    def image_bytes(self, selector: str) -> bytes:
        """The PNG bytes of the first ``<img>`` under ``selector`` (its src a data: or a blob: URL)."""
        data_url = self.page.evaluate(
            """async (selector) => {
                const image = document.querySelector(selector + ' img');
                if (!image) return '';
                if (image.src.startsWith('data:')) return image.src;
                const blob = await (await fetch(image.src)).blob();
                return await new Promise(resolve => {
                    const reader = new FileReader();
                    reader.onload = () => resolve(reader.result);
                    reader.readAsDataURL(blob);
                });
            }""",
            selector,
        )
        assert data_url, f"no <img> under {selector}"
        return base64.b64decode(data_url.split(",", 1)[1])

    def step_slider(self, selector: str, key: str = "ArrowRight", *, redraws: str) -> tuple[bytes, bytes]:
        """Move one slider one step with the keyboard; wait for ``redraws``' image to change and the kernel to idle.

        One step at a time: faster key presses outrun the kernel.
        Returns the image bytes before and after.
        """
        before = self.image_bytes(redraws)
        source = self.page.get_attribute(f"{redraws} img", "src")
        self.page.focus(f"{selector} .noUi-handle")
        self.page.keyboard.press(key)
        self.page.wait_for_function(
            """([selector, source]) => {
                const image = document.querySelector(selector + ' img');
                return !!image && image.getAttribute('src') !== source && image.complete;
            }""",
            arg=[redraws, source],
        )
        self.wait_idle()
        return before, self.image_bytes(redraws)

    def click_and_wait(self, target, *, timeout_s: float = 60.0) -> None:
        """Click ``target`` (a selector or a locator); wait until the kernel has handled it."""
        locator = self.page.locator(target) if isinstance(target, str) else target
        self.act_and_wait(locator.click, timeout_s=timeout_s)

    def act_and_wait(self, action, *, timeout_s: float = 60.0) -> None:
        """Do ``action()`` (which must send the kernel a message); wait for the kernel to go busy, then idle.

        Waiting for "idle" alone could pass before the action's message reached the kernel.
        """
        self.page.evaluate(
            """() => {
                const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                window.k8snetBusyThenIdle = new Promise(resolve => {
                    let busy = false;
                    const watch = (_, status) => {
                        if (status === 'busy') busy = true;
                        else if (busy && status === 'idle') { kernel.statusChanged.disconnect(watch); resolve(); }
                    };
                    kernel.statusChanged.connect(watch);
                });
            }"""
        )
        action()
        self._await("window.k8snetBusyThenIdle", timeout_s, "the kernel going busy then idle")
        self._next_frame()

    def _next_frame(self) -> None:
        """Two animation frames: the page has drawn what its models last received."""
        self.page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector).strip()

    # --- pictures and clean-up --------------------------------------------------------

    def screenshot(self, path: Path, *, max_height: int = 16000) -> Path:
        """The whole notebook panel, however long: grow the viewport to the panel's scroll height."""
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = self.page.evaluate(
            """() => {
                const app = window.jupyterapp;
                app.shell.collapseLeft();
                app.shell.collapseRight();
                const panel = app.shell.currentWidget;
                const scroller = panel.node.querySelector('.jp-WindowedPanel-outer') || panel.content.node;
                panel.content.activeCellIndex = 0;  // Run All leaves the last cell active, scrolled to
                scroller.scrollTop = 0;
                // Up to the last cell's bottom: the notebook pads its end so it can scroll past it.
                const cells = panel.content.widgets;
                const last = cells[cells.length - 1].node.getBoundingClientRect().bottom + scroller.scrollTop;
                return Math.max(0, Math.ceil(last - scroller.getBoundingClientRect().bottom + 24));
            }"""
        )
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": size["width"], "height": min(max_height, size["height"] + extra)})
        self._next_frame()  # the panels lay out again for the taller viewport
        self.page.locator(".jp-NotebookPanel:visible").first.screenshot(path=str(path))
        self.page.set_viewport_size(size)
        return path

    def screenshot_widget(self, selectors: list[str], path: Path, *, index: int = 0) -> Path:
        """The smallest element holding the ``index``-th match of every selector (one widget and its parts).

        The viewport grows to fit it first: scrolling a taller element into view would
        also scroll JupyterLab's fixed panels.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        height = self.page.evaluate(
            """([selectors, index]) => {
                const parts = selectors.map(s => document.querySelectorAll(s)[index]);
                if (parts.some(p => !p)) throw new Error(`not all of ${selectors} are on the page`);
                let box = parts[0];
                while (!parts.every(p => box.contains(p))) box = box.parentElement;
                document.querySelectorAll('[data-k8snet-shot]').forEach(e => e.removeAttribute('data-k8snet-shot'));
                box.setAttribute('data-k8snet-shot', '');
                return Math.ceil(box.getBoundingClientRect().height);
            }""",
            [selectors, index],
        )
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 200)})
        self._next_frame()
        try:
            self.page.locator("[data-k8snet-shot]").screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(size)
        return path

    def close(self) -> None:
        self.page.close()
        self.server.delete_sessions(self.path)
