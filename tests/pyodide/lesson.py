"""What the course computes without numpy, run the same way under CPython and Pyodide.

tests/test_pyodide.py runs this file in both and compares their output byte for byte:
the lesson's rules on every node (``k8snet rules lesson``), the explanation of a real
node's dump, the CNI frames' overheads (scapy, whose IPv6 layers need a fallback under
Pyodide) and one packet walk.
"""

import sys

from k8snet_lesson import cluster, endpoints, explain, ipam, iptables, kube_proxy  # noqa: F401  the core

assert "numpy" not in sys.modules, "the core imported numpy"

from k8snet_lesson import frames  # noqa: E402
from k8snet_lesson.cni import profiles  # noqa: E402
from k8snet_lesson.cli import main  # noqa: E402
from k8snet_lesson.resources import data_path  # noqa: E402
from k8snet_lesson.scenarios import lesson_cluster  # noqa: E402

for node in lesson_cluster().nodes:
    print(f"### k8snet rules lesson --node {node.name}")
    sys.stdout.flush()
    assert main(["rules", "lesson", "--node", node.name, "--form", "save"]) == 0
print("### k8snet explain node-eu-west-1a.iptables-save.txt")
assert main(["explain", str(data_path("dumps/node-eu-west-1a.iptables-save.txt"))]) == 0
print("### k8snet trace two-node-flow")
assert main(["trace", "two-node-flow", "--from", "production/checkout-api-6f8b9d-k8m2w",
             "--to", "10.96.214.88:80", "--cni", "calico-ipip"]) == 0
for cni in profiles():
    print(f"### {cni}: overhead {frames.encapsulation_overhead(cni)} B, MTU {frames.mtu(cni)}")
