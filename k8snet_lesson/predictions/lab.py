"""Notebook 08's gates: the kernel lab's spread, the outer header of a VXLAN packet, the lesson's broken pod.

Each answer is computed by the model from the cluster the lab builds (the lesson's, with
the debug pod): the share of kube-proxy's second rule times the connections, the node
IP behind a pod IP, and the first rung of the debugging ladder that fails on every
climb when one pod of three is broken (:func:`k8snet_lesson.lab.steps.lesson_case`).
The kernel then shows the same thing for real, in the notebook's reveal. The lesson's
case and the Service's explained rules live here, below the lab, because the gates and
the lab's steps (:mod:`k8snet_lesson.lab.steps`) both use them.

Each builder takes the client pod as ``client``; without one, the lesson's
``kubectl run debug-pod --image=nicolaka/netshoot`` in ``production`` is added.

    >>> from k8snet_lesson.lab.run import scenario
    >>> from k8snet_lesson.predictions import build
    >>> lesson = scenario("lesson")
    >>> build("08-spread-second", lesson.cluster, client=lesson.client).answer
    '1000'
    >>> build("08-outer-destination", lesson.cluster, client=lesson.client).answer
    '192.168.2.10'
    >>> build("08-first-failing-rung", lesson.cluster, client=lesson.client).answer
    'Pod IP'
"""

from __future__ import annotations

from ..cluster import Cluster
from . import Kind, Option, Prediction, gate

SERVICE = "production/checkout-api-svc"
# The lesson's transcript: curl to 10.244.2.14:3000 is refused (the app listens on 127.0.0.1).
BROKEN_POD = "checkout-api-6f8b9d-2xkpj"
# The checkout pod on another node than the debug pod: the cross-node request.
SEEN = "checkout-api-6f8b9d-7rvqn"


def lesson_case(cluster: Cluster, *, client: str, service: str = SERVICE):
    """The lesson's debugging case: one pod of three bound to 127.0.0.1 (a :class:`~k8snet_lesson.faults.Broken`).

    The lesson's transcript has ``curl 10.244.2.14:3000`` refused while the Service
    answers: one endpoint of three broken, not all of them.
    """
    from ..faults import inject

    return inject(cluster, "bound-to-localhost", service=service, client=client, pod=BROKEN_POD)


def service_entry(cluster: Cluster, node: str, service: str = SERVICE):
    """The model's explanation of ``service``'s first port in ``node``'s kube-proxy rules."""
    from ..connect import node_rules
    from ..explain import explain

    target = cluster.service(service)
    port = target.ports[0]
    return next(e for e in explain(node_rules(cluster, node))
                if e.cluster_ip == target.cluster_ip and e.port == port.port and e.protocol == port.protocol.iptables)


def with_client(cluster: Cluster, client: str | None) -> tuple[Cluster, str]:
    """``cluster`` and the client pod's key: ``client``, or the lesson's netshoot debug pod, added."""
    from ..netshoot import debug_pod

    if client is not None:
        return cluster, cluster.pod(client).key
    with_pod, pod = debug_pod(cluster, "production")
    return with_pod, pod.key


@gate("08-spread-second")
def spread_second(cluster: Cluster, *, client: str | None = None, connections: int = 3000) -> Prediction:
    """How many of N new connections the kernel's counter shows for kube-proxy's second rule."""
    cluster, client = with_client(cluster, client)
    node = cluster.pod(client).node_name
    entry = service_entry(cluster, node, SERVICE)
    first, second = entry.endpoints[0], entry.endpoints[1]
    expected = round(second.share * connections)
    naive = round((second.probability or 1.0) * connections)
    return Prediction(
        "08-spread-second",
        f"{cluster.pod(client).name} opens {connections:,} new connections to checkout-api-svc. The second rule of the "
        f"KUBE-SVC chain, towards {second.address}:{second.port}, reads `--probability {second.probability_text}`. "
        "About how many connections will the kernel's counter show for it?",
        Kind.NUMBER,
        str(expected),
        why=f"Rule 1 takes {first.share:.0%} of the connections; rule 2 sees only the rest and takes "
            f"{second.probability_text} of them, {second.share:.3f} of all: about {expected:,}. The kernel draws at "
            "random, so expect a few dozen either way",
        wrong=(Option(str(naive), f"The probability {second.probability_text} applies only to the connections rule 1 let through, not to "
                                  f"all {connections:,}: that gives a third, not a half"),),
        otherwise="Multiply the connections by the second endpoint's share: what rule 1 leaves, times rule 2's probability",
        tolerance=connections * 0.05,
        title="the kernel's counter for rule 2",
    )


@gate("08-outer-destination")
def outer_destination(cluster: Cluster, *, client: str | None = None, server: str = f"production/{SEEN}") -> Prediction:
    """The outer destination IP of a cross-node request on the client node's eth0 (VXLAN)."""
    built, client = with_client(cluster, client)
    source, target = built.pod(client), built.pod(server)
    node = built.node_of(target)
    vtep = node.pod_cidr.network_address if node.pod_cidr is not None else None
    return Prediction(
        "08-outer-destination",
        f"{source.name} (on {source.node_name}) calls {target.name} at {target.pod_ip}:3000. On {source.node_name}'s "
        "eth0 the request travels inside VXLAN. What is the destination IP of the outer header?",
        Kind.ADDRESS,
        str(node.internal_ip),
        why=f"Pod IP {target.pod_ip} runs on {node.name} (kubectl get pods -o wide); flannel.1 wraps the frame in UDP to that "
            f"node's InternalIP, {node.internal_ip}, the only address the node network knows",
        wrong=(Option(str(target.pod_ip), "That is the inner header's destination: the pod IP travels unchanged inside. "
                                          "The node network does not route pod IPs"),
               Option(str(vtep), f"That is flannel.1's address on {node.name}, the route's next hop; the FDB maps its "
                                 "MAC to the node's IP, which the outer header carries")),
        otherwise="The outer header goes from node IP to node IP: to the node that runs the pod",
        title="the outer header's destination",
    )


_RUNG_NOTES = {
    "DNS name": "DNS knows nothing of the app's bind address: checkout-api-svc still resolves to its ClusterIP",
    "ClusterIP": "Each new connection is drawn again: 2 times in 3 kube-proxy picks a healthy pod and curl gets "
                 "200 OK, as in the lesson's transcript. This rung fails only sometimes",
    "Endpoints": "All three pods are Running and Ready (no readiness probe checks the pod IP here), so the "
                 "EndpointSlice lists all three",
    "inside the pod": "That is where the cause shows (`ss -tlnp`: 127.0.0.1:3000), but the ladder only gets there "
                      "after the Pod IP rung failed",
}


@gate("08-first-failing-rung")
def first_failing_rung(cluster: Cluster, *, client: str | None = None, climbs: int = 12) -> Prediction:
    """With the lesson's case (one pod of three on 127.0.0.1), the first rung that fails on every climb."""
    from ..ladder import climb

    cluster, client = with_client(cluster, client)
    broken = lesson_case(cluster, client=client, service=SERVICE)
    seen = [climb(broken.cluster, client=client, service=SERVICE, seed=seed) for seed in range(climbs)]
    order = max((c.rungs for c in seen), key=len)
    names = [r.name for r in order]
    always = [n for n in names if all(any(r.name == n and not r.passed for r in c.rungs) for c in seen)]
    answer = always[0]
    sometimes = sum(1 for c in seen if any(r.name == "ClusterIP" and not r.passed for r in c.rungs))
    options = tuple(Option(n, _RUNG_NOTES.get(n, f"{n} passes on some climbs")) for n in names if n != answer)
    right = Option(answer, f"The curl to each pod IP tries the broken pod on every climb, and it is refused "
                           f"every time; the ClusterIP rung failed on {sometimes} of {climbs} climbs")
    return Prediction(
        "08-first-failing-rung",
        "The lab breaks one checkout pod of three, as in the lesson: its app listens on 127.0.0.1. Climbing the "
        f"ladder from {cluster.pod(client).name} ({', '.join(names)}), which rung fails on every climb, "
        "whatever pod kube-proxy picks?",
        Kind.CHOICE,
        answer,
        why=right.explanation,
        options=tuple(sorted((*options, right), key=lambda o: names.index(o.text))),
        tempting="ClusterIP",
        title="the first rung that always fails",
    )
