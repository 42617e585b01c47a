"""Tables a learner can read: text left-aligned and wrapped, numbers right-aligned, long ones folded.

JupyterLab right-aligns every cell of an HTML table, and pandas cuts long text with
"…". Both hide the explanation a table exists for. :func:`table` renders a pandas
DataFrame (or a list of row dicts) as HTML with inline styles, which JupyterLab keeps
even in an untrusted notebook: text columns left-aligned and wrapped, numeric
columns right-aligned, nothing truncated. Past ``rows`` rows it shows the first ones
and folds the rest under a "Show all N rows" disclosure, so a page stays short and
nothing is lost. An optional ``caption`` says what the table is of (which cluster,
which CNI). The plain-text form (what a terminal, nbval and a screen reader get) is
the whole table.

    >>> shown = table([{"pod": "checkout-api-6f8b9d-2xkpj", "ip": "10.244.2.14", "restarts": 0}])
    >>> 'text-align:left' in shown._repr_html_() and 'text-align:right' in shown._repr_html_()
    True
    >>> print(shown)
                             pod           ip  restarts
    0  checkout-api-6f8b9d-2xkpj  10.244.2.14         0
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - names for the annotations only; pandas loads on first use
    from pandas import DataFrame

__all__ = ["Table", "table", "ROWS"]

ROWS = 12  # the course's budget for a table on the core path

_CELL = "padding:3px 10px;vertical-align:top;border-bottom:1px solid #e0e0e0;"
_TEXT = "text-align:left;white-space:normal;overflow-wrap:anywhere;max-width:38em;"
_NUMBER = "text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums;"
# A header, or one short token (an address, a CIDR, a flag), breaks only between words:
# squeezed by wide neighbours, it wrapped mid-token ("192.168. / 0.0/16", "hold / s").
_WHOLE_WORDS = "overflow-wrap:normal;"
_TOKEN = 24


def _text(text: str) -> str:
    return _TEXT + (_WHOLE_WORDS if len(text) <= _TOKEN else "")


def _shown(value: object) -> str:  # a cell holds whatever the frame holds
    """A cell's text: a truth value reads "yes"/"no" (a learner is not reading Python's True)."""
    if value is None:
        return ""
    if type(value).__name__ in ("bool", "bool_"):  # Python's bool and numpy's
        return "yes" if value else "no"
    return str(value)


@dataclasses.dataclass(frozen=True)
class Table:
    """A DataFrame with how to show it; renders as HTML in a notebook and as text elsewhere."""

    frame: DataFrame
    rows: int = ROWS
    caption: str = ""
    index: bool = False

    def _numeric(self) -> list[bool]:
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        return [is_numeric_dtype(dtype) and not is_bool_dtype(dtype) for dtype in self.frame.dtypes]

    def _row_html(self, label: Hashable, values: tuple[object, ...], numeric: list[bool]) -> str:
        cells = []
        if self.index:
            cells.append(f'<th style="{_CELL}{_text(str(label))}">{html.escape(str(label))}</th>')
        for value, is_number in zip(values, numeric):
            text = _shown(value)
            cells.append(f'<td style="{_CELL}{_NUMBER if is_number else _text(text)}">{html.escape(text)}</td>')
        return "<tr>" + "".join(cells) + "</tr>"

    def _table_html(self, frame: DataFrame, numeric: list[bool], *, head: bool) -> str:
        parts = ['<table class="k8snet-table" style="border-collapse:collapse;margin:4px 0;font-size:13px">']
        if head:
            names = ([str(frame.index.name or "")] if self.index else []) + [str(c) for c in frame.columns]
            aligns = ([False] if self.index else []) + numeric
            parts.append("<thead><tr>" + "".join(
                f'<th style="{_CELL}{_NUMBER if is_number else _TEXT}{_WHOLE_WORDS}border-bottom:2px solid #9e9e9e;">'
                f"{html.escape(name)}</th>" for name, is_number in zip(names, aligns)) + "</tr></thead>")
        parts.append("<tbody>")
        for label, values in zip(frame.index, frame.itertuples(index=False, name=None)):
            parts.append(self._row_html(label, values, numeric))
        parts.append("</tbody></table>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        numeric = self._numeric()
        frame = self.frame
        out = []
        if self.caption:
            out.append(f'<div class="k8snet-table-caption" style="font-size:12px;color:#555;margin-top:4px">'
                       f"{html.escape(self.caption)}</div>")
        if len(frame) <= self.rows:
            out.append(self._table_html(frame, numeric, head=True))
        else:
            out.append(self._table_html(frame.iloc[: self.rows], numeric, head=True))
            rest = self._table_html(frame.iloc[self.rows :], numeric, head=False)
            out.append(f'<details class="k8snet-more"><summary style="cursor:pointer;color:#1565c0">'
                       f"Show all {len(frame)} rows</summary>{rest}</details>")
        return "".join(out)

    def __str__(self) -> str:
        text = self.frame.to_string(index=self.index) if self.index else self.frame.to_string()
        return (self.caption + "\n" + text) if self.caption else text

    def __repr__(self) -> str:
        return str(self)


def table(data: DataFrame | Iterable[Mapping[str, object]], *, rows: int = ROWS, caption: str = "", index: bool | None = None) -> Table:
    """``data`` (a DataFrame, or a list of dicts) as a readable :class:`Table`.

    A DataFrame whose index is named (``set_index("pod")``) shows the index as its first
    column; an unnamed RangeIndex is left out.
    """
    import pandas as pd

    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(list(data))
    if index is None:
        index = frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex)
    return Table(frame, rows=rows, caption=caption, index=index)
