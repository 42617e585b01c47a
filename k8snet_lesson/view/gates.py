"""Prediction gates: the learner commits an answer, then the course computes and shows it.

A gate shows a question, a way to answer it (options, or a box for a number or an
address) and a **Lock in** button. Until the learner locks an answer in, the right
answer is nowhere in the page: it lives only in the kernel, in the
:class:`~k8snet_lesson.predictions.Prediction`. Locking in shows the verdict (why the
answer given is right or wrong, the right answer and why, and the tempting wrong
answer and why it is wrong), then the gate's reveal: the table, figure or output the
course computes from the same cluster. The first answer is the prediction and is
recorded in the learner's progress file (:mod:`k8snet_lesson.view.learner`), so after
a kernel restart the gate opens already answered; later answers are attempts, each
with its own explanation.

The callback is :func:`render_gate`, a plain function of the gate (tests set the
input and call it). Input that is not an answer shows a message and clears what the
gate showed before, never a traceback.
"""

from __future__ import annotations

import dataclasses
import html
import re
from typing import TYPE_CHECKING, Callable

from ..errors import K8snetError
from .widgets import Shown, message_html

if TYPE_CHECKING:  # pragma: no cover
    import ipywidgets

    from ..predictions import Prediction, Verdict
    from .learner import Predicted, Progress

__all__ = ["Gate", "predict", "render_gate", "shown_gates", "inline_html", "sentence", "CHOICE_CSS"]

# ipywidgets draws each radio option as <label>text<input></label> in a row of fixed
# height (20 px): a choice that wraps runs over the next one, and in a flex row the radio
# after a long text is squeezed out of sight. Rows grow with their text; the radio is
# laid out before the text (order -1), keeps its size, and a checked row is highlighted.
CHOICE_CSS = (
    "<style>"
    ".k8snet-choices .widget-radio-box{overflow:visible;height:auto !important}"
    ".k8snet-choices .widget-radio-box label{height:auto !important;line-height:1.45 !important;"
    "display:flex !important;align-items:flex-start;gap:8px;white-space:normal;padding:3px 6px;overflow:visible;"
    "border-radius:4px;cursor:pointer}"
    ".k8snet-choices .widget-radio-box input[type=radio]{order:-1;float:none;flex:0 0 auto;width:15px;height:15px;"
    "margin:3px 0 0 0;accent-color:#1565c0;cursor:pointer}"
    ".k8snet-choices .widget-radio-box label:has(input:checked){background:#e3edf9;outline:1px solid #90b4e0}"
    "</style>"
)


# The last gate shown for each prediction id in this kernel (what the page's gates hold).
_SHOWN: dict[str, "Gate"] = {}


def shown_gates() -> dict[str, "Gate"]:
    """The gates this kernel has made, by prediction id (the latest of each)."""
    return dict(_SHOWN)


def sentence(text: str) -> str:
    """``text`` ending with exactly one full stop (or its own ``!``/``?``/``:``).

    >>> sentence("It is rejected."), sentence("It is rejected"), sentence("")
    ('It is rejected.', 'It is rejected.', '')
    """
    text = text.strip()
    if not text or text[-1] in ".!?:":
        return text
    return text + "."


def inline_html(text: str) -> str:
    """Escape ``text`` and render its inline markdown: `code` and **bold**.

    >>> inline_html("rule `KUBE-SVC` is **fair** <3")
    'rule <code>KUBE-SVC</code> is <b>fair</b> &lt;3'
    """
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)


@dataclasses.dataclass
class Gate(Shown):
    """The widgets of one prediction gate and what it showed last."""

    prediction: "Prediction"
    entry: "ipywidgets.RadioButtons | ipywidgets.Text"
    button: "ipywidgets.Button"
    verdict: "ipywidgets.HTML"
    reveal: "ipywidgets.Output"
    message: "ipywidgets.HTML"
    ui: "ipywidgets.VBox"
    show: Callable[[], object] | None = None  # the reveal: anything IPython can display
    progress: "Progress | None" = None
    last: "Verdict | None" = None

    @property
    def committed(self) -> bool:
        return self.last is not None


def _verdict_html(verdict: "Verdict", *, earlier: Predicted | None) -> str:
    colour = "#1b5e20" if verdict.correct else "#8a4b00"
    parts = []
    if earlier is not None:
        mark = "right" if earlier.get("correct") else "not right"
        parts.append(f'<div class="k8snet-earlier" style="color:#555">Your prediction: '
                     f"<b>{html.escape(str(earlier.get('given')))}</b> ({mark}).</div>")
    parts.append(f'<div style="color:{colour}"><b>{verdict.headline}.</b> You said <b>{html.escape(verdict.given)}</b>. '
                 f"{inline_html(sentence(verdict.explanation))}</div>")
    if not verdict.correct:
        parts.append(f"<div><b>The answer: {html.escape(verdict.answer)}.</b> {inline_html(sentence(verdict.why))}</div>")
    tempting = verdict.tempting
    if tempting is not None and tempting.text.strip() != verdict.given.strip():
        parts.append(f'<div class="k8snet-tempting"><b>Tempting but wrong: {html.escape(tempting.text)}.</b> '
                     f"{inline_html(sentence(tempting.explanation))}</div>")
    return ('<div class="k8snet-verdict" data-correct="{}" style="max-width:760px;line-height:1.45;'
            'border-left:4px solid {};padding:4px 10px;margin:6px 0">'.format(str(verdict.correct).lower(), colour)
            + "".join(parts) + "</div>")


def _show_reveal(gate: Gate) -> None:
    if gate.show is None or gate.reveal.outputs:
        return
    from IPython.core.formatters import format_display_data

    shown = gate.show()
    data, metadata = format_display_data(shown)
    gate.reveal.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)


def render_gate(gate: Gate) -> None:
    """The gate's callback: judge the answer given, record it, explain it, reveal."""
    from ..predictions import check

    try:
        verdict = check(gate.prediction, gate.entry.value)
    except (K8snetError, ValueError) as exc:
        gate.message.value = message_html(str(exc))
        gate.verdict.value = ""
        gate.reveal.outputs = ()
        gate.last = None
        return
    gate.message.value = ""
    earlier = None
    if gate.progress is not None:
        earlier = gate.progress.prediction(gate.prediction.id)
        gate.progress.record_prediction(gate.prediction.id, verdict.given, correct=verdict.correct)
        if gate.progress.warning:
            gate.message.value = message_html(gate.progress.warning)
    gate.verdict.value = _verdict_html(verdict, earlier=earlier)
    gate.last = verdict
    gate.button.description = "Check another answer"
    _show_reveal(gate)


def predict(prediction: "Prediction", *, reveal: Callable[[], object] | None = None,
            progress: "Progress | None | bool" = True) -> Gate:
    """A gate for ``prediction``; ``reveal()`` makes what is shown once an answer is locked in.

    ``progress`` is the learner's :class:`~k8snet_lesson.view.learner.Progress` (``True``:
    open the default file; ``None`` or ``False``: remember nothing). A prediction
    recorded before (another session, a restarted kernel) is restored and shown.
    """
    import ipywidgets as w

    from ..predictions import Kind
    from .learner import Progress

    store = Progress.open() if progress is True else (progress or None)
    prompt = w.HTML(f'{CHOICE_CSS}<div class="k8snet-gate-prompt" style="max-width:760px;line-height:1.45">'
                    f"<b>Predict.</b> {inline_html(prediction.prompt)}</div>")
    if prediction.kind is Kind.CHOICE:
        entry = w.RadioButtons(options=list(prediction.choices), value=None, layout=w.Layout(width="auto", max_width="760px"))
        entry.add_class("k8snet-choices")
    else:
        hint = "e.g. 192.0.2.7" if prediction.kind is Kind.ADDRESS else "e.g. 7, 0.25, 2/5 or 40%"
        entry = w.Text(placeholder=hint, layout=w.Layout(width="260px"))
        entry.add_class("k8snet-gate-entry")
    button = w.Button(description="Lock in my prediction", button_style="primary",
                      layout=w.Layout(width="auto", align_self="flex-start"))
    verdict = w.HTML()
    message = w.HTML()
    shown = w.Output()
    button.add_class("k8snet-gate-commit")
    verdict.add_class("k8snet-gate-verdict")
    shown.add_class("k8snet-gate-reveal")
    message.add_class("k8snet-message")
    ui = w.VBox([prompt, entry, button, message, verdict, shown])
    ui.add_class("k8snet-gate")
    ui.add_class(f"k8snet-gate-{prediction.id}")
    gate = Gate(prediction, entry, button, verdict, shown, message, ui, show=reveal, progress=store)
    button.on_click(lambda _: render_gate(gate))
    _SHOWN[prediction.id] = gate
    earlier = store.prediction(prediction.id) if store is not None else None
    if earlier is not None:
        _restore(gate, earlier)
    return gate


def _restore(gate: Gate, earlier: Predicted) -> None:
    """Show a prediction recorded in an earlier session, without recording it again."""
    from ..predictions import check

    given = str(earlier.get("given", ""))
    try:
        verdict = check(gate.prediction, given)
        gate.entry.value = given
    except (K8snetError, ValueError):  # the question changed since: ask again
        return
    gate.verdict.value = _verdict_html(verdict, earlier=earlier)
    gate.last = verdict
    gate.button.description = "Check another answer"
    _show_reveal(gate)
