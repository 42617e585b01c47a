"""Cluster DNS in the lab: dnsmasq in the CoreDNS pods, the kubelet's resolv.conf in every pod.

A real cluster runs CoreDNS behind the ``kube-system/kube-dns`` Service and the kubelet
writes each pod's ``/etc/resolv.conf``. The lab runs dnsmasq in each pod the kube-dns
Service selects, bound to that pod's IP, so the ClusterIP reaches it only through
kube-proxy's DNAT, as CoreDNS is reached. What it answers and what each pod's
resolv.conf says come from the DNS model (:mod:`k8snet_lesson.dns`): one record per
Service name, with the addresses :func:`k8snet_lesson.dns.lookup` answers for it, and
:func:`k8snet_lesson.dns.resolv_conf` placed at ``/etc/netns/<netns>/resolv.conf``
(inside the lab's private ``/etc`` overlay), which ``ip netns exec`` binds over
``/etc/resolv.conf``.

What it simplifies: only Service A records and their PTR records are served (dnsmasq
also answers PTR for a headless Service's endpoint addresses, which CoreDNS does only
for endpoints with a hostname); no pod or endpoint-hostname records and no upstream
forwarding: other names are refused, names in the cluster domain that do not exist
are NXDOMAIN.

    >>> from k8snet_lesson.cluster import Cluster, Service, ServicePort
    >>> cluster = Cluster(services=(Service("production", "checkout-api-svc", cluster_ip="10.96.214.88",
    ...                                     ports=(ServicePort(80, 3000),)),))
    >>> print(hosts_file(cluster), end="")
    10.96.214.88 checkout-api-svc.production.svc.cluster.local
"""

from __future__ import annotations

from ipaddress import IPv4Address

from ..cluster import Cluster, Pod

__all__ = ["DNS_DIR", "RESOLV_DIR", "dns_pods", "hosts_file", "resolv_conf_text", "dnsmasq_argv"]

DNS_DIR = "/run/k8snet-lab/dns"  # inside the lab's private /run
RESOLV_DIR = "/run/k8snet-lab/resolv"  # each pod's resolv.conf, as <netns>.conf


def dns_pods(cluster: Cluster) -> tuple[Pod, ...]:
    """The pods the kube-dns Service selects (CoreDNS), whether ready or not."""
    from ..dns import dns_service

    service = dns_service(cluster)
    if service is None:
        return ()
    return tuple(p for p in cluster.pods if service.selects(p))


def hosts_file(cluster: Cluster) -> str:
    """The records dnsmasq serves, in ``/etc/hosts`` form: each Service name and the
    addresses the DNS model answers for it."""
    from ..dns import lookup

    lines = []
    for service in cluster.services:
        name = f"{service.name}.{service.namespace}.svc.{cluster.dns_domain}"
        lines += [f"{address} {name}" for address in lookup(cluster, name).addresses]
    return "".join(line + "\n" for line in lines)


def resolv_conf_text(cluster: Cluster, pod: Pod) -> str:
    """The file the kubelet writes for a ``ClusterFirst`` pod."""
    from ..dns import resolv_conf

    return str(resolv_conf(cluster, pod)) + "\n"


def dnsmasq_argv(pod_ip: IPv4Address, *, hosts_path: str, pid_path: str, domain: str = "cluster.local") -> list[str]:
    """dnsmasq as the lab's CoreDNS: foreground, bound to the pod IP, answering from ``hosts_path``.

    ``--local=/<domain>/`` makes it answer NXDOMAIN for unknown cluster names instead of
    forwarding; with ``--no-resolv`` and no servers, other names are refused.
    """
    return [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        f"--addn-hosts={hosts_path}",
        f"--listen-address={pod_ip}",
        "--bind-interfaces",
        "--port=53",
        f"--local=/{domain}/",
        "--user=root",  # stay root (of the lab's user namespace, when rootless): no setuid
        "--group=",  # and no setgid: a user namespace without setgroups refuses both
        f"--pid-file={pid_path}",
        "--log-facility=-",
    ]
