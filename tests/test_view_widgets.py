"""The spread explorer and the self-check widgets, driven without a browser."""

import statistics
import time

import pytest

pytest.importorskip("ipywidgets")

from k8snet_lesson.view.widgets import spread_explorer


def _rows(explorer):
    html = explorer.counts.value
    return [int(part.split('"', 1)[0]) for part in html.split('data-count="')[1:]]


def test_spread_explorer_draws_and_counts_the_initial_setting():
    explorer = spread_explorer(endpoints=3, connections=1000, seed=7)
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert explorer.last.counts == tuple(_rows(explorer))
    assert sum(_rows(explorer)) == 1000 and len(_rows(explorer)) == 3
    assert "1,000 connections over 3 endpoints" in explorer.counts.value
    assert explorer.message.value == ""


def test_moving_the_sliders_recomputes_and_redraws():
    explorer = spread_explorer(endpoints=3, connections=1000, seed=7)
    before = explorer.image.value
    explorer.endpoints.value = 5
    assert len(_rows(explorer)) == 5 and sum(_rows(explorer)) == 1000
    assert explorer.image.value != before
    explorer.connections.value = 100_000
    assert sum(_rows(explorer)) == 100_000
    assert "0.2000000000" in explorer.counts.value and "0.2500000000" in explorer.counts.value  # rules 1, 2 of 5
    explorer.seed.value = 8
    assert explorer.last.seed == 8


def test_log_slider_values_become_whole_connections():
    explorer = spread_explorer(endpoints=2, connections=10, seed=1)
    explorer.connections.value = 10 ** 1.5  # the slider's half step: 31.62...
    assert sum(_rows(explorer)) == 32


def test_nonsense_shows_a_message_not_a_traceback():
    explorer = spread_explorer(endpoints=3, connections=1000, seed=7)
    explorer.endpoints.value = 0  # the slider clamps to its minimum, 1
    assert explorer.endpoints.value == 1 and explorer.message.value == ""
    shown = explorer.counts.value
    explorer.endpoints.min = 0
    explorer.endpoints.value = 0
    assert "at least 1 endpoint" in explorer.message.value and "REJECT" in explorer.message.value
    assert explorer.counts.value == "" and explorer.image.value == b""  # no stale result under the message
    explorer.endpoints.value = 1
    assert explorer.counts.value == shown and explorer.message.value == ""


def test_spread_callback_is_measurable():
    # Not a speed test (that is `make bench`): the callback runs repeatedly without state leaks.
    explorer = spread_explorer(endpoints=3, connections=1000, seed=7)
    times = []
    for n in (2, 4, 6, 8, 10, 3):
        start = time.perf_counter()
        explorer.endpoints.value = n
        times.append(time.perf_counter() - start)
        assert len(_rows(explorer)) == n
    assert statistics.median(times) > 0


def test_readiness_flip_moves_the_address_and_rewrites_the_chain():
    from k8snet_lesson import scenarios
    from k8snet_lesson.view.widgets import readiness_explorer

    cluster = scenarios.lesson_cluster()
    service = cluster.service("checkout-api-svc", "production")
    explorer = readiness_explorer(cluster, service, node_name="node-eu-west-1a")
    assert len(explorer.checkboxes) == 3
    assert explorer.rules.value.count("-j KUBE-SEP-") == 3
    assert "0.3333333333" in explorer.rules.value and "0.5000000000" in explorer.rules.value
    explorer.checkboxes["checkout-api-6f8b9d-2xkpj"].value = False
    endpoints = explorer.endpoints.value
    assert "10.244.3.7:3000,10.244.4.2:3000" in endpoints  # the ENDPOINTS column: ready only
    assert "NotReadyAddresses:  10.244.2.14" in endpoints
    assert explorer.rules.value.count("-j KUBE-SEP-") == 2
    assert "0.3333333333" not in explorer.rules.value and "0.5000000000" in explorer.rules.value
    assert explorer.current.pod("checkout-api-6f8b9d-2xkpj", "production").ready is False
    for box in explorer.checkboxes.values():
        box.value = False
    assert "-j KUBE-SEP-" not in explorer.rules.value
    assert "has no endpoints" in explorer.rules.value and "-j REJECT" in explorer.rules.value

