"""Every ``k8snet`` command, fed mutated manifests, dumps and arguments, fails cleanly.

Hypothesis takes the course's own manifests and ``iptables-save`` dumps and breaks them the
way a hand edit, a bad copy or a hostile file would: lines dropped, doubled or cut short,
values swapped for huge integers, deep nesting, aliases, odd Unicode, bytes that are not
UTF-8, attached or abbreviated iptables options. Each case runs one command in this
process, from a file or from standard input, and must end with exit status 0, 1 or 2;
a status of 2 must come with one ``k8snet COMMAND: error:`` message and no traceback.
Any exception that escapes ``main`` fails the test with its traceback.

Bounds: each run must finish within ``SECONDS_PER_RUN``, and the test process's peak
resident memory must stay under ``PEAK_RSS_MIB`` (tracing every allocation would triple
the run time, so the bound is on the peak, checked after every run). The search is derandomized (a fixed seed) and
sized to run in about 15 seconds (about 2,500 runs), so it runs in ``make test``.

``netlab`` is left out: it builds the lab in the kernel, and its only inputs are
choices that argparse checks.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import resource
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8snet_lesson.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
MANIFESTS = [(DATA / name).read_text() for name in ("lesson-cluster.yaml", "two-node-flow.yaml")]
SMALL = [
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: default, labels: {app: web}}\n"
    "spec: {nodeName: node-a, containers: [{name: web, ports: [{containerPort: 8080}]}]}\n"
    "status: {phase: Running, podIP: 10.244.1.5}\n---\n"
    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
    "spec: {selector: {app: web}, clusterIP: 10.96.0.20, ports: [{port: 80, targetPort: 8080}],\n"
    "  sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}}\n",
    '{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Service", '
    '"metadata": {"name": "lb", "namespace": "default"}, "spec": {"type": "LoadBalancer", '
    '"clusterIP": "10.96.0.30", "ports": [{"port": 443, "targetPort": 8443, "nodePort": 30443}], '
    '"loadBalancerSourceRanges": ["192.168.0.0/24"], "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000}, '
    '"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}}]}\n',
]
DUMPS = [p.read_text() for p in sorted((DATA / "dumps").glob("*.txt"))]

# Values that have broken readers before, or that sit on an edge of what the API accepts.
NASTY = [
    "1" * 5000, "-1", "0", "65536", "86401", "4294967296", "18446744073709551616", "1e999", "-.inf", ".nan",
    "0x4000", "0o17", "²", "٣", "", '""', "null", "~", "true", "[]", "{}", "[[[[[[[[", "{{{{", "]]", "&a [*a]",
    "*a", "&a", "<<: *a", "!!binary aGk=", "!!python/object:os.system", "10.0.0.300", "10.96.0.0/33",
    "192.168.0.1/24", "::1", "fe80::1/64", "a" * 300, "x" * 64, "-jDNAT", "-pudp", "--dport=80", "--dest",
    "--to-destination=10.0.0.1-10.0.0.3:80-82", "-m statistic --mode nth --every 3 --packet 0", "!", "\\",
    '"', "\t", "\ufeff", "\u202e", "\x00", "\x1b[31m", "#", "%", "- ", ": ", "? ", "|", ">",
    "[" * 3000 + "]" * 3000, "{a: " * 500 + "}" * 500,
]
POD = "payment-api-7d9c4b-xr7nq"


@st.composite
def mutated(draw, seeds: list[str]) -> bytes:
    """One seed text, with one to four line-level mutations, as bytes."""
    lines = draw(st.sampled_from(seeds)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        lines = lines or [""]
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["value", "value", "word", "drop", "double", "cut", "text", "splice"]))
        line = lines[i]
        if op == "value" and ":" in line:  # a YAML value, or the part after a colon
            head = line[: line.index(":") + 1]
            lines[i] = head + " " + draw(st.sampled_from(NASTY))
        elif op in ("value", "word"):
            words = line.split(" ")
            j = draw(st.integers(0, max(0, len(words) - 1)))
            words[j:j + 1] = [draw(st.sampled_from(NASTY))]
            lines[i] = " ".join(words)
        elif op == "drop":
            del lines[i]
        elif op == "double":
            lines.insert(i, line)
        elif op == "cut":
            lines = lines[:i] + [line[: draw(st.integers(0, len(line)))]]
        elif op == "text":
            lines.insert(i, draw(st.text(max_size=40)))
        else:  # a line of another seed, in the middle of this one
            other = draw(st.sampled_from(seeds)).split("\n")
            lines.insert(i, other[draw(st.integers(0, len(other) - 1))])
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # now and then, bytes that are not UTF-8
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xfe\xff"])) + data[at:]
    return data


def manifest_commands(path: str) -> list[list[str]]:
    return [
        ["pods", path], ["pods", path, "-o", "wide"], ["pods", path, "--describe", POD, "-n", "production"],
        ["endpoints", path], ["endpoints", path, "-o", "yaml"], ["endpoints", path, "--describe"],
        ["rules", path, "--node", "node-eu-west-1a"], ["rules", path, "--node", "node-1", "--form", "save"],
        ["ladder", path, "--from", POD, "--service", "production/checkout-api-svc"],
        ["trace", path, "--from", POD, "--to", "checkout-api-svc:80"],
        ["trace", path, "--from", "checkout-api-6f8b9d-k8m2w", "--to", "payment-api-svc:80"],
    ]


def dump_commands(path: str) -> list[list[str]]:
    return [["explain", path], ["explain", path, "--json"], ["explain", path, "-t", "filter"]]


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def read(self) -> str:  # pragma: no cover - the commands read .buffer
        return self.buffer.read().decode("utf-8")


SECONDS_PER_RUN = 5.0
PEAK_RSS_MIB = 2048


def run(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """``k8snet argv`` in this process: (status, stdout, stderr), within the time and memory bounds."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = _Stdin(stdin)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: a usage error
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdin = saved
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    assert elapsed < SECONDS_PER_RUN, f"k8snet {' '.join(argv)} took {elapsed:.1f} s"
    assert peak < PEAK_RSS_MIB, f"after k8snet {' '.join(argv)} the process peaked at {peak:.0f} MiB"
    return code, out.getvalue(), err.getvalue()


def check(argv: list[str], code: int, err: str) -> None:
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, err
    if code == 2:
        first = err.splitlines()[0] if err else ""
        assert first.startswith(f"k8snet {argv[0]}: error: ") or first.startswith("usage: k8snet"), err


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@fuzz(800)
@given(data=mutated(MANIFESTS + SMALL), pick=st.integers(0, 10), from_stdin=st.booleans())
def test_manifest_commands_fail_cleanly(tmp_path_factory, data, pick, from_stdin):
    if from_stdin:
        argv = manifest_commands("-")[pick]
    else:
        path = tmp_path_factory.mktemp("m") / "manifest.yaml"
        path.write_bytes(data)
        argv = manifest_commands(str(path))[pick]
    code, _, err = run(argv, data if from_stdin else b"")
    check(argv, code, err)


@fuzz(600)
@given(data=mutated(DUMPS), pick=st.integers(0, 2), from_stdin=st.booleans())
def test_explain_fails_cleanly(tmp_path_factory, data, pick, from_stdin):
    if from_stdin:
        argv = dump_commands("-")[pick]
    else:
        path = tmp_path_factory.mktemp("d") / "dump.txt"
        path.write_bytes(data)
        argv = dump_commands(str(path))[pick]
    code, _, err = run(argv, data if from_stdin else b"")
    check(argv, code, err)


# Values of any JSON shape, for any field of a Pod, a Service, an EndpointSlice or a Node.
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=12)
    | st.sampled_from(NASTY[:40]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
OBJECTS = [
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"},
     "spec": {"podCIDR": "10.244.1.0/24"},
     "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}],
                "conditions": [{"type": "Ready", "status": "True"}]}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
     "spec": {"nodeName": "node-a", "containers": [{"name": "web", "ports": [{"containerPort": 8080, "name": "http"}]}]},
     "status": {"phase": "Running", "podIP": "10.244.1.5"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.96.0.20",
              "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080}],
              "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
              "externalIPs": ["198.51.100.1"], "loadBalancerSourceRanges": ["192.168.0.0/16"]},
     "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7", "ipMode": "VIP"}]}}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "web-x", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}],
     "ports": [{"name": "http", "port": 8080}]},
]


@st.composite
def structured(draw) -> bytes:
    """The small cluster above with one to three fields anywhere replaced by any JSON value."""
    import copy
    import json

    objects = copy.deepcopy(OBJECTS)
    for _ in range(draw(st.integers(1, 3))):
        node = draw(st.sampled_from(objects))
        top = True
        while True:  # walk down to a random field (apiVersion and kind seldom)
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if top and draw(st.integers(0, 9)):
                keys = [k for k in keys if k not in ("apiVersion", "kind")]
            top = False
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, (dict, list)) and child and draw(st.integers(0, 4)):  # mostly deeper
                node = child
                continue
            node[key] = draw(JSON_VALUE)
            break
    document = {"apiVersion": "v1", "kind": "List", "items": objects}
    if draw(st.integers(0, 3)):
        return json.dumps(document).encode()
    from k8snet_lesson.view.kubectl import to_yaml

    return to_yaml(document).encode()


@fuzz(300)
@given(data=structured(), pick=st.sampled_from([0, 1, 3, 4, 6]))
def test_any_value_in_any_field_fails_cleanly(tmp_path_factory, data, pick):
    path = tmp_path_factory.mktemp("s") / "cluster.json"
    path.write_bytes(data)
    argv = manifest_commands(str(path))[pick]
    argv = [w if w != "node-eu-west-1a" else "node-a" for w in argv]
    code, _, err = run(argv)
    check(argv, code, err)


ARG = st.one_of(st.sampled_from(NASTY), st.text(max_size=20),
                st.sampled_from(["10.244.0.0/16", "10.96.0.0/12", "24", "110", "10.96.0.0/30", "0", "33"]))


@fuzz(200)
@given(cluster=ARG, mask=ARG, service=ARG, network=ARG, pods=ARG,
       repo=st.one_of(ARG, st.just("owner/name")), ref=ARG, hub=ARG, target=ARG, source=ARG)
def test_argument_commands_fail_cleanly(cluster, mask, service, network, pods, repo, ref, hub, target, source):
    lesson = str(DATA / "lesson-cluster.yaml")
    for argv in (
        ["plan", f"--cluster-cidr={cluster}", f"--node-cidr-mask-size={mask}", f"--service-cidr={service}",
         f"--node-network={network}", f"--max-pods={pods}"],
        ["classroom-links", f"--repo={repo}", f"--ref={ref}", f"--hub={hub}"],
        ["trace", lesson, f"--from={source}", f"--to={target}"],
        ["ladder", lesson, f"--from={source}", f"--service={target}"],
    ):
        code, _, err = run(argv)
        check(argv, code, err)


# "Billion laughs": eleven levels of ten aliases each would have the reader walk 10**11 objects.
BOMB = ("a0: &a0 {kind: Namespace, metadata: {name: x}}\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 12)) + "kind: List\nitems: *a11\n").encode()


@pytest.mark.parametrize("argv, stdin, message", [
    (["pods", "-"], b"kind: Pod\nmetadata: {name: \xff}\n", "<stdin>: cannot read manifest: not UTF-8 text"),
    (["explain", "-"], b"*nat\n-A X \xfe\nCOMMIT\n", "<stdin>: cannot read dump: not UTF-8 text"),
    (["pods", "-"], b"a: &a\n  b: *a\n", "alias *a refers to a collection that contains it"),
    (["pods", "-"], b"kind: Pod\nmetadata: {name: x, labels: {a: " + b"1" * 5000 + b"}}\n",
     "an integer of 5000 characters is too large"),
    (["pods", "-"], b'{"kind": "Pod", "metadata": {"name": "x", "labels": {"a": ' + b"1" * 5000 + b"}}}",
     "an integer of 5000 characters is too large"),
    (["pods", "-"], b"[" * 100000 + b"]" * 100000, "nested more than 100 levels deep"),
    (["pods", "-"], b"a: " + b"[" * 150 + b"]" * 150, "nested more than 100 levels deep"),
    (["pods", "-"], BOMB, "excessive aliasing"),
    (["explain", "-"], b"*nat\n[" + b"1" * 5000 + b":0] -A X -j ACCEPT\nCOMMIT\n", "bad rule counters"),
    (["explain", "-"], b"*nat\n:X - [" + b"1" * 5000 + b":0]\nCOMMIT\n", "bad chain counters"),
])
def test_the_crashes_of_issue_12_are_one_error(argv, stdin, message):
    code, out, err = run(argv, stdin)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith(f"k8snet {argv[0]}: error: ") and message in err, err


@pytest.mark.parametrize("argv", [
    ["pods", "-"], ["rules", "-", "--node", "node-a"], ["endpoints", "-"],
    ["ladder", "-", "--from", POD, "--service", "production/checkout-api-svc"],
    ["trace", "-", "--from", POD, "--to", "checkout-api-svc:80"],
])
def test_bytes_that_are_not_utf8_on_stdin_are_one_error_for_every_command(argv):
    # the same bytes in a file get the same message, with the file's name
    code, out, err = run(argv, "kind: Pod\nmetadata: {name: caf\u00e9}\n".encode("latin-1"))
    assert (code, out) == (2, "")
    assert err == f"k8snet {argv[0]}: error: <stdin>: cannot read manifest: not UTF-8 text (byte 0xe9 at offset 30)\n"
