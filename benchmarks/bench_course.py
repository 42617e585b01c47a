"""Whole-path benchmarks: import time, a cluster at Kubernetes' limits, widget callbacks.

- ``import k8snet_lesson`` in a fresh interpreter (target < 0.3 s);
- Kubernetes' documented limits (5,000 nodes, 150,000 pods, 10,000 services): build
  the cluster values, compute EndpointSlices and generate one node's rules (target
  < 5 s and < 1.5 GB peak resident memory, measured in a child process);
- the course's widget callbacks, recompute and redraw (target < 50 ms median).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

LIMITS = r"""
import resource, sys, time
start = time.perf_counter()
from k8snet_lesson import endpoints, kube_proxy, scenarios
cluster = scenarios.scaled_cluster(services=10_000, endpoints_per_service=15, nodes=5_000)
built = time.perf_counter()
slices = endpoints.slices_for(cluster)
sliced = time.perf_counter()
rules = kube_proxy.generate(cluster.services, slices, node_name=cluster.nodes[0].name,
                            node_ip=cluster.nodes[0].internal_ip, cluster_cidr=cluster.cluster_cidr)
done = time.perf_counter()
count = sum(len(t.rules) for t in rules.tables)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(built - start, sliced - built, done - sliced, done - start, peak, len(cluster.pods), count)
"""


def _median(samples):
    return statistics.median(samples)


IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def _import_time(module: str, repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", IMPORT.format(module=module)], check=True,
                             capture_output=True, text=True).stdout
        samples.append(float(out))
    return _median(samples)


def _limits(repeats: int = 3):
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", LIMITS], check=True, capture_output=True, text=True).stdout
        runs.append([float(x) for x in out.split()])
    runs.sort(key=lambda r: r[3])
    return runs[len(runs) // 2]


def _callback_ms(action, values, repeats: int = 3) -> float:
    samples = []
    for _ in range(repeats):
        for value in values:
            start = time.perf_counter()
            action(value)
            samples.append(time.perf_counter() - start)
    return _median(samples) * 1000


def run():
    rows = [
        ("import k8snet_lesson (fresh interpreter)", _import_time("k8snet_lesson"), "s", "< 0.3 s"),
        ("import the core: cluster, kube_proxy, iptables, explain, trace, simulate",
         _import_time("k8snet_lesson.cluster, k8snet_lesson.kube_proxy, k8snet_lesson.iptables, "
                      "k8snet_lesson.explain, k8snet_lesson.trace, k8snet_lesson.simulate"), "s", "< 0.3 s"),
    ]
    build, slices, generate, total, peak, pods, rule_count = _limits()
    rows += [
        (f"limits: build {pods:,.0f} pods on 5,000 nodes, 10,000 services", build, "s", "-"),
        ("limits: EndpointSlices for every service", slices, "s", "-"),
        (f"limits: one node's rules ({rule_count:,.0f} rules)", generate, "s", "-"),
        ("limits: build + slices + rules, total", total, "s", "< 5 s"),
        ("limits: peak resident memory", peak / 2**30, "GiB", "< 1.5 GB"),
    ]
    from k8snet_lesson import scenarios
    from k8snet_lesson.view import widgets

    spread = widgets.spread_explorer(endpoints=3, connections=1000, seed=7)
    rows.append(("widget: load distribution, endpoints slider (1,000 connections)",
                 _callback_ms(lambda v: setattr(spread.endpoints, "value", v), [2, 3, 4, 5, 6, 7, 8, 9, 10, 1]), "ms", "< 50 ms"))
    spread.connections.value = 1_000_000
    rows.append(("widget: load distribution, endpoints slider (1,000,000 connections)",
                 _callback_ms(lambda v: setattr(spread.endpoints, "value", v), [2, 3, 4, 5, 6, 7, 8, 9, 10, 1]), "ms", "< 50 ms"))
    cluster = scenarios.lesson_cluster()
    readiness = widgets.readiness_explorer(cluster, cluster.service("checkout-api-svc", "production"),
                                           node_name="node-eu-west-1a")
    box = next(iter(readiness.checkboxes.values()))
    rows.append(("widget: readiness flip (endpoints, YAML, rules)",
                 _callback_ms(lambda v: setattr(box, "value", v), [False, True] * 5), "ms", "< 50 ms"))
    for name, factory, action in _view_widgets():
        try:
            widget = factory()
        except Exception as exc:  # a widget module of this build may be missing
            rows.append((f"widget: {name} (not measured: {type(exc).__name__})", float("nan"), "ms", "< 50 ms"))
            continue
        rows.append((f"widget: {name}", _callback_ms(lambda v: action(widget, v), list(range(10))), "ms", "< 50 ms"))
    return rows


def _view_widgets():
    """Widgets of the other notebooks, driven through their controls as a learner would."""
    from k8snet_lesson import netshoot, scenarios

    def sizing():
        from k8snet_lesson.view import layers

        return layers.sizing_explorer()

    def sizing_step(widget, i):
        widget.mask.value = str(20 + i % 6) if isinstance(widget.mask.value, str) else 20 + i % 6

    def walk():
        from k8snet_lesson.view import paths

        flow = scenarios.two_node_flow()
        source = next(p for p in flow.pods if str(p.pod_ip) == "10.244.1.5")
        return paths.walk_stepper(flow, source.key, "10.96.214.88", 80, cni_name="flannel", seed=0)

    def walk_step(widget, i):
        (widget.next if i % 2 == 0 else widget.prev).click()

    def ladder():
        from k8snet_lesson.view import debugging

        cluster, client = netshoot.debug_pod(scenarios.lesson_cluster(), "production")
        return debugging.mystery_exercise(cluster, client=client.key, service="production/checkout-api-svc", seed=2)

    def ladder_step(widget, i):
        options = [o[1] if isinstance(o, tuple) else o for o in widget.diagnosis.options]
        widget.diagnosis.value = (options[i % len(options)],)
        widget.button.click()

    return [("cluster sizing (02)", sizing, sizing_step), ("packet walk, next/previous hop (04)", walk, walk_step),
            ("mystery fault, submit a diagnosis (06)", ladder, ladder_step)]
