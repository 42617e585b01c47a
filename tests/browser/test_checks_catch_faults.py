"""The browser checks themselves, on two notebooks written here: one sound, one with every fault.

A check that never fails proves nothing, so each check the course notebooks must
pass is first shown to fire on a notebook built to trip it (an exception, a
stderr write, a widget built but never shown, a widget closed under its view, a
JavaScript console error), and to stay quiet on a sound notebook with a slider,
a log slider and a matplotlib figure drawn into an Output widget.
"""

from __future__ import annotations

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

SOUND_SOURCE = [
    "import ipywidgets as widgets\nimport matplotlib.pyplot as plt\nfrom IPython.display import display",
    '''endpoints = widgets.IntSlider(value=3, min=1, max=10, description="endpoints")
connections = widgets.FloatLogSlider(value=1000, base=10, min=1, max=6, step=1, description="connections")
figure_area = widgets.Output()
endpoints.add_class("probe-endpoints")
connections.add_class("probe-connections")
figure_area.add_class("probe-figure")

def draw(change=None):
    with figure_area:
        figure_area.clear_output(wait=True)
        fig, ax = plt.subplots(figsize=(5, 2.5))
        ax.bar(range(endpoints.value), [connections.value / endpoints.value] * endpoints.value)
        ax.set_title(f"{int(connections.value):,} connections over {endpoints.value} endpoints")
        plt.show(fig)

endpoints.observe(draw, names="value")
connections.observe(draw, names="value")
draw()
display(widgets.VBox([endpoints, connections, figure_area]))''',
    'print("stdout is fine")',
]

# Cell indexes below are positions in the notebook (markdown cell 0 included).
FAULTY_SOURCE = [
    'import sys\nprint("probe wrote to stderr", file=sys.stderr)',
    "import ipywidgets as widgets\nbuilt_not_shown = widgets.IntSlider(description='never shown')",
    "closed = widgets.IntSlider(description='closed')\ndisplay(closed)\nclosed.close()",
    'from IPython.display import Javascript\ndisplay(Javascript("console.error(\'probe console error\')"))',
    "1 / 0",
    'print("never runs")',
]


# What reads as broken on screen, each the way the course once showed it.
VISUAL_FAULTS_SOURCE = [
    # Radio rows of a fixed 20 px: a choice that wraps runs over the next choice.
    """from IPython.display import HTML
rows = ''.join(f'<div style="height:20px;width:220px;line-height:18px">choice {i}: a long answer that wraps over '
               f'three lines of text in a row of fixed height</div>' for i in range(3))
HTML(rows)""",
    # A table whose explanation column is cut where the explanation is.
    """import pandas as pd
pd.set_option("display.max_colwidth", 30)
pd.DataFrame({"hop": [1, 2], "what happens": ["the packet leaves the pod through its veth into the node",
                                               "the node routes it to the VXLAN device for the other node"]})""",
    # A table wider than the notebook column.
    """import pandas as pd
pd.set_option("display.max_columns", None)
pd.DataFrame([[f"a long cell value {r}-{c}" for c in range(30)] for r in range(2)])""",
]


def write_notebook(path, sources):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.cells = [nbformat.v4.new_markdown_cell("# probe")] + [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def probe_paths(lab_server):
    paths = {"sound": "probes/sound.ipynb", "faulty": "probes/faulty.ipynb", "unreadable": "probes/unreadable.ipynb"}
    write_notebook(lab_server.root / paths["sound"], SOUND_SOURCE)
    write_notebook(lab_server.root / paths["faulty"], FAULTY_SOURCE)
    write_notebook(lab_server.root / paths["unreadable"], VISUAL_FAULTS_SOURCE)
    return paths


def test_sound_notebook_passes_every_check(executed, probe_paths, screenshots):
    page = executed.get(probe_paths["sound"])  # left open for the slider test below
    assert page.run_all_result is True
    assert page.errors() == []
    assert page.stderr() == []
    assert page.unexecuted_code_cells() == []
    census = page.widget_census()
    # One output (the VBox) draws the four widgets the cell built, one view each.
    assert len(census.roots) == 1
    assert sorted(census.alive.values()) == ["FloatLogSlider", "IntSlider", "Output", "VBox"]
    assert census.views == {model_id: 1 for model_id in census.alive}
    assert census.problems() == []
    assert page.console_errors == []
    assert page.visual_problems() == []
    shot = page.screenshot(screenshots / "probe-sound.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_slider_step_redraws_the_figure(executed, probe_paths):
    page = executed.get(probe_paths["sound"])
    try:
        before, after = page.step_slider(".probe-endpoints", redraws=".probe-figure")
        assert before[:8] == after[:8] == b"\x89PNG\r\n\x1a\n"
        assert before != after
        assert page.text(".probe-endpoints .widget-readout") == "4"
        before, after = page.step_slider(".probe-connections", redraws=".probe-figure")
        assert before != after
        assert page.text(".probe-connections .widget-readout") == "1.00e+4"
        assert page.errors() == [] and page.console_errors == []
    finally:
        executed.release(probe_paths["sound"])


def test_faulty_notebook_trips_every_check(executed, probe_paths):
    page = executed.get(probe_paths["faulty"])
    try:
        assert page.run_all_result is False
        assert page.errors() == ["cell 5: ZeroDivisionError: division by zero"]
        assert page.stderr() == ["cell 1: probe wrote to stderr\n"]
        assert page.unexecuted_code_cells() == [6]
        problems = page.widget_census().problems()
        assert any("IntSlider" in p and "created but is not drawn" in p for p in problems), problems
        assert any("which the kernel no longer has" in p for p in problems), problems
        assert any("probe console error" in message for message in page.console_errors), page.console_errors
    finally:
        executed.release(probe_paths["faulty"])


def test_unreadable_notebook_trips_every_visual_check(executed, probe_paths, screenshots):
    page = executed.get(probe_paths["unreadable"])
    try:
        assert page.run_all_result is True and page.errors() == []
        page.screenshot(screenshots / "probe-unreadable.png")
        problems = page.visual_problems()
        assert any(p.startswith("cell 1: text \"choice 0") and "overlaps" in p for p in problems), problems
        assert any(p.startswith("cell 2: a table cell ends in an ellipsis") for p in problems), problems
        assert any(p.startswith("cell 3:") and ("wider than the notebook column" in p or "scrolls sideways" in p)
                   for p in problems), problems
        assert not any(p.startswith(("cell 2:", "cell 1:")) and "wider" in p for p in problems), problems
    finally:
        executed.release(probe_paths["unreadable"])
