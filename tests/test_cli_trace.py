"""``k8snet trace``: the table, the pcap, and one clear error line for bad input."""

from __future__ import annotations

import pytest

from k8snet_lesson import frames
from k8snet_lesson.cli import main
from k8snet_lesson.cli.trace import parse_target
from k8snet_lesson.errors import InvalidValue

# The lesson's two-node flow, written the way `kubectl get -o yaml` would show it.
MANIFEST = """\
apiVersion: v1
kind: Node
metadata: {name: node-1}
spec: {podCIDR: 10.244.1.0/24}
status:
  addresses: [{type: InternalIP, address: 192.168.0.10}]
---
apiVersion: v1
kind: Node
metadata: {name: node-2}
spec: {podCIDR: 10.244.2.0/24}
status:
  addresses: [{type: InternalIP, address: 192.168.0.11}]
---
apiVersion: v1
kind: Pod
metadata: {name: checkout-api, namespace: production, labels: {app: checkout-api}}
spec:
  nodeName: node-1
  containers: [{name: app, ports: [{containerPort: 8080}]}]
status: {phase: Running, podIP: 10.244.1.5}
---
apiVersion: v1
kind: Pod
metadata: {name: payment-api, namespace: production, labels: {app: payment-api}}
spec:
  nodeName: node-2
  containers: [{name: app, ports: [{containerPort: 3000}]}]
status: {phase: Running, podIP: 10.244.2.8}
---
apiVersion: v1
kind: Service
metadata: {name: payment-api-svc, namespace: production}
spec:
  clusterIP: 10.96.214.88
  selector: {app: payment-api}
  ports: [{port: 80, targetPort: 3000}]
---
apiVersion: v1
kind: Service
metadata: {name: empty-svc, namespace: production}
spec:
  clusterIP: 10.96.0.70
  selector: {app: nobody}
  ports: [{port: 80, targetPort: 3000}]
"""


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "two-node-flow.yaml"
    path.write_text(MANIFEST)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["trace", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_shows_every_hop_and_the_outcome(manifest, capsys) -> None:
    code, out, err = run(capsys, str(manifest), "--from", "production/checkout-api", "--to", "payment-api-svc:80")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("production/checkout-api -> payment-api-svc (Service production/payment-api-svc)")
    assert "CNI: flannel (Flannel, VXLAN)" in lines[0]
    header = next(line for line in lines if line.startswith("HOP"))
    assert header.split() == ["HOP", "NODE", "WHERE", "INNER", "SRC", "->", "DST", "TTL", "OUTER", "BYTES", "ACTION"]
    assert "request:" in lines and "reply:" in lines
    assert any("DNAT 10.96.214.88:80 -> 10.244.2.8:3000" in line for line in lines)
    assert any("192.168.0.10 -> 192.168.0.11 UDP" in line and "->8472 VNI 1" in line for line in lines)
    assert lines[-1].startswith("outcome: delivered to production/payment-api at 10.244.2.8:3000, source 10.244.1.5:")


def test_cni_flag_changes_the_data_path(manifest, capsys) -> None:
    code, out, _ = run(capsys, str(manifest), "--from", "checkout-api", "--to", "10.96.214.88:80", "--cni", "calico-ipip")
    assert code == 0
    assert "CNI: calico-ipip (Calico, IP-in-IP)" in out
    assert "IP proto 4 (IP-in-IP)" in out and "VNI" not in out


def test_seed_is_reproducible(manifest, capsys) -> None:
    first = run(capsys, str(manifest), "--from", "checkout-api", "--to", "10.244.2.8:3000", "--seed", "7")
    second = run(capsys, str(manifest), "--from", "checkout-api", "--to", "10.244.2.8:3000", "--seed", "7")
    assert first == second and first[0] == 0


@pytest.mark.skipif(not frames.scapy_available(), reason="scapy is not installed")
def test_pcap_is_written_and_readable(manifest, tmp_path, capsys) -> None:
    pcap = tmp_path / "walk.pcap"
    code, out, _ = run(capsys, str(manifest), "--from", "checkout-api", "--to", "payment-api-svc:80", "--pcap", str(pcap))
    assert code == 0
    packets = frames.read_pcap(pcap)
    hops = [line for line in out.splitlines() if line[:1].isdigit()]
    assert len(packets) == len(hops)
    assert out.splitlines()[-1] == f"pcap: {len(packets)} frames written to {pcap}"


def test_stopped_walk_exits_1(manifest, capsys) -> None:
    code, out, _ = run(capsys, str(manifest), "--from", "checkout-api", "--to", "empty-svc:80")
    assert code == 1
    assert "stopped: " in out and "refused" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--from", "nobody", "--to", "payment-api-svc:80"], "no pod 'nobody' (pods: production/checkout-api, production/payment-api)"),
        (["--from", "checkout-api", "--to", "no-svc:80"], "no service 'no-svc' as seen from namespace production"),
        (["--from", "checkout-api", "--to", "10.9.9.9:80"], "address 10.9.9.9 is neither a ClusterIP nor a pod IP"),
        (["--from", "checkout-api", "--to", "payment-api-svc:80", "--cni", "weave"], "no CNI profile 'weave' (profiles: flannel"),
        (["--from", "checkout-api", "--to", "payment-api-svc"], "--to 'payment-api-svc': expected NAME_OR_IP:PORT"),
        (["--from", "checkout-api", "--to", "payment-api-svc:http"], "port 'http' is not a port number"),
        (["--from", "checkout-api", "--to", "payment-api-svc:443"], "service production/payment-api-svc has no port 443 (ports: 80/TCP)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(manifest, capsys, argv, message) -> None:
    code, out, err = run(capsys, str(manifest), *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("k8snet trace: error: ")
    assert message in err


def test_missing_manifest_file(tmp_path, capsys) -> None:
    code, out, err = run(capsys, str(tmp_path / "absent.yaml"), "--from", "a", "--to", "b:80")
    assert code == 2 and out == "" and "absent.yaml" in err and "Traceback" not in err


def test_pcap_into_missing_directory_writes_nothing(manifest, tmp_path, capsys) -> None:
    if not frames.scapy_available():
        pytest.skip("scapy is not installed")
    target = tmp_path / "no" / "dir" / "walk.pcap"
    code, out, err = run(capsys, str(manifest), "--from", "checkout-api", "--to", "payment-api-svc:80", "--pcap", str(target))
    assert code == 2 and out == "" and "cannot write pcap" in err
    assert not target.exists()


@pytest.mark.parametrize("text,expected", [("a:1", ("a", 1)), ("10.96.0.10:53", ("10.96.0.10", 53)), ("svc.ns.svc.cluster.local:65535", ("svc.ns.svc.cluster.local", 65535))])
def test_parse_target(text, expected) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", [":80", "svc:", "svc:0", "svc:65536", "svc:-1"])
def test_parse_target_refuses(text) -> None:
    with pytest.raises(InvalidValue, match=r"--to"):
        parse_target(text)
