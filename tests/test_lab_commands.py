"""The lab's command box without a lab: what it accepts, what it refuses and why, kubectl from the model.

The refusals are the box's safety: no shell (a metacharacter is refused before anything
runs), a fixed set of tools, only the options that look (never change the lab or write a
file), and only destinations inside the lesson's cluster networks.
"""

from __future__ import annotations

import pytest

from k8snet_lesson.errors import LabUnavailable, NotFound
from k8snet_lesson.lab import commands
from k8snet_lesson.lab.commands import CommandRefused, Result, execute, parse
from k8snet_lesson.lab.run import scenario

LESSON = scenario("lesson")
CLUSTER = LESSON.cluster
NODE = "node-eu-west-1a"
POD = "production/debug-pod"


@pytest.mark.parametrize(
    "line, where, argv, runs_in",
    [
        ("ip route", NODE, ("ip", "route"), NODE),
        ("ip -4 -br addr show eth0", POD, ("ip", "-4", "-br", "addr", "show", "eth0"), POD),
        ("ip route get 10.244.3.7", NODE, ("ip", "route", "get", "10.244.3.7"), NODE),
        ("ip -d link show flannel.1", NODE, ("ip", "-d", "link", "show", "flannel.1"), NODE),
        ("iptables-save -t nat", NODE, ("iptables-save", "-t", "nat"), NODE),
        ("iptables -t nat -L KUBE-SERVICES -n -v -x", NODE, ("iptables", "-t", "nat", "-L", "KUBE-SERVICES", "-n", "-v", "-x"), NODE),
        ("nft list table ip nat", NODE, ("nft", "list", "table", "ip", "nat"), NODE),
        ("conntrack -L -p tcp -d 10.96.214.88", NODE, ("conntrack", "-L", "-p", "tcp", "-d", "10.96.214.88"), NODE),
        ("ss -tlnp", "checkout-api-6f8b9d-2xkpj", ("ss", "-tlnp"), "production/checkout-api-6f8b9d-2xkpj"),
        ("curl -v http://checkout-api-svc/health", POD, ("curl", "-v", "http://checkout-api-svc/health"), POD),
        ("curl -s 10.244.2.14:3000/health", POD, ("curl", "-s", "10.244.2.14:3000/health"), POD),
        # the pod's own loopback stays in its namespace (the lesson's 127.0.0.1 case)
        ("curl -s http://127.0.0.1:3000/health", "checkout-api-6f8b9d-2xkpj", ("curl", "-s", "http://127.0.0.1:3000/health"),
         "production/checkout-api-6f8b9d-2xkpj"),
        ("nslookup checkout-api-svc.production", POD, ("nslookup", "checkout-api-svc.production"), POD),
        ("dig +short +search checkout-api-svc", POD, ("dig", "+short", "+search", "checkout-api-svc"), POD),
        ("cat /etc/resolv.conf", POD, ("cat", "/etc/resolv.conf"), POD),
        ("tcpdump -c 4 -n -T vxlan -i eth0 udp port 8472", NODE,
         ("tcpdump", "-c", "4", "-n", "-T", "vxlan", "-i", "eth0", "udp", "port", "8472"), NODE),
        ("kubectl get pods -o wide", NODE, ("kubectl", "get", "pods", "-o", "wide"), NODE),
        # kubectl exec runs the command in the pod it names, wherever the box pointed
        ("kubectl exec -it debug-pod -- curl -s http://checkout-api-svc/health", NODE,
         ("curl", "-s", "http://checkout-api-svc/health"), POD),
        ("kubectl exec -n kube-system coredns-5d78c9869d-4k7mz -- ss -ulnp", NODE,
         ("ss", "-ulnp"), "kube-system/coredns-5d78c9869d-4k7mz"),
    ],
)
def test_the_box_accepts_what_looks(line, where, argv, runs_in):
    command = parse(line, where=where, cluster=CLUSTER)
    assert command.argv == argv
    assert command.where == runs_in
    assert command.line == line


@pytest.mark.parametrize(
    "line, where, message",
    [
        # a shell metacharacter is refused before anything else
        ("ip route | grep flannel", NODE, "'|' is a shell character"),
        ("ip route; reboot", NODE, "';' is a shell character"),
        ("curl http://checkout-api-svc > /etc/passwd", POD, "'>' is a shell character"),
        ("echo $PATH", POD, "'$' is a shell character"),
        ("curl `id`", POD, "'`' is a shell character"),
        ("ip route && ip link", NODE, "'&' is a shell character"),
        ("ip route\nip link", NODE, "a newline is a shell character"),
        # tools outside the set
        ("rm -rf /", POD, "'rm' is not one of the box's commands"),
        ("bash", POD, "bash is a shell"),
        ("python3 -c 1", POD, "'python3' is not one of the box's commands"),
        # changing the lab
        ("ip link set eth0 down", POD, "ip link set changes the lab"),
        ("ip route add 10.0.0.0/8 dev eth0", NODE, "ip route add changes the lab"),
        ("ip netns exec x ip route", NODE, "ip netns"),
        ("ip -n other route", NODE, "ip option '-n'"),
        ("iptables -t nat -F", NODE, "iptables -F: the box only lists rules"),
        ("iptables -A INPUT -j DROP", NODE, "iptables -A"),
        ("conntrack -F", NODE, "conntrack -F: the box only lists"),
        ("nft flush ruleset", NODE, "nft: the box only lists"),
        # files
        ("curl -o /tmp/x http://10.244.2.14:3000/", POD, "curl -o writes a file"),
        ("tcpdump -c 3 -w /tmp/x.pcap", NODE, "tcpdump -w writes a file"),
        ("cat /etc/shadow", POD, "/etc/resolv.conf and /etc/hosts only"),
        # destinations outside the lab
        ("curl http://8.8.8.8/", POD, "8.8.8.8 is outside the lab's cluster"),
        ("curl https://10.244.2.14/", POD, "speak http://, not https://"),
        ("nslookup checkout-api-svc 1.1.1.1", POD, "1.1.1.1 is outside the lab's cluster"),
        ("dig @9.9.9.9 checkout-api-svc", POD, "9.9.9.9 is outside the lab's cluster"),
        ("curl http://checkout-api-svc/", NODE, "on a node, use an address"),
        ("nslookup checkout-api-svc", NODE, "nslookup runs in pods only"),
        # limits and nonsense
        ("tcpdump -i eth0", NODE, "tcpdump needs -c N"),
        ("tcpdump -c 500 -i eth0", NODE, "from 1 to 20, not '500'"),
        ("nslookup " + "a" * 64 + ".svc", POD, "is not a DNS label"),
        ("nslookup 'checkout api'", POD, "is not a DNS label"),
        ("curl 'http://10.244.2.14:3000/", POD, "close your quotes"),
        ("   ", POD, "type a command"),
        ("kubectl delete pod debug-pod", POD, "the box answers kubectl get pods"),
        ("kubectl exec debug-pod ip route", NODE, "kubectl exec needs -- before the command"),
        ("kubectl exec nope -- ip route", NODE, "no pod 'nope' in namespace production"),
    ],
)
def test_the_box_refuses_with_one_clear_message(line, where, message):
    with pytest.raises(CommandRefused) as caught:
        parse(line, where=where, cluster=CLUSTER)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unknown_place_is_named():
    with pytest.raises(NotFound, match="no pod or node 'node-9' to run in"):
        parse("ip route", where="node-9", cluster=CLUSTER)


def test_every_running_pod_and_node_is_a_place():
    assert commands.places(CLUSTER)[-3:] == ("node-eu-west-1a", "node-eu-west-1b", "node-eu-west-1c")
    assert POD in commands.places(CLUSTER) and len(commands.places(CLUSTER)) == 8 + 3


def test_kubectl_is_answered_from_the_model():
    done = execute(parse("kubectl get pods -o wide", where=POD, cluster=CLUSTER), cluster=CLUSTER)
    assert done.source == "model" and done.exit_code == 0
    assert done.lines[0].split()[:6] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    row = next(line for line in done.lines if line.startswith("checkout-api-6f8b9d-2xkpj"))
    assert row.split()[5:7] == ["10.244.2.14", "node-eu-west-1a"]
    slices = execute(parse("kubectl get endpointslices -l kubernetes.io/service-name=checkout-api-svc", where=POD,
                           cluster=CLUSTER), cluster=CLUSTER)
    assert "10.244.2.14,10.244.3.7,10.244.4.2" in slices.text
    endpoints = execute(parse("kubectl get endpoints checkout-api-svc", where=POD, cluster=CLUSTER), cluster=CLUSTER)
    assert endpoints.lines[0].startswith("Warning: v1 Endpoints is deprecated")
    missing = execute(parse("kubectl describe pod nope", where=POD, cluster=CLUSTER), cluster=CLUSTER)
    assert missing.text == 'Error from server (NotFound): pods "nope" not found'


def test_a_real_command_without_a_lab_says_so():
    with pytest.raises(LabUnavailable, match="ip runs in the kernel lab"):
        execute(parse("ip route", where=NODE, cluster=CLUSTER), cluster=CLUSTER)


def test_long_output_shows_25_lines_and_folds_the_rest():
    command = parse("ip route", where=NODE, cluster=CLUSTER)
    done = Result(command, "".join(f"line {i}\n" for i in range(40)), 0, "kernel")
    assert len(done.head) == commands.LINES == 25 and done.head[-1] == "line 24"
    assert done.rest[0] == "line 25" and len(done.rest) == 15
    assert Result(command, "", 0, "kernel").lines == []


def test_the_box_widget_shows_a_refusal_and_clears_what_it_showed():
    pytest.importorskip("ipywidgets")
    from k8snet_lesson.view import labbox

    box = labbox.command_box(None, CLUSTER, where="debug-pod", command="kubectl get pods", unavailable="no root")
    assert labbox.run_command(box) is not None
    assert "checkout-api-6f8b9d-2xkpj" in box.output.value and box.message.value == ""
    box.entry.value = "ip route | grep x"
    assert labbox.run_command(box) is None
    assert box.output.value == "" and "shell character" in box.message.value
    box.entry.value = "ip route"
    assert labbox.run_command(box) is None
    assert "cannot run here: no root" in box.message.value and box.output.value == ""


def test_result_html_folds_long_output_under_details():
    from k8snet_lesson.view.labbox import result_html

    command = parse("ip route", where=NODE, cluster=CLUSTER)
    shown = result_html(Result(command, "".join(f"<{i}>\n" for i in range(30)), 0, "kernel"))
    visible, _, folded = shown.partition("<details")
    assert "&lt;24&gt;" in visible and "&lt;25&gt;" not in visible
    assert "Show 5 more lines" in folded and "&lt;29&gt;" in folded


def test_a_tool_that_is_not_installed_is_named_with_its_package(monkeypatch):
    import shutil
    from types import SimpleNamespace

    from k8snet_lesson.lab.kernel import Backend

    lab = SimpleNamespace(backend=Backend.NFT, cluster=CLUSTER)
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None if name == "tcpdump" else f"/usr/bin/{name}")
    with pytest.raises(LabUnavailable, match=r"tcpdump is not installed on this machine \(Debian: apt-get install tcpdump\)"):
        execute(parse("tcpdump -c 1 -i eth0", where=NODE, cluster=CLUSTER), lab=lab)
    assert commands._missing("ip", lab) == ""
