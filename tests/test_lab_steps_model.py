"""Notebook 08's steps and gates where no lab runs: answers judged by the model, gates computed from the cluster.

The facts come from the lesson and from Flannel and kube-proxy: pods on another node
are reached through ``flannel.1``; VXLAN on UDP 8472 between node IPs; 1/3, 1/2, 1 give
each of three endpoints a third; the lesson's refused ``curl 10.244.2.14:3000`` is
checkout-api-6f8b9d-2xkpj bound to 127.0.0.1.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from k8snet_lesson import predictions
from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.lab import steps
from k8snet_lesson.lab.run import scenario
from k8snet_lesson.lab.topology import lab_cluster

LESSON = scenario("lesson")
CLUSTER, _ = lab_cluster(LESSON.cluster)
CLIENT = LESSON.client
STEPS = {s.id: s for s in steps.steps(CLUSTER, CLIENT)}


def judge(step: str, answer: str, cluster=CLUSTER, **kw) -> steps.Checked:
    return steps.check(STEPS[step], answer, cluster=cluster, client=CLIENT, **kw)


def test_four_steps_each_with_a_goal_a_start_and_hints():
    assert list(STEPS) == ["route", "counter", "vxlan", "broken"]
    for step in STEPS.values():
        assert step.goal and step.start and step.question and len(step.hints) >= 2


@pytest.mark.parametrize("step, right, wrong", [
    ("route", "flannel.1", "cni0"),
    ("vxlan", "8472", "4789"),
])
def test_a_step_passes_the_right_answer_and_fails_a_wrong_one(step, right, wrong):
    assert judge(step, right).correct
    assert not judge(step, wrong).correct


def test_the_counter_step_reads_the_models_draw_when_no_lab_runs():
    assert not judge("counter", "100").correct  # nothing opened yet: it says so
    counts = steps.open_connections(CLUSTER, client=CLIENT, connections=3000, seed=8)
    assert sum(counts.values()) == 3000 and set(counts) == {"10.244.2.14", "10.244.3.7", "10.244.4.2"}
    assert all(abs(n - 1000) < 120 for n in counts.values()), counts  # seed 8: within 4.6 sigma of a third
    assert judge("counter", str(counts["10.244.3.7"]), simulated=counts).correct
    assert not judge("counter", str(counts["10.244.3.7"] + 1), simulated=counts).correct
    with pytest.raises(InvalidValue, match="is not a count"):
        judge("counter", "a third", simulated=counts)


def test_the_lessons_case_breaks_one_pod_of_three_and_the_step_finds_it():
    case = steps.lesson_case(CLUSTER, client=CLIENT)
    assert steps.broken_pod(CLUSTER) == ()
    assert steps.broken_pod(case.cluster) == ("checkout-api-6f8b9d-2xkpj",)
    assert case.cluster.pod("checkout-api-6f8b9d-2xkpj", "production").pod_ip == IPv4Address("10.244.2.14")
    for right in ("checkout-api-6f8b9d-2xkpj", "10.244.2.14", "production/checkout-api-6f8b9d-2xkpj"):
        assert judge("broken", right, cluster=case.cluster).correct, right
    assert not judge("broken", "checkout-api-6f8b9d-7rvqn", cluster=case.cluster).correct
    assert not judge("broken", "checkout-api-6f8b9d-2xkpj", cluster=case.fixed()).correct
    with pytest.raises(InvalidValue, match="no pod 'nope'"):
        judge("broken", "nope", cluster=case.cluster)


@pytest.mark.parametrize("answer", ["", "   ", "x" * 81])
def test_an_empty_or_overlong_answer_is_a_message(answer):
    with pytest.raises(InvalidValue):
        judge("route", answer)


def test_each_step_says_what_the_lab_would_print():
    assert "10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink" in steps.model_view(STEPS["route"], CLUSTER, client=CLIENT)
    shown = steps.model_view(STEPS["vxlan"], CLUSTER, client=CLIENT)
    assert "IP 192.168.1.10.<port> > 192.168.2.10.8472: VXLAN" in shown and "10.244.3.7.3000" in shown
    broken = steps.lesson_case(CLUSTER, client=CLIENT).cluster
    assert "127.0.0.1:3000" in steps.model_view(STEPS["broken"], broken, client=CLIENT)


# --- the gates ------------------------------------------------------------------------------


def test_08_has_three_gates():
    assert [p for p in predictions.catalogue() if p.startswith("08-")] == [
        "08-spread-second", "08-outer-destination", "08-first-failing-rung"]


def test_the_spread_gate_is_a_third_not_the_printed_half():
    gate = predictions.build("08-spread-second", LESSON.cluster, client=CLIENT)
    assert "--probability 0.5000000000" in gate.prompt
    assert predictions.check(gate, "1000").correct and not predictions.check(gate, "333").correct
    assert predictions.check(gate, "1060").correct  # the kernel's draw varies: 5% tolerance
    assert not predictions.check(gate, "1500").correct
    assert gate.tempting_option.text == "1500"
    with_more = predictions.build("08-spread-second", LESSON.cluster, client=CLIENT, connections=600)
    assert with_more.answer == "200"


def test_the_outer_header_goes_to_the_servers_node_ip():
    gate = predictions.build("08-outer-destination", LESSON.cluster, client=CLIENT)
    assert gate.answer == "192.168.2.10"  # node-eu-west-1b runs 10.244.3.7
    assert not predictions.check(gate, "10.244.3.7").correct  # the inner header
    assert not predictions.check(gate, "10.244.3.0").correct  # flannel.1's address there
    other = predictions.build("08-outer-destination", LESSON.cluster, client=CLIENT,
                              server="production/checkout-api-6f8b9d-m5t9w")
    assert other.answer == "192.168.3.10"


def test_the_first_rung_that_always_fails_is_the_pod_ip():
    gate = predictions.build("08-first-failing-rung", LESSON.cluster, client=CLIENT)
    assert gate.choices == ("DNS name", "ClusterIP", "Endpoints", "Pod IP", "inside the pod")
    assert gate.answer == "Pod IP"
    assert gate.tempting == "ClusterIP" and not predictions.check(gate, "ClusterIP").correct


def test_the_reveals_show_the_models_tables():
    pytest.importorskip("pandas")
    from k8snet_lesson.view.labbox import gate_reveal

    spread = gate_reveal("08-spread-second", LESSON.cluster, client=CLIENT).frame
    assert list(spread["of 3,000"]) == [1000, 1000, 1000]
    header = gate_reveal("08-outer-destination", LESSON.cluster, client=CLIENT).frame
    assert list(header["destination"]) == ["192.168.2.10", "10.244.3.7:3000"]
    rungs = gate_reveal("08-first-failing-rung", LESSON.cluster, client=CLIENT).frame
    assert dict(zip(rungs["rung"], rungs["failed on"]))["Pod IP"] == "12 of 12 climbs"


def test_without_a_lab_each_step_widget_shows_the_models_side():
    pytest.importorskip("ipywidgets")
    from k8snet_lesson.view import labbox

    made = {s.id: labbox.step_box(s, lab=None, cluster=CLUSTER, client=CLIENT, unavailable="no root")
            for s in STEPS.values()}
    route = made["route"]
    assert "The lab is not running here (no root)" in route.box.message.value
    shown = route.ui.children[2]
    route.ui.children[1].click()  # "Show what the lab would print"
    assert "dev flannel.1 onlink" in shown.value
    route.answer.value = "flannel.1"
    assert labbox.check_answer(route).correct and 'data-correct="true"' in route.feedback.value

    counter = made["counter"]
    assert "The model's draw of 3,000 connections" in labbox.run_action(counter)
    counter.answer.value = str(counter.simulated["10.244.3.7"])
    assert labbox.check_answer(counter).correct

    case = steps.lesson_case(CLUSTER, client=CLIENT)
    broken = labbox.step_box(STEPS["broken"], lab=None, cluster=CLUSTER, client=CLIENT, case=case)
    broken.answer.value = "10.244.2.14"
    assert not labbox.check_answer(broken).correct  # not broken yet
    assert "one checkout pod's app now listens on 127.0.0.1:3000" in labbox.run_action(broken, 0)
    assert "checkout-api-6f8b9d-2xkpj" not in broken.action_output.value  # the learner finds it
    assert labbox.check_answer(broken).correct
    assert labbox.run_action(broken, 1) == "Fixed in the model: every rung of the ladder passes."
    assert not labbox.check_answer(broken).correct  # nothing is broken any more
    broken.answer.value = "a" * 90
    assert labbox.check_answer(broken) is None and "one word, number or name" in broken.message.value
    assert broken.feedback.value == ""
