"""Manifests are accepted and refused as the API server accepts and refuses them (issue 12,
items 5-9 and 11's ipMode), with the API's own messages. Each test names the upstream
source it follows (kubernetes/kubernetes unless said otherwise).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

import pytest

from k8snet_lesson.cli import main
from k8snet_lesson.errors import InvalidValue, ManifestError
from k8snet_lesson.ipam import plan
from k8snet_lesson.kube_proxy import rules_for
from k8snet_lesson.iptables import to_restore
from k8snet_lesson.manifests import loads

NODE = """apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec: {nodeName: node-a, containers: [{name: web, ports: [{containerPort: 8080}]}]}
status: {phase: Running, podIP: 10.244.1.5}
---
"""


def service(spec: str, status: str = "{}") -> str:
    return NODE + f"""apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec: {spec}
status: {status}
"""


# --- item 5: pkg/apis/core/validation/validation.go, validateAffinityTimeout ------------

@pytest.mark.parametrize("seconds", [0, -1, 86401])
def test_an_affinity_timeout_outside_1_to_86400_is_refused_with_the_api_message(seconds):
    text = service("{selector: {app: web}, clusterIP: 10.96.0.20, ports: [{port: 80, targetPort: 8080}], "
                   f"sessionAffinity: ClientIP, sessionAffinityConfig: {{clientIP: {{timeoutSeconds: {seconds}}}}}}}")
    with pytest.raises(ManifestError) as err:
        loads(text, source="svc.yaml")
    assert str(err.value).splitlines()[0] == (
        f"svc.yaml:15: Service default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: "
        f"{seconds}: must be greater than 0 and less than 86400")


@pytest.mark.parametrize("seconds", [1, 86400])
def test_an_affinity_timeout_at_the_edges_is_written_into_seconds(seconds):
    text = service("{selector: {app: web}, clusterIP: 10.96.0.20, ports: [{port: 80, targetPort: 8080}], "
                   f"sessionAffinity: ClientIP, sessionAffinityConfig: {{clientIP: {{timeoutSeconds: {seconds}}}}}}}")
    assert f"--seconds {seconds} --reap" in to_restore(rules_for(loads(text), "node-a"))


# --- item 6: validation.go ValidateService (IsValidCIDR after TrimSpace) and ----------
# pkg/proxy/iptables/proxier.go, which writes each source range as the Service gives it

def test_a_source_range_with_host_bits_is_accepted_and_written_as_given():
    text = service("{type: LoadBalancer, selector: {app: web}, clusterIP: 10.96.0.20, "
                   "ports: [{port: 80, targetPort: 8080, nodePort: 30080}], "
                   "loadBalancerSourceRanges: [' 192.168.0.1/24 ']}",
                   "{loadBalancer: {ingress: [{ip: 203.0.113.7}]}}")
    cluster = loads(text)
    assert cluster.services[0].load_balancer_source_ranges == (IPv4Interface("192.168.0.1/24"),)
    rules = to_restore(rules_for(cluster, "node-a"))
    assert "-s 192.168.0.1/24 -j KUBE-EXT-" in rules
    # the node's own address lies in the range: kube-proxy also lets the LB IP itself in
    assert "-s 203.0.113.7 -j KUBE-EXT-" in rules


def test_a_source_range_that_is_no_cidr_is_refused_with_the_api_message():
    text = service("{type: LoadBalancer, selector: {app: web}, clusterIP: 10.96.0.20, "
                   "ports: [{port: 80, targetPort: 8080}], loadBalancerSourceRanges: [192.168.0.300/24]}")
    with pytest.raises(ManifestError, match=r'spec.loadBalancerSourceRanges\[0\]: Invalid value: "192.168.0.300/24": '
                                            r"must be a valid CIDR value, \(e.g. 10.9.8.0/24 or 2001:db8::/64\)"):
        loads(text)


# --- item 7: pkg/apis/core/v1/defaults.go, SetDefaults_Service -----------------------

def test_target_port_0_defaults_to_port():
    text = service("{selector: {app: web}, clusterIP: 10.96.0.20, ports: [{port: 8080, targetPort: 0}]}")
    (port,) = loads(text).services[0].ports
    assert port.target_port == 8080


# --- item 8: pkg/proxy/service.go newBaseServiceInfo (an IPv4 proxier reads the -------
# IPv4 ClusterIP of clusterIPs, and filters externalIPs, source ranges, ingress by family)

DUAL = service(
    "{type: LoadBalancer, selector: {app: web}, ipFamilyPolicy: PreferDualStack, ipFamilies: [IPv6, IPv4], "
    "clusterIP: 'fd00::20', clusterIPs: ['fd00::20', 10.96.0.20], externalIPs: ['2001:db8::1', 198.51.100.1], "
    "loadBalancerSourceRanges: ['2001:db8::/64', 192.168.0.0/16], ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}",
    "{loadBalancer: {ingress: [{ip: '2001:db8::7'}, {ip: 203.0.113.7}]}}")


def test_a_dual_stack_service_is_read_by_its_ipv4_family():
    svc = loads(DUAL).services[0]
    assert svc.cluster_ip == IPv4Address("10.96.0.20")
    assert svc.external_ips == (IPv4Address("198.51.100.1"),)
    assert svc.load_balancer_ips == (IPv4Address("203.0.113.7"),)
    assert svc.load_balancer_source_ranges == (IPv4Interface("192.168.0.0/16"),)


def test_an_ipv6_single_stack_service_is_not_seen_by_an_ipv4_proxier():
    text = service("{selector: {app: web}, ipFamilies: [IPv6], clusterIP: 'fd00::20', clusterIPs: ['fd00::20'], "
                   "ports: [{port: 80}]}")
    assert loads(text).services == ()


def test_a_cluster_ip_that_is_no_address_is_refused():
    with pytest.raises(ManifestError, match=r'spec.clusterIP: Invalid value: "10.96.0.300": must be a valid IP address'):
        loads(service("{clusterIP: 10.96.0.300, ports: [{port: 80}]}"))


# --- item 9: pkg/controlplane/services.go ServiceIPRange ------------------------------

@pytest.mark.parametrize("prefix", [30, 31, 32])
def test_plan_refuses_a_service_range_under_8_addresses(prefix):
    with pytest.raises(InvalidValue, match="the service cluster IP range must be at least 8 IP addresses"):
        plan(cluster_cidr="10.244.0.0/16", service_cidr=f"10.96.0.0/{prefix}")
    assert plan(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/29").service_cidr.num_addresses == 8


def test_the_plan_command_exits_2_on_a_slash_30(capsys):
    assert main(["plan", "--cluster-cidr", "10.244.0.0/16", "--service-cidr", "10.96.0.0/30"]) == 2
    assert "must be at least 8 IP addresses" in capsys.readouterr().err


def test_a_kubeadm_service_subnet_under_8_addresses_is_refused():
    text = ("apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n"
            "networking: {podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/30}\n")
    with pytest.raises(ManifestError, match="the service cluster IP range must be at least 8 IP addresses"):
        loads(text)


# --- item 11: pkg/proxy/util/utils.go IsVIPMode (v1.30+, LoadBalancerIPMode) ----------

def test_an_ingress_ip_in_proxy_mode_is_no_vip_and_gets_no_rules():
    text = service("{type: LoadBalancer, selector: {app: web}, clusterIP: 10.96.0.20, "
                   "ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}",
                   "{loadBalancer: {ingress: [{ip: 203.0.113.7, ipMode: VIP}, {ip: 203.0.113.8, ipMode: Proxy}]}}")
    cluster = loads(text)
    assert cluster.services[0].load_balancer_ips == (IPv4Address("203.0.113.7"),)
    rules = to_restore(rules_for(cluster, "node-a"))
    assert "-d 203.0.113.7 --dport 80" in rules and "203.0.113.8" not in rules


# --- ports: pkg/apis/core/validation/validation.go ValidateService --------------------

@pytest.mark.parametrize("ports, message", [
    ("[{port: 80}, {port: 443}]", r"spec.ports\[0\].name: Required value"),
    ("[{port: 80, name: web}, {port: 443, name: web}]", r'spec.ports\[1\].name: Duplicate value: "web"'),
])
def test_several_ports_need_distinct_names(ports, message):
    with pytest.raises(ManifestError, match=message):
        loads(service(f"{{selector: {{app: web}}, clusterIP: 10.96.0.20, ports: {ports}}}"))
    one = loads(service("{selector: {app: web}, clusterIP: 10.96.0.20, ports: [{port: 80}]}"))
    assert one.services[0].ports[0].name == ""  # one port may go unnamed
