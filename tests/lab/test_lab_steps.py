"""Notebook 08's command box and guided steps in the real kernel lab.

One lab per module. Each step's check passes with the right answer and fails with a
wrong one, where the right answer comes from the lesson and from Flannel/kube-proxy, not
from the check itself: ``flannel.1`` for another node's pods, UDP 8472 between node IPs,
the kernel's own counter (which the client's count equals), and the lesson's broken pod
checkout-api-6f8b9d-2xkpj at 10.244.2.14. The commands the learner types really run: a
capture shows the VXLAN outer header, a refused command never reaches the lab, and the
root namespace is left as it was.
"""

from __future__ import annotations

import re
import shutil

import pytest

from k8snet_lesson.lab import steps
from k8snet_lesson.lab.commands import CommandRefused, execute, parse
from k8snet_lesson.lab.kernel import build
from k8snet_lesson.lab.run import scenario

pytestmark = pytest.mark.lab

CLIENT = "production/debug-pod"
NODE = "node-eu-west-1a"
TRAFFIC = (CLIENT, ("curl", "-s", "-m", "3", "http://10.244.3.7:3000/health"))


def _root_snapshot():
    """tests/lab/conftest.py's snapshot of the root namespace (loaded by path: a module-scoped
    fixture cannot use the function-scoped ``snapshot``)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("lab_conftest_snapshot", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.root_snapshot()


@pytest.fixture(scope="module")
def lab(lab_probe_lazy):
    found = lab_probe_lazy()
    if not found.ok:
        pytest.skip(f"kernel lab unavailable: {found.reason}")
    before = _root_snapshot()
    built = build(scenario("lesson").cluster)
    yield built
    assert built.teardown().clean
    assert _root_snapshot() == before


def run(lab, line: str, where: str):
    return execute(parse(line, where=where, cluster=lab.cluster), lab=lab, traffic=TRAFFIC)


def judge(lab, step_id: str, answer: str, **kw):
    step = {s.id: s for s in steps.steps(lab.cluster, CLIENT)}[step_id]
    return steps.check(step, answer, cluster=lab.cluster, client=CLIENT, lab=lab, **kw)


def test_commands_run_where_the_box_points(lab):
    pod = run(lab, "ip route", CLIENT)
    assert pod.source == "kernel" and pod.exit_code == 0
    assert pod.lines[0].startswith("default via 10.244.2.1 dev eth0")
    node = run(lab, "ip route", NODE)
    assert "10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink" in [line.rstrip() for line in node.lines]
    by_name = run(lab, "kubectl exec debug-pod -- curl -s http://checkout-api-svc/health", NODE)
    assert by_name.command.where == CLIENT and '"peer": "10.244.2.16"' in by_name.text


def test_outputs_hold_no_lab_names(lab):
    links = run(lab, "ip link", NODE).text
    assert "link-netnsid" in links and lab.prefix not in links and "k8snet-" not in links
    sockets = run(lab, "ss -tlnp", "checkout-api-6f8b9d-7rvqn").text
    assert "0.0.0.0:3000" in sockets and re.search(r'users:\(\("python[0-9.]*",pid=\d+,fd=\d+\)\)', sockets)


def test_a_refused_command_never_reaches_the_lab(lab):
    before = lab.save(NODE)
    with pytest.raises(CommandRefused, match="shell character"):
        run(lab, "iptables -t nat -L; iptables -t nat -F", NODE)
    with pytest.raises(CommandRefused, match="the box only lists rules"):
        run(lab, "iptables -t nat -F", NODE)
    assert "KUBE-SERVICES" in lab.save(NODE) and lab.save(NODE).count("\n-A ") == before.count("\n-A ")


needs_tcpdump = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed (Debian: tcpdump)")


@needs_tcpdump
def test_a_capture_shows_the_vxlan_outer_header(lab):
    caught = run(lab, "tcpdump -c 2 -n -T vxlan -i eth0 udp port 8472", NODE)
    assert caught.exit_code == 0, caught.text
    assert "IP 192.168.1.10." in caught.text and "> 192.168.2.10.8472: VXLAN" in caught.text
    assert "IP 10.244.2.16." in caught.text and "> 10.244.3.7.3000: Flags [S]" in caught.text
    assert "while it listened, debug-pod ran: curl" in caught.note


@needs_tcpdump
def test_a_command_that_hangs_is_stopped_at_the_time_limit(lab):
    waited = execute(parse("tcpdump -c 5 -n -i eth0 udp port 9", where=NODE, cluster=lab.cluster), lab=lab)
    assert waited.exit_code == 124 and "the box stopped it after 8 s" in waited.note
    assert "0 packets captured" in waited.text


def test_step_route(lab):
    assert judge(lab, "route", "flannel.1").correct
    assert not judge(lab, "route", "cni0").correct
    assert not judge(lab, "route", "eth0").correct


def test_step_counter_reads_the_kernels_counter(lab):
    counts = steps.open_connections(lab.cluster, client=CLIENT, connections=300, lab=lab)
    assert sum(counts.values()) == 300
    # the client's own count equals the kernel's counter (KERNEL-LAB.md: measured equal)
    assert judge(lab, "counter", str(counts["10.244.3.7"])).correct
    assert not judge(lab, "counter", str(counts["10.244.3.7"] + 1)).correct
    listing = run(lab, "iptables -t nat -L KUBE-SERVICES -n", NODE).text
    chain = re.search(r"^(KUBE-SVC-\w+) .* 10\.96\.214\.88 ", listing, re.M).group(1)
    counted = run(lab, f"iptables -t nat -L {chain} -n -v -x", NODE).text
    assert sorted(int(line.split()[0]) for line in counted.splitlines()[2:] if "KUBE-SEP-" in line) == sorted(counts.values())


def test_step_vxlan(lab):
    assert judge(lab, "vxlan", "8472").correct
    assert not judge(lab, "vxlan", "4789").correct


def test_step_broken_finds_the_lessons_pod_and_the_fix_mends_it(lab):
    healthy = lab.cluster
    case = steps.lesson_case(healthy, client=CLIENT)
    lab.apply(case.cluster)
    try:
        refused = run(lab, "curl -sv http://10.244.2.14:3000/health", CLIENT)
        assert refused.exit_code == 7 and "connect to 10.244.2.14 port 3000 failed: Connection refused" in refused.text
        assert "127.0.0.1:3000" in run(lab, "ss -tln", "checkout-api-6f8b9d-2xkpj").text
        inside = run(lab, "curl -s http://127.0.0.1:3000/health", "checkout-api-6f8b9d-2xkpj")
        assert inside.exit_code == 0 and '"pod": "checkout-api-6f8b9d-2xkpj"' in inside.text
        assert judge(lab, "broken", "checkout-api-6f8b9d-2xkpj").correct
        assert judge(lab, "broken", "10.244.2.14").correct
        assert not judge(lab, "broken", "checkout-api-6f8b9d-m5t9w").correct
    finally:
        lab.apply(healthy)
    assert not judge(lab, "broken", "checkout-api-6f8b9d-2xkpj").correct
    assert run(lab, "curl -s http://10.244.2.14:3000/health", CLIENT).exit_code == 0


def test_the_step_widget_breaks_one_pod_and_deploys_the_fix(lab):
    pytest.importorskip("ipywidgets")
    from k8snet_lesson.view import labbox

    healthy = lab.cluster
    case = steps.lesson_case(healthy, client=CLIENT)
    try:
        step = {s.id: s for s in steps.steps(healthy, CLIENT)}["broken"]
        box = labbox.step_box(step, lab=lab, cluster=healthy, client=CLIENT, case=case)
        box.answer.value = "10.244.2.14"
        assert not labbox.check_answer(box).correct  # nothing broken yet
        assert "Find it with curl and ss" in labbox.run_action(box, 0)
        assert steps.broken_pod(lab.cluster, lab=lab) == (steps.BROKEN_POD,)
        assert labbox.check_answer(box).correct
        assert "every checkout app listens on 0.0.0.0:3000" in labbox.run_action(box, 1)
        assert steps.broken_pod(lab.cluster, lab=lab) == ()
    finally:
        lab.apply(healthy)


def test_run_it_all_for_me_reports_without_machine_details(lab):
    pytest.importorskip("ipywidgets")
    from k8snet_lesson.view import labbox

    run = labbox.full_run_button()
    report = labbox.render_full_run(run, connections=300)
    assert report is not None and report.teardown.clean
    assert "Kernel lab run: scenario lesson" in run.output.value and "Teardown: no lab namespace" in run.output.value
    assert "Seconds:" not in run.output.value and "k8snet-" not in run.output.value.replace("k8snet-more", "")


def test_output_is_capped(lab, monkeypatch):
    from k8snet_lesson.lab import commands

    monkeypatch.setattr(commands, "MAX_LINES", 10)
    long = run(lab, "iptables-save -t nat", NODE)
    assert len(long.lines) == 10 and "the box kept the first 10 of " in long.note
