"""The revisit list names a missed item by a line a learner can read, not a clipped sentence."""

from __future__ import annotations

import pytest

from k8snet_lesson.view.quiz import _short


@pytest.mark.parametrize("prompt, label", [
    # a short first sentence is the whole label (ten words cut it at "... a Service. You …")
    ("Traffic is not reaching the Pods behind a Service. You suspect the Service selector doesn't match.",
     "Traffic is not reaching the Pods behind a Service"),
    ("Which statement best describes the Kubernetes networking model for Pod-to-Pod communication?",
     "Which statement best describes the Kubernetes networking model for Pod-to-Pod communication?"),
    # a long first sentence still ends in an ellipsis after ten words
    ("Which Kubernetes component runs as a DaemonSet on every node and programs iptables rules to make it work?",
     "Which Kubernetes component runs as a DaemonSet on every node …"),
    ("Read `ip route` below.", "Read ip route below"),
])
def test_the_label_is_the_first_sentence_when_short(prompt, label):
    assert _short(prompt) == label
