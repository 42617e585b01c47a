"""Notebook 08's widgets: a command box for real commands in the lab, and guided steps around it.

:func:`command_box` shows where to run (a pod or a node of the lab), a line to type a
command into and a **Run** button; :func:`run_command` (its callback, a plain function
of the box) parses the line with :mod:`k8snet_lesson.lab.commands`, runs it in the lab
(or answers kubectl from the model) and shows the output: the first
:data:`~k8snet_lesson.lab.commands.LINES` lines, the rest folded under "Show N more
lines". A line the box refuses shows one clear message and clears the output before.

:func:`step_box` wraps a box in a guided step (:mod:`k8snet_lesson.lab.steps`): the goal,
an answer line with **Check**, hints one at a time, and the step's action button where
it has one (open the connections, deploy the fix). Where the lab cannot run, the box
says why, still answers kubectl, and a button shows what the model says the lab would print.
"""

from __future__ import annotations

import dataclasses
import html
from typing import TYPE_CHECKING, Callable

from ..errors import K8snetError
from .gates import inline_html
from .widgets import Shown, message_html

if TYPE_CHECKING:  # pragma: no cover - names for the annotations only; the lab and ipywidgets load on first use
    import ipywidgets

    from ..cluster import Cluster
    from ..faults import Broken
    from ..lab.commands import Result
    from ..lab.kernel import Lab
    from ..lab.run import Report
    from ..lab.steps import Checked, Step
    from .tables import Table

__all__ = ["CommandBox", "command_box", "run_command", "StepBox", "step_box", "check_answer", "show_hint",
           "run_action", "result_html", "FullRun", "full_run_button", "render_full_run", "teardown_button",
           "gate_reveal"]

_BOX = "max-width:760px;line-height:1.45"
_PRE = ("white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;font-size:12px;line-height:1.35;background:#f7f7f7;"
        "border:1px solid #e0e0e0;border-radius:3px;padding:6px 8px;margin:4px 0;max-width:760px")


def result_html(result: Result) -> str:
    """A command's result: where and what ran, its first lines, the rest folded, and the box's note."""
    from ..lab.commands import LINES

    origin = "answered from the model" if result.source == "model" else "ran in the lab"
    where = result.command.where.split("/")[-1]
    head = "\n".join([f"{where}$ {result.command.line}", *result.head]) or "(no output)"
    parts = [f'<div class="k8snet-labbox-result" style="{_BOX}">',
             f'<pre style="{_PRE}">{html.escape(head)}</pre>']
    if result.rest:
        parts.append(f'<details class="k8snet-more"><summary style="cursor:pointer;color:#1565c0">Show {len(result.rest)} '
                     f'more lines</summary><pre style="{_PRE}">{html.escape(chr(10).join(result.rest))}</pre></details>')
    notes = [origin, f"exit status {result.exit_code}"]
    if result.note:
        notes.append(result.note)
    if not result.rest and len(result.lines) == LINES:
        notes.append(f"{LINES} lines")
    parts.append(f'<div style="color:#555;font-size:12px">{html.escape("; ".join(notes))}</div></div>')
    return "".join(parts)


@dataclasses.dataclass
class CommandBox(Shown):
    """The widgets of one command box and what it ran last."""

    lab: Lab | None  # None: the lab cannot run here, kubectl answers from the model
    cluster: Cluster
    where: ipywidgets.Dropdown
    entry: ipywidgets.Text
    button: ipywidgets.Button
    output: ipywidgets.HTML
    message: ipywidgets.HTML
    ui: ipywidgets.VBox
    traffic: tuple[str, tuple[str, ...]] | None = None
    unavailable: str = ""
    last: Result | None = None

    @property
    def current_cluster(self) -> Cluster:
        return self.lab.cluster if self.lab is not None else self.cluster


def run_command(box: CommandBox) -> Result | None:
    """The box's callback: parse, run, show. Returns the Result (None when refused)."""
    from ..errors import LabUnavailable
    from ..lab.commands import execute, parse

    try:
        command = parse(box.entry.value, where=box.where.value, cluster=box.current_cluster)
        result = execute(command, lab=box.lab, cluster=box.current_cluster, traffic=box.traffic)
    except LabUnavailable as exc:
        if box.lab is not None:  # the lab runs, this one program is missing
            text = f"{exc}."
        else:
            reason = box.unavailable or "it was not started"
            text = f"This command runs in the kernel lab, which cannot run here: {reason}. The box still answers kubectl from the model."
        box.message.value = message_html(text)
        box.output.value = ""
        box.last = None
        return None
    except (K8snetError, ValueError) as exc:
        box.message.value = message_html(str(exc))
        box.output.value = ""
        box.last = None
        return None
    box.message.value = ""
    box.output.value = result_html(result)
    box.last = result
    return result


def command_box(lab: Lab | None, cluster: Cluster, *, where: str, command: str = "",
                traffic: tuple[str, tuple[str, ...]] | None = None, unavailable: str = "") -> CommandBox:
    """A box that runs real commands in ``lab`` (None: kubectl from ``cluster`` only), starting at ``where``."""
    import ipywidgets as w

    from ..lab.commands import places

    current = lab.cluster if lab is not None else cluster
    options = [(key.split("/")[-1] if "/" in key else f"node {key}", key) for key in places(current)]
    chosen = next((key for _, key in options if key == where or key.split("/")[-1] == where), options[0][1])
    place = w.Dropdown(options=options, value=chosen, description="run in", layout=w.Layout(width="300px"))
    entry = w.Text(value=command, placeholder="e.g. ip route", layout=w.Layout(width="440px"))
    entry.add_class("k8snet-labbox-entry")
    button = w.Button(description="Run", button_style="primary", layout=w.Layout(width="80px"))
    button.add_class("k8snet-labbox-run")
    output, message = w.HTML(), w.HTML()
    output.add_class("k8snet-labbox-output")
    message.add_class("k8snet-message")
    row = w.HBox([place, entry, button], layout=w.Layout(flex_flow="row wrap", max_width="860px"))
    ui = w.VBox([row, message, output])
    ui.add_class("k8snet-labbox")
    box = CommandBox(lab, cluster, place, entry, button, output, message, ui, traffic, unavailable)
    button.on_click(lambda _: run_command(box))
    if lab is None and unavailable:
        message.value = (f'<div style="color:#555;{_BOX}">The lab is not running here ({html.escape(unavailable)}): '
                         "real commands are refused, kubectl answers from the model.</div>")
    return box


# --- guided steps ---------------------------------------------------------------------------


@dataclasses.dataclass
class StepBox(Shown):
    """One guided step: its goal, its command box, an answer to check, hints, an action."""

    step: Step
    box: CommandBox
    client: str
    answer: ipywidgets.Text
    check: ipywidgets.Button
    hint: ipywidgets.Button
    feedback: ipywidgets.HTML
    message: ipywidgets.HTML
    hints: ipywidgets.HTML  # the hints shown so far
    ui: ipywidgets.VBox
    actions: tuple[ipywidgets.Button, ...] = ()  # one per action
    action_output: ipywidgets.HTML | None = None  # only where the step has actions
    do: tuple[Callable[[StepBox], str], ...] = ()
    shown_hints: int = 0
    simulated: dict[str, int] | None = None  # the model's counts per endpoint address
    case: Broken | None = None  # the lesson's case that the broken step breaks and fixes
    last: Checked | None = None  # the last verdict


def check_answer(step: StepBox) -> Checked | None:
    """The step's **Check**: judge the answer against the lab (or the model); returns steps.Checked or None."""
    from ..lab.steps import check

    try:
        verdict = check(step.step, step.answer.value, cluster=step.box.current_cluster, client=step.client,
                        lab=step.box.lab, simulated=step.simulated)
    except (K8snetError, ValueError) as exc:
        step.message.value = message_html(str(exc))
        step.feedback.value = ""
        step.last = None
        return None
    colour = "#1b5e20" if verdict.correct else "#8a4b00"
    step.message.value = ""
    step.feedback.value = (f'<div class="k8snet-step-verdict" data-correct="{str(verdict.correct).lower()}" '
                           f'style="{_BOX};color:{colour};border-left:4px solid {colour};padding:4px 10px">'
                           f"{inline_html(verdict.message)}</div>")
    step.last = verdict
    return verdict


def show_hint(step: StepBox) -> None:
    """Show the next hint (all of them, in order, after the last)."""
    step.shown_hints = min(step.shown_hints + 1, len(step.step.hints))
    items = "".join(f"<li>{inline_html(h)}</li>" for h in step.step.hints[: step.shown_hints])
    step.hints.value = f'<ul class="k8snet-step-hints" style="{_BOX};margin:2px 0">{items}</ul>'
    if step.shown_hints == len(step.step.hints):
        step.hint.disabled = True


def run_action(step: StepBox, index: int = 0) -> str:
    """The step's ``index``-th action button: run it and show what it says (or why it could not)."""
    try:
        text = step.do[index](step)
    except (K8snetError, ValueError) as exc:
        step.action_output.value = message_html(str(exc))
        return ""
    step.action_output.value = f'<pre style="{_PRE}">{html.escape(text)}</pre>' if text else ""
    return text


def _open_connections(step: StepBox) -> str:
    from ..lab.steps import open_connections

    lab = step.box.lab
    counts = open_connections(step.box.current_cluster, client=step.client, connections=3000, lab=lab)
    if lab is None:
        from ..lab.steps import model_view

        step.simulated = counts
        return model_view(step.step, step.box.current_cluster, client=step.client, simulated=counts)
    return (f"{step.client.split('/')[-1]} opened {sum(counts.values()):,} new connections to checkout-api-svc "
            "(conntrack flushed and counters zeroed first). Now read the kernel's counters.")


def _case(step: StepBox) -> Broken:
    if step.case is None:
        raise K8snetError("this step has no case to break or fix")
    return step.case


def _break(step: StepBox) -> str:
    """Break one checkout pod as in the lesson (its app binds 127.0.0.1), without saying which."""
    cluster = _case(step).cluster
    if step.box.lab is None:
        step.box.cluster = cluster
        return "Broken in the model: one checkout pod's app now listens on 127.0.0.1:3000. Find it."
    step.box.lab.apply(cluster)
    return "Broken: one checkout pod's app now listens on 127.0.0.1:3000. Find it with curl and ss."


def _fix(step: StepBox) -> str:
    """Deploy the fix of the lesson's case (the app binds 0.0.0.0 again) and check every pod's sockets."""
    from ..lab.steps import broken_pod

    lab = step.box.lab
    healthy = _case(step).fixed()
    if lab is None:
        from ..ladder import climb

        step.box.cluster = healthy
        climbed = climb(healthy, client=step.client, service="production/checkout-api-svc")
        return "Fixed in the model: " + ("every rung of the ladder passes." if climbed.passed else str(climbed.finding))
    lab.apply(healthy)
    left = broken_pod(lab.cluster, lab=lab)
    return ("Deployed: every checkout app listens on 0.0.0.0:3000 again (ss -tln in each pod). Curl them again."
            if not left else f"Still broken: {', '.join(left)}")


def _model_output(step: StepBox) -> str:
    from ..lab.steps import model_view

    return model_view(step.step, step.box.current_cluster, client=step.client, simulated=step.simulated)


_ACTIONS = {"counter": (("Open 3,000 connections", _open_connections),),
            "broken": (("Break one checkout pod", _break), ("Deploy the fix (bind 0.0.0.0)", _fix))}


def step_box(step: Step, *, lab: Lab | None, cluster: Cluster, client: str,
             traffic: tuple[str, tuple[str, ...]] | None = None, unavailable: str = "",
             case: Broken | None = None) -> StepBox:
    """The guided ``step`` (:class:`k8snet_lesson.lab.steps.Step`) with its own command box.

    ``case`` is the lesson's case (:func:`k8snet_lesson.lab.steps.lesson_case`) that the
    ``broken`` step's buttons break and fix."""
    import ipywidgets as w

    box = command_box(lab, cluster, where=step.where, command=step.start, traffic=traffic, unavailable=unavailable)
    goal = w.HTML(f'<div class="k8snet-step-goal" style="{_BOX}"><b>Goal.</b> {inline_html(step.goal)}</div>')
    question = w.HTML(f'<div style="{_BOX}"><b>Your answer.</b> {inline_html(step.question)}</div>')
    answer = w.Text(placeholder="your answer", layout=w.Layout(width="260px"))
    answer.add_class("k8snet-step-answer")
    check = w.Button(description="Check", button_style="primary", layout=w.Layout(width="90px"))
    check.add_class("k8snet-step-check")
    hint = w.Button(description="Hint", layout=w.Layout(width="80px"))
    hint.add_class("k8snet-step-hint")
    feedback, message, hints = w.HTML(), w.HTML(), w.HTML()
    message.add_class("k8snet-message")
    children = [goal]
    actions = tuple(w.Button(description=label, layout=w.Layout(width="auto")) for label, _ in _ACTIONS.get(step.id, ()))
    do = tuple(action for _, action in _ACTIONS.get(step.id, ()))
    action_output = w.HTML() if actions else None  # every widget made is drawn
    for button in actions:
        button.add_class("k8snet-step-action")
    if actions:
        children += [w.HBox(list(actions)), action_output]
    if lab is None and step.id != "counter":  # the counter's action already shows the model's draw
        shown = w.HTML()
        model = w.Button(description="Show what the lab would print", layout=w.Layout(width="auto", align_self="flex-start"))
        model.add_class("k8snet-step-model")
        children += [model, shown]
    children += [box.ui, question, w.HBox([answer, check, hint]), message, feedback, hints]
    ui = w.VBox(children)
    ui.add_class("k8snet-step")
    ui.add_class(f"k8snet-step-{step.id}")
    made = StepBox(step, box, client, answer, check, hint, feedback, message, hints, ui, actions, action_output, do,
                   case=case)
    check.on_click(lambda _: check_answer(made))
    hint.on_click(lambda _: show_hint(made))
    for index, button in enumerate(actions):
        button.on_click(lambda _, index=index: run_action(made, index))
    if lab is None and step.id != "counter":
        model.on_click(lambda _: _show_model(made, shown))
    return made


def _show_model(step: StepBox, shown: ipywidgets.HTML) -> None:
    shown.value = f'<pre style="{_PRE}">{html.escape(_model_output(step))}</pre>'


# --- run it all ------------------------------------------------------------------------------


@dataclasses.dataclass
class FullRun(Shown):
    """The "Run it all for me" button, where the report shows, and the last report."""

    button: ipywidgets.Button
    output: ipywidgets.HTML
    ui: ipywidgets.VBox
    report: Report | None = None


def render_full_run(run: FullRun, *, connections: int = 3000) -> Report | None:
    """Build a fresh lab, run every check, tear it down; show the report (no timings), first lines open."""
    from ..lab.commands import LINES
    from ..lab.run import full_run, masked

    run.button.disabled = True
    run.output.value = f'<div style="{_BOX};color:#555">Running: about 15 seconds...</div>'
    try:
        report = full_run("lesson", connections=connections)
    except (K8snetError, OSError, ValueError) as exc:
        run.output.value = message_html(f"The lab could not run: {exc}")
        return None
    finally:
        run.button.disabled = False
    lines = masked(report.text(timings=False)).splitlines()
    head, rest = "\n".join(lines[:LINES]), "\n".join(lines[LINES:])
    run.output.value = (f'<pre style="{_PRE}">{html.escape(head)}</pre>'
                        + (f'<details class="k8snet-more"><summary style="cursor:pointer;color:#1565c0">Show '
                           f'{len(lines) - LINES} more lines</summary><pre style="{_PRE}">{html.escape(rest)}</pre>'
                           "</details>" if rest else ""))
    run.report = report
    return report


def full_run_button(*, unavailable: str = "") -> FullRun:
    """"Run it all for me": one button for the whole push-button run of the lab."""
    import ipywidgets as w

    button = w.Button(description="Run it all for me", layout=w.Layout(width="auto", align_self="flex-start"), disabled=bool(unavailable))
    button.add_class("k8snet-full-run")
    output = w.HTML(message_html(f"The lab cannot run here: {unavailable}") if unavailable else "")
    run = FullRun(button, output, w.VBox([button, output]))
    button.on_click(lambda _: render_full_run(run))
    return run


def teardown_button(lab: Lab | None) -> ipywidgets.VBox:
    """A button that tears the lab down now (it also goes by itself when the kernel stops)."""
    import ipywidgets as w

    button = w.Button(description="Tear the lab down", layout=w.Layout(width="auto", align_self="flex-start"), disabled=lab is None)
    button.add_class("k8snet-teardown")
    output = w.HTML()

    def tear(_: ipywidgets.Button) -> None:
        left = lab.teardown()
        button.disabled = True
        output.value = (f'<div style="{_BOX}">Nothing left: no lab namespace and no lab process.</div>' if left.clean
                        else message_html(f"Left behind: namespaces {left.namespaces_left}, processes {left.processes_left}"))

    button.on_click(tear)
    return w.VBox([button, output])


# --- what each of 08's gates reveals ----------------------------------------------------------


def gate_reveal(prediction_id: str, cluster: Cluster, *, client: str, connections: int = 3000,
                climbs: int = 12) -> Table:
    """The model's table behind one of notebook 08's gates (shown once the learner has locked in)."""
    from ..errors import NotFound
    from ..lab.steps import SEEN, lesson_case, service_entry
    from ..lab.topology import _profile, lab_cluster
    from .tables import table

    built, _ = lab_cluster(cluster)
    debug = built.pod(client)
    if prediction_id == "08-spread-second":
        entry = service_entry(built, debug.node_name)
        rows = [{"rule": i, "endpoint": f"{e.address}:{e.port}", "--probability": e.probability_text or "(none: the rest)",
                 "share of all": round(e.share, 4), f"of {connections:,}": round(e.share * connections)}
                for i, e in enumerate(entry.endpoints, 1)]
        return table(rows, caption=f"kube-proxy's KUBE-SVC chain for checkout-api-svc on {debug.node_name} "
                                   "(the lesson's cluster, as the model writes it)")
    if prediction_id == "08-outer-destination":
        server = built.pod(SEEN, "production")
        profile = _profile()
        here, there = built.node_of(debug), built.node_of(server)
        rows = [{"header": "outer (node network)", "source": str(here.internal_ip), "destination": str(there.internal_ip),
                 "carries": f"UDP {profile.udp_port}, VXLAN VNI {profile.vni}"},
                {"header": "inner (unchanged)", "source": str(debug.pod_ip), "destination": f"{server.pod_ip}:3000",
                 "carries": "TCP, the HTTP request"}]
        return table(rows, caption=f"{debug.name} -> {server.name} on {here.name}'s eth0 (the lab's Flannel VXLAN)")
    if prediction_id == "08-first-failing-rung":
        from ..ladder import climb

        broken = lesson_case(built, client=client).cluster
        seen = [climb(broken, client=client, service="production/checkout-api-svc", seed=s) for s in range(climbs)]
        names = [r.name for r in max((c.rungs for c in seen), key=len)]
        rows = [{"rung": n, "failed on": f"{sum(any(r.name == n and not r.passed for r in c.rungs) for c in seen)} "
                                         f"of {climbs} climbs"} for n in names]
        return table(rows, caption="the model's ladder on the lesson's case, one climb per seed "
                                   "(each seed is one draw of kube-proxy's dice)")
    raise NotFound(f"no reveal for {prediction_id!r}")
