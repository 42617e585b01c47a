"""Figures for the course, drawn with matplotlib's object API (no pyplot state).

Every figure is sized explicitly, titled, has labelled axes with units, and sits on
a white card with dark text so it reads the same in JupyterLab's light and dark
themes. Functions take model results (counts, shares, probabilities) and draw them;
they compute nothing about networking themselves.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - names for the annotations only; matplotlib loads on first use
    import IPython.display
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

__all__ = [
    "figure_png",
    "show",
    "spread_figure",
    "SpreadPlot",
    "probability_tree_figure",
    "convergence_figure",
    "chain_shares_figure",
]

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_INK = "#222222"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, facecolor="white", edgecolor="white")
    return fig


def _style(ax: Axes) -> None:
    ax.set_facecolor("white")
    for spine in ax.spines.values():
        spine.set_color(_INK)
    ax.tick_params(colors=_INK)
    ax.xaxis.label.set_color(_INK)
    ax.yaxis.label.set_color(_INK)
    ax.title.set_color(_INK)


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render ``fig`` to PNG bytes (Agg), for ipywidgets.Image and README images."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def show(fig: Figure, dpi: int = 80) -> IPython.display.Image:
    """The figure as an IPython PNG image, so a notebook cell displays it (no pyplot needed)."""
    from IPython.display import Image

    return Image(data=figure_png(fig, dpi=dpi), format="png")


def spread_figure(counts: Sequence[int], shares: Sequence[float], *, labels: Sequence[str] | None = None,
                  p_value: float | None = None, seed: int | None = None, width: float = 7.0, height: float = 3.6,
                  subject: str | None = None, xlabel: str = "endpoint (KUBE-SEP chain)") -> Figure:
    """Simulated connections per endpoint (bars) against the exact expected counts (markers).

    ``subject`` names what was connected to (a Service and its cluster): the title's first line.
    """
    import numpy as np

    counts = np.asarray(counts)
    total = int(counts.sum())
    expected = np.asarray(shares, dtype=float) * total
    labels = list(labels) if labels is not None else [f"endpoint {i + 1}" for i in range(len(counts))]
    fig = _figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(counts))
    ax.bar(x, counts, color=[_PALETTE[i % len(_PALETTE)] for i in x], label="simulated connections")
    ax.scatter(x, expected, color=_INK, marker="_", s=900, linewidths=2.5, zorder=3, label="exact share x N")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30 if len(x) > 5 else 0, ha="right" if len(x) > 5 else "center", fontsize=8)
    ax.set_ylabel("new connections (count)")
    ax.set_xlabel(xlabel)
    title = f"{total:,} new connections over {len(counts)} endpoint{'s' if len(counts) != 1 else ''}"
    details = []
    if seed is not None:
        details.append(f"seed {seed}")
    if p_value is not None:
        details.append(f"chi-square p = {p_value:.3g}")
    if details:
        title += " (" + ", ".join(details) + ")"
    if subject:
        title = f"{subject}\n{title}"  # on one line it ran past both edges of the figure
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, max(float(counts.max(initial=0)), float(expected.max(initial=0))) * 1.2 + 1)
    # Above the bars, in the headroom the y limit leaves: never over a bar.
    # markerscale: the expected-count bar is 30 pt wide, and at full size its legend key ran over its label.
    legend = ax.legend(loc="upper center", ncol=2, fontsize=8, frameon=True, markerscale=0.4)
    legend.get_frame().set_facecolor("white")
    for text in legend.get_texts():
        text.set_color(_INK)
    _style(ax)
    fig.tight_layout()
    return fig


class SpreadPlot:
    """A reusable spread chart for widgets: one figure, updated in place.

    Building a matplotlib figure, and laying out its text, costs far more than
    updating one. The static parts (axes, labels, legend) are drawn once and kept as a
    background; each update restores it and draws only the bars, markers, ticks and
    title (matplotlib's blitting). Bars are numbered by their position in the KUBE-SVC
    chain; the table beside the chart names the endpoints.
    """

    def __init__(self, max_endpoints: int = 10, width: float = 7.0, height: float = 3.4, dpi: int = 80) -> None:
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self._np = np
        self.fig = _figure(width, height)
        self.fig.set_dpi(dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax = ax = self.fig.add_subplot(1, 1, 1)
        self.fig.subplots_adjust(left=0.12, right=0.98, top=0.84, bottom=0.17)
        x = np.arange(max_endpoints)
        self.bars = ax.bar(x, np.zeros(max_endpoints), color=[_PALETTE[i % 10] for i in x], animated=True)
        self.marks = ax.scatter(x, np.zeros(max_endpoints), color=_INK, marker="_", s=700, linewidths=2.5,
                                zorder=3, animated=True)
        # Axis labels as static figure text: an animated axis would re-render its label too.
        self.fig.text(0.545, 0.015, "endpoint (position in the KUBE-SVC chain)", ha="center", va="bottom",
                      fontsize=10, color=_INK)
        self.fig.text(0.015, 0.5, "new connections (count)", ha="left", va="center", rotation=90,
                      fontsize=10, color=_INK)
        ax.xaxis.set_animated(True)
        ax.yaxis.set_animated(True)
        self.title = self.fig.suptitle("", fontsize=10, color=_INK, animated=True)
        legend = ax.legend([self.bars[0], self.marks], ["simulated connections", "exact share x N"],
                           loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False,
                           markerscale=0.4)
        for text in legend.get_texts():
            text.set_color(_INK)
        _style(ax)
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)

    def png(self, counts: Sequence[int], shares: Sequence[float], *, p_value: float | None = None,
            seed: int | None = None) -> bytes:
        from PIL import Image

        np = self._np
        ax = self.ax
        counts = np.asarray(counts, dtype=float)
        n = len(counts)
        total = counts.sum()
        expected = np.asarray(shares, dtype=float) * total
        for i, bar in enumerate(self.bars):
            bar.set_visible(i < n)
            bar.set_height(counts[i] if i < n else 0.0)
        self.marks.set_offsets(np.c_[np.arange(n), expected])
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(0, max(counts.max(initial=0), expected.max(initial=0)) * 1.2 + 1)
        ax.set_xticks(np.arange(n))
        ax.set_xticklabels([str(i + 1) for i in range(n)], fontsize=8)
        title = f"{int(total):,} new connections over {n} endpoint{'s' if n != 1 else ''}"
        details = [f"seed {seed}"] if seed is not None else []
        if p_value is not None:
            details.append(f"chi-square p = {p_value:.3g}")
        if details:
            title += " (" + ", ".join(details) + ")"
        self.title.set_text(title)
        self.canvas.restore_region(self._background)
        for bar in self.bars[:n]:
            ax.draw_artist(bar)
        for artist in (self.marks, ax.xaxis, ax.yaxis):
            ax.draw_artist(artist)
        self.fig.draw_artist(self.title)
        width, height = self.canvas.get_width_height()
        buffer = io.BytesIO()
        Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
            buffer, format="png", compress_level=1)
        return buffer.getvalue()


def probability_tree_figure(probability_texts: Sequence[str | None], shares: Sequence[float], *,
                            title: str = "The KUBE-SVC chain as a probability tree", width: float = 7.5,
                            height: float = 3.6) -> Figure:
    """Each rule either matches (its printed probability) or passes the connection on.

    ``probability_texts[i]`` is rule i's ``--probability`` as printed (None for the last
    rule, which always matches); ``shares`` are the exact shares the chain gives.
    """
    n = len(probability_texts)
    fig = _figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.set_xlim(-0.5, n + 0.5)
    ax.set_ylim(-1.6, 1.0)
    for i, (text, share) in enumerate(zip(probability_texts, shares)):
        x = i
        ax.annotate("", xy=(x, -0.9), xytext=(x, 0.3), arrowprops=dict(arrowstyle="->", color=_PALETTE[i % 10], lw=2))
        label = f"p = {float(text):.4g}" if text is not None else "always"
        ax.text(x + 0.05, -0.3, label, fontsize=8, color=_INK, ha="left")
        ax.text(x, 0.45, f"rule {i + 1}", fontsize=9, color=_INK, ha="center",
                bbox=dict(boxstyle="round", facecolor="white", edgecolor=_INK))
        ax.text(x, -1.15, f"SEP {i + 1}\nshare {share:.3f}", fontsize=8, color=_INK, ha="center", va="top")
        if i < n - 1:
            ax.annotate("", xy=(x + 0.75, 0.45), xytext=(x + 0.3, 0.45),
                        arrowprops=dict(arrowstyle="->", color=_INK, lw=1))
            if text is not None:
                ax.text(x + 0.5, 0.6, f"{1 - float(text):.3g}", fontsize=7, color=_INK, ha="center")
    ax.set_title(title + "  (down: match, right: next rule)", fontsize=10, color=_INK)
    fig.tight_layout()
    return fig


def convergence_figure(n_connections: Sequence[int], observed_shares: ArrayLike, exact_shares: Sequence[float], *,
                       seed: int | None = None, width: float = 7.0, height: float = 3.6) -> Figure:
    """Observed share per endpoint as the number of connections grows (log x axis)."""
    import numpy as np

    observed_shares = np.asarray(observed_shares, dtype=float)
    fig = _figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    for j in range(observed_shares.shape[1]):
        color = _PALETTE[j % 10]
        ax.plot(n_connections, observed_shares[:, j], marker="o", ms=3, color=color, label=f"endpoint {j + 1}")
        ax.axhline(exact_shares[j], color=color, lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("new connections (count, log scale)")
    ax.set_ylabel("observed share of connections")
    title = "Observed shares converge to the exact shares (dashed)"
    if seed is not None:
        title += f" (seed {seed})"
    ax.set_title(title, fontsize=10)
    legend = ax.legend(fontsize=8, loc="upper right")
    legend.get_frame().set_facecolor("white")
    for text in legend.get_texts():
        text.set_color(_INK)
    _style(ax)
    fig.tight_layout()
    return fig


def chain_shares_figure(series: dict[str, Sequence[float]], *, title: str, width: float = 7.0,
                        height: float = 3.6) -> Figure:
    """Exact share per endpoint for several chains side by side (e.g. kube-proxy's vs naive 1/n)."""
    import numpy as np

    fig = _figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    names = list(series)
    n = max(len(v) for v in series.values())
    width_bar = 0.8 / max(1, len(names))
    x = np.arange(n)
    for k, name in enumerate(names):
        values = np.asarray(series[name], dtype=float)
        ax.bar(x[: len(values)] + k * width_bar - 0.4 + width_bar / 2, values, width=width_bar,
               color=_PALETTE[k % 10], label=name)
    ax.set_xticks(x)
    ax.set_xticklabels([str(i + 1) for i in x], fontsize=8)
    ax.set_xlabel("endpoint (position in the KUBE-SVC chain)")
    ax.set_ylabel("share of new connections")
    ax.set_title(title, fontsize=10)
    legend = ax.legend(fontsize=8)
    legend.get_frame().set_facecolor("white")
    for text in legend.get_texts():
        text.set_color(_INK)
    _style(ax)
    fig.tight_layout()
    return fig
