"""The source IP a server pod sees: real for pod traffic, a node's for hairpin and outside traffic."""

from __future__ import annotations

import pytest

from k8snet_lesson import client_ip, scenarios
from k8snet_lesson.errors import InvalidValue

CLUSTER = scenarios.lesson_cluster()
SERVICE = CLUSTER.service("checkout-api-svc", "production")
CLIENT = CLUSTER.pod("payment-api-7d9c4b-xr7nq", "production")
BEHIND = CLUSTER.pod("checkout-api-6f8b9d-2xkpj", "production")


@pytest.fixture(scope="module")
def rows():
    return client_ip.seen_sources(CLUSTER, SERVICE, client=CLIENT, other=BEHIND)


def test_pod_to_service_keeps_the_client_pod_ip(rows):
    row = rows[0]
    assert not row.masqueraded and row.seen == row.client == CLIENT.pod_ip
    assert row.server in {p.pod_ip for p in CLUSTER.pods if SERVICE.selects(p)}


def test_hairpin_is_masqueraded_to_the_nodes_address(rows):
    row = rows[1]
    assert row.server == row.client == BEHIND.pod_ip
    assert row.masqueraded and row.seen == CLUSTER.node(BEHIND.node_name).internal_ip


def test_external_traffic_is_masqueraded_with_policy_cluster_and_not_with_local(rows):
    cluster_policy, local_policy = rows[2], rows[3]
    assert cluster_policy.masqueraded and cluster_policy.seen != client_ip.EXTERNAL_CLIENT
    assert cluster_policy.server not in {p.pod_ip for p in CLUSTER.pods if p.node_name == BEHIND.node_name}
    assert not local_policy.masqueraded and local_policy.seen == client_ip.EXTERNAL_CLIENT
    assert local_policy.server in {p.pod_ip for p in CLUSTER.pods if p.node_name == BEHIND.node_name}


def test_the_hairpin_seed_really_lands_on_the_pod():
    from k8snet_lesson import walk

    seed = client_ip.hairpin_seed(CLUSTER, BEHIND, SERVICE)
    assert walk.request(CLUSTER, BEHIND, "production/checkout-api-svc", 80, cni=CLUSTER.cni, seed=seed).server == BEHIND


def test_the_roles_must_fit():
    with pytest.raises(InvalidValue, match="must be behind"):
        client_ip.seen_sources(CLUSTER, SERVICE, client=BEHIND, other=CLIENT)
