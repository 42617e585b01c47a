"""Notebook 05's gates: each answer follows the cluster it is built from."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address

import pytest

from k8snet_lesson import predictions
from k8snet_lesson.errors import NotFound
from k8snet_lesson.predictions import check
from k8snet_lesson.scenarios import lesson_cluster

CLUSTER = lesson_cluster()


def _with_fourth_replica(cluster):
    template = cluster.pod("checkout-api-6f8b9d-m5t9w", "production")
    extra = dataclasses.replace(template, name="checkout-api-6f8b9d-zz9k4", pod_ip=IPv4Address("10.244.3.9"),
                                node_name="node-eu-west-1b")
    return cluster.with_pod(extra)


def test_the_lesson_cluster_asks_the_lessons_numbers():
    assert predictions.build("05-rule-two-share", CLUSTER).answer == "1/3"
    assert check(predictions.build("05-rule-two-share", CLUSTER), "1/2").correct is False
    assert predictions.build("05-hairpin-source", CLUSTER).answer == "192.168.1.10"
    assert "10.244.3.7 leaves" in predictions.build("05-unready-leaves", CLUSTER).answer


def test_rule_two_of_four_is_a_quarter_and_its_printed_probability_a_third():
    made = predictions.build("05-rule-two-share", _with_fourth_replica(CLUSTER))
    assert made.answer == "1/4" and "--probability 0.3333333333" in made.prompt
    assert not check(made, "1/3").correct and check(made, "25%").correct


def test_the_unready_pod_is_the_one_asked_about():
    made = predictions.build("05-unready-leaves", CLUSTER, pod="checkout-api-6f8b9d-2xkpj")
    assert made.answer.startswith("10.244.2.14 leaves")


def test_the_hairpin_source_is_the_node_of_the_pod_asked_about():
    made = predictions.build("05-hairpin-source", CLUSTER, pod="checkout-api-6f8b9d-7rvqn")
    assert made.answer == str(CLUSTER.node("node-eu-west-1b").internal_ip)


@pytest.mark.parametrize("n", [3, 5, 8])
def test_the_naive_chain_favours_its_last_rule(n):
    made = predictions.build("05-naive-chain", CLUSTER, endpoints_count=n)
    assert made.answer.startswith(f"endpoint {n} ")


def test_a_service_with_no_ready_pod_cannot_be_asked_about():
    cluster = CLUSTER
    for pod in CLUSTER.pods:
        if pod.name.startswith("checkout-api"):
            cluster = cluster.with_pod(pod.with_ready(False))
    with pytest.raises(NotFound):
        predictions.build("05-rule-two-share", cluster)
