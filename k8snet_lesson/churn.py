"""Pod churn: what happens to the pods behind a Service, and to their IPs, as a ReplicaSet
replaces them.

* a **container restart** (a crash, a failed liveness probe) restarts the container in
  the same pod sandbox: same pod, same IP, ``RESTARTS`` plus one;
* a **deleted pod** (eviction, a node drain, ``kubectl delete pod``) is replaced by its
  ReplicaSet with a new pod named ``<replicaset>-<5 random characters>`` that asks the
  node's IPAM for an address again; the IPAM hands out the next free address after the
  last one it gave (host-local's round robin), so the replacement gets a new IP;
* a **rolling update** creates a new ReplicaSet (a new ``pod-template-hash``) whose pods
  replace the old ones: new names, new IPs.

The Service's ClusterIP and DNS name stay through all of it; only its endpoints follow
the pods.

What it simplifies: a replacement pod is scheduled to the node its predecessor ran on
(a real scheduler may pick another node); the replacement is created after the old pod
has released its address (with ``maxSurge`` the new pod starts first); the IPAM's
round-robin cursor starts one past the highest address in use on each node, as if the
pods had been created in address order (Calico's own IPAM orders addresses its own
way; no IPAM promises a new pod its predecessor's IP). Random names come from Python's
:class:`random.Random` with the caller's seed, from the alphabet Kubernetes uses
(``k8s.io/apimachinery/pkg/util/rand``), not the characters Go would draw.

    >>> from k8snet_lesson.scenarios import lesson_cluster
    >>> history = churn(lesson_cluster(), "production/checkout-api-svc", ["pod deleted"], seed=31)
    >>> first = history.replacements[0]
    >>> str(first.old_ip), str(first.new_ip), first.ip_changed
    ('10.244.2.14', '10.244.2.16', True)
    >>> str(history.clusters[-1].service("production/checkout-api-svc").cluster_ip)
    '10.96.214.88'
"""

from __future__ import annotations

import dataclasses
import enum
import random
from collections.abc import Iterable
from datetime import timedelta
from ipaddress import IPv4Address

from .cluster import Cluster, Pod, Service
from .errors import InvalidValue, NotFound
from .ipam import HostLocal

__all__ = ["ChurnEvent", "Replacement", "Churn", "churn", "replacement_of"]


def _in_pod_network(pod: Pod) -> bool:
    return pod.node_name is not None and not pod.host_network and pod.pod_ip is not None


# k8s.io/apimachinery/pkg/util/rand: no vowels and no 0/1/3 (no words, no look-alikes).
_RAND_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# generateName suffixes are rand.String(5).
_SUFFIX_LENGTH = 5


class ChurnEvent(str, enum.Enum):
    """What happens to the pods behind a Service."""

    CONTAINER_RESTART = "container restart"
    POD_DELETED = "pod deleted"
    ROLLING_UPDATE = "rolling update"


@dataclasses.dataclass(frozen=True)
class Replacement:
    """One pod's fate in one step: ``new_pod`` is ``old_pod`` after a container restart."""

    step: int
    event: ChurnEvent
    node: str
    old_pod: str
    old_ip: IPv4Address
    new_pod: str
    new_ip: IPv4Address

    @property
    def ip_changed(self) -> bool:
        return self.old_ip != self.new_ip


@dataclasses.dataclass(frozen=True)
class Churn:
    """A Service's pods through a sequence of events: the cluster before the first step
    and after each one, and each pod's replacement."""

    service: str
    events: tuple[ChurnEvent, ...]
    clusters: tuple[Cluster, ...]
    replacements: tuple[Replacement, ...]


def _random_string(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_RAND_ALPHABET) for _ in range(length))


def _replicaset_of(pod: Pod) -> tuple[str, str]:
    """(deployment, pod-template-hash) from a Deployment pod's name ``<deploy>-<hash>-<suffix>``."""
    parts = pod.name.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        raise InvalidValue(
            f"pod {pod.key} is not named like a Deployment's pod (<deployment>-<pod-template-hash>-<suffix>)"
        )
    return parts[0], parts[1]


def churn(cluster: Cluster, service: Service | str, events: Iterable[ChurnEvent | str], *, seed: int = 0) -> Churn:
    """Apply ``events`` in turn to every pod ``service`` selects, as its ReplicaSet would.

    A container restart keeps the pod and its IP; a deleted pod and a rolling update
    release the pod's IP to its node's host-local and give the replacement (same node,
    new name) the next address round robin. ``seed`` makes the new names reproducible.
    """
    service = service if isinstance(service, Service) else cluster.service(service)
    steps = tuple(ChurnEvent(e) for e in events)
    rng = random.Random(seed)
    ranges: dict[str, HostLocal] = {}
    for node in cluster.nodes:
        if node.pod_cidr is None or node.pod_cidr.prefixlen > 30:
            continue
        ipam = ranges[node.name] = HostLocal(node.pod_cidr)
        held = sorted((p.pod_ip, p.key) for p in cluster.pods_on(node.name) if _in_pod_network(p) and p.pod_ip in node.pod_cidr)
        for address, key in held:
            ipam.reserve(address, key)
    names = {pod.key for pod in cluster.pods}
    clusters = [cluster]
    replacements: list[Replacement] = []
    selected = [pod.key for pod in cluster.pods if service.selects(pod) and _in_pod_network(pod)]
    if not selected:
        raise InvalidValue(f"service {service.key} selects no pod with an IP: there is nothing to replace")
    for step, event in enumerate(steps, start=1):
        current = clusters[-1]
        new_hash: dict[str, str] = {}
        next_keys = []
        for key in selected:
            pod = current.pod(key)
            if event is ChurnEvent.CONTAINER_RESTART:
                current = current.with_pod(pod.with_(restarts=pod.restarts + 1))
                replacements.append(Replacement(step, event, pod.node_name, pod.key, pod.pod_ip, pod.key, pod.pod_ip))
                next_keys.append(key)
                continue
            deployment, template_hash = _replicaset_of(pod)
            if event is ChurnEvent.ROLLING_UPDATE:
                if deployment not in new_hash:
                    new_hash[deployment] = _random_string(rng, len(template_hash))
                template_hash = new_hash[deployment]
            name = f"{deployment}-{template_hash}-{_random_string(rng, _SUFFIX_LENGTH)}"
            while f"{pod.namespace}/{name}" in names:
                name = f"{deployment}-{template_hash}-{_random_string(rng, _SUFFIX_LENGTH)}"
            names.add(f"{pod.namespace}/{name}")
            if pod.node_name not in ranges:
                raise InvalidValue(f"node {pod.node_name} has no podCIDR host-local can allocate from")
            ipam = ranges[pod.node_name]
            ipam.release(pod.pod_ip)
            new_key = f"{pod.namespace}/{name}"
            address = ipam.allocate(new_key)
            labels = dict(pod.labels)
            if "pod-template-hash" in labels:
                labels["pod-template-hash"] = template_hash
            replacement = pod.with_(name=name, pod_ip=address, restarts=0, age=timedelta(0), uid="", labels=labels)
            current = current.without_pod(pod.name, pod.namespace).with_pod(replacement)
            replacements.append(Replacement(step, event, pod.node_name, pod.key, pod.pod_ip, new_key, address))
            next_keys.append(new_key)
        selected = next_keys
        clusters.append(current)
    return Churn(service.key, steps, tuple(clusters), tuple(replacements))


def replacement_of(history: Churn, pod: str, step: int = 1) -> Replacement:
    """What became of ``pod`` (``namespace/name``) at ``step`` of ``history``."""
    for r in history.replacements:
        if r.step == step and r.old_pod == pod:
            return r
    raise NotFound(f"pod {pod} is not among the pods replaced at step {step} of {history.service}'s churn")
