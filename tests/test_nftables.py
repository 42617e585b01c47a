"""kube-proxy's nftables mode in the model: names, the transaction, syncs over time, the CLI."""

from __future__ import annotations

import base64
import hashlib
import re
from fractions import Fraction

import pytest

from k8snet_lesson import kube_proxy, manifests, nftables
from k8snet_lesson.cli import main
from k8snet_lesson.cluster import Endpoint, EndpointConditions, EndpointPort, EndpointSlice, Service, ServicePort
from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.explain import explain
from k8snet_lesson.lab.nft_mode import conntrack_endpoints
from k8snet_lesson.nftables.parse import parse
from k8snet_lesson.resources import data_path

LESSON = str(data_path("lesson-cluster.yaml"))
NODE = "node-eu-west-1a"
CHECKOUT = "production/checkout-api-svc"


def h8(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:8]


def svc(name, ip, *, ports=(ServicePort(80, 8080, name="http"),), **kw) -> Service:
    return Service("shop", name, cluster_ip=ip, ports=ports, **kw)


def eps(name, *ips, port=8080, port_name="http", ready=True, node=None) -> EndpointSlice:
    return EndpointSlice("shop", f"{name}-x", name,
                         tuple(Endpoint((ip,), EndpointConditions(ready=ready), node_name=node) for ip in ips),
                         (EndpointPort(port, port_name),))


def proxy() -> nftables.NodeProxy:
    return nftables.NodeProxy(node_name="n1", node_ip="192.168.0.10", cluster_cidr="10.244.0.0/16",
                              service_cidr="10.96.0.0/12")


# --- names -------------------------------------------------------------------------------


def test_names_hash_the_readable_part_and_keep_it():
    assert nftables.chain_name("service", "shop/web:http", "TCP") == f"service-{h8('shop/web/tcp/http')}-shop/web/tcp/http"
    assert nftables.chain_name("endpoint", "shop/web", "udp", "10.0.0.7:53") == (
        f"endpoint-{h8('shop/web/udp/__10.0.0.7/53')}-shop/web/udp/__10.0.0.7/53")


def test_a_long_name_is_cut_to_240_characters_but_hashed_whole():
    spn = "n" * 140 + "/" + "s" * 63 + ":" + "p" * 15
    whole = f"{'n' * 140}/{'s' * 63}/tcp/{'p' * 15}__10.123.123.123/65535"
    base = nftables.chain_name_base(spn, "tcp", "10.123.123.123:65535")
    assert len(h8(whole) + "-" + whole) > 240
    assert len(base) == 240 and base.endswith("...") and base.startswith(h8(whole) + "-")
    short = nftables.chain_name_base(spn, "tcp")
    assert len(short) < 240 and not short.endswith("...")


@pytest.mark.parametrize("bad", [("nope", "shop/web", "tcp", None), ("endpoint", "shop/web", "tcp", None),
                                 ("service", "web", "tcp", None), ("service", "shop/web", "icmp", None),
                                 ("service", "shop/web", "tcp", "10.0.0.1:80")])
def test_bad_name_inputs_are_refused(bad):
    with pytest.raises(InvalidValue):
        nftables.chain_name(*bad)


def test_sloppy_ips_lose_their_leading_zeros():
    assert nftables.sloppy_ip(" 010.001.000.009 ") == "10.1.0.9"
    with pytest.raises(InvalidValue):
        nftables.sloppy_ip("10.1.0")


# --- the transaction ------------------------------------------------------------------------


def _defined_before_use(tx: nftables.Transaction) -> list[str]:
    """Names a line refers to (goto/jump X, @set) that no earlier line added."""
    seen: set[str] = set()
    missing = []
    for line in tx.lines():
        words = line.split(" ")
        if words[1] in ("chain", "set", "map"):
            seen.add(words[4])
            continue
        for ref in re.findall(r"(?:goto|jump) (\S+)|@(\S+)", line):
            name = (ref[0] or ref[1]).rstrip(",")
            if name not in seen:
                missing.append(f"{name} in: {line}")
    return missing


def test_the_lessons_cluster_in_nftables_mode():
    cluster = manifests.load([LESSON])
    tx = nftables.rules_for(cluster, NODE)
    assert _defined_before_use(tx) == []
    assert len(tx.elements) == len(set(tx.elements))  # kube-dns' ClusterIP is in cluster-ips once, not per port
    assert [t for c, t in tx.elements if c == "cluster-ips"].count("10.96.0.10") == 1
    svc_ = cluster.service(CHECKOUT) if hasattr(cluster, "service") else next(
        s for s in cluster.services if s.key == CHECKOUT)
    chain = nftables.chain_name("service", CHECKOUT, "tcp")
    ips = nftables.service_ips(tx)
    assert ips[f"{svc_.cluster_ip} . tcp . {svc_.ports[0].port}"] == f"goto {chain}"
    shares = nftables.numgen_shares(tx)[chain]
    # The same endpoints as the iptables ladder, each 1/N from one uniform draw.
    ladder = [e for e in explain(kube_proxy.rules_for(cluster, NODE)) if e.service_port == CHECKOUT][0]
    ips_by_chain = {c: tx.rules[c][-1].split("dnat to ")[1] for c in shares}
    assert sorted(ips_by_chain.values()) == sorted(e.destination for e in ladder.endpoints)
    assert set(shares.values()) == {Fraction(1, len(ladder.endpoints))}
    assert f"numgen random mod {len(shares)} vmap" in tx.rules[chain][-1]


def test_endpoints_are_drawn_in_the_order_of_their_ip_port_strings():
    tx = nftables.generate([svc("web", "10.96.0.5")], [eps("web", "10.0.0.2", "10.0.0.22", "10.0.0.10")],
                           node_name="n1")
    rule = tx.rules[nftables.chain_name("service", "shop/web:http", "tcp")][-1]
    order = re.findall(r"__([\d.]+)/8080", rule)
    assert order == ["10.0.0.10", "10.0.0.22", "10.0.0.2"]  # string order of ip:port (":" sorts after "2")


def test_no_endpoints_reject_and_local_policy_without_local_endpoints_drops():
    lb = svc("lb", "10.96.0.6", type="LoadBalancer", external_traffic_policy="Local",
             ports=(ServicePort(80, 8080, name="http", node_port=30080),), load_balancer_ips=("203.0.113.9",))
    tx = nftables.generate([svc("empty", "10.96.0.5"), lb], [eps("lb", "10.0.0.3", node="other")],
                           node_name="n1", node_ip="192.168.0.10")
    no_eps = tx.element_map("no-endpoint-services")
    assert no_eps["10.96.0.5 . tcp . 80"] == "goto reject-chain"
    assert no_eps["203.0.113.9 . tcp . 80"] == "drop"
    assert tx.element_map("no-endpoint-nodeports")["tcp . 30080"] == "drop"
    assert not any("empty" in c for c in tx.chains)  # no chains without endpoints
    assert "10.96.0.5" in tx.element_map("cluster-ips")


def test_affinity_gives_a_timed_set_per_endpoint():
    tx = nftables.generate([svc("web", "10.96.0.5", session_affinity="ClientIP", session_affinity_timeout=60)],
                           [eps("web", "10.0.0.2")], node_name="n1")
    name = nftables.chain_name("affinity", "shop/web:http", "tcp", "10.0.0.2:8080")
    assert tx.sets[name] == "{ type ipv4_addr ; flags dynamic,timeout ; timeout 60s ; }"
    endpoint = name.replace("affinity-", "endpoint-", 1)
    assert tx.rules[endpoint][1] == f"update @{name} {{ ip saddr }}"
    assert f"ip saddr @{name} goto {endpoint}" in tx.rules[nftables.chain_name("service", "shop/web:http", "tcp")]


# --- a node over time --------------------------------------------------------------------------


def test_a_deleted_services_chains_are_flushed_kept_then_deleted_once_aged():
    p = proxy()
    web, api = svc("web", "10.96.0.5"), svc("api", "10.96.0.6")
    p.sync([web, api], [eps("web", "10.0.0.2"), eps("api", "10.0.0.3")])
    api_chains = {c for c in p.state().chains if "/api/" in c}
    assert len(api_chains) == 2
    ops = p.sync([web], [eps("web", "10.0.0.2")])
    state = p.state()
    assert api_chains <= set(state.chains) and all(state.rules[c] == [] for c in api_chains)
    assert {f"flush chain ip kube-proxy {c}" for c in api_chains} <= set(ops)
    assert p.stale_chains == sorted(api_chains)
    p.sync([web], [eps("web", "10.0.0.2")])  # not yet a second old: still kept
    assert api_chains <= set(p.state().chains)
    p.age_stale_chains()
    ops = p.sync([web], [eps("web", "10.0.0.2")])
    assert not api_chains & set(p.state().chains)
    assert {f"delete chain ip kube-proxy {c}" for c in api_chains} == set(p.last_cleanup)  # a transaction first
    assert ops == []  # nothing else changed


def test_an_unused_affinity_set_goes_at_once():
    p = proxy()
    sticky = svc("web", "10.96.0.5", session_affinity="ClientIP")
    p.sync([sticky], [eps("web", "10.0.0.2")])
    (name,) = [s for s in p.state().sets if s.startswith("affinity-")]
    ops = p.sync([sticky], [eps("web", "10.0.0.4")])
    assert name not in p.state().sets and f"delete set ip kube-proxy {name}" in ops


def test_a_partial_sync_rewrites_only_the_changed_services_chains():
    p = proxy()
    web, api = svc("web", "10.96.0.5"), svc("api", "10.96.0.6")
    p.sync([web, api], [eps("web", "10.0.0.2"), eps("api", "10.0.0.3")])
    ops = p.sync([web, api], [eps("web", "10.0.0.2"), eps("api", "10.0.0.3", "10.0.0.4")])  # api's slice changed
    touched = {line.split(" ")[4] for line in ops if line.startswith(("add chain", "flush chain", "add rule"))}
    assert touched and all("/api/" in c for c in touched)
    assert not any(line.startswith("add chain ip kube-proxy filter") for line in ops)
    full = proxy()
    full.sync([web, api], [eps("web", "10.0.0.2"), eps("api", "10.0.0.3", "10.0.0.4")])
    assert nftables.normalize(p.state()) == nftables.normalize(full.state())
    assert p.sync([web, api], [eps("web", "10.0.0.2"), eps("api", "10.0.0.3", "10.0.0.4")]) == []
    everything = p.sync([web, api], [eps("web", "10.0.0.2"), eps("api", "10.0.0.3", "10.0.0.4")], full=True)
    assert any("/web/" in line for line in everything) and any(line.startswith("flush map") for line in everything)


def test_a_first_sync_on_an_existing_state_flushes_what_is_no_longer_used():
    old = nftables.generate([svc("web", "10.96.0.5"), svc("gone", "10.96.0.7")],
                            [eps("web", "10.0.0.2"), eps("gone", "10.0.0.9")], node_name="n1",
                            node_ip="192.168.0.10", cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12")
    p = nftables.NodeProxy(node_name="n1", node_ip="192.168.0.10", cluster_cidr="10.244.0.0/16",
                           service_cidr="10.96.0.0/12", initial=parse(str(old)))
    p.sync([svc("web", "10.96.0.5")], [eps("web", "10.0.0.2")])
    gone = [c for c in p.state().chains if "/gone/" in c]
    assert len(gone) == 2 and p.stale_chains == sorted(gone)
    fresh = nftables.generate([svc("web", "10.96.0.5")], [eps("web", "10.0.0.2")], node_name="n1",
                              node_ip="192.168.0.10", cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/12")
    bare = [f"add chain ip kube-proxy {c}" for c in gone]
    assert nftables.normalize(p.state()) == nftables.normalize("\n".join(fresh.lines() + bare))


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_rules_mode_nftables(capsys):
    assert main(["rules", LESSON, "--node", NODE, "--mode", "nftables"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    cluster = manifests.load([LESSON])
    assert out == str(nftables.rules_for(cluster, NODE))
    assert out.startswith("add table ip kube-proxy")
    assert f"ip daddr {{ {cluster.service_cidr} }} drop" in out
    assert main(["rules", LESSON, "--node", NODE]) == 0
    assert capsys.readouterr().out.startswith("*filter")  # iptables stays the default


def test_cli_rules_service_cidr_override_and_bad_value(capsys):
    assert main(["rules", LESSON, "--node", NODE, "--mode", "nftables", "--service-cidr", "10.100.0.0/16"]) == 0
    assert "ip daddr { 10.100.0.0/16 } drop" in capsys.readouterr().out
    assert main(["rules", LESSON, "--node", NODE, "--mode", "nftables", "--service-cidr", "10.100.0.0/33"]) != 0
    err = capsys.readouterr().err
    assert "--service-cidr '10.100.0.0/33'" in err and "Traceback" not in err


def test_conntrack_reply_sources_are_counted():
    listing = (
        "tcp      6 119 TIME_WAIT src=10.244.2.5 dst=10.96.214.88 sport=10000 dport=80 src=10.244.3.7 "
        "dst=10.244.2.5 sport=3000 dport=10000 [ASSURED] mark=0 use=1\n"
        "tcp      6 119 TIME_WAIT src=10.244.2.5 dst=10.96.214.88 sport=10001 dport=80 src=10.244.3.7 "
        "dst=10.244.2.5 sport=3000 dport=10001 [ASSURED] mark=0 use=1\n"
        "tcp      6 59 SYN_SENT src=10.244.2.5 dst=10.96.0.10 sport=10002 dport=53 [UNREPLIED] src=10.244.4.3 "
        "dst=10.244.2.5 sport=53 dport=10002 mark=0 use=1\n"
    )
    assert conntrack_endpoints(listing, "10.96.214.88", 80) == {"10.244.3.7:3000": 2}


# --- what the course shows -------------------------------------------------------------------


def test_the_checkout_services_own_lines():
    from k8snet_lesson.nftables.lesson import service_lines

    cluster = manifests.load([LESSON])
    lines = service_lines(nftables.rules_for(cluster, NODE), CHECKOUT)
    assert sum(line.startswith("add chain") for line in lines) == 4  # its service chain and 3 endpoint chains
    assert sum("numgen random mod 3 vmap" in line for line in lines) == 1
    assert sum(line.startswith("add element ip kube-proxy service-ips") for line in lines) == 1
    assert not any("kube-dns" in line for line in lines)
    with pytest.raises(Exception, match="no nftables objects"):
        service_lines(nftables.rules_for(cluster, NODE), "production/nope")


def test_shares_in_both_modes_and_a_seeded_numgen_draw():
    from k8snet_lesson.nftables.lesson import shares_in_both_modes, simulate_numgen
    from k8snet_lesson.simulate import chi_square

    both = shares_in_both_modes(manifests.load([LESSON]), NODE, CHECKOUT)
    assert [e for e, _ in both["iptables"]] == [e for e, _ in both["nftables"]]
    assert [s for _, s in both["nftables"]] == [1 / 3] * 3
    assert max(abs(a - b) for (_, a), (_, b) in zip(both["iptables"], both["nftables"])) < 1e-9
    counts = simulate_numgen(3, 30000, seed=7)
    assert sum(counts) == 30000 and simulate_numgen(3, 30000, seed=7) == counts
    assert chi_square(counts, [1 / 3] * 3).p_value > 1e-3  # seed 7, threshold 0.001
    assert chi_square(simulate_numgen(2, 30000, seed=7) + [0], [1 / 3] * 3).p_value < 1e-3  # the test can fail


def test_cli_rules_form_belongs_to_iptables_mode(capsys):
    assert main(["rules", LESSON, "--node", NODE, "--mode", "nftables", "--form", "save"]) == 2
    assert "--form is for iptables mode" in capsys.readouterr().err
