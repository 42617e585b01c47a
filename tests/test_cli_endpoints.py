"""``k8snet endpoints`` and ``k8snet pods`` on the lesson's manifests and on bad input."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from k8snet_lesson.cli import main
from k8snet_lesson.resources import data_path

LESSON = str(data_path("lesson-cluster.yaml"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_endpoints_prints_the_lessons_line(capsys):
    code, out, err = run(capsys, "endpoints", LESSON, "-n", "production")
    assert (code, err) == (0, "")
    assert out == (
        "NAME               ENDPOINTS                                          AGE\n"
        "checkout-api-svc   10.244.2.14:3000,10.244.3.7:3000,10.244.4.2:3000   8d\n"
    )


def test_pods_wide_prints_the_lessons_pods(capsys):
    code, out, _ = run(capsys, "pods", LESSON, "-n", "production", "-o", "wide")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                                "READINESS", "GATES"]
    assert sorted((row.split()[0], row.split()[5], row.split()[6]) for row in lines[1:]) == [
        ("auth-service-5c7d8f-p2rkx", "10.244.4.4", "node-eu-west-1c"),
        ("checkout-api-6f8b9d-2xkpj", "10.244.2.14", "node-eu-west-1a"),
        ("checkout-api-6f8b9d-7rvqn", "10.244.3.7", "node-eu-west-1b"),
        ("checkout-api-6f8b9d-m5t9w", "10.244.4.2", "node-eu-west-1c"),
        ("payment-api-7d9c4b-xr7nq", "10.244.2.15", "node-eu-west-1a"),
    ]


def test_pods_lesson_columns_and_all_namespaces(capsys):
    _, out, _ = run(capsys, "pods", LESSON, "-n", "production", "--columns", "lesson")
    assert out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "NODE", "IP"]
    _, out, _ = run(capsys, "pods", LESSON)
    assert out.splitlines()[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert sum(1 for line in out.splitlines() if line.startswith("kube-system ")) == 2


def test_endpoints_yaml_wide_and_describe(capsys):
    _, out, _ = run(capsys, "endpoints", LESSON, "-n", "production", "-s", "checkout-api-svc", "-o", "yaml")
    assert out.startswith("apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: checkout-api-svc\n")
    assert out.count("  - ip: ") == 3
    _, out, _ = run(capsys, "endpoints", LESSON, "-n", "kube-system", "-o", "wide")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert row.split()[1:] == ["IPv4", "53,53,9153", "10.244.3.2,10.244.4.3", "8d"]
    _, out, _ = run(capsys, "endpoints", LESSON, "-s", "checkout-api-svc", "--describe")
    assert out.startswith("Name:         checkout-api-svc\nNamespace:    production\n")
    _, out, _ = run(capsys, "pods", LESSON, "--describe", "checkout-api-6f8b9d-2xkpj")
    assert "Node:             node-eu-west-1a/192.168.1.10\n" in out


def test_empty_namespace_says_no_resources_on_stderr(capsys):
    code, out, err = run(capsys, "endpoints", LESSON, "-n", "staging")
    assert (code, out, err) == (0, "", "No resources found in staging namespace.\n")
    code, out, err = run(capsys, "pods", LESSON, "-n", "staging")
    assert (code, out, err) == (0, "", "No resources found in staging namespace.\n")


def test_standard_input(capsys, monkeypatch):
    with open(LESSON) as f:
        monkeypatch.setattr("sys.stdin", io.StringIO(f.read()))
    code, out, _ = run(capsys, "endpoints", "-", "-n", "production")
    assert code == 0 and "10.244.4.2:3000" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["endpoints", "missing.yaml"], "k8snet endpoints: error: missing.yaml: cannot read manifest: No such file or directory"),
        (["endpoints", LESSON, "-s", "nope"], "k8snet endpoints: error: no service 'nope' (services: "),
        (["pods", LESSON, "--describe", "nope"], "k8snet pods: error: no pod 'nope' (pods: "),
    ],
)
def test_errors_exit_2_with_one_message_and_no_output(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message) and "Traceback" not in err


def test_bad_manifest_points_at_the_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Service\nmetadata: {name: web}\nspec:\n  clusterIP: 10.96.0.300\n")
    code, out, err = run(capsys, "endpoints", str(bad))
    assert (code, out) == (2, "")
    assert err == (
        f"k8snet endpoints: error: {bad}:4: Service default/web: spec.clusterIP: Invalid value: \"10.96.0.300\": "
        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)\n"
        "      clusterIP: 10.96.0.300\n"
        "                 ^~~~~~~~~~~\n"
    )


K8SNET = [sys.executable, "-c", "import sys; from k8snet_lesson.cli import main; sys.exit(main())"]


def test_the_command_runs_in_a_fresh_process(tmp_path):
    result = subprocess.run([*K8SNET, "endpoints", LESSON, "-n", "production"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.splitlines()[1].startswith("checkout-api-svc   10.244.2.14:3000")
    result = subprocess.run([*K8SNET, "pods", str(tmp_path / "none.yaml")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
