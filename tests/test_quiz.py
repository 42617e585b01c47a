"""The graded items: coverage of the lesson, answers from the model, fair order and lengths, free recall."""

import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest

from k8snet_lesson import quiz
from k8snet_lesson.errors import InvalidValue, NotFound

ROOT = Path(__file__).resolve().parent.parent
CHOICES = [q for q in quiz.questions() if not q.free_text]


def test_questions_returns_every_graded_item_of_every_notebook():
    ids = [q.id for q in quiz.questions()]
    assert ids == [i for notebook in quiz.GRADED for i in quiz.GRADED[notebook]]
    assert len(ids) == len(set(ids)) >= 16
    assert {n: len(v) for n, v in quiz.GRADED.items()} == {
        "00": 1, "01": 2, "02": 2, "03": 2, "04": 1, "05": 3, "06": 2, "07": 6, "08": 2}
    assert [q.id for q in quiz.graded_items("07")] == ["practice-1", "practice-2", "practice-3",
                                                       "quiz-1", "quiz-2", "quiz-3"]
    assert all(q.notebook == n for n in quiz.GRADED for q in quiz.graded_items(n))


# Every section of the lesson has at least one graded item: the sections that teach it.
LESSON_SECTIONS = {
    "the four rules": {"four-rules", "nat-network"},
    "three layers and their CIDRs": {"lesson-cluster", "three-layers", "node-cidrs"},
    "ephemeral pod IPs": {"ephemeral-ips", "pod-ips"},
    "what the CNI plugin does": {"cni-job"},
    "the plugin comparison": {"cni-table", "cni-wiring"},
    "the cross-node request": {"cross-node", "lab-wire"},
    "kube-proxy's chains": {"kube-proxy-rules", "lab-rules"},
    "the 1/3, 1/2, 1 probabilities": {"probabilities"},
    "Endpoints and readiness": {"endpoints", "endpoint-lists"},
    "the debugging ladder": {"ladder", "broken-clusters"},
    "DNS": {"dns"},
}


@pytest.mark.parametrize("topic", LESSON_SECTIONS)
def test_every_section_of_the_lesson_is_graded(topic):
    assert any(q.section in LESSON_SECTIONS[topic] for q in quiz.questions()), topic


def test_items_that_read_evidence_show_it():
    assert quiz.item("03-whose-routes").evidence.startswith("default via")
    assert "kubectl" in quiz.item("06-broken-rung").evidence or "nslookup" in quiz.item("06-broken-rung").evidence


@pytest.mark.parametrize("q", CHOICES, ids=lambda q: q.id)
def test_every_choice_is_explained_and_exactly_one_is_right(q):
    assert len(q.choices) == 4
    assert sum(c.correct for c in q.choices) == 1
    assert len({c.text for c in q.choices}) == 4
    for choice in q.choices:
        feedback = quiz.check(q, choice.text)
        assert feedback.correct is choice.correct
        assert len(feedback.explanation) > 40
        assert str(feedback).startswith("Correct." if choice.correct else "Not quite.")
        assert ".." not in str(feedback).replace("...", ""), str(feedback)


# --- answers computed by the model, checked another way ------------------------------------

def _cluster():
    from k8snet_lesson.scenarios import lesson_cluster

    return lesson_cluster()


def test_clusterip_item_names_the_range_that_holds_it():
    from ipaddress import IPv4Address, IPv4Network

    answer = quiz.item("00-clusterip-network").answer.text
    address = IPv4Address(re.search(r"ClusterIP (\S+)\?", quiz.item("00-clusterip-network").prompt).group(1))
    assert address in IPv4Network(answer.split(", ")[1])


def test_source_ip_item_answer_is_the_clients_own_pod_ip():
    q = quiz.item("01-source-ip")
    client = _cluster().pod(q.prompt.split(", ")[1].split(" ")[0], "production")
    assert q.answer.text == str(client.pod_ip)


@pytest.mark.parametrize("seed", range(6))
def test_node_pod_cidr_item_answer_is_that_nodes_pod_cidr(seed):
    q = quiz.item("02-node-pod-cidr", seed)
    node = re.search(r"scheduled to (\S+)\.", q.prompt).group(1)
    assert q.answer.text == str(_cluster().node(node).pod_cidr)


def test_outer_header_item_is_addressed_to_the_servers_node():
    q = quiz.item("04-outer-header")
    server_node = re.search(r"on (node-\S+)\. Between", q.prompt).group(1)
    assert q.answer.text.startswith(f"{_cluster().node(server_node).internal_ip}, UDP port ")


def test_dnat_and_statistic_items_agree_with_the_rules_text():
    from k8snet_lesson.connect import node_rules

    text = str(node_rules(_cluster(), "node-eu-west-1a"))
    sep = quiz.item("05-dnat-chain").answer.text.split(",")[0]
    assert re.search(rf"^-A {sep} .*-j DNAT --to-destination", text, re.M)
    svc = re.search(r"(KUBE-SVC-\w+) chain", quiz.item("08-statistic-rules").prompt).group(1)
    statistic = len(re.findall(rf"^-A {svc} .*-m statistic", text, re.M))
    assert quiz.item("08-statistic-rules").answer.text == f"{statistic} rules"


def test_lab_item_uses_the_lab_cni():
    from k8snet_lesson.lab.topology import CNI

    assert quiz.LAB_CNI == CNI


@pytest.mark.parametrize("seed", range(30))
def test_probability_variant_answer_is_the_generated_rule(seed):
    q = quiz.variant("probability", seed)
    _, _, n, k = q.id.split("-")
    n, k = int(n), int(k)
    # kube-proxy's rule k of n: 1/(n-(k-1)) printed %0.10f.
    assert q.answer.text == f"{1 / (n - k + 1):.10f}"
    assert sum(c.correct for c in q.choices) == 1 and len({c.text for c in q.choices}) == 4


@pytest.mark.parametrize("seed", range(30))
def test_capacity_variant_answer_is_the_number_of_node_blocks(seed):
    q = quiz.variant("capacity", seed)
    _, _, prefix, mask = q.id.split("-")
    assert q.answer.text == f"{2 ** (int(mask) - int(prefix)):,} nodes"
    assert sum(c.correct for c in q.choices) == 1 and len({c.text for c in q.choices}) == 4


def test_unknown_items_and_variants_name_what_exists():
    with pytest.raises(NotFound, match="probability"):
        quiz.variant("bogus", 1)
    with pytest.raises(NotFound, match="practice-1"):
        quiz.question("nope")
    with pytest.raises(NotFound, match="00, 01"):
        quiz.graded_items("42")
    with pytest.raises(InvalidValue, match="choose an answer first"):
        quiz.check(quiz.question("quiz-1"), None)
    with pytest.raises(NotFound, match="not a choice"):
        quiz.check(quiz.question("quiz-1"), "bananas")


# --- fair order and fair lengths -------------------------------------------------------------

SEEDS = range(300)  # learners' seeds for the uniformity test
P_THRESHOLD = 0.001


def _chi_square_p_3df(counts) -> float:
    """p-value of Pearson's chi-square for 4 equally likely positions (3 degrees of freedom, closed form)."""
    total = sum(counts)
    expected = total / len(counts)
    x = sum((c - expected) ** 2 / expected for c in counts)
    return math.erfc(math.sqrt(x / 2)) + math.sqrt(2 * x / math.pi) * math.exp(-x / 2)


def _positions(shuffle) -> list[int]:
    counts = Counter()
    for seed in SEEDS:
        for q in quiz.questions(seed):
            if not q.free_text:
                shown = shuffle(q, seed)
                counts[[c.correct for c in shown.choices].index(True)] += 1
    return [counts[i] for i in range(4)]


def test_the_right_answers_position_is_uniform_over_learners():
    """Seeds 0-299, every choice item: chi-square against uniform positions, p > 0.001."""
    counts = _positions(quiz.shuffled)
    assert _chi_square_p_3df(counts) > P_THRESHOLD, counts


def test_the_uniformity_test_catches_an_unshuffled_bank():
    counts = _positions(lambda q, seed: q)  # the data's own order: the answer comes first
    assert _chi_square_p_3df(counts) < P_THRESHOLD, counts


def test_the_order_is_the_learners_own_and_stays_put():
    q = quiz.question("quiz-2")
    orders = {tuple(c.text for c in quiz.shuffled(q, seed).choices) for seed in range(20)}
    assert len(orders) > 5
    assert quiz.shuffled(q, 11) == quiz.shuffled(q, 11)


@pytest.mark.parametrize("seed", range(5))
def test_the_longest_choice_is_not_a_tell(seed):
    items = [q for q in quiz.questions(seed) if not q.free_text]
    longest = 0
    for q in items:
        right = len(q.answer.text)
        wrong = max(len(c.text) for c in q.choices if not c.correct)
        assert right <= 1.15 * wrong, (q.id, q.answer.text)
        longest += right > wrong
    assert longest <= len(items) / 3, f"{longest} of {len(items)} answers are their item's longest choice"


# --- free recall -----------------------------------------------------------------------------

@pytest.mark.parametrize("typed, correct", [
    ("kubectl get endpoints checkout-api-svc -n production", True),
    ("kubectl get ep checkout-api-svc -n production", True),
    ("kubectl -n production get endpoints/checkout-api-svc -o yaml", True),
    ("kubectl get endpoints checkout-api-svc --namespace=production", True),
    ("kubectl get endpoints checkout-api-svc -nproduction", True),
    ("kubectl get endpointslices -l kubernetes.io/service-name=checkout-api-svc -n production", True),
    ("kubectl get endpointslice -n production --selector kubernetes.io/service-name=checkout-api-svc", True),
    ("kubectl describe svc checkout-api-svc -n production", True),
    ("kubectl describe endpoints checkout-api-svc -n production", True),
    ("$ kubectl get endpoints <service> -n production", True),
    ("kubectl get endpoints checkout-api-svc", True),  # right, with a note about the namespace
    ("kubectl get ep -n production | grep checkout-api", True),
    ("kubectl get endpoints -n production", False),
    ("kubectl get endpointslices -n production", False),
    ("kubectl get svc checkout-api-svc -n production -o wide", False),
    ("kubectl get pods -o wide -n production", False),
    ("kubectl get pods -l app=checkout-api -n production", False),
    ("kubectl logs checkout-api-6f8b9d-2xkpj -n production", False),
    ("kubectl get endpoints payment-api-svc -n production", False),
    ("kubectl get endpoints checkout-api-svc -n default", False),
    ("kubectl get nodes", False),
])
def test_practice_2_judges_a_kubectl_command_by_what_it_shows(typed, correct):
    feedback = quiz.check(quiz.question("practice-2"), typed)
    assert feedback.correct is correct, str(feedback)
    assert ".." not in str(feedback).replace("...", "")
    if not correct:
        assert "The answer: kubectl get endpoints checkout-api-svc -n production." in str(feedback)


def test_a_missing_namespace_is_right_with_a_note():
    feedback = quiz.check(quiz.question("practice-2"), "kubectl get endpoints checkout-api-svc")
    assert feedback.correct and "-n production" in feedback.note


@pytest.mark.parametrize("typed, message", [
    ("get endpoints", "is not a kubectl command"),
    ("kubectl", "has no verb"),
    ("kubectl get 'endpoints", "cannot be read as a command"),
    ("kubectl get endpoints -n", "-n needs a value"),
])
def test_a_command_that_cannot_be_read_says_why(typed, message):
    with pytest.raises(InvalidValue, match=message):
        quiz.check(quiz.question("practice-2"), typed)


@pytest.mark.parametrize("item_id, typed, correct", [
    ("practice-1", "kube-proxy", True),
    ("practice-1", "Kube Proxy", True),
    ("practice-1", "I think it is kube-proxy, not kubelet", True),
    ("practice-1", "kubelet", False),
    ("practice-1", "the CNI plugin", False),
    ("practice-1", "CoreDNS", False),
    ("practice-1", "a load balancer", False),
    ("practice-3", "the CNI plugin", True),
    ("practice-3", "cni", True),
    ("practice-3", "Calico (the CNI)", True),
    ("practice-3", "kube-proxy", False),
    ("practice-3", "kubelet", False),
    ("practice-3", "kube-controller-manager", False),
    ("practice-3", "the scheduler", False),
])
def test_practice_1_and_3_read_the_component_named_first(item_id, typed, correct):
    feedback = quiz.check(quiz.question(item_id), typed)
    assert feedback.correct is correct, str(feedback)
    assert len(feedback.explanation) > 40
    assert ".." not in str(feedback).replace("...", "")


def test_free_recall_needs_an_answer():
    with pytest.raises(InvalidValue, match="type an answer first"):
        quiz.check(quiz.question("practice-1"), "   ")


# --- where each item is taught ---------------------------------------------------------------

def _headings(notebook: str) -> set[str]:
    cells = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    found = set()
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                heading = re.match(r"#{1,6}\s+(.*\S)", line)
                if heading:
                    found.add(heading.group(1).strip())
    return found


@pytest.mark.parametrize("key", sorted(quiz.sections()))
def test_every_revisit_target_is_a_heading_of_its_notebook(key):
    section = quiz.sections()[key]
    assert (ROOT / "notebooks" / section.notebook).exists(), section
    assert section.heading in _headings(section.notebook), (
        f"data/quiz.yaml section {key}: no heading {section.heading!r} in {section.notebook}")


def test_every_item_names_a_section_that_exists():
    for q in quiz.questions():
        assert quiz.section_of(q).notebook.endswith(".ipynb"), q.id


def test_anchors_are_jupyterlabs():
    section = quiz.Section("x", "05.ipynb", "The rules `kube-proxy` writes")
    assert section.anchor == "The-rules-kube-proxy-writes"
