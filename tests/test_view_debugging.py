"""Notebook 06's tables and widgets, driven without a browser.

Facts the tests rest on (the lesson, kube-proxy, curl, the resolver):

- the lesson's debug pod: ``kubectl run debug-pod --image=nicolaka/netshoot --rm -it
  --restart=Never -n production``, then kubectl's "If you don't see a command prompt,
  try pressing enter.";
- a Service without endpoints gets kube-proxy's REJECT rule: curl is refused at once; a
  ClusterIP with no rule (stale kube-proxy) and a SYN a NetworkPolicy drops time out;
  CoreDNS down breaks names, not the ClusterIP;
- kube-proxy draws an endpoint per connection with equal shares: with k of 3 endpoints
  broken, k/3 of requests through the Service fail;
- ``options ndots:5``: a name with fewer than 5 dots is tried with each search domain
  first, the name as written last; a trailing dot sends it as written only.
"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("ipywidgets")
pytest.importorskip("pandas")

from k8snet_lesson import dns, faults, ladder, netshoot, scenarios
from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.faults import FAULTS, Layer
from k8snet_lesson.view import debugging

SERVICE = "production/checkout-api-svc"
CLIENT = "production/debug-pod"
FQDN = "checkout-api-svc.production.svc.cluster.local"
URL = "http://10.96.214.88:80/health"
BROKEN_POD = "checkout-api-6f8b9d-2xkpj"  # 10.244.2.14, the lesson's refusing Pod IP


@pytest.fixture(scope="module")
def cluster():
    healthy, _ = netshoot.debug_pod(scenarios.lesson_cluster(), "production")
    return healthy


@pytest.fixture(scope="module")
def one_broken(cluster):
    """The lesson's transcript: the app in one pod of three bound to 127.0.0.1."""
    return faults.inject(cluster, "bound-to-localhost", service=SERVICE, client=CLIENT, pod=BROKEN_POD).cluster


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


# --- the debug pod and the tables ------------------------------------------------------------------


def test_kubectl_run_is_the_lessons_line():
    run = debugging.kubectl_run("production")
    assert run.transcript.splitlines() == [
        "$ kubectl run debug-pod --image=nicolaka/netshoot --rm -it --restart=Never -n production",
        "If you don't see a command prompt, try pressing enter.",
    ]
    assert debugging.kubectl_run("staging", name="dbg").command.endswith("--restart=Never -n staging")


def test_ladder_table_lists_the_lessons_rungs_and_places_every_fault_once(one_broken):
    result = ladder.climb(one_broken, client=CLIENT, service=SERVICE, seed=0)
    table = debugging.ladder_table(result)
    assert list(table["rung"]) == ["DNS name", "ClusterIP", "Endpoints", "Pod IP", "inside the pod"]
    assert table.loc[1, "commands"] == f"curl -v http://checkout-api-svc:80/health; nslookup {FQDN}"
    assert table.loc[2, "commands"] == f"curl -v {URL}"
    assert "netstat -tlnp" in table.loc[5, "commands"]
    placed = [n for cell in table["faults of this layer"] for n in cell.split(", ")]
    assert sorted(placed) == sorted(FAULTS)
    for rung, cell in zip(result.rungs, table["faults of this layer"]):
        assert all(FAULTS[n].layer is rung.layer for n in cell.split(", "))
    assert table.loc[1, "if it fails"].startswith("DNS fails: CoreDNS")


def test_rungs_table_follows_the_climb(cluster, one_broken):
    healthy = debugging.rungs_table(ladder.climb(cluster, client=CLIENT, service=SERVICE))
    assert list(healthy["result"]) == ["ok"] * 4
    result = ladder.climb(one_broken, client=CLIENT, service=SERVICE, seed=0)
    table = debugging.rungs_table(result)
    assert list(table["result"]) == ["ok" if r.passed else "BROKEN" for r in result.rungs]
    assert table.loc[4, "what it showed"] == "2 of 3 pod IPs answer"


def test_climbs_table_keeps_ladder_order_and_marks_unreached_rungs(cluster):
    policed = faults.inject(cluster, "network-policy-deny", service=SERVICE, client=CLIENT).cluster
    table = debugging.climbs_table({
        "calico": ladder.climb(policed, client=CLIENT, service=SERVICE, cni="calico"),
        "flannel": ladder.climb(policed, client=CLIENT, service=SERVICE, cni="flannel"),
    })
    assert list(table.index) == ["DNS name", "ClusterIP", "Endpoints", "Pod IP", "inside the pod"]
    assert list(table["flannel"]) == ["ok", "ok", "ok", "ok", "not reached"]
    assert table.loc["Pod IP", "calico"] == "BROKEN"  # Calico enforces the policy: the SYN is dropped


# Refused: something answered (kube-proxy's REJECT, a closed port). Timed out: nothing did.
CLUSTER_IP_CURL = {
    "coredns-down": "200 OK",  # names break, the ClusterIP does not
    "kube-proxy-stale": "Connection timed out",
    "selector-mismatch": "Connection refused",
    "readiness-failing": "Connection refused",
    "wrong-target-port": "Connection refused",
    "app-wrong-port": "Connection refused",
    "nothing-listening": "Connection refused",
    "bound-to-localhost": "Connection refused",
    "network-policy-deny": "Connection timed out",
}


def test_fault_table_has_every_fault_and_what_curl_and_the_climb_say(cluster):
    table = debugging.fault_table(cluster, client=CLIENT, service=SERVICE, cnis=("calico", "flannel"))
    assert list(table.index) == list(FAULTS)
    assert list(table.columns) == ["layer", "what it breaks", "curl ClusterIP", "climb on calico", "climb on flannel", "fix"]
    for name, expected in CLUSTER_IP_CURL.items():
        assert table.loc[name, "curl ClusterIP"] == expected, name
    for name, fault in FAULTS.items():
        assert table.loc[name, "layer"] == fault.layer.value
        assert table.loc[name, "climb on calico"].startswith(f"{name} (broken: "), name
        assert table.loc[name, "fix"] == fault.fix
    assert table.loc["network-policy-deny", "climb on flannel"] == "every rung passes"
    assert table.loc["coredns-down", "climb on calico"] == "coredns-down (broken: DNS name)"


def test_curl_result_in_a_few_words(cluster):
    assert debugging.curl_result(netshoot.curl(cluster, CLIENT, URL)) == "200 OK"
    assert debugging.curl_result(netshoot.curl(cluster, CLIENT, "http://nowhere-svc/")) == "Could not resolve host: nowhere-svc"


# --- a climb as text and HTML -----------------------------------------------------------------------


def test_climb_text_hides_the_finding_for_an_exercise(one_broken):
    result = ladder.climb(one_broken, client=CLIENT, service=SERVICE, seed=0)
    assert debugging.climb_text(result) == str(result)
    hidden = debugging.climb_text(result, reveal=False)
    assert "Finding" not in hidden and "bound-to-localhost" not in hidden and "Notes" not in hidden
    assert "127.0.0.1:3000" in hidden  # netstat's evidence stays: the learner reads it
    assert all(o.transcript in hidden for r in result.rungs for o in r.outputs)


def test_climb_html_escapes_tool_output_and_opens_broken_rungs(cluster):
    broken = faults.inject(cluster, "selector-mismatch", service=SERVICE, client=CLIENT).cluster
    result = ladder.climb(broken, client=CLIENT, service=SERVICE)
    markup = debugging.climb_html(result)
    assert "&lt;none&gt;" in markup and "<none>" not in markup
    assert 'data-fault="selector-mismatch"' in markup
    assert markup.count("<details open>") == sum(not r.passed for r in result.rungs)
    hidden = debugging.climb_html(result, reveal=False)
    assert "selector-mismatch" not in hidden and "k8snet-finding" not in hidden
    assert hidden.count("<details open>") == 1  # an exercise opens only the last rung's transcript
    # the ClusterIP rung shows curl's words, not the model's reason (which names the cause)
    assert "has no endpoints" not in text_of(hidden) and "Connection refused" in text_of(hidden)


# --- the lesson's oddity ---------------------------------------------------------------------------


def test_draws_refuse_exactly_when_the_broken_endpoint_is_picked(one_broken):
    table = debugging.draws_table(one_broken, CLIENT, URL, range(24))
    assert set(table["endpoint picked"]) <= {"10.244.2.14:3000", "10.244.3.7:3000", "10.244.4.2:3000"}
    refused = table["curl"] == "Connection refused"
    assert refused.eq(table["endpoint picked"] == "10.244.2.14:3000").all()
    assert refused.eq(table["exit code"] == 7).all() and (~refused).eq(table["curl"] == "200 OK").all()
    assert 0 < refused.sum() < len(table)  # the lesson's transcript is one of the healthy draws


def test_refusals_follow_the_share_of_broken_endpoints(cluster):
    # Seed 0, 150 requests per case; threshold 0.12 = three standard deviations of a share
    # at p = 1/3 (sqrt(2/9/150) = 0.0385).
    table = debugging.refusal_table(cluster, client=CLIENT, service=SERVICE, requests=150, seed=0)
    assert list(table.index) == [0, 1, 2, 3]
    assert [round(s, 9) for s in table["exact share"]] == [0.0, round(1 / 3, 9), round(2 / 3, 9), 1.0]
    assert table.loc[0, "refused"] == 0 and table.loc[3, "refused"] == 150
    assert ((table["refused share"] - table["exact share"]).abs() <= 0.12).all()
    # the same seeds draw the same endpoints, so breaking more of them never refuses fewer
    assert table["refused"].is_monotonic_increasing


def test_refusal_table_rejects_nonsense(cluster):
    with pytest.raises(InvalidValue, match="requests 0 must be at least 1"):
        debugging.refusal_table(cluster, client=CLIENT, service=SERVICE, requests=0)


def test_refusals_figure_is_labelled_on_white(cluster):
    table = debugging.refusal_table(cluster, client=CLIENT, service=SERVICE, requests=3)
    fig = debugging.refusals_figure(table)
    (ax,) = fig.axes
    assert ax.get_title() and "(count)" in ax.get_xlabel() and ax.get_ylabel()
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["exact share of broken endpoints",
                                                                        "refused (simulated requests)"]


# --- DNS -----------------------------------------------------------------------------------------


def _search(cluster, name, namespace="production"):
    with_client, pod = netshoot.debug_pod(scenarios.lesson_cluster(), namespace) if namespace != "production" else (cluster, cluster.pod(CLIENT))
    return debugging.search_table(dns.resolve(with_client, pod, name))


def test_search_table_stops_at_the_first_answer(cluster):
    table = _search(cluster, "checkout-api-svc")
    assert list(table["query (A)"]) == [FQDN, "checkout-api-svc.svc.cluster.local", "checkout-api-svc.cluster.local", "checkout-api-svc"]
    assert table.loc[1, "answer"] == "NOERROR" and table.loc[1, "addresses"] == "10.96.214.88"
    assert set(table.loc[2:, "answer"]) == {"not sent (an earlier name answered)"}


def test_ndots_5_tries_the_lessons_fqdn_with_every_search_domain_first(cluster):
    table = _search(cluster, FQDN)  # 4 dots < 5
    assert list(table["answer"]) == ["NXDOMAIN", "NXDOMAIN", "NXDOMAIN", "NOERROR"]
    assert table.loc[1, "query (A)"] == f"{FQDN}.production.svc.cluster.local"
    absolute = _search(cluster, FQDN + ".")
    assert list(absolute["query (A)"]) == [FQDN] and list(absolute["answer"]) == ["NOERROR"]


def test_search_table_from_another_namespace_and_with_dns_down(cluster):
    assert set(_search(cluster, "checkout-api-svc", "default")["answer"]) == {"NXDOMAIN"}
    down = faults.inject(cluster, "coredns-down", service=SERVICE, client=CLIENT).cluster
    table = debugging.search_table(dns.resolve(down, down.pod(CLIENT), "checkout-api-svc"))
    # musl gives up the whole search when the first name gets no answer
    assert list(table["answer"]) == ["no answer: musl waits 5 s, then gives up"] + ["not sent (the resolver gave up)"] * 3


# --- verdicts --------------------------------------------------------------------------------------


def test_not_the_fault_explains_with_the_models_evidence(cluster, one_broken):
    seen = ladder.climb(one_broken, client=CLIENT, service=SERVICE, seed=0)
    dns_down = debugging.not_the_fault(seen, cluster, "coredns-down", pod=BROKEN_POD)
    assert dns_down.startswith("with coredns-down the DNS name rung would break") and "here it passed" in dns_down
    same_rungs = debugging.not_the_fault(seen, cluster, "app-wrong-port", pod=BROKEN_POD)
    assert same_rungs.startswith("app-wrong-port breaks the same rungs") and "the app listens on 8080" in same_rungs
    impossible = debugging.not_the_fault(seen, cluster, "selector-mismatch", pod=BROKEN_POD)
    assert impossible.startswith("selector-mismatch cannot happen here:") and "cannot break one pod alone" in impossible
    assert "pod=" not in impossible
    on_flannel = ladder.climb(one_broken, client=CLIENT, service=SERVICE, seed=0, cni="flannel")
    assert debugging.not_the_fault(on_flannel, cluster, "network-policy-deny").startswith(
        "network-policy-deny would change nothing on flannel")


# --- widgets: climb -------------------------------------------------------------------------------


def test_climb_explorer_starts_healthy_and_climbs_on_click(cluster):
    explorer = debugging.climb_explorer(cluster, client=CLIENT, service=SERVICE)
    assert explorer.last.passed and "Every rung passed" in explorer.rungs.value
    explorer.faults.value = ("selector-mismatch",)
    assert explorer.last.passed  # nothing happens until Climb is pressed
    explorer.button.click()
    assert explorer.last.finding.fault_name == "selector-mismatch"
    assert "&lt;none&gt;" in explorer.rungs.value and explorer.message.value == ""


def test_climb_explorer_reproduces_the_lessons_transcript(cluster):
    explorer = debugging.climb_explorer(cluster, client=CLIENT, service=SERVICE, faults=("bound-to-localhost",))
    explorer.backend.value = BROKEN_POD
    explorer.seed.value = 0
    explorer.button.click()
    assert [r.passed for r in explorer.last.rungs] == [True, True, True, False, False]
    assert f"on {BROKEN_POD} only" in explorer.rungs.value
    seeds = []
    for seed in range(8):
        explorer.seed.value = seed
        explorer.button.click()
        seeds.append(explorer.last.rungs[1].passed)
    assert any(seeds) and not all(seeds)  # the ClusterIP rung depends on kube-proxy's draw


def test_climb_explorer_explains_nonsense_in_the_learners_words_and_clears_the_last_climb(cluster):
    explorer = debugging.climb_explorer(cluster, client=CLIENT, service=SERVICE, faults=("coredns-down",))
    assert explorer.rungs.value and explorer.last is not None
    explorer.faults.value = ("selector-mismatch",)
    explorer.backend.value = BROKEN_POD
    explorer.button.click()
    message = text_of(explorer.message.value)
    assert "cannot break one pod alone" in message and 'Choose "every backend"' in message
    assert "pod=" not in message and "k8snet-message" in explorer.message.value
    assert explorer.rungs.value == "" and explorer.last is None  # no earlier climb under the message
    explorer.backend.value = ""
    explorer.button.click()
    assert explorer.message.value == "" and explorer.last.finding.fault_name == "selector-mismatch"


def test_climb_explorer_network_policy_on_flannel_and_calico(cluster):
    explorer = debugging.climb_explorer(cluster, client=CLIENT, service=SERVICE, faults=("network-policy-deny",),
                                        cni="flannel")
    assert explorer.last.passed and "flannel does not enforce NetworkPolicy" in text_of(explorer.rungs.value)
    explorer.cni.value = "calico"
    explorer.button.click()
    assert explorer.last.finding.fault_name == "network-policy-deny"


def test_widgets_carry_their_css_classes(cluster):
    explorer = debugging.climb_explorer(cluster, client=CLIENT, service=SERVICE)
    assert "k8snet-faults" in explorer.faults._dom_classes and "k8snet-climb" in explorer.button._dom_classes
    assert "k8snet-cni" in explorer.cni._dom_classes and "k8snet-rungs" in explorer.rungs._dom_classes
    exercise = debugging.mystery_exercise(cluster, client=CLIENT, service=SERVICE, seed=2)
    assert "k8snet-diagnosis" in exercise.diagnosis._dom_classes
    assert "k8snet-submit" in exercise.button._dom_classes and "k8snet-mystery-verdict" in exercise.verdict._dom_classes
    names = debugging.dns_explorer(cluster)
    assert "k8snet-dns-name" in names.name._dom_classes and "k8snet-dns-result" in names.result._dom_classes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=st.sets(st.sampled_from(sorted(FAULTS)), max_size=3),
       backend=st.sampled_from(["", BROKEN_POD, "checkout-api-6f8b9d-7rvqn"]),
       cni=st.sampled_from(["calico", "flannel", "cilium"]), seed=st.integers(0, 2**31 - 1))
def test_any_choice_climbs_or_explains_never_raises(cluster, chosen, backend, cni, seed):
    explorer = debugging.climb_explorer(cluster, client=CLIENT, service=SERVICE)
    explorer.faults.value = tuple(sorted(chosen))
    explorer.backend.value = backend
    explorer.cni.value = cni
    explorer.seed.value = seed
    explorer.button.click()
    if explorer.message.value:
        assert "k8snet-message" in explorer.message.value
    else:
        assert explorer.last.cni == cni and explorer.last.seed == seed
        assert explorer.rungs.value.count('class="k8snet-rung"') == len(explorer.last.rungs)
        if not chosen or chosen == {"network-policy-deny"} and cni == "flannel":
            assert explorer.last.passed


# --- widgets: the mystery -------------------------------------------------------------------------


def submit(exercise, names):
    exercise.diagnosis.value = tuple(names)
    exercise.button.click()
    return text_of(exercise.verdict.value)


def test_mystery_2_has_one_fault_and_exactly_one_right_answer(cluster):
    exercise = debugging.mystery_exercise(cluster, client=CLIENT, service=SERVICE, seed=2)
    assert exercise.mystery.count == 1
    (hidden,) = exercise.mystery.broken.faults
    shown = text_of(exercise.climb.value)
    assert "1 fault hidden" in shown and hidden not in shown and "Finding" not in shown
    verdicts = {name: submit(exercise, [name]) for name in FAULTS}
    right = [n for n, v in verdicts.items() if v.startswith("Correct")]
    assert right == [hidden]
    assert all(v.startswith("Not quite.") for n, v in verdicts.items() if n != hidden)
    assert len(set(verdicts.values())) == len(verdicts)  # each wrong name has its own explanation
    assert FAULTS[hidden].fix in verdicts[hidden] and "passes every rung" in verdicts[hidden]
    assert 'data-correct="true"' in (submit(exercise, [hidden]) and exercise.verdict.value)


def test_submitting_nothing_asks_for_a_choice(cluster):
    exercise = debugging.mystery_exercise(cluster, client=CLIENT, service=SERVICE, seed=2)
    assert submit(exercise, []) == "Pick one fault or more from the list, then Submit."
    assert exercise.last is None


def test_a_new_mystery_resets_the_exercise(cluster):
    exercise = debugging.mystery_exercise(cluster, client=CLIENT, service=SERVICE, seed=2)
    submit(exercise, ["coredns-down"])
    first = exercise.mystery
    exercise.seed.value = 5
    assert exercise.mystery != first and exercise.mystery == ladder.mystery(cluster, 5, CLIENT, SERVICE)
    assert exercise.diagnosis.value == () and exercise.verdict.value == "" and exercise.last is None
    assert "Mystery 5" in exercise.climb.value


def test_a_two_fault_mystery_is_solved_one_rung_at_a_time(cluster):
    seed = next(s for s in range(20) if ladder.mystery(cluster, s, CLIENT, SERVICE).count == 2)
    exercise = debugging.mystery_exercise(cluster, client=CLIENT, service=SERVICE, seed=seed)
    first_seen = exercise.seen.finding.fault_name
    second = next(n for n in exercise.mystery.broken.faults if n != first_seen)
    verdict = submit(exercise, [first_seen])
    assert verdict.startswith("Not quite. Right so far: " + first_seen) and "1 fault still hidden" in verdict
    assert f"has {first_seen} fixed" in text_of(exercise.climb.value)
    partly = exercise.mystery.climb(exercise.mystery.without(first_seen))
    assert partly.finding.fault_name == second  # what the climb now shows is the other fault
    both = submit(exercise, [first_seen, second])
    assert both.startswith("Correct") and all(FAULTS[n].fix in both for n in (first_seen, second))


def test_a_mystery_needs_a_healthy_cluster(cluster):
    broken = faults.inject(cluster, "coredns-down", service=SERVICE, client=CLIENT).cluster
    with pytest.raises(InvalidValue, match="broken already"):
        debugging.mystery_exercise(broken, client=CLIENT, service=SERVICE, seed=0)


# --- widgets: DNS ---------------------------------------------------------------------------------


def test_dns_explorer_follows_name_and_namespace(cluster):
    explorer = debugging.dns_explorer(cluster, name="checkout-api-svc", namespace="default")
    assert not explorer.last.ok and len(explorer.last.answers) == 4
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in explorer.result.value
    explorer.name.value = "checkout-api-svc.production"
    assert explorer.last.ok and explorer.last.fqdn == FQDN
    explorer.name.value = "checkout-api-svc"
    explorer.namespace.value = "production"
    assert explorer.last.ok and len(explorer.last.answers) == 1
    assert 'data-ok="true"' in explorer.result.value


def test_dns_explorer_shows_a_message_for_a_bad_name(cluster):
    explorer = debugging.dns_explorer(cluster)
    shown = explorer.result.value
    assert shown
    explorer.name.value = "a..b"
    assert "is not a DNS name" in explorer.message.value and explorer.result.value == "" and explorer.last is None
    explorer.name.value = "kube-dns.kube-system"
    assert explorer.message.value == "" and [str(a) for a in explorer.last.addresses] == ["10.96.0.10"]


def test_layers_cover_every_meaning():
    assert set(debugging.MEANINGS) == set(Layer)
