"""What both proxy modes' lab tests check of a kube-proxy-stale climb: the kernel's diff names
the climbed Service port as missing, with exactly the endpoints the API lists for it."""

from __future__ import annotations

from k8snet_lesson.endpoints import endpoints_for
from k8snet_lesson.lab.ladder import FaultCheck, check_fault


def stale_port_named(lab, client: str, service_key: str, mode: str) -> FaultCheck:
    """Break ``lab`` with kube-proxy-stale, climb, and check the drift both climbs name."""
    checked = check_fault(lab, "kube-proxy-stale", client=client, service=service_key)
    drifted = checked.kernel.finding.drift
    assert (drifted.mode, drifted.node) == (mode, lab.node_of(client))
    service = lab.cluster.service(service_key)
    port = next(p for p in drifted.ports if (p.cluster_ip, p.port) == (str(service.cluster_ip), service.ports[0].port))
    ready = sorted(f"{a.ip}:{p.port}" for s in endpoints_for(lab.cluster, service).subsets
                   for a in s.addresses for p in s.ports)
    assert port.kind == "missing" and sorted(port.missing_endpoints) == ready
    assert drifted == checked.model.finding.drift  # the kernel's rules drifted as the model's did
    return checked
