"""Readable tables: text left and wrapped, numbers right, long tables folded, nothing cut."""

from __future__ import annotations

import re

import pytest

pd = pytest.importorskip("pandas")

from k8snet_lesson.view.tables import table

LONG = "the packet is bridged from one veth to the other by cni0, with no routing and no tunnel at all " * 3


def test_text_left_numbers_right_and_no_ellipsis():
    shown = table(pd.DataFrame({"what happens": [LONG], "bytes": [1450]}))._repr_html_()
    cells = re.findall(r'<td style="([^"]*)">([^<]*)</td>', shown)
    assert "text-align:left" in cells[0][0] and "white-space:normal" in cells[0][0]
    assert "text-align:right" in cells[1][0]
    assert cells[0][1] == LONG and "…" not in shown


def test_long_tables_show_the_first_rows_and_fold_the_rest():
    frame = pd.DataFrame({"n": range(30)})
    shown = table(frame, rows=8)._repr_html_()
    before, folded = shown.split("<details", 1)
    assert before.count("<tr>") == 1 + 8 and folded.count("<tr>") == 22
    assert "Show all 30 rows" in folded
    assert "<details" not in table(frame.head(8), rows=8)._repr_html_()


def test_a_named_index_is_a_column_and_the_caption_says_what_it_is():
    frame = pd.DataFrame({"ip": ["10.244.2.14"]}, index=pd.Index(["checkout"], name="pod"))
    shown = table(frame, caption="The lesson's cluster (Calico, VXLAN mode)")
    html_text = shown._repr_html_()
    assert ">pod</th>" in html_text and ">checkout</th>" in html_text
    assert str(shown).startswith("The lesson's cluster (Calico, VXLAN mode)\n")


def test_html_in_cells_is_escaped():
    assert "&lt;none&gt;" in table([{"endpoints": "<none>"}])._repr_html_()
