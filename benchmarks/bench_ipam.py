"""IPAM and the four-rule checks: how long allocation, planning and checking take.

Medians of several repeats; targets are what keeps a notebook cell or a CLI call instant.
"""

from __future__ import annotations

import statistics
import time

from k8snet_lesson.cluster import Cluster, Container, ContainerPort, Node, Pod
from k8snet_lesson.ipam import CIDRSet, HostLocal, ServiceIPRange, allocate_pod_ips, plan
from k8snet_lesson.networking_model import check_all, natted

REPEATS = 7


def median_seconds(work, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fill_node_cidrs() -> None:
    cidrs = CIDRSet("10.244.0.0/16", 24)
    for _ in range(cidrs.max_cidrs):
        cidrs.allocate_next()


def fill_pod_ips() -> None:
    ipam = HostLocal("10.244.1.0/24")
    for _ in range(ipam.capacity):
        ipam.allocate()


def thousand_cluster_ips() -> None:
    services = ServiceIPRange("10.96.0.0/12", seed=1)
    for _ in range(1000):
        services.allocate_next()


def cluster(nodes: int, pods_per_node: int) -> Cluster:
    app = (Container("app", ports=(ContainerPort(8080),)),)
    return allocate_pod_ips(
        Cluster(
            nodes=tuple(Node(f"node-{i}", f"192.168.0.{10 + i}", pod_cidr=f"10.244.{i}.0/24") for i in range(nodes)),
            pods=tuple(
                Pod("default", f"web-{i}-{j}", node_name=f"node-{i}", containers=app)
                for i in range(nodes)
                for j in range(pods_per_node)
            ),
        )
    )


def run() -> list[tuple[str, float, str, str]]:
    thirty = cluster(3, 10)
    natted_thirty, network = natted(thirty)
    return [
        ("ipam: CIDRSet, all 256 /24 node CIDRs of a /16", median_seconds(fill_node_cidrs) * 1e3, "ms", "< 10 ms"),
        ("ipam: HostLocal, all 253 pod IPs of a /24", median_seconds(fill_pod_ips) * 1e3, "ms", "< 10 ms"),
        ("ipam: ServiceIPRange, 1000 dynamic ClusterIPs in a /12", median_seconds(thousand_cluster_ips) * 1e3, "ms", "< 50 ms"),
        (
            "ipam: plan() of the lesson's networks",
            median_seconds(lambda: plan(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12")) * 1e6,
            "us",
            "< 1000 us",
        ),
        ("networking_model: check_all, 30 pods on 3 nodes, flat", median_seconds(lambda: check_all(thirty)) * 1e3, "ms", "< 100 ms"),
        (
            "networking_model: check_all, 30 pods on 3 nodes, NAT'd",
            median_seconds(lambda: check_all(natted_thirty, network)) * 1e3,
            "ms",
            "< 100 ms",
        ),
    ]


if __name__ == "__main__":
    for name, value, unit, target in run():
        print(f"{name:<64} {value:>12.4g} {unit:<10} target {target}")
