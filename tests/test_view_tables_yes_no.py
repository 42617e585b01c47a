"""What a learner reads in a table: yes/no for truth values, and a replacement table for one pod."""

from __future__ import annotations

import pytest

from k8snet_lesson import churn, scenarios
from k8snet_lesson.errors import NotFound
from k8snet_lesson.view import layers
from k8snet_lesson.view.tables import table


def test_truth_values_read_yes_and_no_in_the_page_and_stay_true_false_in_the_frame():
    shown = table([{"rule": 1, "holds": True}, {"rule": 2, "holds": False}])
    page = shown._repr_html_()
    assert ">yes</td>" in page and ">no</td>" in page
    assert ">True<" not in page and ">False<" not in page
    assert shown.frame["holds"].tolist() == [True, False]


def test_a_replacement_table_for_one_pod_follows_it_and_its_successors():
    history = churn.churn(scenarios.lesson_cluster(), "production/checkout-api-svc",
                          ["container restart", "pod deleted", "rolling update"], seed=31)
    frame = layers.replacements_table(history, pod="checkout-api-6f8b9d-2xkpj")
    assert frame["old pod"].iloc[0] == "checkout-api-6f8b9d-2xkpj"
    assert list(frame["old pod"].iloc[1:]) == list(frame["new pod"].iloc[:-1])  # each row's pod is the last one's successor
    assert list(frame.index) == [1, 2, 3] and set(frame["node"]) == {"node-eu-west-1a"}
    everyone = layers.replacements_table(history)
    assert len(everyone) == 3 * len(frame)


def test_a_replacement_table_for_a_pod_never_replaced_says_so():
    history = churn.churn(scenarios.lesson_cluster(), "production/checkout-api-svc", ["pod deleted"], seed=31)
    with pytest.raises(NotFound, match="payment-api-7d9c4b-xr7nq"):
        layers.replacements_table(history, pod="payment-api-7d9c4b-xr7nq")
