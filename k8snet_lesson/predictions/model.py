"""Notebook 01's gates: the networking model's rules, broken by a NAT'd network, and the
loopback rule the lesson leaves out. Every answer is computed by
:mod:`k8snet_lesson.networking_model` from the cluster the notebook shows.

    >>> from k8snet_lesson import predictions
    >>> from k8snet_lesson.scenarios import lesson_cluster
    >>> predictions.build("01-nat-rules", lesson_cluster()).answer
    'rules 1, 3 and 4'
"""

from __future__ import annotations

from .. import faults
from ..cluster import Cluster
from ..networking_model import check_all, natted, reachers_of, what_the_app_sees
from . import Kind, Option, Prediction, gate

__all__ = ["nat_rules", "nat_source", "loopback_only", "CLIENT", "SERVER"]

#: The lesson's pair: a checkout-api pod on node-eu-west-1a calls the one on node-eu-west-1b.
CLIENT = "production/checkout-api-6f8b9d-2xkpj"
SERVER = "production/checkout-api-6f8b9d-7rvqn"


def _rules(numbers: list[int]) -> str:
    if not numbers:
        return "none of them"
    if len(numbers) == 4:
        return "all four"
    if len(numbers) == 1:
        return f"rule {numbers[0]} only"
    return "rules " + ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"


@gate("01-nat-rules")
def nat_rules(cluster: Cluster) -> Prediction:
    """Which rules fail when every node hides its pods behind its own NAT (plain Docker hosts)."""
    natted_cluster, network = natted(cluster)
    checks = check_all(natted_cluster, network)
    failing = [c.number for c in checks if not c.holds]
    held = {c.number: c.holds for c in checks}
    answer = _rules(failing)
    why = ("Every node reuses the same private range, so addresses repeat (rule 1); a pod on another node "
           "is reached only at that node's IP and a published port, with both addresses rewritten (rule 3); "
           "so peers know each pod by an address that is not on its eth0 (rule 4). Pods on one bridge "
           "still talk directly (rule 2)")
    explanations = {
        "rule 3 only": "Rule 3 fails, but not alone: the ranges repeat on every node (rule 1), and a pod's peers "
                       "on other nodes know it by its node's address (rule 4)",
        "rules 2 and 3": ("Rule 2 holds: two pods on one node share a bridge and talk directly"
                          if held[2] else "Rule 2 fails here too"),
        "all four": ("Rule 2 still holds: NAT happens only where traffic leaves a node"
                     if held[2] else "Yes, all four fail"),
        "rules 1, 3 and 4": why,
    }
    if answer not in explanations:
        explanations[answer] = why
    options = tuple(Option(text, why if text == answer else explanations[text]) for text in explanations)
    return Prediction(
        "01-nat-rules",
        "Put the lesson's pods on plain Docker hosts instead: each node has its own private bridge "
        "(`172.17.0.0/16`), hands out `172.17.0.2`, `.3`, ... and NATs traffic that leaves it. "
        "Which of the four rules fail?",
        Kind.CHOICE, answer, why, options=options, tempting="rule 3 only", title="rules a NAT'd network breaks")


@gate("01-nat-source")
def nat_source(cluster: Cluster, client: str = CLIENT, server: str = SERVER) -> Prediction:
    """The source address a server logs when its client sits behind its node's NAT."""
    natted_cluster, network = natted(cluster)
    seen = what_the_app_sees(natted_cluster, network, client, server)
    flat_ip = cluster.pod(client).pod_ip
    client_node = natted_cluster.node(seen.client_node)
    why = (f"The client's node, {client_node.name}, masquerades traffic leaving its bridge: the source becomes "
           f"the node's own address, {client_node.internal_ip}, and the server cannot tell which pod called")
    wrong = [Option(str(seen.client_ip), f"{seen.client_ip} is on the client's eth0, but its node rewrites the "
                                         "source (MASQUERADE) before the packet leaves")]
    if flat_ip is not None and flat_ip != seen.client_ip:
        wrong.append(Option(str(flat_ip), f"{flat_ip} was its address on the flat network; here it is "
                                          f"{seen.client_ip}, and even that is rewritten"))
    return Prediction(
        "01-nat-source",
        f"On that NAT'd network, `{client.split('/')[-1]}` on {seen.client_node} calls `{server.split('/')[-1]}` "
        f"on {seen.server_node}. Which source IP does the server's access log show?",
        Kind.ADDRESS, str(seen.source_seen), why, wrong=tuple(wrong),
        otherwise="The server logs the source address of the packet as it arrives, after the client's node "
                  "rewrote it", title="source IP behind a NAT")


ONLY_ITS_POD = "only the containers of its own pod"
POD_AND_NODE = "its own pod and the kubelet on its node"
SAME_NODE = "every pod on the same node"
EVERYONE = "every pod in the cluster"


@gate("01-loopback")
def loopback_only(cluster: Cluster, pod: str = CLIENT, service: str = "production/checkout-api-svc") -> Prediction:
    """Who can still connect to an app bound to 127.0.0.1 (containers share the pod's namespace)."""
    broken = faults.fault("bound-to-localhost")(cluster, service=service, client=pod, pod=pod)
    target = broken.pod(pod)
    node = target.node_name
    reachers = set(reachers_of(broken, target))
    if reachers == {target.key}:
        answer = ONLY_ITS_POD
    elif reachers == {target.key, f"node/{node}"}:
        answer = POD_AND_NODE
    elif reachers == {p.key for p in broken.pods_on(node) if not p.host_network} | {f"node/{node}"}:
        answer = SAME_NODE
    else:
        answer = EVERYONE
    port = next(p.container_port for c in target.containers for p in c.ports)
    why = (f"127.0.0.1 is the loopback of the pod's own network namespace, which only its containers share; "
           f"anyone else connects to {target.pod_ip}:{port} on eth0, where nothing listens, and is refused")
    texts = {
        POD_AND_NODE: "The kubelet runs in the node's namespace, whose 127.0.0.1 is the node's own. Its readiness "
                      f"probe (httpGet) goes to {target.pod_ip}:{port}, fails, and takes the pod out of its "
                      "Service's rotation",
        SAME_NODE: "Sharing a node is not sharing a namespace: they connect to the pod IP and are refused",
        ONLY_ITS_POD: why,
        EVERYONE: "That is what binding 0.0.0.0 gives; 127.0.0.1 answers only inside the pod",
    }
    options = tuple(Option(text, why if text == answer else explanation) for text, explanation in texts.items())
    return Prediction(
        "01-loopback",
        f"Suppose the app in `{target.name}` listens on `127.0.0.1:{port}` instead of `0.0.0.0:{port}`. "
        "Who can still connect to it?",
        Kind.CHOICE, answer, why, options=options, tempting=POD_AND_NODE, title="who reaches an app on 127.0.0.1")
