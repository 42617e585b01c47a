"""``k8snet explain``: a table or JSON per Service port; a bad dump is one message and exit 2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from k8snet_lesson.cli import main
from k8snet_lesson.resources import data_path

NODE_DUMP = data_path("dumps/node-eu-west-1a.iptables-save.txt")
OLD_RESTORE = data_path("dumps/kube-proxy-v1.2.iptables-restore.txt")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_for_an_old_restore_input(capsys):
    code, out, err = run(capsys, str(OLD_RESTORE))
    assert (code, err) == (0, "")
    assert out == (
        "default/hostnames:  tcp 10.0.1.175:80  (KUBE-SVC-NWV5X2332I4OT4T3)\n"
        "    1. 10.244.1.7:9376   33.3330%  --probability 0.33333  -> KUBE-SEP-WNBA2IHDGP2BOBGZ\n"
        "    2. 10.244.2.3:9376   33.3335%  --probability 0.50000  -> KUBE-SEP-X3P2623AGDH6CDF3\n"
        "    3. 10.244.3.6:9376   33.3335%  no probability: takes the rest  -> KUBE-SEP-57KPRZ3JQVENLNBR\n"
    )


def test_json_for_a_node_dump(capsys):
    code, out, err = run(capsys, str(NODE_DUMP), "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    checkout = next(s for s in data["services"] if s["service_port"] == "production/checkout-api-svc")
    assert checkout == {
        "service_port": "production/checkout-api-svc",
        "protocol": "tcp",
        "cluster_ip": "10.96.214.88",
        "port": 80,
        "endpoints": [
            {"address": "10.244.2.14:3000", "share": 0.33333333349},
            {"address": "10.244.3.7:3000", "share": 0.333333333255},
            {"address": "10.244.4.2:3000", "share": 0.333333333255},
        ],
        "reject": False,
        "session_affinity_seconds": None,
    }
    reports = next(s for s in data["services"] if s["service_port"] == "production/reports-svc:http")
    assert reports["reject"] is True and reports["endpoints"] == []
    payment = next(s for s in data["services"] if s["service_port"] == "production/payment-api-svc")
    assert payment["session_affinity_seconds"] == 10800


def test_table_shows_affinity_reject_and_node_ports(capsys):
    code, out, _ = run(capsys, str(NODE_DUMP))
    assert code == 0
    assert "production/reports-svc:http  tcp 10.96.101.7:8080\n  REJECT: no endpoints" in out
    assert "session affinity: ClientIP, 10800 s" in out
    assert "(KUBE-SVC-ZSCG4A6DYM7BCCIA; NodePort 30080)" in out
    assert "33.3333%  --probability 0.33333333349" in out


def test_reads_standard_input(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(OLD_RESTORE.read_text()))
    code, out, _ = run(capsys, "-", "--json")
    assert code == 0 and json.loads(out)["services"][0]["service_port"] == "default/hostnames:"


def test_iptables_S_output_names_its_table(capsys, tmp_path):
    dump = tmp_path / "nat.txt"
    dump.write_text(
        "-P PREROUTING ACCEPT\n"
        '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" '
        "-m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y\n"
        '-A KUBE-SVC-NPX46M4PTMTKRN6Y -m comment --comment "default/kubernetes:https -> 192.168.0.10:6443" '
        "-j KUBE-SEP-JXR3GL4M4Y5HVZ4I\n"
        '-A KUBE-SEP-JXR3GL4M4Y5HVZ4I -p tcp -m comment --comment "default/kubernetes:https" -m tcp '
        "-j DNAT --to-destination 192.168.0.10:6443\n"
    )
    code, out, _ = run(capsys, str(dump), "--json")
    assert code == 0
    assert json.loads(out)["services"][0]["endpoints"] == [{"address": "192.168.0.10:6443", "share": 1.0}]
    code, out, _ = run(capsys, str(dump), "--json", "--table", "filter")  # read as the filter table: no nat rules
    assert json.loads(out) == {"services": []}


def test_a_bad_dump_is_one_message_naming_file_line_and_word(capsys, tmp_path):
    dump = tmp_path / "node.txt"
    dump.write_text("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 10.96.0.300 -j KUBE-SVC-X\nCOMMIT\n")
    code, out, err = run(capsys, str(dump))
    assert code == 2
    assert out == ""
    assert err == (
        f"k8snet explain: error: {dump}:3: bad IPv4 address or network '10.96.0.300'\n"
        "    -A KUBE-SERVICES -d 10.96.0.300 -j KUBE-SVC-X\n"
        "                        ^~~~~~~~~~~\n"
    )


@pytest.mark.parametrize("content, message", [
    (None, "cannot read dump: No such file or directory"),
    (b"\xff\xfe*nat\n", "not UTF-8 text"),
    ("*nat\n-A KUBE-SERVICES -j X\n", "is never committed"),
])
def test_unreadable_dumps_exit_2(capsys, tmp_path, content, message):
    dump = tmp_path / "dump.txt"
    if isinstance(content, bytes):
        dump.write_bytes(content)
    elif content is not None:
        dump.write_text(content)
    code, out, err = run(capsys, str(dump))
    assert code == 2 and out == ""
    assert err.startswith(f"k8snet explain: error: {dump}") and message in err
    assert "Traceback" not in err


def test_a_directory_is_not_a_dump(capsys, tmp_path):
    code, _, err = run(capsys, str(tmp_path))
    assert code == 2 and "Is a directory" in err


def test_nothing_to_explain(capsys, tmp_path):
    dump = tmp_path / "empty.txt"
    dump.write_text("*filter\nCOMMIT\n")
    code, out, _ = run(capsys, str(dump))
    assert code == 0 and out.startswith("no Service ports found")


def test_the_installed_command():
    command = Path(sys.executable).with_name("k8snet")
    if not command.exists():
        pytest.skip("the k8snet command is not installed next to this Python")
    done = subprocess.run([str(command), "explain", str(OLD_RESTORE), "--json"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["services"][0]["cluster_ip"] == "10.0.1.175"
    bad = subprocess.run([str(command), "explain", "/no/such/dump"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr == "k8snet explain: error: /no/such/dump: cannot read dump: No such file or directory\n"
