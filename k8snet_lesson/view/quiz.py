"""The graded check at the end of each notebook, and the learner's results.

``graded_check("05")`` shows the notebook's items (:data:`k8snet_lesson.quiz.GRADED`):
a multiple-choice item as radio buttons in the learner's own order (shuffled with the
seed in their progress file, :mod:`k8snet_lesson.view.learner`), a free-recall item as
a box to type in. **Check** judges the answer in the kernel and explains it; until the
learner answers, the right answer is nowhere in the page. Below the items, the results:
the score, and for each missed item a link to the notebook section that teaches it.
Answers are recorded in the progress file; reopening the notebook shows them again.

:func:`course_results` (notebook 07) sums up the whole course: the score of every
graded check answered so far, what to revisit, and the learner's predictions at the
prediction gates.

The callbacks are plain functions (:func:`render_item`), so tests set the input and
call them without a browser. Input that is not an answer shows a message and clears
what the item showed before, never a traceback.
"""

from __future__ import annotations

import dataclasses
import html
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..errors import K8snetError
from .gates import CHOICE_CSS, inline_html, sentence
from .widgets import Shown, message_html

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path
    from types import ModuleType

    import ipywidgets

    from ..quiz import Feedback, Item
    from .learner import Progress

__all__ = ["ItemView", "GradedCheck", "graded_check", "render_item", "results_html", "revisit_link",
           "course_results", "BUILD_SEED"]

# The seed a build uses when the progress file has none of its own (scripts/build_notebooks.py
# writes it into the scratch progress file, so committed notebooks show one fixed order).
BUILD_SEED = 0


@dataclasses.dataclass
class ItemView(Shown):
    """One graded item on the page: its input, its Check button and what it shows."""

    item: "Item"
    entry: "ipywidgets.RadioButtons | ipywidgets.Text"
    button: "ipywidgets.Button"
    feedback: "ipywidgets.HTML"
    message: "ipywidgets.HTML"
    ui: "ipywidgets.VBox"
    last: "Feedback | None" = None


@dataclasses.dataclass
class GradedCheck(Shown):
    """A notebook's graded check: its items, the results box and the learner's progress."""

    notebook: str
    views: list[ItemView]
    results: "ipywidgets.HTML"
    ui: "ipywidgets.VBox"
    progress: "Progress | None" = None

    @property
    def score(self) -> tuple[int, int]:
        """(right, items) for the answers given on this page."""
        return sum(1 for v in self.views if v.last is not None and v.last.correct), len(self.views)


def revisit_link(item: "Item") -> str:
    """An HTML link to the heading that teaches ``item`` (notebook file and heading anchor)."""
    from ..quiz import section_of

    section = section_of(item)
    href = f"{quote(section.notebook)}#{quote(section.anchor, safe=':/?!()-_.~,')}"
    return (f'<a class="k8snet-revisit-link" href="{html.escape(href)}" style="color:#1565c0;text-decoration:underline">'
            f"{html.escape(section.heading)}</a> in {html.escape(section.notebook)}")


def _feedback_html(feedback: "Feedback", item: "Item") -> str:
    colour = "#1b5e20" if feedback.correct else "#8a4b00"
    parts = [f"<b>{feedback.headline}.</b> {inline_html(sentence(feedback.explanation))}"]
    if feedback.note:
        parts.append(inline_html(sentence(feedback.note)))
    body = [" ".join(parts)]
    if not feedback.correct:
        body.append(f"<b>{html.escape(sentence('The answer: ' + feedback.answer))}</b> {inline_html(sentence(feedback.why))}")
        body.append(f"Revisit: {revisit_link(item)}.")
    return (f'<div class="k8snet-feedback-text" data-correct="{str(feedback.correct).lower()}" '
            f'style="max-width:760px;line-height:1.45;border-left:4px solid {colour};padding:4px 10px;margin:6px 0">'
            + "".join(f'<div style="margin:2px 0">{part}</div>' for part in body) + "</div>")


def render_item(check: GradedCheck | None, view: ItemView, *, record: bool = True) -> None:
    """The Check button's callback: judge the answer, explain it, record it, update the results."""
    from ..quiz import check as judge

    try:
        feedback = judge(view.item, view.entry.value)
    except (K8snetError, ValueError) as exc:
        view.message.value = message_html(sentence(str(exc)))
        view.feedback.value = ""
        view.last = None
        if check is not None:
            check.results.value = results_html(check)
        return
    view.message.value = ""
    view.feedback.value = _feedback_html(feedback, view.item)
    view.last = feedback
    if check is not None:
        if record and check.progress is not None:
            check.progress.record_answer(view.item.id, feedback.chosen, correct=feedback.correct)
            if check.progress.warning:
                view.message.value = message_html(sentence(check.progress.warning))
        check.results.value = results_html(check)
        _refresh_course_results()


def results_html(check: GradedCheck) -> str:
    """The score of this check and, for each missed item, where to revisit it."""
    right, total = check.score
    answered = sum(1 for v in check.views if v.last is not None)
    if answered == 0:
        return ('<div class="k8snet-results" style="color:#555;line-height:1.45">'
                f"Your score appears here once you check an answer ({total} item{'s' if total != 1 else ''}).</div>")
    missed = [v for v in check.views if v.last is not None and not v.last.correct]
    lines = [f'<div><b class="k8snet-score">Score: {right} of {total}</b>'
             + (f" ({total - answered} not answered yet)" if answered < total else "") + ".</div>"]
    if missed:
        items = "".join(f"<li>{html.escape(_short(v.item.prompt))}: {revisit_link(v.item)}</li>" for v in missed)
        lines.append(f'<div>Revisit before you go on:</div><ul class="k8snet-revisit" style="margin:2px 0">{items}</ul>')
    elif answered == total:
        lines.append("<div>Every item right.</div>")
    lines.append(_notebook_predictions(check))
    return '<div class="k8snet-results" style="max-width:760px;line-height:1.45;margin-top:6px">' + "".join(lines) + "</div>"


def _notebook_predictions(check: GradedCheck) -> str:
    """One line on the learner's predictions in this notebook (its gates' ids start with its number)."""
    made = {pid: p for pid, p in (check.progress.predictions() if check.progress is not None else {}).items()
            if pid[:2] == check.notebook}
    if not made:
        return ""
    right = sum(1 for p in made.values() if p.get("correct"))
    return (f'<div class="k8snet-notebook-predictions">Your predictions in this notebook: {right} of {len(made)} '
            "right the first time.</div>")


def _short(text: str, words: int = 10, sentence_words: int = 16) -> str:
    """An item's prompt in a line: its first sentence when that is short, else its first words and "…".

    Ten words cut mid-sentence read as a clipped line ("... behind a Service. You …").
    """
    parts = text.replace("`", "").split()
    first = next((i + 1 for i, word in enumerate(parts) if word.endswith((".", "?", "!"))), len(parts))
    if first <= sentence_words:
        return " ".join(parts[:first]).rstrip(".")  # a colon follows the label: "Service.:" read as a typo
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _item_view(item: "Item", number: int) -> ItemView:
    import ipywidgets as w

    evidence = ""
    if item.evidence:
        evidence = ('<pre class="k8snet-evidence" style="white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;max-width:760px;'
                    'max-height:24em;overflow-y:auto;background:#f6f8fa;padding:6px 8px;margin:4px 0;line-height:1.35">'
                    f"{html.escape(item.evidence)}</pre>")
    prompt = w.HTML(f'{CHOICE_CSS}<div class="k8snet-item-prompt" style="max-width:760px;line-height:1.45">'
                    f"<b>{number}.</b> {inline_html(item.prompt)}</div>{evidence}")
    if item.free_text:
        entry = w.Text(placeholder=item.placeholder or "your answer", layout=w.Layout(width="100%", max_width="560px"))
        entry.add_class("k8snet-answer")
    else:
        entry = w.RadioButtons(options=[c.text for c in item.choices], value=None,
                               layout=w.Layout(width="auto", max_width="760px"))
        entry.add_class("k8snet-choices")
    button = w.Button(description="Check", button_style="primary", layout=w.Layout(width="auto", align_self="flex-start"))
    feedback, message = w.HTML(), w.HTML()
    button.add_class("k8snet-check")
    feedback.add_class("k8snet-feedback")
    message.add_class("k8snet-message")
    ui = w.VBox([prompt, entry, button, message, feedback], layout=w.Layout(margin="0 0 14px 0"))
    ui.add_class("k8snet-question")
    ui.add_class(f"k8snet-item-{item.id}")
    return ItemView(item, entry, button, feedback, message, ui)


def graded_check(notebook: str | int, *, progress: "Progress | None | bool" = True, seed: int | None = None) -> GradedCheck:
    """Notebook ``notebook``'s graded check (``"00"`` to ``"08"``), in the learner's order.

    ``progress``: the learner's :class:`~k8snet_lesson.view.learner.Progress` (``True``:
    the default file; ``None``/``False``: remember nothing). ``seed`` overrides the
    progress file's seed (which orders the choices and picks the variants).
    """
    import ipywidgets as w

    from .. import quiz
    from .learner import Progress

    store = Progress.open() if progress is True else (progress or None)
    if seed is None:
        seed = store.seed if store is not None else BUILD_SEED
    key = quiz._notebook_key(notebook)
    items, problems = [], []
    for item_id in quiz.GRADED[key]:
        try:
            items.append(quiz.shuffled(quiz.item(item_id, seed), seed))
        except Exception as exc:  # noqa: BLE001 - one item the model cannot build must not stop the notebook
            problems.append(f"Item {item_id} could not be built from the model ({type(exc).__name__}: {exc})")
    views = [_item_view(q, number) for number, q in enumerate(items, 1)]
    results = w.HTML()
    results.add_class("k8snet-results-box")
    heading = w.HTML(f'<div class="k8snet-graded-heading" style="line-height:1.45"><b>Check yourself</b> '
                     f"({len(items)} item{'s' if len(items) != 1 else ''}): answer, then press <b>Check</b>.</div>")
    notes = [w.HTML(message_html(sentence(problem))) for problem in problems]
    ui = w.VBox([heading, *notes, *(v.ui for v in views), results])
    ui.add_class("k8snet-graded")
    ui.add_class(f"k8snet-graded-{key}")
    check = GradedCheck(key, views, results, ui, store)
    for view in views:
        view.button.on_click(lambda _, view=view: render_item(check, view))
        earlier = store.answer(view.item.id) if store is not None else None
        if earlier is not None:
            _restore(view, str(earlier.get("given", "")))
    results.value = results_html(check)
    return check


def _restore(view: ItemView, given: str) -> None:
    """Show an answer recorded in an earlier session, without recording it again."""
    if not view.item.free_text and given not in [c.text for c in view.item.choices]:
        return  # the item changed since: ask again
    view.entry.value = given
    render_item(None, view, record=False)
    if view.last is None:  # no longer an answer: ask again
        view.message.value = ""


# --- the course's results (notebook 07) ------------------------------------------------------

def _prediction_titles() -> dict[str, str]:
    """Each gate's short title, by prediction id (built on the lesson's cluster; skipped if it cannot be)."""
    from .. import predictions
    from ..scenarios import lesson_cluster

    titles = {}
    cluster = lesson_cluster()
    for pid in predictions.catalogue():
        try:
            titles[pid] = predictions.build(pid, cluster).short_title
        except Exception:  # noqa: BLE001 - a gate that needs another cluster keeps its id as title
            titles[pid] = pid
    return titles


def course_results(*, progress: "Progress | None | bool" = True) -> ipywidgets.HTML:
    """The learner's results over the course: score per graded check, what to revisit, predictions."""
    import ipywidgets as w

    from .. import quiz
    from .learner import Progress

    store = Progress.open() if progress is True else (progress or None)
    out = w.HTML(_course_html(store, quiz))
    out.add_class("k8snet-course-results")
    if store is not None:
        _COURSE_VIEWS.append((out, store.path))
    return out


# The course results shown in this kernel, with the progress file each reads: an answer
# checked anywhere on the page refreshes them.
_COURSE_VIEWS: list[tuple[ipywidgets.HTML, Path]] = []


def _refresh_course_results() -> None:
    from .. import quiz
    from .learner import Progress

    for out, path in _COURSE_VIEWS:
        out.value = _course_html(Progress.open(path), quiz)


def _course_html(store: "Progress | None", quiz: ModuleType) -> str:
    answers = store.answers() if store is not None else {}
    seed = store.seed if store is not None else BUILD_SEED
    rows, missed, right_total, answered_total, total = [], [], 0, 0, 0
    for notebook, ids in quiz.GRADED.items():
        got = [answers.get(i) for i in ids]
        answered = [a for a in got if a is not None]
        right = sum(1 for a in answered if a.get("correct"))
        right_total, answered_total, total = right_total + right, answered_total + len(answered), total + len(ids)
        rows.append(f"<tr><td>{notebook}</td><td>{right} of {len(ids)}</td>"
                    f"<td>{len(ids) - len(answered)}</td></tr>")
        missed += [item_id for item_id, a in zip(ids, got) if a is not None and not a.get("correct")]
    parts = [f'<div><b class="k8snet-course-score">Course score: {right_total} of {total}</b> '
             f"({total - answered_total} not answered yet).</div>",
             '<details><summary>Score per notebook</summary><table class="k8snet-course-table" '
             'style="text-align:left"><thead><tr><th>notebook</th><th>right</th><th>not answered</th></tr></thead>'
             f"<tbody>{''.join(rows)}</tbody></table></details>"]
    if missed:
        items = "".join(f"<li>{html.escape(_short(quiz.item(i, seed).prompt))}: {revisit_link(quiz.item(i, seed))}</li>"
                        for i in missed)
        parts.append(f'<div>Revisit:</div><ul class="k8snet-revisit">{items}</ul>')
    parts.append(_predictions_html(store))
    return '<div style="max-width:760px;line-height:1.45">' + "".join(parts) + "</div>"


def _predictions_html(store: "Progress | None") -> str:
    made = store.predictions() if store is not None else {}
    if not made:
        return ('<div class="k8snet-predictions">Your predictions: none recorded yet. Each notebook asks you to '
                "predict before it shows an answer; they are summed up here.</div>")
    right = sum(1 for p in made.values() if p.get("correct"))
    titles = _prediction_titles()
    rows = "".join(
        f"<tr><td>{html.escape(pid[:2])}</td><td>{html.escape(titles.get(pid, pid))}</td>"
        f"<td>{html.escape(str(p.get('given', '')))}</td><td>{'right' if p.get('correct') else 'not right'}</td></tr>"
        for pid, p in sorted(made.items()))
    return (f'<div class="k8snet-predictions"><b>Your predictions: {right} of {len(made)} right the first time.</b> '
            "A wrong prediction that the reveal then explained is where the course taught you most.</div>"
            '<details><summary>Every prediction</summary><table style="text-align:left"><thead><tr><th>notebook</th>'
            "<th>question</th><th>you said</th><th>first time</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></details>")
