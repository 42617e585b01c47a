"""Notebook 06's prediction gates: the debugging ladder, computed from the lesson's cluster.

Each builder takes the cluster the notebook shows (with or without its debug pod: the
pod ``kubectl run debug-pod ... -n production`` makes is added when missing) and asks
about something people get wrong on the ladder:

- ``06-names-tried``: how many names the pod's resolver asks CoreDNS for before
  ``curl http://checkout-api-svc.production/health`` connects (``ndots:5`` and the
  search list; the model's :func:`k8snet_lesson.dns.resolve`);
- ``06-first-rung``: with kube-proxy stale on the client's node, which rung of the
  ladder breaks first (:func:`k8snet_lesson.ladder.climb`);
- ``06-selector-curl`` and ``06-policy-curl``: refused or timed out, for curl to the
  ClusterIP when the selector matches nothing, and to a Pod IP when a NetworkPolicy
  denies the client on Calico (:func:`k8snet_lesson.netshoot.curl`);
- ``06-coredns-wait``: with CoreDNS down, how fast a getaddrinfo() lookup fails in netshoot (musl)
  although kube-proxy rejects the query at once (:func:`k8snet_lesson.netshoot.resolver_wait`);
- ``06-localhost-probe``: whether the pod whose app binds 127.0.0.1 stays in the
  Service's endpoints once it has an httpGet readiness probe
  (:func:`k8snet_lesson.faults.with_readiness_probes`).

The answers are read from what the model computes; the option texts are the choices.
"""

from __future__ import annotations

from ..cluster import Cluster
from ..connect import Outcome
from ..dns import resolve
from ..endpoints import endpoints_for
from ..errors import NotFound
from ..faults import inject, readiness_probes, with_readiness_probes
from ..ladder import climb
from ..netshoot import RESOLVER, RESOLVER_TIMEOUT_S, curl, debug_pod, resolver_wait
from . import Kind, Option, Prediction, gate

SERVICE = "production/checkout-api-svc"
CLIENT = "production/debug-pod"
BROKEN_POD = "checkout-api-6f8b9d-2xkpj"  # 10.244.2.14, the Pod IP that refuses in the lesson's transcript

RUNGS = ("DNS name", "ClusterIP", "Endpoints", "Pod IP", "inside the pod")
REFUSED, TIMED_OUT = "refused", "timed out"


def with_client(cluster: Cluster, client: str = CLIENT) -> Cluster:
    """``cluster`` with the lesson's debug pod in it (``kubectl run debug-pod -n production``)."""
    try:
        cluster.pod(client)
        return cluster
    except NotFound:
        namespace, _, name = client.partition("/")
        return debug_pod(cluster, namespace, name=name)[0]


def _word(outcome: Outcome) -> str:
    return {Outcome.REFUSED: REFUSED, Outcome.TIMED_OUT: TIMED_OUT}.get(outcome, outcome.value)


@gate("06-names-tried")
def names_tried(cluster: Cluster, *, name: str = "checkout-api-svc.production", client: str = CLIENT) -> Prediction:
    cluster = with_client(cluster, client)
    pod = cluster.pod(client)
    resolution = resolve(cluster, pod, name)
    sent = len(resolution.answers)
    dots = name.count(".")
    return Prediction(
        "06-names-tried",
        f"The debug pod runs in `{pod.namespace}`. Its resolv.conf says `options ndots:5`. "
        f"`curl http://{name}/health`: how many names does its resolver ask CoreDNS for before curl connects?",
        Kind.NUMBER,
        str(sent),
        why=(f"`{name}` has {dots} dot{'s' if dots != 1 else ''}, fewer than 5, so the search list comes first: "
             + ", then ".join(f"`{a.name}` ({a.rcode.value})" for a in resolution.answers)
             + ". The resolver stops at the first name that exists"),
        wrong=tuple(o for o in (
            Option("1", f"It looks qualified, but with fewer than 5 dots the resolver first appends "
                        f"`{pod.namespace}.svc.cluster.local`, and `{name}.{pod.namespace}.svc.cluster.local` "
                        "does not exist"),
            Option(str(len(resolution.candidates)),
                   "The resolver does not try every candidate: it stops at the first name CoreDNS knows"),
        ) if o.text != str(sent)),
        otherwise="Count the names: the search list's domains in order, then the name as written, until one answers",
        title="names tried for checkout-api-svc.production",
    )


@gate("06-first-rung")
def first_rung(cluster: Cluster, *, client: str = CLIENT) -> Prediction:
    cluster = with_client(cluster, client)
    broken = inject(cluster, "kube-proxy-stale", service=SERVICE, client=client).cluster
    result = climb(broken, client=client, service=SERVICE)
    answer = next(r.name for r in result.rungs if not r.passed)
    by_name = result.rungs[0]
    explanations = {
        "DNS name": ("curl by name hangs, but nslookup answers at once: the name resolves, so DNS works. "
                     "A name that resolves and then does not connect is not a DNS problem"),
        "ClusterIP": "No rule on this node turns the ClusterIP into a Pod IP, so the SYN to it is never answered",
        "Endpoints": "The endpoints are fine: the pods are selected and Ready; only one node's rules are old",
        "Pod IP": "Every Pod IP answers: the pods and the network between nodes are healthy",
        "inside the pod": "The apps listen on 0.0.0.0:3000; nothing inside the pods changed",
    }
    return Prediction(
        "06-first-rung",
        "kube-proxy on the debug pod's node stopped syncing before checkout-api-svc was created. "
        "You climb DNS name, ClusterIP, Endpoints, Pod IP, inside the pod. Which rung breaks first?",
        Kind.CHOICE,
        answer,
        why=f"{explanations[answer]}. The DNS rung passed: {by_name.summary}",
        options=tuple(Option(rung, explanations[rung]) for rung in RUNGS),
        tempting="DNS name",
        title="first rung to break: stale kube-proxy",
    )


def _curl_gate(prediction_id: str, prompt: str, outcome: Outcome, why: dict[str, str], title: str) -> Prediction:
    answer = _word(outcome)
    other = TIMED_OUT if answer == REFUSED else REFUSED
    return Prediction(prediction_id, prompt, Kind.CHOICE, answer, why=why[answer],
                      options=(Option(REFUSED, why[REFUSED]), Option(TIMED_OUT, why[TIMED_OUT])),
                      tempting=other, title=title)


@gate("06-selector-curl")
def selector_curl(cluster: Cluster, *, client: str = CLIENT) -> Prediction:
    cluster = with_client(cluster, client)
    broken = inject(cluster, "selector-mismatch", service=SERVICE, client=client).cluster
    service = broken.service(SERVICE)
    shown = curl(broken, client, f"http://{service.cluster_ip}:{service.ports[0].port}/health")
    why = {
        REFUSED: ("kube-proxy writes a REJECT rule for a Service with no endpoints: the client's own node answers "
                  "with ICMP port unreachable, and curl reports Connection refused at once"),
        TIMED_OUT: ("The lesson calls it silently dropped, but nothing is dropped: kube-proxy rejects traffic to a "
                    "Service without endpoints, so the answer comes at once"),
    }
    return _curl_gate(
        "06-selector-curl",
        "The Service selects `app: checkout-api`, the pods are labelled `app: checkout` (the lesson's quiz). "
        f"`curl http://{service.cluster_ip}:80/health` from the debug pod: refused or timed out?",
        shown.connection.outcome, why, "selector matches nothing: refused or timed out")


@gate("06-policy-curl")
def policy_curl(cluster: Cluster, *, client: str = CLIENT, cni: str = "calico") -> Prediction:
    cluster = with_client(cluster, client)
    broken = inject(cluster, "network-policy-deny", service=SERVICE, client=client).cluster
    pod = broken.pod(BROKEN_POD, "production")
    shown = curl(broken, client, f"http://{pod.pod_ip}:3000/health", cni=cni)
    why = {
        TIMED_OUT: (f"{cni.capitalize()} drops the SYN that the policy denies and sends nothing back, so curl waits until it "
                    "gives up: a policy is silence"),
        REFUSED: ("A refusal needs someone to answer; a NetworkPolicy drop answers nothing. Refused means a REJECT "
                  "rule or a closed port"),
    }
    return _curl_gate(
        "06-policy-curl",
        f"A NetworkPolicy admits only `role: frontend` pods to checkout-api; the CNI is {cni}. "
        f"`curl http://{pod.pod_ip}:3000/health` from the debug pod: refused or timed out?",
        shown.connection.outcome, why, "NetworkPolicy deny: refused or timed out")


@gate("06-coredns-wait")
def coredns_wait(cluster: Cluster, *, client: str = CLIENT) -> Prediction:
    cluster = with_client(cluster, client)
    broken = inject(cluster, "coredns-down", service=SERVICE, client=client).cluster
    resolution = resolve(broken, broken.pod(client), "checkout-api-svc")
    waited = resolver_wait(resolution, RESOLVER)
    at_once, after = "at once", f"after {RESOLVER_TIMEOUT_S:g} s"
    why = {
        after: (f"kube-proxy does reject the query at once, but netshoot is Alpine: its {RESOLVER} resolver sends "
                "from an unconnected UDP socket, and Linux hands an ICMP error only to a connected one. "
                f"So it hears nothing, waits its {RESOLVER_TIMEOUT_S:g} s timeout, then gives up on the whole search list"),
        at_once: ("That is glibc (Debian, Ubuntu images): it connects its socket, reads ECONNREFUSED from the ICMP "
                  f"error and gives up at once. {RESOLVER}, in netshoot, never sees the error"),
    }
    answer = after if waited > 0 else at_once
    return Prediction(
        "06-coredns-wait",
        "CoreDNS pods are not ready, so kube-dns has no endpoints and kube-proxy REJECTs every DNS query at once. "
        f"In netshoot (an Alpine image, so the {RESOLVER} C library), a program looks up `checkout-api-svc` with "
        f"getaddrinfo(), as ping and most apps do. Does the lookup fail at once, or after {RESOLVER_TIMEOUT_S:g} s?",
        Kind.CHOICE,
        answer,
        why=why[answer],
        options=(Option(at_once, why[at_once]), Option(after, why[after])),
        tempting=at_once if answer == after else after,
        title="CoreDNS down: how fast does curl fail",
    )


@gate("06-localhost-probe")
def localhost_probe(cluster: Cluster, *, client: str = CLIENT, pod: str = BROKEN_POD) -> Prediction:
    cluster = with_client(cluster, client)
    broken = inject(cluster, "bound-to-localhost", service=SERVICE, client=client, pod=pod).cluster
    probed = with_readiness_probes(broken, SERVICE)
    target = probed.service(SERVICE)
    address = probed.pod(pod, target.namespace).pod_ip
    ready = {a.ip for s in endpoints_for(probed, target).subsets for a in s.addresses}
    probe = next(p for p in readiness_probes(broken, SERVICE) if p.pod.endswith("/" + pod))
    stays, leaves = "it stays in the endpoints", "it leaves the endpoints"
    why = {
        leaves: (f"The kubelet probes from the node, to the Pod IP: `{probe.url}`. The app listens on 127.0.0.1 "
                 "only, so the probe is refused like any client, the pod turns not Ready and its address moves to "
                 "notReadyAddresses. The ClusterIP then never draws it"),
        stays: ("The probe does not run on the pod's loopback: the kubelet connects to the Pod IP from the node, "
                "where the app refuses it"),
    }
    answer = stays if address in ready else leaves
    return Prediction(
        "06-localhost-probe",
        f"The app in `{pod}` ({address}) listens on 127.0.0.1:3000. Give checkout-api an httpGet readiness "
        "probe on port 3000. What happens to its address?",
        Kind.CHOICE,
        answer,
        why=why[answer],
        options=(Option(stays, why[stays]), Option(leaves, why[leaves])),
        tempting=stays if answer == leaves else leaves,
        title="127.0.0.1 and the readiness probe",
    )
