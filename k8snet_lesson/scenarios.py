"""The course's clusters: the lesson's, the lesson's two-node flow, and clusters at scale.

* :func:`lesson_cluster` is ``data/lesson-cluster.yaml``: the ``production`` namespace of
  lesson 31 on three nodes (``node-eu-west-1a/1b/1c``), ``checkout-api-svc`` at
  10.96.214.88:80 with the endpoints 10.244.2.14:3000, 10.244.3.7:3000 and 10.244.4.2:3000,
  ``kube-dns`` at 10.96.0.10 and ``kubernetes`` at 10.96.0.1.
* :func:`two_node_flow` is ``data/two-node-flow.yaml``: Pod A (10.244.1.5 on node 1,
  192.168.0.10) calling 10.96.214.88:80, whose one endpoint is Pod B, 10.244.2.8:3000 on
  node 2 (192.168.0.11), over Flannel's VXLAN.
* :func:`scaled_cluster` builds values directly (no YAML) for benchmarks, up to
  Kubernetes' documented limits: 5,000 nodes, 150,000 pods, 10,000 Services.

Both files are read through :mod:`k8snet_lesson.manifests` once per process and cached;
the values are immutable, so every caller shares them safely. data/README.md says which
facts come from the lesson and which were chosen.

    >>> cluster = lesson_cluster()
    >>> str(cluster.service("checkout-api-svc", "production").cluster_ip)
    '10.96.214.88'
    >>> str(two_node_flow().pod("production/payment-api-7d9c4b-h5t9r").pod_ip)
    '10.244.2.8'
"""

from __future__ import annotations

import functools
import math
from ipaddress import IPv4Address, IPv4Network

from .cluster import Cluster, Container, ContainerPort, Labels, Node, Pod, Service, ServicePort
from .errors import InvalidValue
from .resources import data_path

__all__ = ["lesson_cluster", "two_node_flow", "scaled_cluster", "KUBERNETES_LIMITS"]

#: Kubernetes' documented large-cluster limits ("Considerations for large clusters").
KUBERNETES_LIMITS = {"nodes": 5000, "pods": 150_000, "services": 10_000, "pods_per_node": 110}


@functools.cache
def lesson_cluster() -> Cluster:
    """The lesson's cluster, read from ``data/lesson-cluster.yaml``."""
    from .manifests import PACKAGED, load

    return load([data_path(PACKAGED["lesson"])])


@functools.cache
def two_node_flow() -> Cluster:
    """The lesson's two-node request flow, read from ``data/two-node-flow.yaml``."""
    from .manifests import PACKAGED, load

    return load([data_path(PACKAGED["two-node-flow"])])


def scaled_cluster(services: int = 100, endpoints_per_service: int = 10, nodes: int = 10) -> Cluster:
    """A cluster of ``nodes`` nodes and ``services`` Services, each selecting its own
    ``endpoints_per_service`` ready pods, spread round robin over the nodes.

    Service ``svc-00042`` selects ``app=app-00042`` and maps port 80 to 8080. Node ``i`` has
    the ``i``-th /24 of the cluster CIDR (10.244.0.0/16 up to 256 nodes, 10.128.0.0/9
    beyond) and pods take its addresses from ``.2``; ClusterIPs start at 10.96.1.0.

    >>> small = scaled_cluster(services=3, endpoints_per_service=2, nodes=2)
    >>> len(small.nodes), len(small.pods), len(small.services)
    (2, 6, 3)
    >>> [str(p.pod_ip) for p in small.pods[:3]], str(small.services[2].cluster_ip)
    (['10.244.0.2', '10.244.1.2', '10.244.0.3'], '10.96.1.2')
    """
    for name, value in (("services", services), ("endpoints_per_service", endpoints_per_service), ("nodes", nodes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name != "nodes" else 1):
            raise InvalidValue(f"{name} {value!r} must be a {'positive' if name == 'nodes' else 'non-negative'} integer")
    if nodes > 32768:
        raise InvalidValue(f"nodes {nodes} exceeds the 32768 /24 blocks of 10.128.0.0/9")
    total = services * endpoints_per_service
    per_node = math.ceil(total / nodes)
    if per_node > 253:
        raise InvalidValue(f"{total} pods on {nodes} nodes is {per_node} per node; a /24 holds 253 pods")
    cluster_cidr = IPv4Network("10.244.0.0/16") if nodes <= 256 else IPv4Network("10.128.0.0/9")
    base = int(cluster_cidr.network_address)
    node_values = tuple(
        Node(
            name=f"node-{i:05d}",
            internal_ip=IPv4Address(int(IPv4Address("192.168.1.10")) + (i // 200) * 256 + i % 200),
            pod_cidr=IPv4Network((base + i * 256, 24)),
        )
        for i in range(nodes)
    )
    container = (Container("app", ports=(ContainerPort(8080, name="http"),)),)
    pods = []
    for s in range(services):
        labels = Labels({"app": f"app-{s:05d}"})  # one value shared by the service's pods
        for r in range(endpoints_per_service):
            g = s * endpoints_per_service + r
            node = g % nodes
            pods.append(Pod(
                namespace="default",
                name=f"app-{s:05d}-{r:03d}",
                labels=labels,
                node_name=node_values[node].name,
                pod_ip=IPv4Address(base + node * 256 + 2 + g // nodes),
                containers=container,
                uid=f"00000000-0000-4000-8000-{g:012d}",
            ))
    first_cluster_ip = int(IPv4Address("10.96.1.0"))
    service_values = tuple(
        Service(
            namespace="default",
            name=f"svc-{s:05d}",
            selector=pods[s * endpoints_per_service].labels if endpoints_per_service else {"app": f"app-{s:05d}"},
            cluster_ip=IPv4Address(first_cluster_ip + s),
            ports=(ServicePort(80, 8080),),
        )
        for s in range(services)
    )
    return Cluster(nodes=node_values, pods=tuple(pods), services=service_values, cluster_cidr=cluster_cidr)
