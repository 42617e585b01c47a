"""kubectl's text views against kubectl's own rules and printed outputs.

Sources of the facts pinned here: apimachinery ``duration_test.go`` (HumanDuration
cases), Go ``text/tabwriter`` with cli-runtime's settings (minwidth 6, padding 3),
``printers.go`` (columns, ``<none>``, ``+ N more...``, an empty ENDPOINTS cell when no
address is ready: kubernetes/kubernetes#30785 shows ``kube-dns               53m``),
``describe.go`` (layout), and lesson 31's printed outputs.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8snet_lesson.cluster import (
    Cluster,
    Container,
    ContainerPort,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    Node,
    Pod,
    Service,
    ServicePort,
)
from k8snet_lesson.errors import InvalidValue
from k8snet_lesson.scenarios import lesson_cluster
from k8snet_lesson.view.kubectl import (
    describe_endpoints,
    describe_pod,
    endpoints_yaml,
    get_endpoints,
    get_endpointslices,
    get_pods,
    get_pods_wide,
    human_duration,
    no_resources,
    tab_aligned,
    to_yaml,
)

ms = timedelta(milliseconds=1)
H, D, Y = timedelta(hours=1), timedelta(days=1), timedelta(days=365)

# apimachinery's TestHumanDuration and TestHumanDurationBoundaries, case for case.
HUMAN_DURATION = [
    (timedelta(seconds=1), "1s"), (timedelta(seconds=70), "70s"), (timedelta(seconds=190), "3m10s"),
    (timedelta(minutes=70), "70m"), (47 * H, "47h"), (49 * H, "2d1h"), ((8 * 24 + 2) * H, "8d"),
    (367 * D, "367d"), (2 * Y + 25 * H, "2y1d"), (8 * Y + 2 * H, "8y"),
    (timedelta(seconds=-2), "<invalid>"), (timedelta(seconds=-2) + timedelta(microseconds=1), "0s"),
    (timedelta(0), "0s"), (timedelta(seconds=1) - ms, "0s"), (timedelta(minutes=2) - ms, "119s"),
    (timedelta(minutes=2), "2m"), (timedelta(minutes=2, seconds=1), "2m1s"), (timedelta(minutes=10) - ms, "9m59s"),
    (timedelta(minutes=10), "10m"), (timedelta(minutes=10, seconds=1), "10m"), (3 * H - ms, "179m"),
    (3 * H, "3h"), (3 * H + timedelta(minutes=1), "3h1m"), (8 * H - ms, "7h59m"), (8 * H, "8h"),
    (8 * H + timedelta(minutes=59), "8h"), (2 * D - ms, "47h"), (2 * D, "2d"), (2 * D + H, "2d1h"),
    (8 * D - ms, "7d23h"), (8 * D, "8d"), (8 * D + 23 * H, "8d"), (2 * Y - ms, "729d"), (2 * Y, "2y"),
    (2 * Y + 23 * H, "2y"), (2 * Y + D - ms, "2y"), (2 * Y + D, "2y1d"), (3 * Y, "3y"), (7 * Y, "7y"),
    (8 * Y - ms, "7y364d"), (8 * Y, "8y"), (8 * Y + 364 * D, "8y"), (9 * Y, "9y"),
]


@pytest.mark.parametrize("duration, text", HUMAN_DURATION)
def test_human_duration_matches_apimachinery(duration, text):
    assert human_duration(duration) == text


# --- Go's tabwriter ------------------------------------------------------------------


def test_tabwriter_pads_every_column_but_the_last_by_three_and_to_at_least_six():
    # "longer-name" is 11 wide: 11 + 3 = 14; "B" is 1 wide: 1 + 3 < 6, so 6
    assert tab_aligned("A\tB\tC\nlonger-name\tx\ty\n") == "A             B     C\nlonger-name   x     y\n"


def test_tabwriter_columns_are_blocks_of_consecutive_lines():
    # A line without a tab ends the block: the lines after it align on their own,
    # which is why "Controlled By:" aligns with "  IP:" in kubectl describe pod.
    text = "Name:\tweb\nIPs:\n  IP:\t10.0.0.1\nControlled By:\tReplicaSet/web\n"
    assert tab_aligned(text, minwidth=0, padding=2) == (
        "Name:  web\n"
        "IPs:\n"
        "  IP:           10.0.0.1\n"
        "Controlled By:  ReplicaSet/web\n"
    )


def test_tabwriter_empty_cells_are_padded_and_trailing_cells_are_not():
    assert tab_aligned("NAME\tENDPOINTS\tAGE\nkube-dns\t\t53m\n") == (
        "NAME       ENDPOINTS   AGE\n"
        "kube-dns               53m\n"  # as printed in kubernetes/kubernetes#30785
    )


# --- YAML ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, printed",
    [
        ("10.244.2.14", "10.244.2.14"),
        ("3000", '"3000"'),
        ("True", '"True"'),
        ("true", '"true"'),
        ("yes", '"yes"'),
        ("y", '"y"'),  # YAML 1.1 reads a bare y as true
        ("", '""'),
        ("null", '"null"'),
        ("1e3", '"1e3"'),
        ("2024-01-15T10:00:00Z", '"2024-01-15T10:00:00Z"'),
        ("a: b", '"a: b"'),
        ("-leading-dash", '"-leading-dash"'),
        ("*", '"*"'),
        ("node-eu-west-1a", "node-eu-west-1a"),
        ("10.244.0.0/16", "10.244.0.0/16"),
        ("None", "None"),
        (3000, "3000"),
        (True, "true"),
    ],
)
def test_yaml_quotes_only_what_would_read_back_as_something_else(value, printed):
    assert to_yaml({"k": value}) == f"k: {printed}\n"


def test_yaml_layout_is_kubectls():
    assert to_yaml({"b": [{"w": 1, "x": [1, 2]}], "a": {}, "c": [], "d": "line one\nline two\n"}) == (
        "a: {}\n"
        "b:\n"
        "- w: 1\n"
        "  x:\n"
        "  - 1\n"
        "  - 2\n"
        "c: []\n"
        "d: |\n"
        "  line one\n"
        "  line two\n"
    )


def test_yaml_reads_back_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    data = {"apiVersion": "v1", "items": [{"a": "3000", "b": 3000, "c": "true", "d": "", "e": "x: y"}], "f": {"g": []}}
    assert yaml.safe_load(to_yaml(data)) == data


# --- the lesson's outputs ------------------------------------------------------------


def test_get_endpoints_prints_the_lessons_line():
    assert get_endpoints(lesson_cluster(), "production") == (
        "NAME               ENDPOINTS                                          AGE\n"
        "checkout-api-svc   10.244.2.14:3000,10.244.3.7:3000,10.244.4.2:3000   8d\n"
    )


def test_get_pods_wide_prints_the_lessons_pods_with_kubectls_columns():
    assert get_pods_wide(lesson_cluster(), "production") == (
        "NAME                        READY   STATUS    RESTARTS   AGE   IP            NODE              NOMINATED NODE   READINESS GATES\n"
        "auth-service-5c7d8f-p2rkx   1/1     Running   0          8d    10.244.4.4    node-eu-west-1c   <none>           <none>\n"
        "checkout-api-6f8b9d-2xkpj   1/1     Running   0          8d    10.244.2.14   node-eu-west-1a   <none>           <none>\n"
        "checkout-api-6f8b9d-7rvqn   1/1     Running   0          8d    10.244.3.7    node-eu-west-1b   <none>           <none>\n"
        "checkout-api-6f8b9d-m5t9w   1/1     Running   0          8d    10.244.4.2    node-eu-west-1c   <none>           <none>\n"
        "payment-api-7d9c4b-xr7nq    1/1     Running   0          8d    10.244.2.15   node-eu-west-1a   <none>           <none>\n"
    )


def test_get_pods_lesson_columns():
    assert get_pods_wide(lesson_cluster(), "production", columns="lesson") == (
        "NAME                        READY   STATUS    NODE              IP\n"
        "auth-service-5c7d8f-p2rkx   1/1     Running   node-eu-west-1c   10.244.4.4\n"
        "checkout-api-6f8b9d-2xkpj   1/1     Running   node-eu-west-1a   10.244.2.14\n"
        "checkout-api-6f8b9d-7rvqn   1/1     Running   node-eu-west-1b   10.244.3.7\n"
        "checkout-api-6f8b9d-m5t9w   1/1     Running   node-eu-west-1c   10.244.4.2\n"
        "payment-api-7d9c4b-xr7nq    1/1     Running   node-eu-west-1a   10.244.2.15\n"
    )
    with pytest.raises(InvalidValue, match="'narrow'"):
        get_pods_wide(lesson_cluster(), columns="narrow")


def test_all_namespaces_adds_a_namespace_column():
    lines = get_endpoints(lesson_cluster()).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "ENDPOINTS", "AGE"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["default", "kubernetes"], ["kube-system", "kube-dns"], ["production", "checkout-api-svc"]]
    # kube-dns: 2 pods x 3 ports = 6 pairs, the first three then "+ 3 more..."
    assert "10.244.3.2:53,10.244.4.3:53,10.244.3.2:53 + 3 more..." in lines[2]


def test_endpoints_yaml_of_the_lesson_service():
    assert endpoints_yaml(lesson_cluster(), "checkout-api-svc", "production") == """\
apiVersion: v1
kind: Endpoints
metadata:
  name: checkout-api-svc
  namespace: production
subsets:
- addresses:
  - ip: 10.244.2.14
    nodeName: node-eu-west-1a
    targetRef:
      kind: Pod
      name: checkout-api-6f8b9d-2xkpj
      namespace: production
      uid: c393fd0e-1cc6-4be5-b836-46bf0324aac3
  - ip: 10.244.3.7
    nodeName: node-eu-west-1b
    targetRef:
      kind: Pod
      name: checkout-api-6f8b9d-7rvqn
      namespace: production
      uid: 0b13a023-af11-4ab1-a40f-16a76490fd4a
  - ip: 10.244.4.2
    nodeName: node-eu-west-1c
    targetRef:
      kind: Pod
      name: checkout-api-6f8b9d-m5t9w
      namespace: production
      uid: 5e0c1f7a-7b2d-4c1e-9a63-2f4d8b1e6c90
  ports:
  - port: 3000
    protocol: TCP
"""


def test_describe_endpoints_of_the_lesson_service():
    assert describe_endpoints(lesson_cluster(), "checkout-api-svc", "production") == """\
Name:         checkout-api-svc
Namespace:    production
Labels:       <none>
Annotations:  <none>
Subsets:
  Addresses:          10.244.2.14,10.244.3.7,10.244.4.2
  NotReadyAddresses:  <none>
  Ports:
    Name     Port  Protocol
    ----     ----  --------
    <unset>  3000  TCP

Events:  <none>
"""


def test_describe_pod_shows_what_the_debugging_ladder_reads():
    text = describe_pod(lesson_cluster(), "checkout-api-6f8b9d-2xkpj", "production")
    lines = text.splitlines()
    assert lines[:12] == [
        "Name:             checkout-api-6f8b9d-2xkpj",
        "Namespace:        production",
        "Priority:         0",
        "Service Account:  default",
        "Node:             node-eu-west-1a/192.168.1.10",
        "Labels:           app=checkout-api",
        "                  pod-template-hash=6f8b9d",
        "Annotations:      <none>",
        "Status:           Running",
        "IP:               10.244.2.14",
        "IPs:",
        "  IP:           10.244.2.14",
    ]
    assert "  IP:           10.244.2.14" in lines and "Controlled By:  ReplicaSet/checkout-api-6f8b9d" in lines
    assert "    Port:           3000/TCP" in lines and "    Ready:          True" in lines
    assert "  Ready                       True " in lines  # kubectl leaves a space after the status


# --- edge cases of the cells -----------------------------------------------------------

NODE = Node("node-a", "192.168.0.10", "10.244.1.0/24")
WEB = Service("default", "web", selector={"app": "web"}, cluster_ip="10.96.0.20", ports=(ServicePort(80, 8080),))


def web_pods(n: int, **changes) -> list[Pod]:
    return [Pod("default", f"web-{i}", labels={"app": "web"}, node_name="node-a", pod_ip=f"10.244.1.{i + 2}",
                containers=(Container("web", ports=(ContainerPort(8080),)),), **changes) for i in range(n)]


def test_more_than_three_endpoints_end_in_n_more():
    cluster = Cluster(nodes=(NODE,), pods=web_pods(5), services=(WEB,))
    assert get_endpoints(cluster, "default").splitlines()[1] == \
        "web    10.244.1.2:8080,10.244.1.3:8080,10.244.1.4:8080 + 2 more...   8d"


def test_no_endpoints_is_none_and_no_ready_endpoint_is_an_empty_cell():
    nobody = Cluster(nodes=(NODE,), services=(WEB,))
    assert get_endpoints(nobody, "default").splitlines()[1] == "web    <none>      8d"
    unready = Cluster(nodes=(NODE,), pods=web_pods(2, ready=False), services=(WEB.with_(age=timedelta(minutes=53)),))
    assert get_endpoints(unready, "default") == "NAME   ENDPOINTS   AGE\nweb                53m\n"


def test_get_endpointslices_columns_and_placeholder():
    cluster = Cluster(nodes=(NODE,), pods=web_pods(4, ready=False), services=(WEB,))
    header, row = get_endpointslices(cluster, "default").splitlines()
    assert header.split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    # the slice lists every address, ready or not
    assert row.split()[1:] == ["IPv4", "8080", "10.244.1.2,10.244.1.3,10.244.1.4", "+", "1", "more...", "8d"]
    empty = Cluster(nodes=(NODE,), services=(WEB,))
    assert get_endpointslices(empty, "default").splitlines()[1].split()[1:] == ["IPv4", "<unset>", "<unset>", "8d"]
    portless = EndpointSlice("default", "db-1", "db", endpoints=(Endpoint(("10.0.0.5",)),),
                             ports=(EndpointPort(None, "sql"), EndpointPort(None)))
    with_given = Cluster(services=(Service("default", "db", cluster_ip="10.96.0.30"),), endpoint_slices=(portless,))
    assert get_endpointslices(with_given, "default").splitlines()[1].split()[2] == "sql,*"


@pytest.mark.parametrize(
    "changes, ready, status, ip",
    [
        ({}, "1/1", "Running", "10.244.1.2"),
        ({"ready": False}, "0/1", "Running", "10.244.1.2"),
        ({"terminating": True}, "1/1", "Terminating", "10.244.1.2"),
        ({"phase": "Succeeded", "ready": False}, "0/1", "Completed", "10.244.1.2"),
        ({"phase": "Failed", "ready": False}, "0/1", "Error", "10.244.1.2"),
        ({"phase": "Pending", "ready": False, "pod_ip": None}, "0/1", "Pending", "<none>"),
    ],
)
def test_pod_row_cells(changes, ready, status, ip):
    (pod,) = web_pods(1)
    cluster = Cluster(nodes=(NODE,), pods=(pod.with_(**changes),))
    row = get_pods(cluster, "default", wide=True).splitlines()[1].split()
    assert row[1:3] == [ready, status] and row[5] == ip


def test_host_network_pod_shows_the_ip_the_kubelet_reported():
    # kubectl prints status.podIP, or <none> without one (printPod, pkg/printers/internalversion/printers.go)
    (pod,) = web_pods(1, host_network=True)
    cluster = Cluster(nodes=(NODE,), pods=(pod.with_pod_ip(None),))
    assert get_pods(cluster, "default", wide=True).splitlines()[1].split()[5] == "<none>"
    cluster = Cluster(nodes=(NODE,), pods=(pod.with_pod_ip("192.168.0.10"),))
    assert get_pods(cluster, "default", wide=True).splitlines()[1].split()[5] == "192.168.0.10"


def test_readiness_flip_shows_in_describe_endpoints():
    pods = web_pods(2)
    cluster = Cluster(nodes=(NODE,), pods=(pods[0], pods[1].with_ready(False)), services=(WEB,))
    text = describe_endpoints(cluster, "web", "default")
    assert "  Addresses:          10.244.1.2\n  NotReadyAddresses:  10.244.1.3\n" in text


def test_empty_lists_are_empty_strings_and_kubectl_says_so_elsewhere():
    assert get_pods(Cluster(), "staging") == "" and get_endpoints(Cluster()) == ""
    assert no_resources("staging") == "No resources found in staging namespace."
    assert no_resources(None) == "No resources found"


def test_endpoints_yaml_without_a_name_is_a_list():
    text = endpoints_yaml(lesson_cluster(), namespace="kube-system")
    assert text.startswith("apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Endpoints\n")
    assert text.endswith('kind: List\nmetadata:\n  resourceVersion: ""\n')



cell = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.:/<>-", max_size=15)
tables = st.integers(1, 5).flatmap(lambda n: st.lists(st.lists(cell, min_size=n, max_size=n), min_size=1, max_size=8))


@settings(max_examples=150, deadline=None)
@given(tables)
def test_tabwriter_aligns_every_column_of_a_table(rows):
    lines = tab_aligned("".join("\t".join(row) + "\n" for row in rows)).splitlines()
    assert len(lines) == len(rows)
    # kubectl's rule: a column is as wide as its widest cell plus 3, and at least 6
    widths = [max(6, max(len(row[j]) + 3 for row in rows)) for j in range(len(rows[0]) - 1)]
    for line, row in zip(lines, rows):
        start = 0
        for j, width in enumerate(widths):
            assert line[start:start + width] == row[j].ljust(width)
            start += width
        assert line[start:] == row[-1]  # the last cell is not padded
