"""Every explorer's fields hold what their annotations name.

The view modules import the names their annotations use for type checkers only (under
``if TYPE_CHECKING:``), so ipywidgets, pandas and matplotlib load on first use. These
tests run that block, resolve each dataclass's annotations with it, build the explorer
as its notebook does, drive it until its result fields are filled, and check every
field's value against its annotation, down to the items of a dict, list or tuple. An
annotation that names the wrong widget or model type fails here; so does a field left
``None`` that the table below does not excuse.
"""

from __future__ import annotations

import ast
import collections.abc
import dataclasses
import inspect
import types
import typing

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("pandas")

from k8snet_lesson import netshoot, predictions, scenarios
from k8snet_lesson.view import (
    debugging,
    gates,
    iptables_list,
    kubectl,
    kubectl_run,
    labbox,
    layers,
    learner,
    paths,
    plots,
    proxy_modes,
    quiz,
    services,
    tables,
    widgets,
)

VIEW_MODULES = (debugging, gates, iptables_list, kubectl, kubectl_run, labbox, layers, learner, paths, plots, proxy_modes,
                quiz, services, tables, widgets)
CLIENT, SERVICE = "production/debug-pod", "production/checkout-api-svc"

# Fields a test cannot fill, and why; any other field left None fails (its annotation went unchecked).
LEFT_NONE = {
    ("FullRun", "report"): "the kernel lab does not run in the tests",
    ("CommandBox", "lab"): "the kernel lab does not run in the tests",
    ("StepBox", "case"): "only the broken step has a case",
    ("StepBox", "simulated"): "only the counter step draws connections",
    ("StepBox", "action_output"): "only steps with actions have one",
    ("Shown06", "table"): "a reveal with terminal text only",
}


def _names(module: types.ModuleType) -> dict[str, object]:
    """``module``'s globals with its ``if TYPE_CHECKING:`` block run: the names its annotations use."""
    namespace = dict(vars(module))
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            exec(compile(ast.Module(body=node.body, type_ignores=[]), module.__file__, "exec"), namespace)
    return namespace


def _holds(value: object, hint: object) -> bool:
    """Whether ``value`` is what the resolved annotation ``hint`` names."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_holds(value, arg) for arg in args)
    if origin is collections.abc.Callable:
        return callable(value)
    if origin is dict:
        return isinstance(value, dict) and all(_holds(k, args[0]) and _holds(v, args[1]) for k, v in value.items())
    if origin is list:
        return isinstance(value, list) and all(_holds(item, args[0]) for item in value)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_holds(item, args[0]) for item in value)
        return len(value) == len(args) and all(map(_holds, value, args))
    if typing.is_typeddict(hint):
        fields = typing.get_type_hints(hint)
        return (isinstance(value, dict) and hint.__required_keys__ <= value.keys() <= fields.keys()
                and all(_holds(v, fields[k]) for k, v in value.items()))
    return isinstance(value, hint)


def _check(made: object) -> list[str]:
    """The fields of the dataclass ``made`` whose value is not what their annotation names."""
    cls = type(made)
    module = inspect.getmodule(cls)
    hints = typing.get_type_hints(cls, globalns=_names(module))
    assert set(hints) == {f.name for f in dataclasses.fields(made)}
    wrong = []
    for name, hint in hints.items():
        value = getattr(made, name)
        if value is None and (cls.__name__, name) not in LEFT_NONE:
            wrong.append(f"{cls.__name__}.{name} is None: drive the explorer further, or excuse it in LEFT_NONE")
        elif isinstance(value, (dict, list, tuple)) and not value and typing.get_origin(hint) is not None:
            wrong.append(f"{cls.__name__}.{name} is empty: its items went unchecked")
        elif not _holds(value, hint):
            wrong.append(f"{cls.__name__}.{name} = {type(value).__name__}, annotated {hint}")
    return wrong


@pytest.fixture(scope="module")
def lesson():
    return scenarios.lesson_cluster()


@pytest.fixture(scope="module")
def with_debug_pod(lesson):
    healthy, _ = netshoot.debug_pod(lesson, "production")
    return healthy


def _mystery(cluster):
    exercise = debugging.mystery_exercise(cluster, client=CLIENT, service=SERVICE, seed=2, cni=cluster.cni)
    exercise.diagnosis.value = (exercise.diagnosis.options[0],)
    debugging.render_verdict(exercise)
    return exercise


def _command_box(lesson):
    from k8snet_lesson.lab.topology import lab_cluster

    built, _ = lab_cluster(lesson)
    traffic = ("production/debug-pod", ("curl", "-s", "-m", "3", "http://10.244.3.7:3000/health"))
    box = labbox.command_box(None, built, where="debug-pod", command="kubectl get pods", traffic=traffic,
                             unavailable="no root")
    labbox.run_command(box)
    return box


def _step_boxes(lesson):
    from k8snet_lesson.lab import steps
    from k8snet_lesson.lab.run import scenario
    from k8snet_lesson.lab.topology import lab_cluster

    chosen = scenario("lesson")
    built, _ = lab_cluster(chosen.cluster)
    found = {s.id: s for s in steps.steps(built, chosen.client)}
    counter = labbox.step_box(found["counter"], lab=None, cluster=built, client=chosen.client, unavailable="no root")
    labbox.run_action(counter)
    broken = labbox.step_box(found["broken"], lab=None, cluster=built, client=chosen.client,
                             case=steps.lesson_case(built, client=chosen.client))
    counter.answer.value = "97"
    broken.answer.value = "10.244.2.14"
    for step in (counter, broken):
        labbox.check_answer(step)
    return [counter, broken]


def _gate(tmp_path, lesson):
    gate = gates.predict(predictions.build("05-rule-two-share", lesson), reveal=lambda: "shown",
                         progress=learner.Progress.open(tmp_path / "gate.json"))
    gate.entry.value = gate.entry.options[0] if hasattr(gate.entry, "options") else "0.5"
    gates.render_gate(gate)
    return gate


def _graded(tmp_path):
    check = quiz.graded_check("05", progress=learner.Progress.open(tmp_path / "quiz.json"))
    for view in check.views:
        view.entry.value = view.entry.options[0] if hasattr(view.entry, "options") else "1"
        quiz.render_item(check, view)
    return [check, *check.views]


def _walk(lesson):
    pod_a = next(p.key for p in lesson.pods if p.node_name and not p.host_network and p.pod_ip is not None)
    stepper = paths.walk_stepper(lesson, pod_a, "10.244.3.7", 3000, cni_name="calico-vxlan", quiet_hooks=True)
    return [stepper, *(diagram for _, _, diagram in stepper.walks.values())]


BUILT = {
    "spread explorer": lambda lesson, pod, tmp: [widgets.spread_explorer(endpoints=3, connections=1000, seed=7)],
    "readiness explorer": lambda lesson, pod, tmp: [services.readiness_explorer(
        lesson, lesson.service("checkout-api-svc", "production"), node_name="node-eu-west-1a")],
    "reveal panel": lambda lesson, pod, tmp: [services.chain_reveal(
        lesson, lesson.service("checkout-api-svc", "production"), "node-eu-west-1a")()],
    "climb explorer": lambda lesson, pod, tmp: [debugging.climb_explorer(pod, client=CLIENT, service=SERVICE)],
    "mystery exercise": lambda lesson, pod, tmp: [_mystery(pod)],
    "dns explorer": lambda lesson, pod, tmp: [debugging.dns_explorer(pod)],
    "notebook 06 reveals": lambda lesson, pod, tmp: [debugging.reveal("06-names-tried", pod),
                                                     debugging.reveal("06-policy-curl", pod)],
    "command box": lambda lesson, pod, tmp: [_command_box(lesson)],
    "step boxes": lambda lesson, pod, tmp: _step_boxes(lesson),
    "full run": lambda lesson, pod, tmp: [labbox.full_run_button(unavailable="no root")],
    "pods view": lambda lesson, pod, tmp: [layers.pods_view(lesson, namespace="production")],
    "connection explorer": lambda lesson, pod, tmp: [layers.connection_explorer(lesson)],
    "sizing explorer": lambda lesson, pod, tmp: [layers.sizing_explorer(used=[n.pod_cidr for n in lesson.nodes])],
    "cni explorer": lambda lesson, pod, tmp: [paths.cni_explorer(lesson)],
    "walk stepper": lambda lesson, pod, tmp: _walk(lesson),
    "prediction gate": lambda lesson, pod, tmp: [_gate(tmp, lesson)],
    "graded check": lambda lesson, pod, tmp: _graded(tmp),
    "progress": lambda lesson, pod, tmp: [_progress(tmp)],
    "table": lambda lesson, pod, tmp: [tables.table([{"pod": "web-1", "restarts": 0}])],
}


def _progress(tmp_path):
    progress = learner.Progress.open(tmp_path / "progress.json")
    progress.record_prediction("02-next-pod-ip", "10.244.2.2", correct=False)
    progress.record_prediction("02-next-pod-ip", "10.244.2.5", correct=True)
    progress.record_answer("05-q1", "b", correct=True)
    return progress


@pytest.mark.parametrize("name", list(BUILT))
def test_each_field_holds_what_its_annotation_names(name, lesson, with_debug_pod, tmp_path, monkeypatch):
    monkeypatch.setenv(learner.PROGRESS_ENV, str(tmp_path / "default.json"))
    made = BUILT[name](lesson, with_debug_pod, tmp_path)
    assert made and all(dataclasses.is_dataclass(m) for m in made)
    assert [problem for m in made for problem in _check(m)] == []


def test_every_dataclass_of_the_view_modules_is_built_above(lesson, with_debug_pod, tmp_path, monkeypatch):
    # A new explorer joins the table above, or this fails: no annotation goes unchecked.
    monkeypatch.setenv(learner.PROGRESS_ENV, str(tmp_path / "default.json"))
    built = {type(m) for build in BUILT.values() for m in build(lesson, with_debug_pod, tmp_path)}
    declared = {cls for module in VIEW_MODULES for cls in vars(module).values()
                if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__}
    values = {layers.CourseEntry, layers.NetworkLayer, layers.StripSegment, paths.CommandOutput}  # plain data
    assert declared - values - built == set()


def test_a_wrong_annotation_is_caught():
    # The checker itself: a field annotated as the wrong widget, or a dict of the wrong items, fails.
    import ipywidgets

    @dataclasses.dataclass
    class Wrong:
        slider: ipywidgets.IntSlider
        boxes: dict[str, ipywidgets.Checkbox]

    wrong = Wrong(ipywidgets.FloatSlider(), {"a": ipywidgets.Text()})
    assert not _holds(wrong.slider, ipywidgets.IntSlider)
    assert not _holds(wrong.boxes, dict[str, ipywidgets.Checkbox])
    assert not _holds({"given": "x"}, learner.Attempt)  # "correct" is required
    assert _holds({"given": "x", "correct": True, "attempts": []}, learner.Predicted)


@pytest.mark.parametrize("module", VIEW_MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_no_annotation_says_any(module):
    # Any turns a type checker off; where a value really is arbitrary the annotation says object.
    assert "Any" not in _names(module)
    source = inspect.getsource(module)
    assert not [line for line in source.splitlines() if ": Any" in line or "-> Any" in line or "[Any" in line]


@pytest.mark.parametrize("module", VIEW_MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_annotation_names_something_real(module):
    # Function annotations are strings until a type checker reads them; each must resolve to an
    # object the module (or its TYPE_CHECKING block) names, so a misspelt or unimported type fails.
    names = _names(module)
    functions = [f for f in vars(module).values() if inspect.isfunction(f) and f.__module__ == module.__name__]
    for cls in (c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__):
        for member in vars(cls).values():
            member = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            if inspect.isfunction(member):
                functions.append(member)
    assert functions
    for function in functions:
        try:
            typing.get_type_hints(function, globalns=names)
        except (NameError, AttributeError, TypeError) as exc:
            pytest.fail(f"{module.__name__}.{function.__qualname__}: {exc}")
