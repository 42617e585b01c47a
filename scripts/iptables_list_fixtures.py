"""Record what the real ``iptables -L -n`` prints for kube-proxy's rules (Linux, root).

For each rule set the model generates (the lesson's cluster on node-eu-west-1a, and a
set of Services that exercises every extension kube-proxy uses), this script loads the
rules with ``iptables-restore`` into a private network namespace it creates for the
purpose, lists each table with ``iptables -t TABLE -L -n`` under both backends
(``iptables-legacy`` and ``iptables-nft``), and writes the outputs under
``tests/data/iptables-list/``:

- ``NAME.rules``: the iptables-restore input (the model's rules);
- ``NAME.BACKEND.TABLE.txt``: what ``iptables -t TABLE -L -n`` printed;
- ``VERSION``: the iptables version that printed them.

tests/test_iptables_list.py compares the model's rendering with these files byte for
byte. The namespace is deleted on the way out; the root namespace's firewall is never
touched (every iptables command runs under ``ip netns exec``).

    sudo .venv/bin/python scripts/iptables_list_fixtures.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "tests" / "data" / "iptables-list"
BACKENDS = ("legacy", "nft")


def rule_sets() -> dict[str, str]:
    """The iptables-restore inputs to record, by name."""
    from datetime import timedelta

    from k8snet_lesson import iptables, kube_proxy, scenarios
    from k8snet_lesson.cluster import Service, ServicePort

    cluster = scenarios.lesson_cluster()
    lesson = kube_proxy.rules_for(cluster, "node-eu-west-1a", include_builtin=True)
    # Every pod of checkout-api-svc unready: the filter table's REJECT for a Service
    # without endpoints.
    unready = cluster
    for pod in cluster.pods:
        if cluster.service("checkout-api-svc", "production").selects(pod):
            unready = unready.with_pod(pod.with_ready(False))
    no_endpoints = kube_proxy.rules_for(unready, "node-eu-west-1a", include_builtin=True)
    # NodePort with externalTrafficPolicy: Local, LoadBalancer with source ranges and
    # ClientIP affinity, an externalIP: KUBE-EXT, KUBE-FW, recent, addrtype, --random-fully.
    selector = {"app": "checkout-api"}
    extra = (
        Service("production", "checkout-nodeport", (ServicePort(80, 3000, node_port=30080),), selector,
                "10.96.14.20", type="NodePort", external_traffic_policy="Local", health_check_node_port=31234,
                age=timedelta(days=8)),
        Service("production", "checkout-lb", (ServicePort(443, 3000, name="https", node_port=30443),), selector,
                "10.96.14.21", type="LoadBalancer", session_affinity="ClientIP",
                load_balancer_ips=("203.0.113.10",), load_balancer_source_ranges=("198.51.100.0/24",),
                external_ips=("192.0.2.50",)),
        Service("production", "checkout-udp", (ServicePort(5353, 5353, name="mdns", protocol="UDP"),), selector,
                "10.96.14.22"),
    )
    features_cluster = cluster
    for service in extra:
        features_cluster = features_cluster.with_service(service)
    features = kube_proxy.rules_for(features_cluster, "node-eu-west-1a", include_builtin=True, random_fully=True)
    return {"lesson": iptables.to_restore(lesson), "no-endpoints": iptables.to_restore(no_endpoints),
            "features": iptables.to_restore(features)}


def run(namespace: str, *command: str, stdin: str | None = None) -> str:
    done = subprocess.run(["ip", "netns", "exec", namespace, *command], input=stdin, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in namespace {namespace}: {done.stderr.strip()}")
    return done.stdout


def record(name: str, rules: str) -> None:
    namespace = f"k8snet-list-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        (OUT / f"{name}.rules").write_text(rules)
        tables = [line[1:] for line in rules.splitlines() if line.startswith("*")]
        for backend in BACKENDS:
            run(namespace, f"iptables-{backend}-restore", stdin=rules)
            for table in tables:
                listing = run(namespace, f"iptables-{backend}", "-t", table, "-L", "-n")
                (OUT / f"{name}.{backend}.{table}.txt").write_text(listing)
            for table in tables:  # leave the namespace empty for the other backend
                run(namespace, f"iptables-{backend}", "-t", table, "-F")
                run(namespace, f"iptables-{backend}", "-t", table, "-X")
        version = subprocess.run(["iptables-legacy", "--version"], capture_output=True, text=True, check=True)
        (OUT / "VERSION").write_text(version.stdout.split()[1] + "\n")
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def main() -> int:
    if os.geteuid() != 0:
        print("run as root: it creates a network namespace", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rules in rule_sets().items():
        record(name, rules)
        print(f"recorded {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
