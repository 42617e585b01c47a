"""Parsing and explaining a node-sized dump: 10,000 Services x 10 endpoints, both text forms.

The synthetic dump has kube-proxy's shape (one cluster IP rule per Service, a KUBE-SVC
chain of a masquerade rule and ten balancing rules, two rules per KUBE-SEP chain):
320,000 rules and 110,000 chain declarations. Medians of 3 runs, wall-clock seconds.
"""

from __future__ import annotations

import base64
import hashlib
import statistics
import time

SERVICES = 10_000
ENDPOINTS = 10
REPEATS = 3


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def synthetic_restore(services: int = SERVICES, endpoints: int = ENDPOINTS) -> str:
    """kube-proxy's iptables-restore input for ``services`` ClusterIP Services."""
    chains = [":KUBE-NODEPORTS - [0:0]", ":KUBE-SERVICES - [0:0]", ":KUBE-MARK-MASQ - [0:0]", ":KUBE-POSTROUTING - [0:0]"]
    service_rules, sep_rules, svc_rules = [], [], []
    for s in range(services):
        name = f"ns{s % 100}/svc{s}:http"
        cluster_ip = f"172.{16 + s // 65536}.{(s // 256) % 256}.{s % 256}"
        svc = "KUBE-SVC-" + _hash(name + "tcp")
        chains.append(f":{svc} - [0:0]")
        service_rules.append(f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" -m tcp -p tcp '
                             f"-d {cluster_ip} --dport 80 -j {svc}")
        svc_rules.append(f'-A {svc} -m comment --comment "{name} cluster IP" -m tcp -p tcp -d {cluster_ip} '
                         "--dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ")
        for e in range(endpoints):
            n = s * endpoints + e
            ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
            sep = "KUBE-SEP-" + _hash(f"{name}tcp{ip}:8080")
            chains.append(f":{sep} - [0:0]")
            probability = f" -m statistic --mode random --probability {1 / (endpoints - e):.10f}" if e < endpoints - 1 else ""
            svc_rules.append(f'-A {svc} -m comment --comment "{name} -> {ip}:8080"{probability} -j {sep}')
            sep_rules.append(f"-A {sep} -m comment --comment {name} -s {ip} -j KUBE-MARK-MASQ")
            sep_rules.append(f"-A {sep} -m comment --comment {name} -m tcp -p tcp -j DNAT --to-destination {ip}:8080")
    service_rules.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the '
                         'last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    tail = ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
            "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
            '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE']
    lines = ["*filter", ":KUBE-SERVICES - [0:0]", "COMMIT", "*nat", *chains, *service_rules, *tail, *sep_rules,
             *svc_rules, "COMMIT"]
    return "\n".join(lines) + "\n"


def _medians(function, repeats: int = REPEATS) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``function()`` (CPU time shows the
    cost on a machine shared with other work, where wall-clock time also counts waiting)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def run() -> list[tuple[str, float, str, str]]:
    from k8snet_lesson.explain import explain
    from k8snet_lesson.iptables import parse, to_save

    restore = synthetic_restore()
    rules = parse(restore)
    save = to_save(rules)
    assert len(explain(rules)) == SERVICES
    parse_wall, parse_cpu = _medians(lambda: parse(restore))
    explain_wall, explain_cpu = _medians(lambda: explain(rules))
    both_wall, both_cpu = _medians(lambda: explain(parse(restore)))
    save_wall, save_cpu = _medians(lambda: explain(parse(save)))
    return [
        ("parse restore form, 10k services x 10 endpoints (320k rules)", parse_wall, "s", "< 1 s (with explain)"),
        ("  the same, CPU time", parse_cpu, "s CPU", ""),
        ("explain those rules", explain_wall, "s", "< 1 s (with parse)"),
        ("  the same, CPU time", explain_cpu, "s CPU", ""),
        ("parse + explain, restore form", both_wall, "s", "< 1 s"),
        ("  the same, CPU time", both_cpu, "s CPU", "< 1 s"),
        ("parse + explain, iptables-save form", save_wall, "s", "< 1 s"),
        ("  the same, CPU time", save_cpu, "s CPU", "< 1 s"),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
