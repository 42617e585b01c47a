"""kubectl command lines run against the model: the v1.33 Endpoints warning where kubectl prints it.

The warning's text is apiserver's deprecation.WarningMessage for v1 Endpoints
(deprecated in 1.33, replaced by discovery.k8s.io/v1 EndpointSlice, KEP-4974);
kubectl prints each warning as "Warning: <text>" on stderr, before the output.
"""

from __future__ import annotations

import pytest

from k8snet_lesson import scenarios
from k8snet_lesson.errors import InvalidValue, NotFound
from k8snet_lesson.view import kubectl
from k8snet_lesson.view.kubectl_run import deprecation_warning, run

WARNING = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
CLUSTER = scenarios.lesson_cluster()


@pytest.mark.parametrize("command, warned", [
    ("kubectl get endpoints checkout-api-svc -n production", True),
    ("get ep checkout-api-svc -n production -o yaml", True),
    ("describe endpoints checkout-api-svc -n production", True),
    ("get endpoints -A", True),
    ("get endpointslices -n production -l kubernetes.io/service-name=checkout-api-svc", False),
    ("get pods -n production -o wide", False),
])
def test_the_warning_comes_with_every_read_of_endpoints_and_only_then(command, warned):
    lines = run(CLUSTER, command).splitlines()
    assert lines[0] == "$ kubectl " + command.removeprefix("kubectl ")
    assert (lines[1] == WARNING) is warned
    assert WARNING not in lines[2:]


def test_an_older_server_sends_no_warning():
    assert deprecation_warning("Endpoints", (1, 32)) is None
    assert deprecation_warning("Endpoints", (1, 34)) == WARNING
    assert WARNING not in run(CLUSTER, "get endpoints -n production", server_version=(1, 32))


def test_the_output_is_the_kubectl_views_own():
    assert run(CLUSTER, "get endpoints checkout-api-svc -n production").endswith(
        kubectl.get_endpoints(CLUSTER, "production", "checkout-api-svc").rstrip("\n"))
    assert run(CLUSTER, "describe ep checkout-api-svc --namespace=production").endswith(
        kubectl.describe_endpoints(CLUSTER, "checkout-api-svc", "production").rstrip("\n"))
    slices = run(CLUSTER, "get endpointslices -n production -l kubernetes.io/service-name=checkout-api-svc")
    assert slices.splitlines()[1].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert "10.244.2.14,10.244.3.7,10.244.4.2" in slices


def test_the_namespace_defaults_to_default_as_with_a_fresh_kubeconfig():
    assert "checkout-api-svc" not in run(CLUSTER, "get endpoints")
    assert "checkout-api-svc" in run(CLUSTER, "get endpoints -A")


@pytest.mark.parametrize("command, message", [
    ("get services", "not a command this course knows"),
    ("get endpoints checkout-api-svc -n production -o json", "output format 'json'"),
    ("get endpoints -n", "-n needs a value"),
    ("get endpoints a b", "one name at most"),
    ("get endpointslices -l app=checkout-api", "not kubernetes.io/service-name=NAME"),
    ("get endpoints 'unclosed", "cannot be read"),
    ("get endpoints --watch", "the flag --watch"),
])
def test_what_it_cannot_run_it_refuses_with_a_message(command, message):
    with pytest.raises(InvalidValue, match=message):
        run(CLUSTER, command)


def test_an_unknown_service_is_not_found():
    with pytest.raises(NotFound):
        run(CLUSTER, "get endpoints nope -n production")
