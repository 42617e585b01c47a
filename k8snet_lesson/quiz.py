"""The course's graded items: the lesson's practice questions and quiz, and each notebook's check.

Every notebook ends with a graded check of one to six items (:data:`GRADED`). An item
is either a multiple-choice :class:`Question` (every choice explains itself, right or
wrong) or a free-recall :class:`Recall`, which the learner answers by typing: a
component's name, or a kubectl command, parsed (:func:`parse_kubectl`) and judged by
what it would show, never by string equality.

The lesson's six questions and their words live in ``data/quiz.yaml``; so does the one
table of where each item's topic is taught (:func:`sections`). The other items are
built from the model, and their right answers are computed: the network a ClusterIP
belongs to, the source address a pod sees, the rules a NATed network breaks, a
node's pod CIDR, the plugin without NetworkPolicy, whose routes a pod has, the outer
header between nodes, kube-proxy's chains and probabilities, where a not-ready pod's
address goes, the rung a broken cluster fails, how many names the resolver tries.
Items that come in variants take a seed (:func:`item`); the learner's own seed also
shuffles the choices (:func:`shuffled`), so the right answer's place tells nothing.

    >>> q = question("practice-1")
    >>> check(q, "it is kube-proxy").correct, check(q, "kubelet").correct
    (True, False)
    >>> check(question("practice-2"), "kubectl -n production get ep checkout-api-svc").correct
    True

What it leaves out: partial credit, and kubectl's full grammar (the flags that change
what a listing shows are read: ``-n``, ``-l``, ``-o``, ``-A``; other flags are ignored).
"""

from __future__ import annotations

import dataclasses
import functools
import random
import re
import shlex
from ipaddress import IPv4Network
from typing import Callable

from .errors import InvalidValue, NotFound
from .resources import data_path

__all__ = [
    "Choice",
    "Question",
    "Recall",
    "Feedback",
    "Section",
    "KubectlCommand",
    "GRADED",
    "questions",
    "question",
    "item",
    "graded_items",
    "sections",
    "section_of",
    "shuffled",
    "check",
    "parse_kubectl",
    "VARIANT_KINDS",
    "variant",
]


@dataclasses.dataclass(frozen=True)
class Choice:
    text: str
    correct: bool
    explanation: str


@dataclasses.dataclass(frozen=True)
class Question:
    """A multiple-choice item: exactly one choice is correct.

    ``evidence`` is output the learner reads to answer (a transcript, a routing table),
    shown as it was printed; ``section`` is a key of :func:`sections`.
    """

    id: str
    kind: str  # "practice", "quiz", "graded" or "variant"
    prompt: str
    choices: tuple[Choice, ...]
    section: str = ""
    notebook: str = ""
    evidence: str = ""

    free_text = False

    @property
    def answer(self) -> Choice:
        return next(c for c in self.choices if c.correct)

    def choice(self, text: str) -> Choice:
        for candidate in self.choices:
            if candidate.text == text:
                return candidate
        raise NotFound(f"{text!r} is not a choice of question {self.id} (choices: {[c.text for c in self.choices]})")


@dataclasses.dataclass(frozen=True)
class Recall:
    """A free-recall item: the learner types the answer; a judge reads it for its meaning.

    ``answer_type`` picks the judge: ``component`` (the first component named in the
    text decides, each with what a learner who names it is told) or ``kubectl`` (the
    command is parsed; ``outcomes`` says what each kind of command earns).
    """

    id: str
    kind: str
    prompt: str
    answer_type: str
    model_answer: str
    section: str = ""
    notebook: str = ""
    placeholder: str = ""
    components: tuple[tuple[tuple[str, ...], bool, str], ...] = ()  # (names, correct, explanation)
    outcomes: tuple[tuple[str, bool, str], ...] = ()  # (outcome, correct, explanation)
    otherwise: str = ""
    service: str = ""
    namespace: str = ""
    evidence: str = ""

    free_text = True

    @property
    def why(self) -> str:
        """Why the model answer is right."""
        for names, correct, explanation in self.components:
            if correct:
                return explanation
        for _, correct, explanation in self.outcomes:
            if correct:
                return explanation
        return ""

    def outcome(self, name: str) -> tuple[bool, str]:
        for outcome, correct, explanation in self.outcomes:
            if outcome == name:
                return correct, explanation
        raise NotFound(f"item {self.id} has no outcome {name!r}")


Item = Question | Recall


@dataclasses.dataclass(frozen=True)
class Feedback:
    """What a learner is told after answering: right or wrong, why, and (if wrong) the answer and why."""

    correct: bool
    chosen: str
    explanation: str
    answer: str
    why: str = ""
    note: str = ""  # said in addition, right or wrong (a missing namespace, say)

    @property
    def headline(self) -> str:
        return "Correct" if self.correct else "Not quite"

    def __str__(self) -> str:
        parts = [f"{self.headline}.", _sentence(self.explanation)]
        if self.note:
            parts.append(_sentence(self.note))
        if not self.correct:
            parts.append(_sentence(f"The answer: {self.answer}"))
        return " ".join(p for p in parts if p)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text or text[-1] in ".!?:":
        return text
    return text + "."


@dataclasses.dataclass(frozen=True)
class Section:
    """Where a topic is taught: a notebook file and the text of a heading in it."""

    key: str
    notebook: str
    heading: str

    @property
    def anchor(self) -> str:
        """The heading's anchor as JupyterLab makes it: its text, spaces turned into hyphens."""
        text = re.sub(r"[`*_]", "", self.heading)
        return text.replace(" ", "-")


# --- the data file -----------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _document() -> dict:
    import yaml

    path = data_path("quiz.yaml")
    with open(path, encoding="utf-8") as stream:
        document = yaml.safe_load(stream)
    if not isinstance(document, dict) or "questions" not in document or "sections" not in document:
        raise InvalidValue(f"{path}: expected the keys 'sections' and 'questions'")
    return document


@functools.lru_cache(maxsize=1)
def sections() -> dict[str, Section]:
    """The one table of where each item's topic is taught, by key."""
    return {key: Section(key, str(value["notebook"]), str(value["heading"]))
            for key, value in _document()["sections"].items()}


def section_of(q: Item) -> Section:
    try:
        return sections()[q.section]
    except KeyError:
        raise NotFound(f"item {q.id} names section {q.section!r}, which data/quiz.yaml does not list") from None


def _text(value) -> str:
    return " ".join(str(value).split())


def _from_data(entry: dict, path) -> Item:
    common = dict(id=entry["id"], kind=entry["kind"], prompt=_text(entry["prompt"]), section=entry.get("section", ""),
                  notebook="07")
    if "answer_type" in entry:
        components = tuple((tuple(str(n).lower() for n in c["names"]), bool(c.get("correct", False)),
                            _text(c["explanation"])) for c in entry.get("components", ()))
        outcomes = tuple((name, bool(o.get("correct", False)), _text(o["explanation"]))
                         for name, o in entry.get("outcomes", {}).items())
        if entry["answer_type"] not in _JUDGES:
            raise InvalidValue(f"{path}: item {entry['id']}: answer_type {entry['answer_type']!r} is not one of "
                               f"{', '.join(_JUDGES)}")
        return Recall(answer_type=entry["answer_type"], model_answer=_text(entry["model_answer"]),
                      placeholder=entry.get("placeholder", ""), components=components, outcomes=outcomes,
                      otherwise=_text(entry.get("otherwise", "")), service=entry.get("service", ""),
                      namespace=entry.get("namespace", ""), **common)
    choices = tuple(Choice(_text(c["text"]), bool(c.get("correct", False)), _text(c["explanation"]))
                    for c in entry["choices"])
    if sum(c.correct for c in choices) != 1:
        raise InvalidValue(f"{path}: question {entry['id']} must have exactly one correct choice")
    return Question(choices=choices, **common)


@functools.lru_cache(maxsize=1)
def _lesson_items() -> dict[str, Item]:
    path = data_path("quiz.yaml")
    return {entry["id"]: _from_data(entry, path) for entry in _document()["questions"]}


# --- items built from the model -----------------------------------------------------------

_BUILDERS: dict[str, Callable[[random.Random], Question]] = {}


def _builds(item_id: str):
    def register(builder):
        _BUILDERS[item_id] = builder
        return builder
    return register


@functools.lru_cache(maxsize=1)
def _cluster():
    from .scenarios import lesson_cluster

    return lesson_cluster()


def _question(item_id: str, prompt: str, right: tuple[str, str], wrong: list[tuple[str, str]], section: str,
              evidence: str = "") -> Question:
    """A graded question of notebook ``item_id[:2]``: the right (text, why) and the wrong (text, why) choices."""
    texts = [right[0]] + [t for t, _ in wrong]
    if len(set(texts)) != len(texts):
        raise InvalidValue(f"item {item_id}: two choices read the same: {texts}")
    choices = (Choice(right[0], True, right[1]),) + tuple(Choice(t, False, e) for t, e in wrong)
    return Question(item_id, "graded", prompt, choices, section, item_id[:2], evidence)


@_builds("00-clusterip-network")
def _clusterip_network(rng: random.Random) -> Question:
    cluster = _cluster()
    service = cluster.service("checkout-api-svc", "production")
    address = service.cluster_ip
    networks = {"the Service network": cluster.service_cidr, "the Pod network": cluster.cluster_cidr,
                "the node network": cluster.node_network}
    right = next(name for name, net in networks.items() if net is not None and address in net)
    why = {
        "the Service network": (f"ClusterIPs are handed out by kube-apiserver from --service-cluster-ip-range, "
                                f"here {cluster.service_cidr}. No interface holds them; kube-proxy's rules do."),
        "the Pod network": (f"Pod IPs come from {cluster.cluster_cidr}, cut into one pod CIDR per node. "
                            f"{address} is outside it."),
        "the node network": (f"The nodes' own addresses are in {cluster.node_network}, the machines' network. "
                             f"{address} is outside it."),
    }
    choices = [(f"{name}, {net}", why[name]) for name, net in networks.items() if net is not None]
    right_text = next(text for text, _ in choices if text.startswith(right))
    wrong = [(t, e) for t, e in choices if t != right_text]
    wrong.append(("no network: a ClusterIP is drawn at random", "A ClusterIP always comes from the service "
                  f"range given to kube-apiserver, here {cluster.service_cidr}."))
    return _question("00-clusterip-network",
                     f"In the lesson's cluster (Calico VXLAN), which range holds checkout-api-svc's ClusterIP "
                     f"{address}?", (right_text, why[right]), wrong, "lesson-cluster")


@_builds("01-source-ip")
def _source_ip(rng: random.Random) -> Question:
    from .networking_model import FLAT, what_the_app_sees

    cluster = _cluster()
    client = cluster.pod("checkout-api-6f8b9d-2xkpj", "production")
    server = next(p for p in cluster.pods if p.node_name != client.node_name and p.pod_ip is not None
                  and p.name.startswith("auth-service"))
    source = what_the_app_sees(cluster, FLAT, client, server).source_seen
    node = cluster.node(client.node_name)
    candidates = {
        str(client.pod_ip): "No NAT between Pods (rules 3 and 4): the packet arrives with the sender's own Pod IP, "
                            "the address the sender sees on its eth0.",
        str(node.internal_ip): "That is the sender's node. Only a NATed network, such as Docker's per-host bridge, "
                               "rewrites the source to the node's address; Kubernetes forbids it between Pods.",
        "169.254.1.1": "169.254.1.1 is Calico's gateway inside the Pod, a next hop for the sender's routes; it "
                       "never appears in a packet's header.",
        str(cluster.service("checkout-api-svc", "production").cluster_ip):
            "A ClusterIP is a destination kube-proxy rewrites; it never becomes a source, and this call went to a "
            "Pod IP anyway.",
    }
    right = str(source).split(":")[0]
    if right not in candidates:
        raise InvalidValue(f"01-source-ip: the model says {server.name} sees {right}, which no choice offers")
    return _question("01-source-ip",
                     f"In the lesson's cluster, {client.name} ({client.node_name}) connects straight to "
                     f"{server.name}'s Pod IP {server.pod_ip} on {server.node_name}. Which source address does "
                     f"{server.name} see?",
                     (right, candidates[right]), [(t, e) for t, e in candidates.items() if t != right], "four-rules")


def _rules_text(numbers: tuple[int, ...]) -> str:
    if not numbers:
        return "none of the four rules"
    if len(numbers) == 1:
        return f"rule {numbers[0]} only"
    return "rules " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


@_builds("01-nat-rules")
def _nat_rules(rng: random.Random) -> Question:
    from .networking_model import check_all, natted

    natted_cluster, network = natted(_cluster())
    broken = tuple(check.number for check in check_all(natted_cluster, network) if not check.holds)
    right = _rules_text(broken)
    why = ("Every node reuses the same bridge range, so two Pods on different nodes can hold the same IP (rule 1); "
           "between nodes a Pod reaches another only through a published port on the node's IP (rule 3); and the "
           "receiver sees the node's address, not the sender's own (rule 4). On one node the bridge still "
           "connects Pods directly, so rule 2 holds.")
    pool = [(2, 3), (3,), (1, 2, 3, 4), (3, 4), (1, 3, 4), (2, 4)]
    reasons = {
        (3,): "Rule 3 does break, but not alone: the receiver also sees the node's IP, and the per-node bridge "
              "ranges repeat.",
        (1, 2, 3, 4): "Rule 2 holds: Pods on the same node still reach each other directly over the bridge.",
        (3, 4): "Those two break, and so does rule 1: every node hands out the same bridge range.",
        (1, 3, 4): "Those three break; rule 2 holds, because on one node the bridge connects Pods directly.",
        (2, 3): "Rule 2 holds: on one node the bridge connects Pods directly, with no NAT.",
        (2, 4): "Rule 2 holds (the bridge joins Pods on one node), and rules 1 and 3 break too.",
    }
    wrong = [(_rules_text(r), reasons[r]) for r in pool if r != broken][:3]
    return _question("01-nat-rules",
                     "Run the lesson's Pods on plain Docker hosts: each node NATs its Pods behind its own IP and "
                     "publishes their ports there. Which of the four rules break?",
                     (right, why), wrong, "nat-network")


@_builds("02-node-pod-cidr")
def _node_pod_cidr(rng: random.Random) -> Question:
    cluster = _cluster()
    nodes = [n for n in cluster.nodes if n.pod_cidr is not None]
    node = nodes[rng.randrange(len(nodes))]
    other = next(n for n in nodes if n is not node)
    subnet = IPv4Network(f"{node.internal_ip}/24", strict=False)
    right = (str(node.pod_cidr), f"kube-controller-manager gave {node.name} the block {node.pod_cidr} of the pod "
             f"network {cluster.cluster_cidr} (its spec.podCIDR), and the CNI's IPAM on that node hands out "
             "addresses only from it.")
    wrong = [
        (str(cluster.cluster_cidr), f"{cluster.cluster_cidr} is the whole pod network. Each node gets one /"
         f"{cluster.node_cidr_mask_size} of it, so two nodes never hand out the same address."),
        (str(other.pod_cidr), f"{other.pod_cidr} is {other.name}'s block; each node allocates only from its own."),
        (str(subnet), f"{subnet} is the node network, where the node's own address {node.internal_ip} lives. Pods "
         "get addresses from the pod network."),
    ]
    return _question("02-node-pod-cidr",
                     f"In the lesson's cluster, a new Pod is scheduled to {node.name}. From which range does it "
                     "get its IP?", right, wrong, "node-cidrs")


@_builds("03-no-policy")
def _no_policy(rng: random.Random) -> Question:
    from .cni import profiles

    table = {p.plugin: p for name, p in profiles().items() if name in ("flannel", "calico", "cilium", "aws-vpc")}
    without = [name for name, p in table.items() if not p.network_policy]
    if len(without) != 1 or len(table) != 4:
        raise InvalidValue(f"03-no-policy needs exactly one of the lesson's four plugins without NetworkPolicy: {without}")
    right = without[0]
    why = {name: f"{name}: {p.notable_features}" for name, p in table.items()}
    wrong = [(name, f"{name} enforces NetworkPolicy ({p.notable_features.rstrip('.')}). The plugin without it "
              "is the simplest one.") for name, p in table.items() if name != right]
    return _question("03-no-policy",
                     "Of the lesson's four CNI plugins, which one leaves NetworkPolicy objects unenforced?",
                     (right, why[right] + " Its NetworkPolicy objects are accepted by the API and do nothing."),
                     wrong, "cni-table")


@_builds("03-whose-routes")
def _whose_routes(rng: random.Random) -> Question:
    from .cni import pod_namespace, profile

    cluster = _cluster()
    pod = cluster.pod("checkout-api-6f8b9d-2xkpj", "production")
    names = ["flannel", "calico", "cilium"]
    shown = names[rng.randrange(len(names))]
    routes = {name: "\n".join(str(r) for r in pod_namespace(cluster, pod, name).routes) for name in names}
    if len(set(routes.values())) != len(names):
        raise InvalidValue("03-whose-routes: two plugins give the Pod the same routes")
    reasons = {
        "flannel": "Flannel puts the Pod on the node's cni0 bridge: a /24 connected route and the bridge's .1 as "
                   "the default gateway.",
        "calico": "Calico gives the Pod a /32 and the link-local gateway 169.254.1.1, which the host end of the "
                  "veth answers by proxy ARP.",
        "cilium": "Cilium gives the Pod a /32 and a default route via the router address it takes from the "
                  "node's pod CIDR (on cilium_host), with the MTU on the route.",
    }
    right = profile(shown).plugin
    wrong = [(profile(n).plugin, reasons[n] + " These routes are not that.") for n in names if n != shown]
    wrong.append(("none: routes never tell plugins apart", "They do: the gateway and the prefix are each "
                  "plugin's signature. " + reasons[shown]))
    return _question("03-whose-routes",
                     f"Inside {pod.name}, `ip route` prints the table below. Which CNI plugin wired this Pod?",
                     (right, reasons[shown]), wrong, "cni-wiring", evidence=routes[shown])


@_builds("04-outer-header")
def _outer_header(rng: random.Random) -> Question:
    from .walk import request

    cluster = _cluster()
    client = cluster.pod("checkout-api-6f8b9d-2xkpj", "production")
    server = next(p for p in cluster.pods if p.pod_ip is not None and p.node_name not in (None, client.node_name)
                  and p.namespace == "production" and p.name.startswith("checkout-api"))
    walk = request(cluster, client, str(server.pod_ip), 3000, cni=cluster.cni)
    outer = next(h.outer for h in walk.hops if h.outer is not None)
    server_node = cluster.node(server.node_name)

    def text(destination, port) -> str:
        return f"{destination}, UDP port {port}"

    right = (text(outer.dst_ip, outer.dst_port),
             f"Calico's VXLAN puts the Pod's packet inside UDP to the other node's own address, "
             f"{server_node.internal_ip}, port {outer.dst_port}; the inner packet still says "
             f"{client.pod_ip} -> {server.pod_ip}.")
    other_port = 8472 if outer.dst_port != 8472 else 4789
    wrong = [
        (text(server.pod_ip, outer.dst_port), "The Pod IP is the inner destination. The underlay network knows "
         "only node addresses, so the outer header is addressed to the node."),
        (text(outer.dst_ip, other_port), f"Port {other_port} is another plugin's VXLAN port "
         f"({'Flannel' if other_port == 8472 else 'the IANA default, which Calico uses'}); the lesson's cluster "
         f"runs {cluster.cni}, which sends to {outer.dst_port}."),
        (text(outer.src_ip, outer.dst_port), f"{outer.src_ip} is the sending node: it is the outer source, "
         "not the destination."),
    ]
    return _question("04-outer-header",
                     f"In the lesson's cluster (Calico VXLAN), {client.name} on {client.node_name} sends a packet "
                     f"to {server.name} ({server.pod_ip}) on {server.node_name}. Between the two nodes, where is "
                     "the outer packet addressed?", right, wrong, "cross-node")


@_builds("05-dnat-chain")
def _dnat_chain(rng: random.Random) -> Question:
    from .connect import node_rules
    from .explain import explain

    cluster = _cluster()
    service = cluster.service("checkout-api-svc", "production")
    explained = next(e for e in explain(node_rules(cluster, "node-eu-west-1a"))
                     if e.cluster_ip == service.cluster_ip and not e.reject)
    endpoint = explained.endpoints[0]
    right = (f"{endpoint.chain}, one chain per endpoint",
             f"Each KUBE-SEP chain ends in -j DNAT --to-destination {endpoint.address}:{endpoint.port}: the "
             "rewrite from the ClusterIP to one Pod happens there, after the KUBE-SVC chain drew the endpoint.")
    wrong = [
        ("KUBE-SERVICES, the entry chain", "KUBE-SERVICES only matches the ClusterIP and port and jumps to the "
         "Service's chain; it rewrites nothing."),
        (f"{explained.chain}, the Service's chain", f"{explained.chain} draws the endpoint with -m statistic "
         "and jumps to its KUBE-SEP chain; it does no DNAT itself."),
        ("KUBE-POSTROUTING, after routing", "KUBE-POSTROUTING does the MASQUERADE (source NAT) of marked "
         "packets, never the destination rewrite."),
    ]
    return _question("05-dnat-chain",
                     f"On node-eu-west-1a, which chain rewrites a packet for {service.cluster_ip}:80 to a "
                     "checkout-api Pod's IP (the DNAT)?", right, wrong, "kube-proxy-rules")


@_builds("05-not-ready")
def _not_ready(rng: random.Random) -> Question:
    from .endpoints import endpoints_for

    cluster = _cluster()
    service = cluster.service("checkout-api-svc", "production")
    pods = sorted((p for p in cluster.pods if service.selects(p) and p.pod_ip is not None), key=lambda p: p.name)
    pod = pods[rng.randrange(len(pods))]
    changed = cluster.with_pod(pod.with_ready(False))
    endpoints = endpoints_for(changed, service)
    in_ready = any(a.ip == pod.pod_ip for s in endpoints.subsets for a in s.addresses)
    in_not_ready = any(a.ip == pod.pod_ip for s in endpoints.subsets for a in s.not_ready_addresses)
    if in_ready or not in_not_ready:
        raise InvalidValue("05-not-ready: the model no longer moves a not-ready pod to notReadyAddresses")
    right = ("under notReadyAddresses, out of the rules",
             f"The EndpointSlice controller keeps {pod.pod_ip} but marks it not ready; the Endpoints list it under "
             "notReadyAddresses, and kube-proxy writes no KUBE-SEP chain for it until the probe passes again.")
    wrong = [
        ("under addresses, with a smaller share", "kube-proxy gives every ready endpoint the same share; an address "
         "that is not ready gets no rule at all."),
        ("nowhere: the Pod is deleted and replaced", "A failing readiness probe restarts nothing (that is the "
         "liveness probe); the Pod keeps running, only out of rotation."),
        ("under addresses, until the Pod restarts", "Readiness is watched all the time: the address moves out of "
         "rotation as soon as the probe fails."),
    ]
    return _question("05-not-ready",
                     f"{pod.name} ({pod.pod_ip}) starts failing its readiness probe. Where does its address go in "
                     "checkout-api-svc's Endpoints?", right, wrong, "endpoints")


@_builds("06-broken-rung")
def _broken_rung(rng: random.Random) -> Question:
    from .faults import Layer, inject
    from .ladder import climb

    cluster = _cluster()
    faults = ("coredns-down", "selector-mismatch", "kube-proxy-stale", "bound-to-localhost")
    name = faults[rng.randrange(len(faults))]
    client = "checkout-api-6f8b9d-2xkpj"
    service = "production/payment-api-svc" if any(s.name == "payment-api-svc" for s in cluster.services) else None
    if service is None:
        service = "production/checkout-api-svc"
        client = next(p.name for p in cluster.pods if p.namespace == "production" and p.name.startswith("payment"))
    broken = inject(cluster, name, service=service, client=client)
    climbed = climb(broken.cluster, client=client, service=service)
    if climbed.finding is None:
        raise InvalidValue(f"06-broken-rung: the ladder finds nothing with {name}")
    layer = climbed.finding.layer
    failing = next((r for r in climbed.rungs if not r.passed), climbed.rungs[-1])
    lines = []
    for rung in climbed.rungs:
        for output in rung.outputs:
            printed = [line for line in output.transcript.splitlines() if line.strip()]
            lines += printed if len(printed) <= 4 else [printed[0], "  ...", *printed[-2:]]
    evidence = "\n".join(lines)
    texts = {
        Layer.DNS: ("DNS: the name does not resolve", "When nslookup times out, nothing after it can be tried by "
                    "name: CoreDNS (or the path to it) is the break."),
        Layer.SERVICE: ("the ClusterIP: kube-proxy's rules", "The name resolves but the ClusterIP does not answer "
                        "while the Pod IPs do: the node's Service rules are missing or stale."),
        Layer.ENDPOINTS: ("the Endpoints: no Pod is selected", "kubectl get endpoints prints <none>: the selector "
                          "matches no ready Pod, and kube-proxy REJECTs the ClusterIP."),
        Layer.APP: ("inside the Pod: the app itself", "The Pod IP refuses while the Pod runs: netstat shows the app "
                    "listening on 127.0.0.1 or on another port."),
    }
    if layer not in texts:
        raise InvalidValue(f"06-broken-rung: {name} breaks at {layer.value}, which the item does not offer")
    right = (texts[layer][0], texts[layer][1] + f" Here: {climbed.finding.evidence[0] if climbed.finding.evidence else failing.summary}")
    wrong = [(text, f"Not this rung: {why}") for key, (text, why) in texts.items() if key is not layer]
    return _question("06-broken-rung",
                     f"A debug pod climbs the ladder towards {service.split('/')[1]} and prints the transcript "
                     "below (each command with its last lines). Which layer is at fault?",
                     right, wrong, "broken-clusters", evidence=evidence)


@_builds("06-search-list")
def _search_list(rng: random.Random) -> Question:
    from .dns import resolve

    cluster = _cluster()
    client = cluster.pod("checkout-api-6f8b9d-2xkpj", "production")
    names = ["checkout-api-svc", "checkout-api-svc.production", "checkout-api-svc.production.svc.cluster.local"]
    name = names[rng.randrange(len(names))]
    resolution = resolve(cluster, client, name)
    if not resolution.ok:
        raise InvalidValue(f"06-search-list: {name} does not resolve in the model")
    sent = len(resolution.answers)
    why = (f"With ndots:5, a name with fewer than five dots goes through the search list first: "
           f"{', '.join(resolution.candidates[:len(resolution.answers)])}. The resolver stops at the first name "
           f"that answers, so it sends {sent}.")
    tried = ", then ".join(resolution.candidates[:sent])
    wrong = [(f"{n} name{'s' if n > 1 else ''}", f"The resolver tries {tried}, and stops at the first name that "
              f"answers: {sent}, not {n}. With ndots:5 a name with fewer than five dots goes through the search "
              "list before it is tried as it is.") for n in (1, 2, 3, 4) if n != sent]
    return _question("06-search-list",
                     f"In {client.name} (namespace {client.namespace}, the usual resolv.conf with ndots:5), "
                     f"`nslookup {name}` runs. How many names does the resolver ask CoreDNS for, one after the "
                     "other, until one answers?",
                     (f"{sent} name{'s' if sent > 1 else ''}", why), wrong[:3], "dns")


# The CNI the kernel lab builds (k8snet_lesson.lab.topology.CNI; a test keeps them equal).
LAB_CNI = "flannel"


@_builds("08-vxlan-port")
def _vxlan_port(rng: random.Random) -> Question:
    from .cni import profile

    p = profile(LAB_CNI)
    reasons = {
        4789: "4789 is the IANA port for VXLAN, which Calico uses.",
        8472: "8472 is the Linux kernel's historic VXLAN port, which Flannel uses.",
        53: "53 is DNS. The capture between nodes carries whole Pod packets, whatever their protocol.",
        179: "179 is BGP, which Calico uses to tell routes to other nodes, not to carry Pod packets.",
    }
    if p.udp_port not in reasons:
        raise InvalidValue(f"08-vxlan-port: {LAB_CNI} sends VXLAN to {p.udp_port}, which the item does not offer")
    right = (f"UDP {p.udp_port}", f"The lab builds the lesson's cluster with {p.plugin}'s {p.mode}: "
             f"{reasons[p.udp_port]} tcpdump shows the Pod's packet inside it, VNI {p.vni}.")
    wrong = [(f"UDP {port}", reasons[port] + f" The lab's {p.plugin} sends its VXLAN to {p.udp_port}.")
             for port in reasons if port != p.udp_port]
    return _question("08-vxlan-port",
                     f"In the kernel lab ({p.plugin}'s {p.mode}), tcpdump on node 1's link to node 2 catches a "
                     "request from a Pod on node 1 to a Pod on node 2. Which UDP port are those packets sent to?", right, wrong, "lab-wire")


@_builds("08-statistic-rules")
def _statistic_rules(rng: random.Random) -> Question:
    from .connect import node_rules
    from .explain import explain

    cluster = _cluster()
    service = cluster.service("checkout-api-svc", "production")
    explained = next(e for e in explain(node_rules(cluster, "node-eu-west-1a"))
                     if e.cluster_ip == service.cluster_ip and not e.reject)
    n = len(explained.endpoints)
    with_statistic = sum(1 for e in explained.endpoints if e.probability_text is not None)
    right = (f"{with_statistic} rules", f"{explained.chain} has one rule per endpoint, {n} in all. Every rule but "
             "the last carries -m statistic --mode random --probability; the last needs none, because whatever "
             "reaches it is taken.")
    wrong = []
    for count in range(0, n + 2):
        if count == with_statistic or len(wrong) == 3:
            continue
        if count == n:
            reason = "The last rule has no statistic match: it takes whatever the rules before it let pass."
        elif count == 0:
            reason = "Without statistic matches the first rule would take every connection."
        else:
            reason = f"There is one rule per endpoint ({n}), and only the last has no probability."
        wrong.append((f"{count} rule{'s' if count != 1 else ''}", reason))
    return _question("08-statistic-rules",
                     f"In `iptables-save -t nat` on a lab node, how many rules of checkout-api-svc's {explained.chain} "
                     f"chain (with its {n} ready endpoints) carry `-m statistic`?", right, wrong, "lab-rules")


# --- variants (also the items of notebooks 02 and 05) -----------------------------------

def _probability_variant(rng: random.Random) -> Question:
    from .distribution import service_chain

    n = rng.randint(3, 8)
    k = rng.randint(1, n - 1)
    explanation = service_chain(n)
    printed = explanation.endpoints[k - 1].probability_text
    naive, cumulative = f"{1 / n:.10f}", f"{k / n:.10f}"
    why = (f"Rule {k} of {n} is tried only by connections that the {k - 1} rule{'s' if k != 2 else ''} before it "
           f"let pass. kube-proxy gives it 1/({n} - {k - 1}) = 1/{n - k + 1}, printed with ten decimals, so every "
           f"endpoint ends with the same share 1/{n}.")
    if k == 1:
        why = (f"Rule 1 sees every new connection, so 1/{n} of them is its fair share. Each later rule i gets "
               f"1/({n} - (i - 1)) of what is left, and every endpoint ends with 1/{n}.")
    pool = [
        (naive, f"1/{n} on every rule is the naive chain: rule {k} would take 1/{n} of what is left, less than "
                "its share, and the last endpoint would get far more than the first."),
        (cumulative, f"{k}/{n} is the share of the first {k} endpoints together, not the chance rule {k} takes "
                     "a connection that reaches it."),
        (f"{1 / (n - k):.10f}", f"1/{n - k} counts one rule too few before it: rule {k} has {k - 1} rule"
                                f"{'s' if k != 2 else ''} before it, so 1/({n} - {k - 1})."),
        (f"{1 / (n - k + 2):.10f}" if n - k + 2 <= n else f"{1 / (n + 1):.10f}",
         f"That counts one rule too many: rule {k} has {k - 1} before it, so 1/({n} - {k - 1})."),
        ("1.0000000000", "Only the last rule takes everything that reaches it, and it is written with no "
                         "probability at all."),
    ]
    wrong = []
    for text, reason in pool:
        if text != printed and text not in (t for t, _ in wrong):
            wrong.append((text, reason))
    q = _question("05-probability", f"A Service has {n} ready endpoints. What --probability does kube-proxy write "
                  f"on rule {k} of its KUBE-SVC chain?", (printed, why), wrong[:3], "probabilities")
    return dataclasses.replace(q, id=f"variant-probability-{n}-{k}", kind="variant")


def _capacity_variant(rng: random.Random) -> Question:
    from . import ipam

    prefix = rng.choice([14, 16, 17, 18])
    mask = rng.choice([22, 23, 24, 25, 26])
    cluster_cidr = f"10.{rng.choice([32, 64, 128])}.0.0/{prefix}"
    result = ipam.plan(cluster_cidr=cluster_cidr, node_cidr_mask_size=mask, service_cidr="10.96.0.0/12")
    right = f"{result.nodes:,} nodes"
    why = (f"A /{prefix} holds 2^({mask} - {prefix}) = {result.nodes:,} blocks of /{mask}: the node IPAM controller "
           "gives each node one, so that many nodes fit.")
    reasons = {
        2 ** (32 - mask): f"{2 ** (32 - mask):,} is the number of addresses in one node's /{mask}, not the number "
                          "of blocks.",
        2 ** (mask - prefix + 1): "That is twice the number of blocks: count the /{0} blocks inside the /{1}: "
                                  "2^({0} - {1}).".format(mask, prefix),
        max(1, 2 ** (mask - prefix - 1)): "That is half the number of blocks: count the /{0} blocks inside the "
                                          "/{1}: 2^({0} - {1}).".format(mask, prefix),
        result.total_pods: "That counts Pods, not nodes: each node's block holds many Pod addresses.",
        2 ** (32 - prefix): f"That is the number of addresses in the whole /{prefix}.",
    }
    wrong = [(f"{count:,} nodes", reason) for count, reason in reasons.items() if count != result.nodes]
    unique = list(dict(wrong).items())[:3]
    q = _question("02-capacity", f"kube-controller-manager runs with --cluster-cidr={cluster_cidr} and "
                  f"--node-cidr-mask-size={mask}. How many nodes can get a pod CIDR?", (right, why), unique,
                  "node-cidrs")
    return dataclasses.replace(q, id=f"variant-capacity-{prefix}-{mask}", kind="variant")


VARIANT_KINDS = {
    "probability": _probability_variant,
    "capacity": _capacity_variant,
}


def variant(kind: str, seed: int) -> Question:
    """A parameterised question whose answer the model computes (deterministic per seed)."""
    try:
        make = VARIANT_KINDS[kind]
    except KeyError:
        raise NotFound(f"no variant kind {kind!r} (kinds: {', '.join(VARIANT_KINDS)})") from None
    return make(random.Random(seed))


@_builds("02-capacity")
def _capacity_item(rng: random.Random) -> Question:
    return dataclasses.replace(_capacity_variant(rng), id="02-capacity", kind="graded", notebook="02")


@_builds("05-probability")
def _probability_item(rng: random.Random) -> Question:
    return dataclasses.replace(_probability_variant(rng), id="05-probability", kind="graded", notebook="05")


# --- the graded checks ----------------------------------------------------------------------

# Each notebook's graded check, in the order it asks. Every id is an item of
# data/quiz.yaml or a builder above.
GRADED: dict[str, tuple[str, ...]] = {
    "00": ("00-clusterip-network",),
    "01": ("01-source-ip", "01-nat-rules"),
    "02": ("02-node-pod-cidr", "02-capacity"),
    "03": ("03-no-policy", "03-whose-routes"),
    "04": ("04-outer-header",),
    "05": ("05-dnat-chain", "05-probability", "05-not-ready"),
    "06": ("06-broken-rung", "06-search-list"),
    "07": ("practice-1", "practice-2", "practice-3", "quiz-1", "quiz-2", "quiz-3"),
    "08": ("08-vxlan-port", "08-statistic-rules"),
}


def item(item_id: str, seed: int = 0) -> Item:
    """The graded item ``item_id``; ``seed`` picks the variant of items that have them."""
    lesson = _lesson_items()
    if item_id in lesson:
        return lesson[item_id]
    try:
        builder = _BUILDERS[item_id]
    except KeyError:
        known = ", ".join([*lesson, *_BUILDERS])
        raise NotFound(f"no graded item {item_id!r} (items: {known})") from None
    return builder(random.Random(f"variant/{seed}/{item_id}"))


def graded_items(notebook: str, seed: int = 0) -> tuple[Item, ...]:
    """The items of notebook ``notebook``'s graded check (``"05"``, or ``5``)."""
    key = _notebook_key(notebook)
    return tuple(item(item_id, seed) for item_id in GRADED[key])


def _notebook_key(notebook) -> str:
    text = str(notebook).strip()
    key = text.zfill(2) if text.isdigit() else text[:2]
    if key not in GRADED:
        raise NotFound(f"no graded check for notebook {text!r} (notebooks: {', '.join(GRADED)})")
    return key


def questions(seed: int = 0) -> tuple[Item, ...]:
    """Every graded item of the course, notebook by notebook (the lesson's six are notebook 07's)."""
    return tuple(q for notebook in GRADED for q in graded_items(notebook, seed))


def question(question_id: str, seed: int = 0) -> Item:
    """One graded item by id (the same as :func:`item`)."""
    return item(question_id, seed)


def shuffled(q: Item, seed: int) -> Item:
    """``q`` with its choices in the order learner ``seed`` sees them (free-recall items have none).

    The order is a permutation drawn from ``seed`` and the item's id, so it is the same
    every time a learner opens the notebook, and another learner sees another order.
    """
    if q.free_text:
        return q
    choices = list(q.choices)
    random.Random(f"order/{seed}/{q.id}").shuffle(choices)
    return dataclasses.replace(q, choices=tuple(choices))


# --- checking ----------------------------------------------------------------------------------

def check(q: Item, given: str | None) -> Feedback:
    """Judge an answer: a choice's text, or what the learner typed. Nothing given is an error to show."""
    if given is None or not str(given).strip():
        raise InvalidValue("type an answer first" if q.free_text else "choose an answer first")
    if not q.free_text:
        picked = q.choice(given)
        return Feedback(picked.correct, picked.text, picked.explanation, q.answer.text, q.answer.explanation)
    return _JUDGES[q.answer_type](q, str(given).strip())


def _component_pattern(names) -> re.Pattern:
    alternatives = sorted(names, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(n) for n in alternatives) + r")(?![\w-])")


def _judge_component(q: Recall, given: str) -> Feedback:
    """The first component named in ``given`` decides (``kube-proxy, not kubelet`` names kube-proxy)."""
    text = " ".join(given.lower().replace("_", "-").split())
    found: list[tuple[int, int, bool, str]] = []
    for index, (names, correct, explanation) in enumerate(q.components):
        match = _component_pattern(names).search(text)
        if match:
            found.append((match.start(), index, correct, explanation))
    if not found:
        return Feedback(False, given, q.otherwise, q.model_answer, q.why)
    _, _, correct, explanation = min(found)
    return Feedback(correct, given, explanation, q.model_answer, q.why)


@dataclasses.dataclass(frozen=True)
class KubectlCommand:
    """A kubectl command line, read the way kubectl reads it (the parts that change what it shows)."""

    verb: str
    resource: str = ""
    names: tuple[str, ...] = ()
    namespace: str | None = None
    selector: str | None = None
    output: str | None = None
    all_namespaces: bool = False
    piped_to: tuple[str, ...] = ()  # what the listing is piped into (``grep checkout``), if anything

    @property
    def grepped(self) -> str | None:
        """The word a ``| grep WORD`` keeps, if the listing is piped to grep."""
        words = [w for w in self.piped_to[1:] if not w.startswith("-")]
        return words[0] if self.piped_to[:1] == ("grep",) and words else None


# kubectl's short names and singular/plural forms, for the resources a learner would name.
_RESOURCES = {
    "endpoints": ("endpoints", "endpoint", "ep"),
    "endpointslices": ("endpointslices", "endpointslice", "endpointslices.discovery.k8s.io"),
    "services": ("services", "service", "svc"),
    "pods": ("pods", "pod", "po"),
}
_FLAGS_WITH_VALUES = {"-n": "namespace", "--namespace": "namespace", "-l": "selector", "--selector": "selector",
                      "-o": "output", "--output": "output", "--context": None, "--cluster": None, "--user": None,
                      "--kubeconfig": None, "-c": None, "--container": None, "--field-selector": None,
                      "--sort-by": None, "-f": None, "--filename": None}


def parse_kubectl(text: str) -> KubectlCommand:
    """Read a kubectl command line; anything that is not one is an :class:`InvalidValue` that says why.

    >>> parse_kubectl("kubectl get ep/checkout-api-svc --namespace=production -o yaml")
    KubectlCommand(verb='get', resource='endpoints', names=('checkout-api-svc',), namespace='production', selector=None, output='yaml', all_namespaces=False, piped_to=())
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidValue(f"{text.strip()!r} cannot be read as a command: {exc}") from None
    if words and words[0] == "$":
        words = words[1:]
    piped_to: list[str] = []
    if "|" in words:  # `kubectl get ep -n production | grep checkout`: the listing, then a filter
        words, piped_to = words[:words.index("|")], words[words.index("|") + 1:]
    if not words or words[0] not in ("kubectl", "k", "oc"):
        raise InvalidValue(f"{text.strip()!r} is not a kubectl command: start it with kubectl")
    values: dict[str, str | None] = {"namespace": None, "selector": None, "output": None}
    all_namespaces = False
    positional: list[str] = []
    rest = iter(words[1:])
    for word in rest:
        if word.startswith("-") and len(word) > 1:
            flag, equals, value = word.partition("=")
            if flag in ("-A", "--all-namespaces"):
                all_namespaces = True
                continue
            if flag not in _FLAGS_WITH_VALUES and flag[:2] in ("-n", "-l", "-o") and not flag.startswith("--"):
                flag, value, equals = flag[:2], flag[2:], "="  # -nproduction, as kubectl also reads it
            if flag in _FLAGS_WITH_VALUES:
                if not equals:
                    value = next(rest, None)
                    if value is None:
                        raise InvalidValue(f"{word} needs a value (for example {word} production)")
                field = _FLAGS_WITH_VALUES[flag]
                if field:
                    values[field] = value
            continue  # a flag that does not change what is listed (-w, --show-labels, ...)
        positional.append(word)
    if not positional:
        raise InvalidValue(f"{text.strip()!r} has no verb: write it like kubectl get endpoints NAME")
    verb, targets = positional[0], positional[1:]
    resource, names = "", []
    for target in targets:
        kind, slash, name = target.partition("/")
        canonical = next((key for key, forms in _RESOURCES.items() if kind.lower() in forms), kind.lower())
        if slash:
            resource = resource or canonical
            names.append(name)
        elif not resource:
            resource = canonical
        else:
            names.append(target)
    return KubectlCommand(verb, resource, tuple(names), values["namespace"], values["selector"], values["output"],
                          all_namespaces, tuple(piped_to))


def _placeholder(name: str) -> bool:
    return bool(re.fullmatch(r"<[^>]+>|\{[^}]+\}|[A-Z_]+|\$\w+", name))


def _kubectl_outcome(q: Recall, command: KubectlCommand) -> tuple[str, str | None]:
    """(outcome, note): which kind of command it is, and a remark on its namespace."""
    if command.verb not in ("get", "describe"):
        return "other-verb", None
    names_ok = all(n == q.service or _placeholder(n) for n in command.names)
    if command.resource == "endpointslices":
        selector = (command.selector or "").replace(" ", "")
        wanted = f"kubernetes.io/service-name={q.service}"
        label_ok = wanted in selector.split(",") or re.fullmatch(r"kubernetes\.io/service-name=(<[^>]+>|\$\w+)",
                                                                 selector)
        outcome = "endpointslices" if label_ok else "endpointslices-unfiltered"
        if command.names:
            outcome = "endpointslices"  # a slice named explicitly: its name starts with the Service's
            if not all(n.startswith(q.service) or _placeholder(n) for n in command.names):
                outcome = "wrong-name"
    elif command.resource == "endpoints" and command.names:
        outcome = "endpoints" if names_ok else "wrong-name"
    elif command.resource == "endpoints":
        grepped = command.grepped
        outcome = "endpoints" if grepped and grepped in q.service else "endpoints-unnamed"
    elif command.resource == "services":
        if command.verb == "describe" and command.names:
            outcome = "describe-service" if names_ok else "wrong-name"
        else:
            outcome = "get-service"
    elif command.resource == "pods":
        outcome = "pods"
    else:
        outcome = "other-resource"
    if q.outcome(outcome)[0]:
        if command.namespace not in (None, q.namespace) and not command.all_namespaces:
            return "wrong-namespace", None
        if command.namespace is None and not command.all_namespaces:
            return outcome, q.outcome("no-namespace")[1]
    return outcome, None


def _judge_kubectl(q: Recall, given: str) -> Feedback:
    command = parse_kubectl(given)
    outcome, note = _kubectl_outcome(q, command)
    correct, explanation = q.outcome(outcome)
    return Feedback(correct, given, explanation, q.model_answer, q.why, note or "")


_JUDGES: dict[str, Callable[[Recall, str], Feedback]] = {
    "component": _judge_component,
    "kubectl": _judge_kubectl,
}
