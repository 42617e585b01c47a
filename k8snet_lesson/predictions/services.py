"""The prediction gates of notebook 05 (Services and kube-proxy), computed from the cluster.

- ``05-unready-leaves``: a Pod fails its readiness probe; what happens to it and to the
  Service's endpoints? (The Endpoints controller moves its address to notReadyAddresses;
  nothing restarts it.)
- ``05-rule-two-share``: rule 2 of the chain says ``--probability 0.5``; what share of
  all new connections does its endpoint get? (1/2 of the remaining 2/3: 1/3.)
- ``05-naive-chain``: with the same probability 1/n on every rule, which endpoint gets
  the most? (The last one, which takes all that is left.)
- ``05-hairpin-source``: a Pod reaches itself through its own Service; which source IP
  does it see? (Its node's, after MASQUERADE.)

Every answer is read from the model: the endpoints from
:func:`k8snet_lesson.endpoints.endpoints_for`, the chain's shares from
:func:`k8snet_lesson.explain.explain` over :func:`k8snet_lesson.kube_proxy.rules_for`,
the naive chain from :func:`k8snet_lesson.distribution.naive_shares`, the hairpin source
from :func:`k8snet_lesson.client_ip.seen_sources`.
"""

from __future__ import annotations

from fractions import Fraction

from .. import client_ip, distribution, endpoints, explain, kube_proxy
from ..cluster import Cluster
from ..errors import InvalidValue, NotFound
from . import Kind, Option, Prediction, gate

SERVICE = "production/checkout-api-svc"
NODE = "node-eu-west-1a"


def _service(cluster: Cluster, key: str):
    namespace, _, name = key.partition("/")
    return cluster.service(name, namespace)


def _behind(cluster: Cluster, key: str):
    service = _service(cluster, key)
    pods = [p for p in cluster.pods if service.selects(p) and p.ready]
    if not pods:
        raise NotFound(f"no ready pod behind {service.key}")
    return service, pods


@gate("05-unready-leaves")
def unready_leaves(cluster: Cluster, *, service: str = SERVICE, pod: str | None = None) -> Prediction:
    svc, pods = _behind(cluster, service)
    chosen = cluster.pod(pod, svc.namespace) if pod else pods[len(pods) // 2]
    before = endpoints.endpoints_for(cluster, svc)
    after = endpoints.endpoints_for(cluster.with_pod(chosen.with_ready(False)), svc)
    (gone,) = set(before.ready_addresses) - set(after.ready_addresses)
    if gone not in after.not_ready_addresses:
        raise InvalidValue(f"{chosen.key} did not move to notReadyAddresses")
    right = f"{gone} leaves the ENDPOINTS list and moves to notReadyAddresses; the Pod keeps running"
    restart = f"the Pod is restarted and comes back with a new IP, so {gone} disappears"
    stays = f"nothing changes: {gone} stays listed while the Pod is Running"
    return Prediction(
        "05-unready-leaves",
        f"`{chosen.name}` ({gone}) starts failing its readiness probe. What happens?",
        Kind.CHOICE, right,
        why=(f"Readiness decides rotation, not life: the EndpointSlice controller marks {gone} not ready "
             f"(Endpoints lists it under notReadyAddresses), kube-proxy drops its KUBE-SEP rule, and the Pod runs on, "
             f"ready to come back"),
        options=(Option(stays, "Running is not Ready: a Pod that fails its readiness probe leaves the ready list"),
                 Option(right, "Readiness takes the Pod out of rotation and nothing else"),
                 Option(restart, "That is a failing liveness probe: kubelet restarts the container "
                                 "(and even then the Pod keeps its IP)")),
        tempting=restart, title="what an unready Pod loses")


def _chain(cluster: Cluster, key: str, node: str):
    chain = explain.explain_service(kube_proxy.rules_for(cluster, node), key)
    if chain.reject or len(chain.endpoints) < 2:
        raise NotFound(f"no chain of two or more endpoints for {key} on {node}")
    return chain


@gate("05-rule-two-share")
def rule_two_share(cluster: Cluster, *, service: str = SERVICE, node: str = NODE) -> Prediction:
    chain = _chain(cluster, service, node)
    n = len(chain.endpoints)
    second = chain.endpoints[1]
    share = Fraction(second.share).limit_denominator(1000)
    printed = second.probability_text or "(none)"
    return Prediction(
        "05-rule-two-share",
        f"The chain for `{service}` has a KUBE-MARK-MASQ rule, then {n} endpoint rules; endpoint rule 2 says "
        f"`--probability {printed}`. "
        f"What share of **all** new connections does rule 2's endpoint ({second.address}) get?",
        Kind.NUMBER, str(share),
        why=(f"Rule 2 only sees what rule 1 let through ({Fraction(1) - Fraction(chain.endpoints[0].share).limit_denominator(1000)}); "
             f"{printed} of that is {share}: every endpoint gets 1/{n}"),
        wrong=(Option(str(Fraction(float(printed)).limit_denominator(1000)) if second.probability_text else "1",
                      f"{printed} is what rule 2 takes of the connections that reach it, not of all of them"),),
        otherwise=f"Multiply: the chance rule 1 did not match, times {printed}", tolerance=0.002,
        title="share of rule 2")


@gate("05-naive-chain")
def naive_chain(cluster: Cluster, *, endpoints_count: int = 5) -> Prediction:
    shares = distribution.naive_shares(endpoints_count)
    n = endpoints_count
    biggest = max(range(n), key=lambda i: shares[i])
    texts = {0: f"endpoint 1 (the first rule, 1/{n} of everything)",
             n - 1: f"endpoint {n} (the last rule, no probability)"}
    equal = f"none: with 1/{n} on every rule they all get 1/{n}"
    if biggest not in texts:
        raise InvalidValue(f"the naive chain of {n} favours endpoint {biggest + 1}")
    right = texts[biggest]
    last_share = Fraction(shares[-1]).limit_denominator(100000)
    return Prediction(
        "05-naive-chain",
        f"Suppose every rule of a {n}-endpoint chain said `--probability {1 / n:.4f}` (1/{n}) and the last rule had none. "
        f"Which endpoint gets the most new connections?",
        Kind.CHOICE, right,
        why=(f"Each rule takes 1/{n} of what is left, so the shares shrink ({shares[0]:.3f}, {shares[1]:.3f}, ...) "
             f"and the last rule catches the rest: {float(last_share):.3f}"),
        options=(Option(texts[0], f"Rule 1 takes {shares[0]:.3f}, but the last rule takes all that is left: {shares[-1]:.3f}"),
                 Option(equal, f"1/{n} of what is left is less than 1/{n} of everything: rule 2 gets {shares[1]:.3f}"),
                 Option(texts[n - 1], f"It takes everything the others let through: {shares[-1]:.3f}")),
        tempting=equal, title="the naive 1/n chain")


@gate("05-hairpin-source")
def hairpin_source(cluster: Cluster, *, service: str = SERVICE, pod: str | None = None,
                   client: str | None = None) -> Prediction:
    svc, pods = _behind(cluster, service)
    behind = cluster.pod(pod, svc.namespace) if pod else pods[0]
    others = [p for p in cluster.pods if p.namespace == svc.namespace and not svc.selects(p) and p.pod_ip is not None]
    chosen_client = cluster.pod(client, svc.namespace) if client else others[0]
    rows = client_ip.seen_sources(cluster, svc, client=chosen_client, other=behind)
    hairpin = rows[1]
    if not hairpin.masqueraded:
        raise InvalidValue(f"the hairpin to {behind.key} is not masqueraded")
    return Prediction(
        "05-hairpin-source",
        f"`{behind.name}` ({behind.pod_ip}) calls `{svc.name}`, and kube-proxy's draw sends the connection "
        f"back to itself. Which source IP does the Pod see on the incoming connection?",
        Kind.ADDRESS, str(hairpin.seen),
        why=(f"The KUBE-SEP rule '-s {behind.pod_ip} -j KUBE-MARK-MASQ' marks it, and MASQUERADE rewrites the "
             f"source to the node's address {hairpin.seen}, so the reply goes back through the node's conntrack "
             f"entry and gets its DNAT undone"),
        wrong=(Option(str(behind.pod_ip), "Without SNAT the Pod would answer itself directly, skipping the node, and "
                                          "the reply would come from the Pod IP, not the ClusterIP: the client drops it"),
               Option(str(svc.cluster_ip), "No packet carries the ClusterIP as its source; it is only ever a destination")),
        otherwise="Think of the node: it rewrites the source so the reply comes back through it",
        title="the hairpin's source IP")


def _nft_draw(cluster: Cluster, key: str, node: str):
    """The Service chain its ``service-ips`` element points to, and that chain's draw."""
    from ..nftables.generate import numgen_shares, rules_for, service_ips

    svc = _service(cluster, key)
    port = svc.ports[0]
    tx = rules_for(cluster, node)
    wanted = f"{svc.cluster_ip} . {port.protocol.lower()} . {port.port}"
    target = service_ips(tx).get(wanted)
    if target is None:
        raise NotFound(f"no service-ips element {wanted} for {key} on {node}")
    chain = target.split("goto", 1)[-1].strip()
    shares = numgen_shares(tx).get(chain)
    if not shares or len(shares) < 2:
        raise NotFound(f"no numgen draw over two or more endpoints in {chain} on {node}")
    return chain, shares


@gate("05-nftables-draw")
def nftables_draw(cluster: Cluster, *, service: str = SERVICE, node: str = NODE) -> Prediction:
    chain, shares = _nft_draw(cluster, service, node)
    n = len(shares)
    if set(shares.values()) != {Fraction(1, n)}:
        raise InvalidValue(f"the draw in {chain} is not uniform: {sorted(map(str, shares.values()))}")
    right = (f"one uniform draw: numgen random mod {n} gives 0 to {n - 1}, and a verdict map sends "
             f"each number to one endpoint chain (1/{n} each)")
    ladder = "the same chain in nftables words: rules that match with probability " + ", ".join(
        f"1/{n - i}" if i < n - 1 else "1" for i in range(n))
    rotate = f"a counter that hands endpoints out in turn, 1, 2, ..., {n}, 1, ... (round robin)"
    return Prediction(
        "05-nftables-draw",
        f"In nftables mode, what replaces the iptables chain of {n} rules with probabilities "
        + ", ".join(f"1/{n - i}" if i < n - 1 else "1" for i in range(n)) + f" for `{service}`?",
        Kind.CHOICE, right,
        why=(f"The Service's chain holds one rule, `numgen random mod {n} vmap {{ 0 : goto ..., "
             f"{n - 1} : goto ... }}`: one random number per new connection, {n} equal values, so "
             f"each endpoint gets exactly 1/{n} with no ladder to walk"),
        options=(Option(ladder, "nftables has no per-rule probability match; the whole choice is one number"),
                 Option(right, "One draw, one map lookup"),
                 Option(rotate, "That is IPVS's rr scheduler; numgen random is random, like iptables mode")),
        tempting=ladder, title="the draw in nftables mode")
