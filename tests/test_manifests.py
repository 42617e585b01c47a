"""Manifests in, cluster values out; errors at file:line; the kubectl List round trip."""

from __future__ import annotations

import io
import json
import textwrap
from datetime import datetime, timedelta, timezone
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

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
    NetworkPolicy,
    Node,
    ObjectReference,
    Pod,
    Protocol,
    Service,
    ServicePort,
)
from k8snet_lesson.endpoints import ENDPOINTSLICE_MIRRORING_CONTROLLER, endpoints_for
from k8snet_lesson.errors import ManifestError
from k8snet_lesson.manifests import dumps, load, loads
from k8snet_lesson.resources import data_path

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# --- errors: file, line, value, caret --------------------------------------------------

ERRORS = [
    (
        "unknown kind",
        """\
        apiVersion: apps/v1
        kind: Deploymnet
        metadata: {name: web}
        """,
        "bad.yaml:2: unknown kind 'Deploymnet'\n    kind: Deploymnet\n          ^~~~~~~~~~",
    ),
    (
        "invalid YAML",
        """\
        kind: Pod
        metadata:
          name: web
         labels: {}
        """,
        "bad.yaml:4: invalid YAML: ",
    ),
    (
        "bad pod CIDR",
        """\
        kind: Node
        metadata: {name: node-a}
        spec:
          podCIDR: 10.244.1.0/33
        """,
        "bad.yaml:4: Node node-a: spec.podCIDR is not an IPv4 CIDR: '10.244.1.0/33'\n"
        "      podCIDR: 10.244.1.0/33\n"
        "               ^~~~~~~~~~~~~",
    ),
    (
        "CIDR with host bits",
        """\
        apiVersion: kubeadm.k8s.io/v1beta3
        kind: ClusterConfiguration
        networking:
          podSubnet: 10.244.1.0/16
        """,
        "bad.yaml:4: ClusterConfiguration: networking.podSubnet has host bits set (the network is 10.244.0.0/16): "
        "'10.244.1.0/16'",
    ),
    (
        "bad pod IP",
        """\
        kind: Pod
        metadata: {name: web}
        status:
          podIP: 10.244.1.256
        """,
        "bad.yaml:4: Pod default/web: status.podIP is not an IPv4 address: '10.244.1.256'\n"
        "      podIP: 10.244.1.256\n"
        "             ^~~~~~~~~~~~",
    ),
    (
        "IPv6 pod IP",
        """\
        kind: Pod
        metadata: {name: web}
        status:
          podIP: "fd00::5"
        """,
        "bad.yaml:4: Pod default/web: status.podIP is not an IPv4 address: 'fd00::5'\n"
        '      podIP: "fd00::5"\n'
        "              ^~~~~~~",
    ),
    (
        "bad container port",
        """\
        kind: Pod
        metadata: {name: web}
        spec:
          containers:
          - name: web
            ports:
            - containerPort: 70000
        """,
        "bad.yaml:7: Pod default/web container web: containerPort must be a port number (1-65535), not '70000'",
    ),
    (
        "bad service port",
        """\
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          ports:
          - port: 0
        """,
        "bad.yaml:5: Service shop/web spec.ports[0]: port must be a port number (1-65535), not '0'",
    ),
    (
        "quoted numeric targetPort",
        """\
        kind: Service
        metadata: {name: web}
        spec:
          ports:
          - port: 80
            targetPort: "8080"
        """,
        "bad.yaml:6: Service default/web: targetPort must be a number or a port name, not the quoted string '8080'",
    ),
    (
        "unquoted label value",
        """\
        kind: Pod
        metadata:
          name: web
          labels:
            version: 2
        """,
        "bad.yaml:5: Pod default/web: every value of labels must be a string (quote it), not '2'",
    ),
    (
        "missing name",
        """\
        kind: Service
        metadata:
          namespace: shop
        """,
        "bad.yaml:3: Service: metadata.name is missing",
    ),
    (
        "node without InternalIP",
        """\
        kind: Node
        metadata: {name: node-a}
        """,
        "bad.yaml:1: Node node-a: status.addresses has no InternalIP",
    ),
    (
        "wrong apiVersion",
        """\
        apiVersion: discovery.k8s.io/v1beta1
        kind: EndpointSlice
        metadata: {name: web-abcde}
        """,
        "bad.yaml:1: EndpointSlice: apiVersion must be discovery.k8s.io/v1, not 'discovery.k8s.io/v1beta1'",
    ),
    (
        "service type typo",
        """\
        kind: Service
        metadata: {name: web}
        spec:
          type: Nodeport
        """,
        "bad.yaml:4: Service default/web: type must be one of ClusterIP, NodePort, LoadBalancer, ExternalName, not 'Nodeport'",
    ),
    (
        "bad listen-ports annotation",
        """\
        kind: Pod
        metadata:
          name: web
          annotations:
            k8snet-lesson/listen-ports: "8080,http"
        spec:
          containers: [{name: web}]
        """,
        "bad.yaml:5: Pod default/web: annotation k8snet-lesson/listen-ports has a bad port 'http'\n"
        '        k8snet-lesson/listen-ports: "8080,http"\n'
        "    " + " " * 38 + "^~~~",  # under "http", 38 columns into the line
    ),
    (
        "duplicate object",
        """\
        kind: Service
        metadata: {name: web}
        ---
        kind: Service
        metadata: {name: web}
        """,
        "bad.yaml:4: Service default/web is given twice (first at bad.yaml:1)",
    ),
    (
        "matchExpressions",
        """\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: db}
        spec:
          podSelector:
            matchExpressions: [{key: app, operator: In, values: [db]}]
        """,
        "bad.yaml:6: NetworkPolicy default/db: podSelector.matchExpressions is not modelled (use matchLabels)",
    ),
    (
        "slice without service label",
        """\
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-abcde}
        addressType: IPv4
        """,
        "bad.yaml:1: EndpointSlice default/web-abcde: metadata.labels has no kubernetes.io/service-name",
    ),
    (
        "not a mapping",
        """\
        - kind: Pod
        """,
        "bad.yaml:1: a manifest must be a mapping with apiVersion and kind",
    ),
]


@pytest.mark.parametrize("text, message", [(t, m) for _, t, m in ERRORS], ids=[i for i, _, _ in ERRORS])
def test_errors_name_file_line_and_value(text, message):
    with pytest.raises(ManifestError) as caught:
        loads(doc(text), source="bad.yaml", now=NOW)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ManifestError, match=r"^nope\.yaml: cannot read manifest: No such file or directory$"):
        load(["nope.yaml"])
    with pytest.raises(ManifestError, match="Is a directory"):
        load([tmp_path])
    with pytest.raises(ManifestError, match="no manifest file given"):
        load([])


def test_error_in_a_second_file_names_that_file(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("kind: Namespace\nmetadata: {name: shop}\n")
    bad.write_text("kind: Namespace\nmetadata: {name: shop}\n---\nkind: Pod\nmetadata: {name: web}\nstatus: {podIP: nope}\n")
    with pytest.raises(ManifestError) as caught:
        load([good, bad])
    assert str(caught.value).startswith(f"{bad}:6: Pod default/web: status.podIP is not an IPv4 address: 'nope'")


KUBEADM_BAD_SUBNET = doc("""\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: kubeadm-config, namespace: kube-system}
    data:
      ClusterConfiguration: |
        apiVersion: kubeadm.k8s.io/v1beta3
        kind: ClusterConfiguration
        networking:
          serviceSubnet: 10.96.0.0/40
    """)


def test_error_inside_kubeadm_config_points_at_the_configmap_line():
    text = KUBEADM_BAD_SUBNET
    with pytest.raises(ManifestError) as caught:
        loads(text, source="kubeadm.yaml")
    assert str(caught.value).startswith("kubeadm.yaml:9: ClusterConfiguration: networking.serviceSubnet is not an IPv4 CIDR")


# --- what is read ----------------------------------------------------------------------


def test_pod_fields():
    cluster = loads(doc("""\
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-1
          namespace: shop
          uid: 1b4e28ba-2fa1-41d2-883f-0016d3cca427
          labels: {app: web}
          creationTimestamp: "2026-03-01T07:00:00Z"
          deletionTimestamp: "2026-03-01T11:59:30Z"
          annotations:
            k8snet-lesson/bind-address: "127.0.0.1"
            k8snet-lesson/sidecar.listen-ports: "9090, 9091"
        spec:
          nodeName: node-a
          containers:
          - name: web
            image: web:1
            ports: [{containerPort: 8080, name: http}]
          - name: sidecar
            ports: [{containerPort: 53, protocol: UDP}]
        status:
          phase: Running
          podIP: 10.244.1.5
          conditions: [{type: Ready, status: "False"}]
          containerStatuses: [{name: web, restartCount: 2}, {name: sidecar, restartCount: 1}]
        """), now=NOW)
    (pod,) = cluster.pods
    assert (pod.key, pod.uid, pod.node_name, str(pod.pod_ip)) == (
        "shop/web-1", "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "node-a", "10.244.1.5")
    assert (pod.ready, pod.terminating, pod.restarts, pod.age) == (False, True, 3, timedelta(hours=5))
    web, sidecar = pod.containers
    assert (web.image, web.ports, web.bind_address, web.listen_ports) == (
        "web:1", (ContainerPort(8080, "http"),), IPv4Address("127.0.0.1"), None)
    assert (sidecar.ports[0].protocol, sidecar.bind_address, sidecar.listen_ports) == (
        Protocol.UDP, IPv4Address("0.0.0.0"), (9090, 9091))


@pytest.mark.parametrize(
    "status, phase, ready, ip",
    [
        ("", "Pending", False, None),
        ("status: {podIP: 10.244.1.5}", "Running", True, "10.244.1.5"),
        ("status: {phase: Running, podIP: 10.244.1.5, conditions: [{type: Initialized, status: 'True'}]}",
         "Running", False, "10.244.1.5"),
        ("status: {phase: Succeeded, podIP: 10.244.1.5}", "Succeeded", False, "10.244.1.5"),
    ],
)
def test_pod_status_defaults(status, phase, ready, ip):
    (pod,) = loads(f"kind: Pod\nmetadata: {{name: web}}\n{status}\n").pods
    assert (pod.phase.value, pod.ready, None if pod.pod_ip is None else str(pod.pod_ip)) == (phase, ready, ip)


def test_service_fields():
    (service,) = loads(doc("""\
        apiVersion: v1
        kind: Service
        metadata: {name: shop, namespace: web}
        spec:
          type: LoadBalancer
          clusterIP: 10.96.0.50
          selector: {app: shop}
          ports:
          - {name: http, port: 80, targetPort: http, nodePort: 30080}
          - {name: dns, port: 53, protocol: UDP}
          sessionAffinity: ClientIP
          sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
          externalTrafficPolicy: Local
          internalTrafficPolicy: Local
          healthCheckNodePort: 31000
          externalIPs: [192.168.10.5]
          loadBalancerSourceRanges: [203.0.113.0/24]
          publishNotReadyAddresses: true
        status:
          loadBalancer:
            ingress: [{ip: 198.51.100.7}, {hostname: lb.example}]
        """)).services
    assert service.type.value == "LoadBalancer" and str(service.cluster_ip) == "10.96.0.50"
    assert service.ports == (ServicePort(80, "http", "http", node_port=30080), ServicePort(53, 53, "dns", "UDP"))
    assert (service.session_affinity.value, service.session_affinity_timeout) == ("ClientIP", 600)
    assert (service.external_traffic_policy.value, service.internal_traffic_policy.value) == ("Local", "Local")
    assert service.health_check_node_port == 31000 and service.publish_not_ready_addresses
    assert service.external_ips == (IPv4Address("192.168.10.5"),)
    assert service.load_balancer_source_ranges == (IPv4Interface("203.0.113.0/24"),)  # as written
    assert service.load_balancer_ips == (IPv4Address("198.51.100.7"),)


@pytest.mark.parametrize("spec, selector, cluster_ip", [
    ("{}", None, None),
    ("{selector: {}}", None, None),
    ("{clusterIP: None, selector: {app: db}}", {"app": "db"}, None),
])
def test_service_without_selector_or_clusterip(spec, selector, cluster_ip):
    (service,) = loads(f"kind: Service\nmetadata: {{name: db}}\nspec: {spec}\n").services
    assert service.selector == selector and service.cluster_ip == cluster_ip


def test_cluster_configuration_and_defaults():
    defaults = loads("kind: Namespace\nmetadata: {name: shop}\n")
    assert (str(defaults.cluster_cidr), str(defaults.service_cidr), defaults.node_network) == (
        "10.244.0.0/16", "10.96.0.0/12", None)
    configured = loads(doc("""\
        apiVersion: kubeadm.k8s.io/v1beta4
        kind: ClusterConfiguration
        metadata:
          annotations: {k8snet-lesson/node-network: 10.0.0.0/16, k8snet-lesson/cni: cilium}
        networking: {podSubnet: "10.32.0.0/12,fd00:10:32::/56", serviceSubnet: 10.200.0.0/16, dnsDomain: corp.local}
        controllerManager:
          extraArgs: [{name: node-cidr-mask-size, value: "26"}]
        """))
    assert (str(configured.cluster_cidr), str(configured.service_cidr), str(configured.node_network)) == (
        "10.32.0.0/12", "10.200.0.0/16", "10.0.0.0/16")
    assert (configured.dns_domain, configured.node_cidr_mask_size, configured.cni) == ("corp.local", 26, "cilium")


def test_endpoints_are_mirrored_only_where_the_mirroring_controller_would():
    cluster = loads(doc("""\
        kind: Service
        metadata: {name: db}
        spec: {clusterIP: 10.96.0.30, ports: [{port: 5432}]}
        ---
        kind: Service
        metadata: {name: web}
        spec: {clusterIP: 10.96.0.20, selector: {app: web}, ports: [{port: 80}]}
        ---
        kind: Endpoints
        metadata: {name: db}
        subsets:
        - addresses: [{ip: 192.168.5.1, nodeName: node-a}]
          notReadyAddresses: [{ip: 192.168.5.2}]
          ports: [{port: 5432, protocol: TCP}]
        ---
        kind: Endpoints
        metadata: {name: web}
        subsets: [{addresses: [{ip: 10.244.9.9}], ports: [{port: 80}]}]
        ---
        kind: Endpoints
        metadata: {name: gone}
        subsets: [{addresses: [{ip: 10.244.9.8}], ports: [{port: 80}]}]
        """))
    (mirrored,) = cluster.endpoint_slices
    assert (mirrored.service_name, mirrored.managed_by, mirrored.ports) == (
        "db", ENDPOINTSLICE_MIRRORING_CONTROLLER, (EndpointPort(5432),))
    assert mirrored.name.startswith("db-") and len(mirrored.name) == len("db-") + 5
    assert [(str(e.address), e.conditions, e.node_name) for e in mirrored.endpoints] == [
        ("192.168.5.1", EndpointConditions(ready=True, serving=None, terminating=None), "node-a"),
        ("192.168.5.2", EndpointConditions(ready=False, serving=None, terminating=None), None),
    ]
    endpoints = endpoints_for(cluster, "default/db")
    assert [str(ip) for ip in endpoints.ready_addresses] == ["192.168.5.1"]
    assert [str(ip) for ip in endpoints.not_ready_addresses] == ["192.168.5.2"]


def test_endpoint_slice_fields_and_non_ipv4_slices():
    cluster = loads(doc("""\
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: web-x7k2p
          labels: {kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io}
        addressType: IPv4
        endpoints:
        - addresses: [10.244.1.5]
          conditions: {ready: false, serving: true, terminating: true}
          nodeName: node-a
          zone: zone-a
          targetRef: {kind: Pod, namespace: default, name: web-1, uid: u-1}
        ports: [{name: http, port: 8080, protocol: TCP}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: web-v6
          labels: {kubernetes.io/service-name: web}
        addressType: IPv6
        endpoints: [{addresses: ["fd00::5"]}]
        """))
    (given,) = cluster.endpoint_slices
    assert given == EndpointSlice(
        "default", "web-x7k2p", "web",
        endpoints=(Endpoint((IPv4Address("10.244.1.5"),), EndpointConditions(False, True, True), "node-a", "zone-a",
                            ObjectReference("Pod", "default", "web-1", "u-1")),),
        ports=(EndpointPort(8080, "http"),),
    )


def test_network_policy_simplification():
    cluster = loads(doc("""\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: db, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: db}}
          ingress:
          - from:
            - podSelector: {matchLabels: {app: api}}
            - namespaceSelector: {matchLabels: {team: ops}}
            - ipBlock: {cidr: 10.0.0.0/8}
            ports: [{port: 5432}]
          - {}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny-all, namespace: shop}
        spec: {podSelector: {}, policyTypes: [Ingress]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: egress-only, namespace: shop}
        spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}
        """))
    assert cluster.network_policies == (
        NetworkPolicy("shop", "db", {"app": "db"}, ({"app": "api"}, {})),
        NetworkPolicy("shop", "deny-all", {}, ()),
    )


def test_list_json_stdin_and_ignored_kinds(monkeypatch):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
           "status": {"phase": "Running", "podIP": "10.244.1.5"}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": [deployment, pod]}, indent=4)
    monkeypatch.setattr("sys.stdin", io.StringIO(listing))
    cluster = load(["-"])
    assert [p.key for p in cluster.pods] == ["shop/web"]
    # a PodList with tab-indented JSON (which YAML 1.1 refuses) is still read
    tabbed = json.dumps({"kind": "PodList", "items": [pod]}, indent="\t")
    assert loads(tabbed).pods == cluster.pods


def test_ages_come_from_creation_timestamps():
    cluster = loads(doc("""\
        kind: Node
        metadata: {name: node-a, creationTimestamp: "2026-02-20T12:00:00Z"}
        status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
        ---
        kind: Service
        metadata: {name: web}
        """), now=NOW)
    assert cluster.nodes[0].age == timedelta(days=9)
    assert cluster.services[0].age == timedelta(days=8)  # no timestamp: the model's default


# --- round trips ---------------------------------------------------------------------


def test_lesson_files_round_trip_through_a_kubectl_list():
    for name in ("lesson-cluster.yaml", "two-node-flow.yaml"):
        cluster = load([data_path(name)], now=NOW)
        text = dumps(cluster, now=NOW)
        assert text.startswith("apiVersion: v1\nitems:\n") and text.endswith('kind: List\nmetadata:\n  resourceVersion: ""\n')
        assert loads(text, now=NOW) == cluster


def test_a_cluster_with_every_field_round_trips():
    cluster = Cluster(
        nodes=(Node("node-a", "192.168.0.10", "10.32.1.0/24", ready=False, labels={"zone": "a"},
                    kube_proxy_synced=False, age=timedelta(days=3)),),
        pods=(
            Pod("shop", "web-1", labels={"app": "web"}, node_name="node-a", pod_ip="10.32.1.5", ready=False,
                terminating=True, restarts=4, age=timedelta(minutes=5), uid="u-1",
                containers=(Container("web", (ContainerPort(8080, "http"),), bind_address="127.0.0.1",
                                      listen_ports=(8081,), image="web:2"),
                            Container("dns", (ContainerPort(53, protocol="UDP"),)))),
            Pod("kube-system", "proxy", node_name="node-a", host_network=True, phase="Pending", pod_ip="192.168.0.10"),
        ),
        services=(
            Service("shop", "web", ports=(ServicePort(80, "http", "http", node_port=30080),), selector={"app": "web"},
                    cluster_ip="10.100.0.20", type="LoadBalancer", session_affinity="ClientIP",
                    session_affinity_timeout=60, external_traffic_policy="Local", internal_traffic_policy="Local",
                    external_ips=("192.168.9.9",), load_balancer_ips=("198.51.100.7",),
                    load_balancer_source_ranges=("203.0.113.0/24",), health_check_node_port=31000,
                    publish_not_ready_addresses=True, age=timedelta(hours=2)),
            Service("shop", "db", ports=(ServicePort(5432),), cluster_ip=None),
        ),
        endpoint_slices=(
            EndpointSlice("shop", "db-1", "db", endpoints=(
                Endpoint(("10.32.1.9",), EndpointConditions(None, None, None), zone="a", hostname="db-0",
                         target_ref=ObjectReference("Pod", "shop", "db-0", "u-9")),),
                ports=(EndpointPort(5432, "pg"),), managed_by=""),
        ),
        network_policies=(NetworkPolicy("shop", "db", {"app": "db"}, ({"app": "web"},)),),
        cluster_cidr="10.32.0.0/12",
        service_cidr="10.100.0.0/16",
        node_network="192.168.0.0/16",
        node_cidr_mask_size=24,
        cni="cilium",
        dns_domain="corp.local",
    )
    assert loads(dumps(cluster, now=NOW), now=NOW) == cluster


label_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=12).filter(
    lambda s: s[0].isalnum() and s[-1].isalnum())


@st.composite
def pods(draw):
    i = draw(st.integers(0, 250))
    ports = draw(st.lists(st.builds(ContainerPort, st.integers(1, 65535), st.sampled_from(["", "http", "dns"]),
                                    st.sampled_from(list(Protocol))), max_size=3))
    return Pod(
        namespace=draw(st.sampled_from(["default", "shop"])),
        name=f"pod-{i}",
        labels=draw(st.dictionaries(label_text, label_text, max_size=3)),
        node_name=draw(st.sampled_from([None, "node-a"])),
        pod_ip=draw(st.sampled_from([None, f"10.244.1.{i + 2}"])),
        containers=(Container("main", tuple(ports), image=draw(st.sampled_from(["", "app:1"]))),),
        ready=draw(st.booleans()),
        terminating=draw(st.booleans()),
        phase=draw(st.sampled_from(["Pending", "Running", "Succeeded", "Failed"])),
        restarts=draw(st.integers(0, 50)),
        age=timedelta(seconds=draw(st.integers(0, 10**8))),
        uid=draw(st.sampled_from(["", "3f2b0c2e-5f0a-4c55-9d6e-1c1b2a3d4e5f"])),
    )


@settings(max_examples=80, deadline=None)
@given(st.lists(pods(), max_size=6, unique_by=lambda p: (p.namespace, p.name)))
def test_random_pods_round_trip(pod_values):
    cluster = Cluster(pods=tuple(pod_values))
    assert loads(dumps(cluster, now=NOW), now=NOW) == cluster


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_either_loads_or_raises_a_manifest_error(text):
    try:
        loads(text, source="fuzz.yaml")
    except ManifestError as exc:
        assert str(exc).startswith("fuzz.yaml")


def test_a_bad_field_in_kubectl_json_is_reported_at_its_line():
    listing = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "status": {"podIP": "10.244.1.5"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db"}, "status": {"podIP": "10.244.1.500"}},
    ]}
    text = json.dumps(listing, indent=4)
    line = text.splitlines().index('                "podIP": "10.244.1.500"') + 1
    with pytest.raises(ManifestError) as caught:
        loads(text, source="pods.json")
    assert str(caught.value).startswith(f"pods.json:{line}: Pod default/db: status.podIP is not an IPv4 address: '10.244.1.500'")
    # tab-indented: the caret still sits under the value, tabs shown as spaces
    tabbed = json.dumps(listing, indent="\t")
    with pytest.raises(ManifestError) as caught:
        loads(tabbed, source="pods.json")
    _, shown, caret = str(caught.value).splitlines()
    assert shown == "    " + " " * 32 + '"podIP": "10.244.1.500"'  # four tabs, eight columns each
    assert caret.index("^") == shown.index("10.244.1.500")
