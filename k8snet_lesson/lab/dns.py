"""Cluster DNS in the lab: dnsmasq in the kube-dns pods, resolv.conf in every pod.

A real cluster runs CoreDNS behind the ``kube-dns`` Service (the tenth address of the
service range, 10.96.0.10 for 10.96.0.0/12) and the kubelet writes each pod's
``/etc/resolv.conf`` (``ClusterFirst``): the DNS Service as nameserver, the search list
``<namespace>.svc.<domain> svc.<domain> <domain>`` and ``options ndots:5``. The lab
runs dnsmasq in each pod the kube-dns Service selects, bound to that pod's IP and fed a
hosts file of the cluster's Service records, so the ClusterIP reaches it only through
kube-proxy's DNAT, as CoreDNS is reached. Each pod's resolv.conf is placed at
``/etc/netns/<netns>/resolv.conf`` (inside the lab's private ``/etc`` overlay), which
``ip netns exec`` binds over ``/etc/resolv.conf``.

What it simplifies: only Service A records (``<service>.<namespace>.svc.<domain>`` to
the ClusterIP; headless Services to their ready endpoints' addresses) and their PTR
records; no pod records, SRV records or upstream forwarding (other names are refused).

    >>> from k8snet_lesson.cluster import Cluster, Service, ServicePort
    >>> cluster = Cluster(services=(Service("production", "checkout-api-svc", cluster_ip="10.96.214.88",
    ...                                     ports=(ServicePort(80, 3000),)),))
    >>> print(hosts_file(cluster), end="")
    10.96.214.88 checkout-api-svc.production.svc.cluster.local
    >>> print(resolv_conf("production", cluster), end="")
    search production.svc.cluster.local svc.cluster.local cluster.local
    nameserver 10.96.0.10
    options ndots:5
"""

from __future__ import annotations

from ipaddress import IPv4Address

from ..cluster import Cluster, Pod, Service

__all__ = ["DNS_DIR", "dns_service_ip", "dns_service", "dns_pods", "hosts_file", "resolv_conf", "dnsmasq_argv"]

DNS_DIR = "/run/k8snet-lab/dns"  # inside the lab's private /run


def dns_service_ip(cluster: Cluster) -> IPv4Address:
    """The cluster DNS address: the tenth address of the service range (kubeadm's choice)."""
    return cluster.service_cidr.network_address + 10


def dns_service(cluster: Cluster) -> Service | None:
    """The Service holding the DNS address (``kube-system/kube-dns`` in kubeadm clusters)."""
    return cluster.service_by_ip(dns_service_ip(cluster))


def dns_pods(cluster: Cluster) -> tuple[Pod, ...]:
    """The pods the DNS Service selects (CoreDNS), whether ready or not."""
    service = dns_service(cluster)
    if service is None:
        return ()
    return tuple(p for p in cluster.pods if service.selects(p))


def hosts_file(cluster: Cluster) -> str:
    """The records dnsmasq serves, in ``/etc/hosts`` form: Services by their DNS names."""
    from ..endpoints import slices_for

    lines = []
    slices = None
    for service in cluster.services:
        name = f"{service.name}.{service.namespace}.svc.{cluster.dns_domain}"
        if service.cluster_ip is not None:
            lines.append(f"{service.cluster_ip} {name}")
            continue
        if slices is None:
            slices = slices_for(cluster)
        addresses = sorted(
            {
                endpoint.address
                for s in slices
                if s.service_key == service.key
                for endpoint in s.endpoints
                if endpoint.conditions.ready is not False
            }
        )
        lines += [f"{address} {name}" for address in addresses]
    return "".join(line + "\n" for line in lines)


def resolv_conf(namespace: str, cluster: Cluster) -> str:
    """The resolv.conf the kubelet writes for a ``ClusterFirst`` pod in ``namespace``."""
    domain = cluster.dns_domain
    return (
        f"search {namespace}.svc.{domain} svc.{domain} {domain}\n"
        f"nameserver {dns_service_ip(cluster)}\n"
        "options ndots:5\n"
    )


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
        "--user=root",
        f"--pid-file={pid_path}",
        "--log-facility=-",
    ]
