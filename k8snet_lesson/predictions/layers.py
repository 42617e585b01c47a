"""Notebook 02's gates: the next pod IP, the ClusterIP through a rollout, and what a set of
CIDRs holds. Every answer is computed by :mod:`k8snet_lesson.churn` and
:func:`k8snet_lesson.ipam.plan` from the cluster the notebook shows.

    >>> from k8snet_lesson import predictions
    >>> from k8snet_lesson.scenarios import lesson_cluster
    >>> predictions.build("02-next-pod-ip", lesson_cluster()).answer
    '10.244.2.16'
"""

from __future__ import annotations

from ..churn import ChurnEvent, churn, replacement_of
from ..cluster import Cluster
from ..ipam import plan
from . import Kind, Option, Prediction, gate

__all__ = ["next_pod_ip", "cluster_ip_stays", "pods_per_node", "nodes_that_fit", "POD", "SERVICE", "SEED"]

POD = "production/checkout-api-6f8b9d-2xkpj"
SERVICE = "production/checkout-api-svc"
SEED = 31  # the replacement pods' random names; the addresses do not depend on it


@gate("02-next-pod-ip")
def next_pod_ip(cluster: Cluster, pod: str = POD, service: str = SERVICE) -> Prediction:
    """The address the replacement of a deleted pod gets on the same node."""
    old = cluster.pod(pod)
    history = churn(cluster, service, [ChurnEvent.POD_DELETED], seed=SEED)
    new = replacement_of(history, old.key).new_ip
    node = cluster.node(old.node_name)
    held = sorted(p.pod_ip for p in cluster.pods_on(node.name) if p.pod_ip is not None and p.pod_ip in node.pod_cidr)
    last = held[-1]
    why = (f"The IPAM of {node.name} hands out the next free address after the last one it gave ({last}), "
           f"so the replacement gets {new}; {old.pod_ip} comes back only after the range wraps round")
    lowest = next(a for a in node.pod_cidr.hosts() if int(a) - int(node.pod_cidr.network_address) > 1 and a not in held)
    wrong = (Option(str(old.pod_ip), f"{old.pod_ip} is free again, but the IPAM does not hand a freed address "
                                     "straight back: a new pod is a new pod, with a new address"),
             Option(str(lowest), f"{lowest} is the lowest free address, but the IPAM goes on from where it "
                                 "stopped rather than from the bottom"))
    return Prediction(
        "02-next-pod-ip",
        f"`{old.name}` ({old.pod_ip} on {node.name}, podCIDR {node.pod_cidr}) is deleted. Its ReplicaSet "
        f"starts a replacement on the same node. Which IP does the replacement get?",
        Kind.ADDRESS, str(new), why, wrong=wrong,
        otherwise=f"The IPAM goes on after the last address it handed out on {node.name}, {last}",
        title="the replacement pod's IP")


@gate("02-clusterip-stays")
def cluster_ip_stays(cluster: Cluster, service: str = SERVICE) -> Prediction:
    """What a rolling update does to the Service's ClusterIP."""
    before = cluster.service(service)
    history = churn(cluster, service, [ChurnEvent.POD_DELETED, ChurnEvent.ROLLING_UPDATE], seed=SEED)
    after = history.clusters[-1].service(service)
    new_pod_ips = {r.new_ip for r in history.replacements if r.step == len(history.events)}
    stays, new, pod_ip = f"still {before.cluster_ip}", "a new address from the service network", "one of the new pod IPs"
    if after.cluster_ip == before.cluster_ip:
        answer = stays
    elif after.cluster_ip in new_pod_ips:
        answer = pod_ip
    else:
        answer = new
    why = (f"When {before.name} was created, kube-apiserver gave it its ClusterIP, once; pods come and go "
           "behind it, and only the Service's list of endpoints follows them")
    texts = {
        new: "A ClusterIP changes only if the Service itself is deleted and created again; a rollout touches "
             "the pods, not the Service",
        stays: why,
        pod_ip: "A ClusterIP comes from the service network, which no pod address is ever in",
    }
    options = tuple(Option(text, why if text == answer else explanation) for text, explanation in texts.items())
    return Prediction(
        "02-clusterip-stays",
        f"Then a rolling update replaces all three `checkout-api` pods: new names, new IPs. What is "
        f"`{before.name}`'s ClusterIP afterwards?",
        Kind.CHOICE, answer, why, options=options, tempting=new, title="the ClusterIP after a rollout")


@gate("02-pods-per-node")
def pods_per_node(cluster: Cluster, mask: int = 26, max_pods: int = 110) -> Prediction:
    """How many pods one node runs with small node CIDRs: addresses run out before max-pods."""
    p = plan(cluster_cidr=cluster.cluster_cidr, node_cidr_mask_size=mask, service_cidr=cluster.service_cidr,
             max_pods=max_pods)
    size = 2 ** (32 - mask)
    why = (f"A /{mask} holds {size} addresses; the network address, the gateway (.1) and the broadcast "
           f"address are never given to a pod, which leaves {p.pod_addresses_per_node}, fewer than max-pods "
           f"{max_pods}")
    return Prediction(
        "02-pods-per-node",
        f"Cut `{cluster.cluster_cidr}` into /{mask} node CIDRs instead of /{cluster.node_cidr_mask_size}, with "
        f"kubelet's default `--max-pods={max_pods}`. How many pods can one node run?",
        Kind.NUMBER, str(p.pods_per_node), why,
        wrong=(Option(str(size), f"A /{mask} has {size} addresses, but three of them never go to a pod"),
               Option(str(max_pods), "The --max-pods flag is only a cap: the node runs out of addresses first")),
        otherwise=f"Count the addresses of a /{mask}, less the three no pod gets, capped by max-pods",
        title="pods per node with /26 node CIDRs")


@gate("02-overlap-nodes")
def nodes_that_fit(cluster: Cluster, cluster_cidr: str = "10.96.0.0/16") -> Prediction:
    """How many nodes get a node CIDR when the pod range lies inside the service range."""
    p = plan(cluster_cidr=cluster_cidr, node_cidr_mask_size=cluster.node_cidr_mask_size,
             service_cidr=cluster.service_cidr)
    why = (f"{p.node_cidrs - p.nodes} of the {p.node_cidrs} node CIDRs of {p.cluster_cidr} lie inside the service "
           f"range {p.service_cidr}; kube-controller-manager never hands those out, which leaves {p.nodes}")
    return Prediction(
        "02-overlap-nodes",
        f"A new cluster is created with `--cluster-cidr={cluster_cidr}` and the default service range "
        f"`{cluster.service_cidr}`, /{cluster.node_cidr_mask_size} node CIDRs. How many nodes can get a node CIDR?",
        Kind.NUMBER, str(p.nodes), why,
        wrong=(Option(str(p.node_cidrs), f"{p.cluster_cidr} does hold {p.node_cidrs} node CIDRs, but a block "
                                         "inside the service range is never handed out"),),
        otherwise=f"Count the /{p.node_cidr_mask_size} blocks of {p.cluster_cidr} that lie outside {p.service_cidr}",
        title="nodes when the ranges overlap")
