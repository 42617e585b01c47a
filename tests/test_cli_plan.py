"""``k8snet plan``: the table, the exit status (0 disjoint, 1 overlap, 2 bad value)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from k8snet_lesson.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["plan", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_lesson_networks(capsys):
    # The lesson's three layers: nodes 192.168.0.0/16, pods 10.244.0.0/16, services 10.96.0.0/12;
    # /24 per node (256 of them, host-local gives .2-.254), kubelet's default max-pods 110.
    status, out, err = run(
        capsys,
        "--cluster-cidr", "10.244.0.0/16", "--node-cidr-mask-size", "24",
        "--service-cidr", "10.96.0.0/12", "--node-network", "192.168.0.0/16",
    )
    assert (status, err) == (0, "")
    assert out == (
        "NETWORK           CIDR             HOLDS\n"
        "node network      192.168.0.0/16   65534 node addresses\n"
        "pod network       10.244.0.0/16    256 node CIDRs of /24, 253 pod IPs each (.1 is cni0)\n"
        "service network   10.96.0.0/12     1048574 ClusterIPs (kubernetes 10.96.0.1, kube-dns 10.96.0.10)\n"
        "\n"
        "nodes           256\n"
        "pods per node   110 (max-pods 110, a /24 holds 253)\n"
        "pods            28160\n"
        "\n"
        "overlaps: none\n"
    )


def test_overlapping_networks_exit_1_and_are_named(capsys):
    status, out, err = run(capsys, "--cluster-cidr", "10.96.0.0/16", "--service-cidr", "10.96.0.0/12")
    assert (status, err) == (1, "")
    assert "overlap: pod network 10.96.0.0/16 overlaps service network 10.96.0.0/12\n" in out
    assert "nodes           0 (of 256 node CIDRs; the rest overlap the service network)\n" in out


def test_node_network_overlaps_are_named(capsys):
    status, out, _ = run(capsys, "--cluster-cidr", "10.244.0.0/16", "--node-network", "10.0.0.0/8")
    assert status == 1
    assert [line for line in out.splitlines() if line.startswith("overlap")] == [
        "overlap: node network 10.0.0.0/8 overlaps pod network 10.244.0.0/16",
        "overlap: node network 10.0.0.0/8 overlaps service network 10.96.0.0/12",
    ]


def test_warnings_do_not_change_the_exit_status(capsys):
    status, out, _ = run(capsys, "--cluster-cidr", "10.244.0.0/16", "--node-cidr-mask-size", "26")
    assert status == 0
    assert "pods per node   61 (max-pods 110, a /26 holds 61)\n" in out
    assert "warning: max-pods 110 is more than a /26 node CIDR holds" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cluster-cidr", "10.244.0.0/33"], "cluster CIDR '10.244.0.0/33' is not a valid IPv4 CIDR"),
        (["--cluster-cidr", "10.244.1.0/16"], "cluster CIDR '10.244.1.0/16' has host bits set (the network is 10.244.0.0/16)"),
        (["--cluster-cidr", "10.244.0.0/16", "--service-cidr", "10.96.0.0"], "service CIDR '10.96.0.0' is not a valid IPv4 CIDR (no /prefix length)"),
        (["--cluster-cidr", "10.244.0.0/16", "--node-cidr-mask-size", "abc"], "node CIDR mask size 'abc' is not a prefix length (0-32)"),
        (["--cluster-cidr", "10.244.0.0/16", "--node-cidr-mask-size", "8"], "node CIDR mask size /8 is shorter than the cluster CIDR 10.244.0.0/16"),
        (["--cluster-cidr", "10.244.0.0/16", "--max-pods", "-3"], "max-pods '-3' is not a positive whole number"),
        (["--cluster-cidr", "10.244.0.0/16", "--node-network", "192.168.0.0/8"], "node network '192.168.0.0/8' has host bits set"),
    ],
)
def test_bad_values_exit_2_with_one_line_naming_them(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("k8snet plan: error: ")
    assert message in err


def test_a_separate_process_exits_1_on_overlap():
    entry = "import sys; from k8snet_lesson.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", entry, "plan", "--cluster-cidr", "10.0.0.0/8"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "overlap: pod network 10.0.0.0/8 overlaps service network 10.96.0.0/12" in done.stdout
