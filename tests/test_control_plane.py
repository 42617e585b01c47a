"""The control plane (issue 12, item 12): kube-apiserver answers where the
``default/kubernetes`` endpoints say it listens.

kube-apiserver writes that Service's EndpointSlice itself (the endpoint reconciler,
pkg/controlplane/reconcilers/): its advertise address and secure port. In a managed
cluster the control plane is not one of the cluster's nodes; its address sits in the
node network. The lesson's manifests say so: the Service ``10.96.0.1:443`` and a slice at
``192.168.0.2:6443``, the ClusterConfiguration's controlPlaneEndpoint, no node there.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from k8snet_lesson import scenarios
from k8snet_lesson.cli import main
from k8snet_lesson.connect import Outcome, connect
from k8snet_lesson.endpoints import api_server_endpoints
from k8snet_lesson.walk import HopKind, request

LESSON = "data/lesson-cluster.yaml"
CLIENT = "payment-api-7d9c4b-xr7nq"


def test_the_api_server_listens_where_its_endpoints_say():
    cluster = scenarios.lesson_cluster()
    assert api_server_endpoints(cluster) == {(IPv4Address("192.168.0.2"), 6443)}
    assert all(n.internal_ip != IPv4Address("192.168.0.2") for n in cluster.nodes)  # not a node: managed


def test_the_ladder_to_the_kubernetes_service_passes(capsys):
    code = main(["ladder", LESSON, "--from", CLIENT, "--service", "default/kubernetes"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Every rung passed" in out and "BROKEN" not in out
    assert "kubernetes   192.168.0.2:6443" in out  # kubectl get endpoints kubernetes -n default


def test_a_trace_to_kubernetes_default_reaches_kube_apiserver(capsys):
    assert main(["trace", LESSON, "--from", CLIENT, "--to", "kubernetes.default:443"]) == 0
    out = capsys.readouterr().out
    assert "DNAT 10.96.0.1:443 -> 192.168.0.2:6443" in out
    assert "outcome: delivered to kube-apiserver (the control plane) at 192.168.0.2:6443" in out


@pytest.mark.parametrize("cni", ["flannel", "calico", "calico-ipip", "calico-vxlan", "cilium", "aws-vpc"])
def test_every_cni_reaches_the_control_plane(cni):
    walk = request(scenarios.lesson_cluster(), f"production/{CLIENT}", "kubernetes.default", 443, cni=cni)
    assert walk.delivered, walk.outcome
    assert (walk.hops[-1].kind, walk.hops[-1].node) == (HopKind.NODE_STACK, None)  # off the cluster's nodes
    assert walk.hops[-1].inner.dst_ip == IPv4Address("192.168.0.2") and walk.hops[-1].inner.dst_port == 6443


def test_only_the_api_servers_port_answers():
    cluster = scenarios.lesson_cluster()
    client = f"production/{CLIENT}"
    assert connect(cluster, client, "10.96.0.1", 443).outcome is Outcome.ESTABLISHED
    assert connect(cluster, client, "192.168.0.2", 6443).outcome is Outcome.ESTABLISHED
    assert connect(cluster, client, "192.168.0.2", 80).outcome is Outcome.TIMED_OUT


def test_where_the_api_server_is_a_node_the_packet_is_delivered_to_that_node(capsys):
    # the two-node flow's controlPlaneEndpoint is node-1 itself (a kubeadm cluster)
    assert main(["trace", "data/two-node-flow.yaml", "--from", "checkout-api-6f8b9d-k8m2w",
                 "--to", "kubernetes.default:443"]) == 0
    assert "outcome: delivered to node node-1 at 192.168.0.10:6443" in capsys.readouterr().out

