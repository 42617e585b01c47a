"""The spread explorer and the self-check widgets, driven without a browser."""

import dataclasses
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


def test_the_explorers_fields_hold_what_their_annotations_name():
    # The annotations name real types (imported for type checkers only); each built
    # explorer holds exactly those, so an annotation that names the wrong widget fails here.
    import typing

    import ipywidgets

    from k8snet_lesson import cluster, distribution, scenarios
    from k8snet_lesson.view import plots, services, widgets

    names = {"ipywidgets": ipywidgets, "Spread": distribution.Spread, "SpreadPlot": plots.SpreadPlot,
             "Cluster": cluster.Cluster, "Service": cluster.Service}
    lesson = scenarios.lesson_cluster()
    built = [spread_explorer(endpoints=3, connections=1000, seed=7),
             services.readiness_explorer(lesson, lesson.service("checkout-api-svc", "production"),
                                         node_name="node-eu-west-1a")]
    for explorer in built:
        module = vars(widgets) if isinstance(explorer, widgets.SpreadExplorer) else vars(services)
        hints = typing.get_type_hints(type(explorer), globalns={**module, **names})
        assert set(hints) == {f.name for f in dataclasses.fields(explorer)}
        for name, hint in hints.items():
            value = getattr(explorer, name)
            if typing.get_origin(hint) is dict:
                key, item = typing.get_args(hint)
                assert value and all(isinstance(k, key) and isinstance(v, item) for k, v in value.items()), name
            else:
                assert isinstance(value, typing.get_args(hint) or hint), (type(explorer).__name__, name, hint)
    assert "Any" not in vars(widgets)  # no field is left untyped
