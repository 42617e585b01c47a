"""How fast kube-proxy's rules are generated, at the size of a big cluster and at Kubernetes' limits.

1. 10,000 ClusterIP Services with 10 ready endpoints each (about 320,000 rules): the
   target is under a second, which is what one kube-proxy sync of such a node costs in Go.
2. A cluster at Kubernetes' documented limits (the SIG Scalability thresholds: 5,000
   nodes, 150,000 pods, 10,000 Services): 150,000 pods spread over 10,000 Services,
   15 endpoints each, generated for one node; reported as seconds, rules per second
   and the peak memory the generation allocates (tracemalloc, on a separate run).

Services and EndpointSlices are built directly as values beforehand, so only the
generator is timed. Each time is the median of 3 runs.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from ipaddress import IPv4Address

from k8snet_lesson.cluster import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort
from k8snet_lesson.kube_proxy import generate

REPEATS = 3
SERVICE_BASE = int(IPv4Address("10.96.0.0"))
POD_BASE = int(IPv4Address("10.0.0.0"))  # a /8 of pod IPs: 150,000 pods fit many times over
NODES = 5000


def cluster_values(services: int, endpoints_per_service: int):
    """``services`` ClusterIP Services in 100 namespaces, each with one slice of ready endpoints."""
    out_services, out_slices = [], []
    pod = 0
    for i in range(services):
        namespace, name = f"team-{i % 100:02d}", f"svc-{i:05d}"
        out_services.append(Service(namespace, name, cluster_ip=IPv4Address(SERVICE_BASE + 10 + i),
                                    ports=(ServicePort(80, 8080, name="http"),)))
        endpoints = []
        for _ in range(endpoints_per_service):
            endpoints.append(Endpoint((IPv4Address(POD_BASE + 256 + pod),), node_name=f"node-{pod % NODES:04d}"))
            pod += 1
        out_slices.append(EndpointSlice(namespace, f"{name}-7x2kq", name, tuple(endpoints),
                                        (EndpointPort(8080, "http"),)))
    return out_services, out_slices


def _timed(services, slices) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(REPEATS):
        gc.collect()
        start = time.perf_counter()
        ruleset = generate(services, slices, node_name="node-0001", node_ip="10.250.0.1", cluster_cidr="10.0.0.0/8")
        times.append(time.perf_counter() - start)
        count = sum(len(t.rules) for t in ruleset.tables)
        del ruleset
    return statistics.median(times), count


def _peak_bytes(services, slices) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        ruleset = generate(services, slices, node_name="node-0001", node_ip="10.250.0.1", cluster_cidr="10.0.0.0/8")
        _, peak = tracemalloc.get_traced_memory()
        del ruleset
    finally:
        tracemalloc.stop()
    return peak


def run() -> list[tuple[str, float, str, str]]:
    rows = []
    services, slices = cluster_values(10_000, 10)
    seconds, count = _timed(services, slices)
    rows.append(("generate 10,000 ClusterIP services x 10 endpoints", seconds, "s", "< 1 s"))
    rows.append(("  rules written", count, "rules", "about 320,000"))
    rows.append(("  rules per second", count / seconds, "rules/s", "> 320,000"))
    del services, slices

    services, slices = cluster_values(10_000, 15)
    seconds, count = _timed(services, slices)
    rows.append(("generate at the limits: 10,000 services over 150,000 pods", seconds, "s", "< 1.5 s"))
    rows.append(("  rules written", count, "rules", "about 470,000"))
    rows.append(("  rules per second", count / seconds, "rules/s", "> 320,000"))
    rows.append(("  peak memory allocated by one generation", _peak_bytes(services, slices) / 2**20, "MiB",
                 "< 1 GiB"))
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run():
        print(f"{row[0]:<64} {row[1]:>12.4g} {row[2]:<8} target {row[3]}")
