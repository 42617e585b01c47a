"""The EndpointSlice and Endpoints controllers against upstream's stated semantics.

Facts these tests pin (k8s.io/endpointslice utils.go ``podToEndpoint``,
util/controller_utils.go ``ShouldPodBeInEndpoints``, pkg/controller/endpoint
``syncService``/``addEndpointSubset``, pkg/api/v1/endpoints ``RepackSubsets``):

* serving = pod Ready; terminating = deletionTimestamp set;
  ready = publishNotReadyAddresses or (serving and not terminating);
* slices keep terminating pods, Endpoints drop them unless publishNotReadyAddresses;
* terminal pods (Succeeded/Failed) and pods without an IP are in neither;
* a named targetPort is resolved per pod; pods are grouped by their resolved ports;
* at most 100 endpoints per slice; at most 1000 addresses per Endpoints object;
* Endpoints addresses are sorted by the IP *string*.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson.cluster import (
    Cluster,
    Container,
    ContainerPort,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Node,
    Pod,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
)
from k8snet_lesson.endpoints import (
    ENDPOINTSLICE_CONTROLLER,
    EndpointAddress,
    endpoint_conditions,
    endpoints_for,
    has_endpoints_object,
    should_be_in_endpoints,
    slices_for,
    slices_for_service,
)

NODES = (
    Node("node-a", "192.168.0.10", "10.244.1.0/24", labels={"topology.kubernetes.io/zone": "zone-a"}),
    Node("node-b", "192.168.0.11", "10.244.2.0/24"),
)
WEB = Service("default", "web", selector={"app": "web"}, cluster_ip="10.96.0.20", ports=(ServicePort(80, 8080),))


def web_pod(i: int, **changes) -> Pod:
    fields = dict(
        labels={"app": "web"},
        node_name="node-a" if i % 2 == 0 else "node-b",
        pod_ip=f"10.244.{1 + i % 2}.{10 + i}",
        uid=f"uid-{i:04d}",
        containers=(Container("web", ports=(ContainerPort(8080, name="http"),)),),
    )
    fields.update(changes)
    return Pod("default", f"web-{i}", **fields)


def cluster_of(*pods: Pod, services=(WEB,), slices=()) -> Cluster:
    return Cluster(nodes=NODES, pods=pods, services=services, endpoint_slices=slices)


def all_endpoints(cluster: Cluster, service: Service = WEB) -> list[Endpoint]:
    return [e for s in slices_for_service(cluster, service) for e in s.endpoints]


# --- conditions: the upstream truth table ------------------------------------------

# (pod Ready, deletion requested, publishNotReadyAddresses) -> (ready, serving, terminating)
CONDITIONS = [
    (True, False, False, (True, True, False)),
    (False, False, False, (False, False, False)),
    (True, True, False, (False, True, True)),
    (False, True, False, (False, False, True)),
    (False, False, True, (True, False, False)),
    (True, True, True, (True, True, True)),
    (False, True, True, (True, False, True)),
]


@pytest.mark.parametrize("pod_ready, deleting, publish, expected", CONDITIONS)
def test_endpoint_conditions_follow_pod_to_endpoint(pod_ready, deleting, publish, expected):
    service = WEB.with_(publish_not_ready_addresses=publish)
    pod = web_pod(0, ready=pod_ready, terminating=deleting)
    conditions = endpoint_conditions(pod, service)
    assert (conditions.ready, conditions.serving, conditions.terminating) == expected
    # and the slice the controller writes carries exactly these conditions
    (endpoint,) = all_endpoints(cluster_of(pod, services=(service,)), service)
    assert endpoint.conditions == EndpointConditions(*expected)


# (pod Ready, deletion requested, publishNotReadyAddresses) -> where the Endpoints object lists the IP
ENDPOINTS_PLACEMENT = [
    (True, False, False, "addresses"),
    (False, False, False, "notReadyAddresses"),
    (True, True, False, None),  # terminating pods are left out of Endpoints
    (False, True, False, None),
    (False, False, True, "addresses"),  # publishNotReadyAddresses: every pod is ready
    (True, True, True, "addresses"),  # ... and terminating ones are kept
]


@pytest.mark.parametrize("pod_ready, deleting, publish, where", ENDPOINTS_PLACEMENT)
def test_endpoints_controller_places_pods(pod_ready, deleting, publish, where):
    service = WEB.with_(publish_not_ready_addresses=publish)
    endpoints = endpoints_for(cluster_of(web_pod(0, ready=pod_ready, terminating=deleting), services=(service,)), service)
    ready, not_ready = endpoints.ready_addresses, endpoints.not_ready_addresses
    ip = IPv4Address("10.244.1.10")
    assert (ip in ready, ip in not_ready) == (where == "addresses", where == "notReadyAddresses")


def test_readiness_flip_moves_the_address_to_not_ready_addresses():
    pods = [web_pod(i) for i in range(3)]
    before = endpoints_for(cluster_of(*pods), WEB)
    assert [str(ip) for ip in before.ready_addresses] == ["10.244.1.10", "10.244.1.12", "10.244.2.11"]
    assert before.not_ready_addresses == ()

    flipped = cluster_of(pods[0], pods[1].with_ready(False), pods[2])
    after = endpoints_for(flipped, WEB)
    assert [str(ip) for ip in after.ready_addresses] == ["10.244.1.10", "10.244.1.12"]
    assert [str(ip) for ip in after.not_ready_addresses] == ["10.244.2.11"]
    # one subset: both kinds of address offer the same port
    (subset,) = after.subsets
    assert subset.ports == (EndpointPort(8080),)
    # the slice keeps the endpoint, with ready=false
    by_ip = {str(e.address): e.conditions for e in all_endpoints(flipped)}
    assert by_ip["10.244.2.11"] == EndpointConditions(ready=False, serving=False, terminating=False)

    # and back: Ready again puts it back in rotation
    assert endpoints_for(cluster_of(*pods), WEB) == before


@pytest.mark.parametrize(
    "changes, included",
    [
        ({}, True),
        ({"phase": "Pending"}, True),  # Pending with an IP: listed (as not ready if not Ready)
        ({"phase": "Succeeded"}, False),
        ({"phase": "Failed"}, False),
        ({"pod_ip": None}, False),
        ({"labels": {"app": "other"}}, False),
    ],
)
def test_which_pods_are_endpoints(changes, included):
    cluster = cluster_of(web_pod(0, **changes))
    assert bool(all_endpoints(cluster)) is included
    assert bool(endpoints_for(cluster, WEB).subsets) is included


def test_should_be_in_endpoints_table():
    pod = web_pod(0)
    assert should_be_in_endpoints(pod, include_terminating=False)
    assert not should_be_in_endpoints(pod.with_(terminating=True), include_terminating=False)
    assert should_be_in_endpoints(pod.with_(terminating=True), include_terminating=True)
    assert not should_be_in_endpoints(pod.with_(phase="Failed"), include_terminating=True)


def test_other_namespace_is_not_selected():
    other = Pod("staging", "web-0", labels={"app": "web"}, node_name="node-a", pod_ip="10.244.1.99")
    assert all_endpoints(cluster_of(other)) == []


# --- endpoint fields ---------------------------------------------------------------


def test_endpoint_fields_come_from_pod_and_node():
    (endpoint,) = all_endpoints(cluster_of(web_pod(0)))
    assert endpoint.addresses == (IPv4Address("10.244.1.10"),)
    assert endpoint.node_name == "node-a"
    assert endpoint.zone == "zone-a"  # the node's topology.kubernetes.io/zone label
    assert (endpoint.target_ref.kind, endpoint.target_ref.namespace, endpoint.target_ref.name, endpoint.target_ref.uid) == (
        "Pod", "default", "web-0", "uid-0000")
    (other,) = all_endpoints(cluster_of(web_pod(1)))
    assert other.zone is None  # node-b has no zone label


def test_host_network_pod_is_an_endpoint_at_its_reported_pod_ip_only():
    # ShouldPodBeInEndpoints (pkg/controller/util/endpoint/controller_utils.go): no
    # status.podIP, no endpoint, hostNetwork or not; the kubelet reports the node's IP.
    assert all_endpoints(cluster_of(web_pod(0, pod_ip=None, host_network=True))) == []
    (endpoint,) = all_endpoints(cluster_of(web_pod(0, pod_ip="192.168.0.10", host_network=True)))
    assert endpoint.address == IPv4Address("192.168.0.10")


def test_pod_on_a_missing_node_is_skipped_unless_publishing_not_ready():
    orphan = web_pod(0, node_name="node-gone")
    assert all_endpoints(cluster_of(orphan)) == []
    publishing = WEB.with_(publish_not_ready_addresses=True)
    assert len(all_endpoints(cluster_of(orphan, services=(publishing,)), publishing)) == 1
    # the Endpoints controller does not look at nodes
    assert endpoints_for(cluster_of(orphan), WEB).ready_addresses == (IPv4Address("10.244.1.10"),)


# --- ports -------------------------------------------------------------------------


def test_named_target_port_is_resolved_per_pod_and_pods_are_grouped_by_ports():
    service = Service("default", "web", selector={"app": "web"}, cluster_ip="10.96.0.20",
                      ports=(ServicePort(80, "http", name="web"),))
    on_8080 = web_pod(0)
    on_9090 = web_pod(1, containers=(Container("web", ports=(ContainerPort(9090, name="http"),)),))
    unnamed = web_pod(2, containers=(Container("web", ports=(ContainerPort(8080),)),))
    udp_only = web_pod(3, containers=(Container("web", ports=(ContainerPort(8080, name="http", protocol="UDP"),)),))
    slices = slices_for_service(cluster_of(on_8080, on_9090, unnamed, udp_only, services=(service,)), service)

    groups = {s.ports: sorted(e.target_ref.name for e in s.endpoints) for s in slices}
    assert groups == {
        (EndpointPort(8080, "web", Protocol.TCP),): ["web-0"],
        (EndpointPort(9090, "web", Protocol.TCP),): ["web-1"],
        (): ["web-2", "web-3"],  # no container port named "http" with protocol TCP: a slice without ports
    }
    assert len({s.name for s in slices}) == 3

    endpoints = endpoints_for(cluster_of(on_8080, on_9090, unnamed, udp_only, services=(service,)), service)
    assert [(tuple(str(a.ip) for a in s.addresses), s.ports) for s in endpoints.subsets] == [
        (("10.244.1.10",), (EndpointPort(8080, "web"),)),
        (("10.244.2.11",), (EndpointPort(9090, "web"),)),
    ]


def test_multi_port_service_where_one_pod_lacks_a_port_repacks_into_two_subsets():
    service = Service("default", "web", selector={"app": "web"}, cluster_ip="10.96.0.20",
                      ports=(ServicePort(80, "http", name="http"), ServicePort(9100, "metrics", name="metrics")))
    both = web_pod(0, containers=(Container("web", ports=(ContainerPort(8080, "http"), ContainerPort(9100, "metrics"))),))
    http_only = web_pod(1)
    endpoints = endpoints_for(cluster_of(both, http_only, services=(service,)), service)
    assert [(tuple(str(a.ip) for a in s.addresses), tuple(p.name for p in s.ports)) for s in endpoints.subsets] == [
        (("10.244.1.10", "10.244.2.11"), ("http",)),
        (("10.244.1.10",), ("metrics",)),
    ]


def test_endpoints_addresses_sort_by_ip_string_not_number():
    pods = [web_pod(0, pod_ip="10.244.2.9"), web_pod(1, pod_ip="10.244.10.1"), web_pod(2, pod_ip="10.244.1.200")]
    endpoints = endpoints_for(cluster_of(*pods), WEB)
    assert [str(ip) for ip in endpoints.ready_addresses] == ["10.244.1.200", "10.244.10.1", "10.244.2.9"]


def test_headless_service_without_ports_lists_addresses_without_ports():
    headless = Service("default", "web", selector={"app": "web"}, cluster_ip=None)
    endpoints = endpoints_for(cluster_of(web_pod(0), services=(headless,)), headless)
    (subset,) = endpoints.subsets
    assert subset.ports == () and [str(a.ip) for a in subset.addresses] == ["10.244.1.10"]


# --- slices ------------------------------------------------------------------------


def test_at_most_100_endpoints_per_slice():
    pods = [web_pod(i, pod_ip=f"10.244.{1 + i % 2}.{i // 2 + 2}") for i in range(250)]
    slices = slices_for_service(cluster_of(*pods), WEB)
    assert sorted(len(s.endpoints) for s in slices) == [50, 100, 100]
    assert len({s.name for s in slices}) == 3
    assert all(s.name.startswith("web-") and len(s.name) == len("web-") + 5 for s in slices)
    assert all(s.managed_by == ENDPOINTSLICE_CONTROLLER for s in slices)


def test_slice_names_are_stable_between_runs():
    cluster = cluster_of(web_pod(0), web_pod(1))
    assert [s.name for s in slices_for(cluster)] == [s.name for s in slices_for(cluster)]


def test_service_without_endpoints_gets_an_empty_placeholder_slice():
    (placeholder,) = slices_for(cluster_of())
    assert placeholder.service_name == "web" and placeholder.endpoints == () and placeholder.ports == ()
    assert endpoints_for(cluster_of(), WEB).subsets == ()
    assert has_endpoints_object(cluster_of(), WEB)


def test_selectorless_and_external_name_services_get_no_derived_slices():
    manual = Service("default", "db", cluster_ip="10.96.0.30", ports=(ServicePort(5432),))
    external = Service("default", "ext", selector={"app": "web"}, type=ServiceType.EXTERNAL_NAME)
    cluster = cluster_of(web_pod(0), services=(manual, external))
    assert slices_for(cluster) == ()
    assert not has_endpoints_object(cluster, manual)
    assert endpoints_for(cluster, manual).subsets == ()


def test_explicit_slices_replace_derived_ones():
    manual = Service("default", "db", cluster_ip="10.96.0.30", ports=(ServicePort(5432),))
    given = EndpointSlice(
        "default", "db-1", "db",
        endpoints=(
            Endpoint(("192.168.5.1",)),
            Endpoint(("192.168.5.2",), conditions=EndpointConditions(ready=False, serving=False, terminating=False)),
            Endpoint(("192.168.5.3",), conditions=EndpointConditions(ready=False, serving=True, terminating=True)),
            Endpoint(("192.168.5.4",), conditions=EndpointConditions(ready=None, serving=None, terminating=None)),
        ),
        ports=(EndpointPort(5432),),
    )
    cluster = cluster_of(web_pod(0), services=(WEB, manual), slices=(given,))
    assert slices_for_service(cluster, manual) == (given,)
    assert [s.name for s in slices_for(cluster)][-1] == "db-1"
    endpoints = endpoints_for(cluster, "default/db")
    # ready=None reads as ready; the terminating endpoint is left out
    assert [str(ip) for ip in endpoints.ready_addresses] == ["192.168.5.1", "192.168.5.4"]
    assert [str(ip) for ip in endpoints.not_ready_addresses] == ["192.168.5.2"]
    # a selector Service with given slices keeps them too
    web_slice = EndpointSlice("default", "web-given", "web", endpoints=(Endpoint(("10.244.9.9",)),), ports=(EndpointPort(8080),))
    assert slices_for_service(cluster_of(web_pod(0), slices=(web_slice,)), WEB) == (web_slice,)


def test_endpoints_object_is_truncated_at_1000_addresses():
    pods = [web_pod(i, pod_ip=f"10.244.{1 + i // 250}.{i % 250 + 2}", node_name="node-a") for i in range(1200)]
    endpoints = endpoints_for(cluster_of(*pods), WEB)
    assert len(endpoints.ready_addresses) == 1000 and endpoints.over_capacity
    assert not endpoints_for(cluster_of(*pods[:1000]), WEB).over_capacity


def test_endpoint_address_rejects_a_bad_ip():
    with pytest.raises(ValueError, match="10.0.0.300"):
        EndpointAddress("10.0.0.300")


# --- invariants over random clusters -----------------------------------------------

pod_states = st.lists(
    st.tuples(st.booleans(), st.booleans(), st.sampled_from(["Running", "Pending", "Succeeded", "Failed"]), st.booleans()),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(pod_states, st.booleans())
def test_slices_and_endpoints_agree(states, publish):
    service = WEB.with_(publish_not_ready_addresses=publish)
    pods = [
        web_pod(i, ready=ready, terminating=deleting, phase=phase, pod_ip=f"10.244.1.{i + 2}" if has_ip else None)
        for i, (ready, deleting, phase, has_ip) in enumerate(states)
    ]
    cluster = cluster_of(*pods, services=(service,))
    slices = slices_for(cluster)
    endpoints = [e for s in slices for e in s.endpoints]

    assert all(len(s.endpoints) <= 100 for s in slices)
    live = [p for p in pods if p.pod_ip is not None and p.phase.value not in ("Succeeded", "Failed")]
    # every live pod is in exactly one slice, terminating or not
    assert sorted(e.target_ref.name for e in endpoints) == sorted(p.name for p in live)
    # Endpoints: ready addresses are exactly the slice endpoints with ready=true that are
    # not terminating (or all of them when publishing not-ready addresses)
    object_ = endpoints_for(cluster, service)
    expect_ready = {e.address for e in endpoints if e.conditions.ready and (publish or not e.conditions.terminating)}
    expect_not_ready = {e.address for e in endpoints if not e.conditions.ready and not e.conditions.terminating}
    assert set(object_.ready_addresses) == expect_ready
    assert set(object_.not_ready_addresses) == expect_not_ready
    assert not (set(object_.ready_addresses) & set(object_.not_ready_addresses))


def test_the_controllers_and_views_import_without_yaml_or_plotting():
    # The core imports only the standard library; YAML is read at the edge, when asked.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import k8snet_lesson.endpoints, k8snet_lesson.scenarios, k8snet_lesson.manifests, k8snet_lesson.view.kubectl\n"
        "heavy = {'yaml', 'matplotlib', 'ipywidgets', 'pandas', 'networkx', 'scapy'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
