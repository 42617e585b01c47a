"""The readiness explorer and the client-IP table: what a learner sees, without a browser."""

from __future__ import annotations

from k8snet_lesson import client_ip, scenarios
from k8snet_lesson.view.services import client_ip_table, readiness_explorer, render_readiness

CLUSTER = scenarios.lesson_cluster()
SERVICE = CLUSTER.service("checkout-api-svc", "production")


def _explorer():
    return readiness_explorer(CLUSTER, SERVICE, node_name="node-eu-west-1a")


def test_the_endpoints_show_with_the_warning_and_describe():
    explorer = _explorer()
    shown = explorer.endpoints.value
    assert "Warning: v1 Endpoints is deprecated in v1.33+" in shown
    assert "NotReadyAddresses:  &lt;none&gt;" in shown
    explorer.checkboxes["checkout-api-6f8b9d-7rvqn"].value = False
    shown = explorer.endpoints.value
    assert "10.244.2.14:3000,10.244.4.2:3000" in shown and "NotReadyAddresses:  10.244.3.7" in shown
    assert explorer.rules.value.count("-j KUBE-SEP-") == 2


def test_an_error_shows_a_message_and_clears_the_last_result():
    explorer = _explorer()
    assert explorer.rules.value and not explorer.message.value
    explorer.node_name = "node-that-is-not-there"
    render_readiness(explorer)
    assert "node-that-is-not-there" in explorer.message.value
    assert explorer.rules.value == "" and explorer.endpoints.value == "" and explorer.current is None
    explorer.node_name = "node-eu-west-1a"
    render_readiness(explorer)
    assert explorer.message.value == "" and "-j KUBE-SEP-" in explorer.rules.value


def test_bad_input_shows_one_plain_message_clears_the_result_and_recovers():
    # widgets.render_readiness is the same callback, as the module promises: never a traceback.
    from k8snet_lesson.view import widgets

    explorer = _explorer()
    shown = (explorer.endpoints.value, explorer.rules.value)
    explorer.mode.options = ["iptables", "nftables", "ipvs"]  # a mode the course does not model
    explorer.mode.value = "ipvs"
    message = explorer.message.value
    assert message.count("k8snet-message") == 1 and "&#x27;ipvs&#x27;" in message and "iptables, nftables." in message
    assert (explorer.endpoints.value, explorer.rules.value, explorer.current) == ("", "", None)
    explorer.mode.value = "iptables"
    assert explorer.message.value == "" and (explorer.endpoints.value, explorer.rules.value) == shown

    # a checkbox whose Pod has left the cluster (deleted after the explorer was built)
    explorer.cluster = CLUSTER.without_pod("checkout-api-6f8b9d-7rvqn", "production")
    widgets.render_readiness(explorer)
    assert "checkout-api-6f8b9d-7rvqn" in explorer.message.value and "Traceback" not in explorer.message.value
    assert (explorer.endpoints.value, explorer.rules.value, explorer.current) == ("", "", None)
    explorer.cluster = CLUSTER
    widgets.render_readiness(explorer)
    assert explorer.message.value == "" and (explorer.endpoints.value, explorer.rules.value) == shown


def test_the_checkbox_row_wraps_and_long_rules_wrap():
    explorer = _explorer()
    row = explorer.ui.children[0]
    assert row.layout.flex_flow == "row wrap"
    assert "white-space:pre-wrap" in explorer.rules.value


def test_the_client_ip_table_has_one_row_per_case_with_the_computed_address():
    rows = client_ip.seen_sources(CLUSTER, SERVICE, client="payment-api-7d9c4b-xr7nq",
                                  other="checkout-api-6f8b9d-2xkpj")
    shown = client_ip_table(rows)
    assert len(shown.frame) == len(rows) == 4
    assert list(shown.frame["source the server sees"]) == [str(r.seen) for r in rows]
    assert "text-align:left" in shown._repr_html_()


def test_the_reveals_show_what_the_model_computes():
    from k8snet_lesson.view.services import chain_reveal, naive_reveal, unready_reveal

    after = unready_reveal(CLUSTER, SERVICE, "checkout-api-6f8b9d-7rvqn", "node-eu-west-1a")()
    assert "NotReadyAddresses:  10.244.3.7" in repr(after)
    assert "probability 0.50000000000" in repr(after) and "10.244.3.7:3000 */" not in repr(after)
    chain = chain_reveal(CLUSTER, SERVICE, "node-eu-west-1a")()
    assert "probability 0.33333333349" in repr(chain) and "(figure)" in repr(chain)
    html_text = chain._repr_html_()
    assert "white-space:pre-wrap" in html_text and "data:image/png;base64," in html_text
    assert "data:image/png;base64," in naive_reveal(5)()._repr_html_()


def test_the_lesson_spread_runs_through_the_lessons_own_chain():
    from k8snet_lesson.view.services import lesson_spread

    spread = lesson_spread(CLUSTER, SERVICE, "node-eu-west-1a", 3000, seed=7)
    assert spread.labels == ("10.244.2.14:3000", "10.244.3.7:3000", "10.244.4.2:3000")
    assert sum(spread.counts) == 3000
    assert spread.chi_square.p_value > 0.001  # seed 7; a fair chain fails this 1 time in 1,000


def test_explain_service_names_what_exists_when_asked_for_what_does_not():
    import pytest

    from k8snet_lesson import explain, kube_proxy
    from k8snet_lesson.errors import NotFound

    rules = kube_proxy.rules_for(CLUSTER, "node-eu-west-1a")
    assert explain.explain_service(rules, "production/checkout-api-svc").chain == "KUBE-SVC-BDWIX6P63EFORMKP"
    with pytest.raises(NotFound, match="production/checkout-api-svc"):
        explain.explain_service(rules, "production/nope")

