"""Lessons and tests depend on a hop's values, never on its wording.

A hop of :func:`k8snet_lesson.walk.request` says in words where it is and what happens
(``where``, ``action``; the walk's ``outcome``), and says the same as values: ``kind``,
``table`` and ``chain``, ``rewrite``, ``stop``. Rewording a sentence must not break a
lesson, so the notebooks and the tests compare values. Two checks hold that line: no
notebook or test compares hop text with a literal string, and the notebooks that walk
packets run their check cells to the end with every hop's words replaced.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from k8snet_lesson import scenarios, walk
from k8snet_lesson.walk import HopKind, Rewrite, StopReason

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TESTS = sorted((ROOT / "tests").glob("test_*.py"))  # tests/lab's ``where`` is a lab command's place, not a hop's
HOP_TEXT = ("where", "action")


def _hop_text(node: ast.AST) -> bool:
    """``h.where``, ``h.action``, or either seen through a method call or a slice (``h.where.lower()``)."""
    while True:
        if isinstance(node, ast.Attribute) and node.attr in HOP_TEXT:
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return False


def _literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def hop_text_comparisons(source: str) -> list[str]:
    """Every place in ``source`` that compares a hop's words with a literal string."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_hop_text(o) for o in operands) and any(_literal(o) for o in operands):
                found.append(ast.unparse(node))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("startswith", "endswith", "find", "index", "count")
              and _hop_text(node.func.value) and any(_literal(a) for a in node.args)):
            found.append(ast.unparse(node))
    return found


def _notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOK_SOURCES + NOTEBOOKS + TESTS, ids=lambda p: p.name)
def test_no_notebook_or_test_compares_a_hops_wording(path):
    source = _notebook_code(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    assert hop_text_comparisons(source) == [], f"{path.name}: compare kind, table, chain, rewrite or stop instead"


def test_the_wording_check_catches_each_way_of_matching_text():
    bad = '''
dnat = [h for h in w.hops if h.where == "nat PREROUTING"]
assert "DNAT" in h.action
assert w.hops[-1].action.startswith("stops here: ")
assert not [h for h in w.all_hops if "nat" in h.where.lower()]
assert hop.action[:4] != "DNAT"
'''
    assert len(hop_text_comparisons(bad)) == 5
    good = '''
dnat = [h for h in w.hops if h.rewrite is Rewrite.DNAT and (h.table, h.chain) == ("nat", "PREROUTING")]
assert html.escape(hop.action) in page and f"{ip}:{port}" in hop.action
'''
    assert hop_text_comparisons(good) == []


# --- the values a hop carries ----------------------------------------------------------------

LESSON = scenarios.lesson_cluster()
CLIENT = "production/checkout-api-6f8b9d-2xkpj"


def test_a_service_call_says_where_it_was_translated_and_how():
    w = walk.request(LESSON, CLIENT, "10.96.214.88", 80, cni="calico-vxlan")
    dnat = [h for h in w.hops if h.rewrite is Rewrite.DNAT]
    assert [(h.kind, h.node, h.table, h.chain) for h in dnat] == [(HopKind.NAT, "node-eu-west-1a", "nat", "PREROUTING")]
    assert w.hops[dnat[0].index - 1].inner.dst_ip == LESSON.service("checkout-api-svc", "production").cluster_ip
    assert dnat[0].inner.dst_ip == w.server.pod_ip
    assert [h.rewrite for h in w.reply if h.rewrite is not None] == [Rewrite.REPLY_UNDO_DNAT]
    assert all(h.stop is None for h in w.all_hops) and w.stopped is None


def test_a_hairpin_call_is_masqueraded_and_its_reply_undone():
    from k8snet_lesson.client_ip import hairpin_seed

    service = LESSON.service("checkout-api-svc", "production")
    seed = hairpin_seed(LESSON, LESSON.pod(CLIENT), service)
    w = walk.request(LESSON, CLIENT, "production/checkout-api-svc", 80, cni=LESSON.cni, seed=seed)
    assert w.masqueraded and w.server.key == CLIENT
    assert [h.rewrite for h in w.hops if h.rewrite is not None] == [Rewrite.DNAT, Rewrite.MASQUERADE]
    assert {Rewrite.REPLY_UNDO_SNAT, Rewrite.REPLY_UNDO_DNAT} <= {h.rewrite for h in w.reply}


def test_a_stop_by_a_rule_names_the_rules_table_and_chain():
    unready = LESSON
    for pod in LESSON.pods:
        if LESSON.service("checkout-api-svc", "production").selects(pod):
            unready = unready.with_pod(pod.with_ready(False))
    w = walk.request(unready, CLIENT, "production/checkout-api-svc", 80, cni=LESSON.cni)
    last = w.hops[-1]
    assert (last.kind, last.stop, last.table, last.chain) == (HopKind.STOP, StopReason.REJECT, "filter", "KUBE-SERVICES")
    assert w.stopped is StopReason.REJECT and not w.delivered


# --- rewording every hop breaks no lesson -----------------------------------------------------

REWORDED = "(reworded) "


@pytest.fixture
def reworded_hops(monkeypatch):
    """Every hop's ``where`` and ``action`` and every walk's ``outcome`` replaced by other
    words; the values stay. Gives the walks made."""
    add = walk._Builder.add
    request = walk.request
    made: list[walk.Walk] = []

    def add_reworded(self, kind, node, where, action, inner, outer=None, **values):
        return add(self, kind, node, REWORDED + where.upper(), REWORDED + action.swapcase(), inner, outer, **values)

    def request_reworded(*args, **kwargs):
        found = request(*args, **kwargs)
        made.append(dataclasses.replace(found, outcome=REWORDED + found.outcome.swapcase()))
        return made[-1]

    monkeypatch.setattr(walk._Builder, "add", add_reworded)
    monkeypatch.setattr(walk, "request", request_reworded)
    return made


def _run_code_cells(source: Path) -> None:
    import jupytext

    namespace: dict = {"__name__": "__main__"}
    for cell in jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent").cells:
        if cell.cell_type == "code":  # the course's own cells, check cells included
            exec(compile(cell.source, source.name, "exec"), namespace)  # noqa: S102


@pytest.mark.parametrize("stem", ["03_cni_plugins", "04_request_across_nodes", "05_services_and_kube_proxy"])
def test_a_walking_notebooks_checks_pass_with_every_hop_reworded(stem, reworded_hops, monkeypatch):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("jupytext")
    monkeypatch.chdir(ROOT / "notebooks")  # where nbval and the build run them
    monkeypatch.setenv("MPLBACKEND", "Agg")
    _run_code_cells(ROOT / "notebooks" / "src" / f"{stem}.py")
    assert reworded_hops, f"{stem} walks no packet: it does not belong in this test"
    for w in reworded_hops:  # the cells did run on reworded hops
        assert all(h.where.startswith(REWORDED) and h.action.startswith(REWORDED) for h in w.all_hops)
        assert w.outcome.startswith(REWORDED)


@pytest.mark.parametrize("cni_name", ["flannel", "calico", "calico-ipip", "calico-vxlan", "cilium", "aws-vpc"])
def test_the_diagram_places_every_hop_by_its_values_whatever_its_words(cni_name, reworded_hops):
    from k8snet_lesson.view import paths

    for destination, port in (("10.96.214.88", 80), ("10.244.2.15", 3000)):  # a Service, a Pod on the same node
        w = walk.request(LESSON, CLIENT, destination, port, cni=cni_name)
        places = paths.walk_places(paths.walk_topology(LESSON, w), w.all_hops)
        assert places[0] == ("pod", "node-eu-west-1a", CLIENT) and places[-1] == places[0]  # the reply is back
        assert [p for p, h in zip(places, w.all_hops) if h.kind is HopKind.RECEIVE][0] == ("pod", w.server.node_name,
                                                                                          w.server.key)
