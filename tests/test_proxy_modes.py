"""nftables mode in notebook 05 and 08: the draw gate, the readiness explorer's mode
buttons, the two-mode spread and the folded ruleset."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address

import pytest

from k8snet_lesson import predictions, scenarios
from k8snet_lesson.errors import InvalidValue, NotFound
from k8snet_lesson.predictions import check
from k8snet_lesson.view import proxy_modes
from k8snet_lesson.view.services import readiness_explorer

CLUSTER = scenarios.lesson_cluster()
SERVICE = CLUSTER.service("checkout-api-svc", "production")
NODE = "node-eu-west-1a"


def _with_fourth_replica(cluster):
    template = cluster.pod("checkout-api-6f8b9d-m5t9w", "production")
    extra = dataclasses.replace(template, name="checkout-api-6f8b9d-zz9k4", pod_ip=IPv4Address("10.244.3.9"),
                                node_name="node-eu-west-1b")
    return cluster.with_pod(extra)


def _unready(cluster, *names):
    for name in names:
        cluster = cluster.with_pod(cluster.pod(name, "production").with_ready(False))
    return cluster


def test_the_draw_gate_reads_the_draw_from_the_transaction():
    made = predictions.build("05-nftables-draw", CLUSTER)
    assert "numgen random mod 3" in made.answer and "1/3 each" in made.answer
    assert "1/3, 1/2, 1" in made.prompt and made.tempting != made.answer
    assert not check(made, made.tempting).correct and check(made, made.answer).correct


def test_the_draw_follows_the_number_of_ready_endpoints():
    four = predictions.build("05-nftables-draw", _with_fourth_replica(CLUSTER))
    assert "numgen random mod 4" in four.answer and "1/4, 1/3, 1/2, 1" in four.prompt
    two = predictions.build("05-nftables-draw", _unready(CLUSTER, "checkout-api-6f8b9d-7rvqn"))
    assert "numgen random mod 2" in two.answer


def test_no_draw_without_two_endpoints_is_said_not_asked():
    alone = _unready(CLUSTER, "checkout-api-6f8b9d-7rvqn", "checkout-api-6f8b9d-2xkpj")
    with pytest.raises(NotFound, match="numgen"):
        predictions.build("05-nftables-draw", alone)


def test_rules_text_in_each_mode_and_a_bad_mode():
    assert "-j KUBE-SEP-" in proxy_modes.rules_text(CLUSTER, SERVICE, NODE, "iptables")
    nft = proxy_modes.rules_text(CLUSTER, SERVICE, NODE, "nftables")
    assert "numgen random mod 3 vmap" in nft and "KUBE-" not in nft
    with pytest.raises(InvalidValue, match="'ipvs'"):
        proxy_modes.rules_text(CLUSTER, SERVICE, NODE, "ipvs")


def test_service_listing_is_the_element_then_the_chain():
    element, chain = proxy_modes.service_listing(CLUSTER, SERVICE, NODE)
    assert element.count("\n") == 0 and "service-ips { 10.96.214.88 . tcp . 80 : goto service-" in element
    assert chain.startswith("add chain ip kube-proxy service-") and chain.count("numgen random mod 3") == 1
    assert "endpoint-" not in chain.split("\n")[0]


def test_the_readiness_explorer_switches_mode_and_follows_the_checkboxes():
    explorer = readiness_explorer(CLUSTER, SERVICE, node_name=NODE)
    assert "-j KUBE-SEP-" in explorer.rules.value and "iptables mode" in explorer.rules.value
    explorer.mode.value = "nftables"
    assert "numgen random mod 3" in explorer.rules.value and "KUBE-SEP" not in explorer.rules.value
    explorer.checkboxes["checkout-api-6f8b9d-7rvqn"].value = False
    assert "numgen random mod 2" in explorer.rules.value and "10.244.3.7" not in explorer.rules.value
    for box in explorer.checkboxes.values():
        box.value = False
    assert "numgen" not in explorer.rules.value and "no-endpoint-services" in explorer.rules.value
    explorer.mode.value = "iptables"
    assert "REJECT" in explorer.rules.value


def test_a_bad_mode_in_the_explorer_says_so_and_clears_the_rules():
    explorer = readiness_explorer(CLUSTER, SERVICE, node_name=NODE)
    explorer.mode.options = ["iptables", "nftables", "ipvs"]
    explorer.mode.value = "ipvs"
    assert "proxy mode &#x27;ipvs&#x27;" in explorer.message.value or "ipvs" in explorer.message.value
    assert explorer.rules.value == "" and explorer.current is None
    explorer.mode.value = "nftables"
    assert explorer.message.value == "" and "numgen" in explorer.rules.value


def test_both_modes_spread_fairly_with_seed_7():
    figures = proxy_modes.spread_figures(CLUSTER, SERVICE, NODE, 3000, seed=7)
    titles = [fig.axes[0].get_title() for fig in figures]
    assert "iptables mode" in titles[0] and "numgen random mod 3" in titles[1]
    for fig in figures:
        heights = [bar.get_height() for bar in fig.axes[0].patches]
        assert sum(heights) == 3000 and all(abs(h - 1000) < 100 for h in heights)  # seed 7, +-100 of 1000
        p = float(fig.axes[0].get_title().split("chi-square p = ")[1].rstrip(")"))
        assert p > 0.001  # threshold 0.001


def test_the_ruleset_without_the_lab_shows_the_transaction_folded_and_why():
    view = proxy_modes.ruleset_view(CLUSTER, NODE, lab_ok=False, reason="no root")
    assert "(no root)" in view.heading and len(view.lines) > proxy_modes.LINES
    assert view.shown == view.lines[:proxy_modes.LINES]
    shown = view._repr_html_()
    assert shown.count("<pre") == 2 and f"Show all {len(view.lines)} lines" in shown
    assert repr(view).count("\n") == proxy_modes.LINES + 1 and "folded below" in repr(view)


def test_with_a_service_the_lines_shown_are_its_map_element_and_chain():
    view = proxy_modes.ruleset_view(CLUSTER, NODE, lab_ok=False, service="production/checkout-api-svc")
    assert len(view.shown) <= proxy_modes.LINES
    assert sum("numgen random mod" in line for line in view.shown) == 1  # only checkout's draw
    assert any("10.96.214.88 . tcp . 80 : goto service-" in line for line in view.shown)


LISTING = """table ip kube-proxy {
\tmap service-ips {
\t\ttype ipv4_addr . inet_proto . inet_service : verdict
\t\telements = { 10.96.214.88 . tcp . 80 : goto service-I3VMJ4JL-production/checkout-api-svc/tcp/ }
\t}
\tchain service-AAAAAAAA-production/other/tcp/ {
\t\tnumgen random mod 2 vmap { 0 : goto a, 1 : goto b }
\t}
\tchain service-I3VMJ4JL-production/checkout-api-svc/tcp/ {
\t\tnumgen random mod 3 vmap { 0 : goto a, 1 : goto b, 2 : goto c }
\t}
}"""


def test_in_the_kernels_listing_the_blocks_are_shown_whole(monkeypatch):
    from k8snet_lesson.lab import nft_mode

    monkeypatch.setattr(nft_mode, "load_in_private_namespace",
                        lambda *_: nft_mode.Loaded(version="nftables v1.0.6", listing=LISTING, namespace="x"))
    view = proxy_modes.ruleset_view(CLUSTER, NODE, lab_ok=True, service="production/checkout-api-svc")
    assert "nftables v1.0.6" in view.heading
    assert view.shown == [*LISTING.split("\n")[1:5], "\t...", *LISTING.split("\n")[8:11]]


def test_a_failed_load_falls_back_to_the_transaction(monkeypatch):
    from k8snet_lesson.lab import nft_mode

    def fail(*_):
        raise OSError("nft: not found")
    monkeypatch.setattr(nft_mode, "load_in_private_namespace", fail)
    view = proxy_modes.ruleset_view(CLUSTER, NODE, lab_ok=True)
    assert "nft could not load the transaction: nft: not found" in view.heading
    assert any("numgen random mod 3" in line for line in view.lines)


def test_the_draw_reveal_lists_each_number_drawn_and_its_endpoint():
    shown = repr(proxy_modes.draw_reveal(_with_fourth_replica(CLUSTER), SERVICE, NODE)())
    assert "numgen random mod 4 gives" in shown and shown.count("1/4") == 4 and "10.244.3.9:3000" in shown
