"""How fast the kernel lab builds, measures and goes away (skipped where the lab cannot run).

1. Building the lesson's cluster (3 nodes, 7 pods: namespaces, links, VXLAN, kube-proxy's
   rules with iptables-restore, pod servers, dnsmasq) and tearing it down again.
2. The spread: 3,000 new TCP connections from the debug pod to the ClusterIP, and
   10,000 UDP datagrams each from a fresh source port (a new conntrack entry each).
3. One full end-to-end run (``k8snet netlab run``: build, checks, spread, faults, capture,
   teardown).

Each time is the median of 3 runs (1 for the full run).
"""

from __future__ import annotations

import statistics
import time

REPEATS = 3


def _median(function) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run():
    from k8snet_lesson.cluster import ContainerPort, Protocol, ServicePort
    from k8snet_lesson.lab import checks, probe
    from k8snet_lesson.lab.kernel import build
    from k8snet_lesson.lab.run import full_run, scenario

    found = probe()
    if not found.ok:
        print(f"bench_lab: skipped, {found.reason}")
        return []
    lesson = scenario("lesson")
    rows = []
    build_times, teardown_times = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        lab = build(lesson.cluster)
        build_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        lab.teardown()
        teardown_times.append(time.perf_counter() - started)
    rows.append(("lab: build the lesson's cluster (3 nodes, 7 pods)", statistics.median(build_times), "s", "< 2 s"))
    rows.append(("lab: teardown and verify nothing is left", statistics.median(teardown_times), "s", "< 0.5 s"))

    lab = build(lesson.cluster)
    try:
        rows.append(("lab: spread, 3,000 TCP connections to the ClusterIP",
                     _median(lambda: checks.spread(lab, lesson.client, lesson.service, 3000)), "s", "< 2 s"))  # fmt: skip
        service = lab.cluster.service(lesson.service)
        changed = lab.cluster.with_service(service.with_(ports=service.ports + (ServicePort(5353, 5353, "echo", Protocol.UDP),)))
        for pod in lab.cluster.pods:
            if service.selects(pod):
                container = pod.containers[0]
                extra = container.with_(ports=container.ports + (ContainerPort(5353, "echo", Protocol.UDP),))
                changed = changed.with_pod(pod.with_(containers=(extra,) + pod.containers[1:]))
        lab.apply(changed)
        rows.append(("lab: spread, 10,000 UDP datagrams from fresh source ports",
                     _median(lambda: checks.spread(lab, lesson.client, lesson.service, 10_000, port=5353, protocol="UDP")),
                     "s", "< 3 s"))  # fmt: skip
    finally:
        lab.teardown()

    started = time.perf_counter()
    report = full_run(lesson)
    rows.append(("lab: one full run (build, checks, spread, 7 faults, capture, teardown)",
                 time.perf_counter() - started, "s", "< 20 s"))  # fmt: skip
    if not report.ok:
        print("bench_lab: the full run found a disagreement:\n" + report.text())
    return rows


if __name__ == "__main__":
    for name, value, unit, target in run():
        print(f"{name:<72} {value:>8.3f} {unit:<3} target {target}")
