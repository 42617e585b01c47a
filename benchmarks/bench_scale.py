"""A real cluster's scale, end to end, side by side with the kernel in the same run.

A ``kubectl get -o json``-style List of 10,000 ClusterIP Services, one EndpointSlice of
10 ready endpoints each and the 50 Nodes they run on (17 MB, compact JSON) is written to a
temporary directory. Then, each a median of 3 runs:

1. ``k8snet rules FILE --node N --form restore`` as a subprocess, end to end (Python's
   start, reading the manifests, generation, writing the text), and its peak memory;
   the kernel's ``iptables-legacy-restore`` of that output in a fresh private network
   namespace. Target: ours at most 0.30 x the kernel's.
2. The kernel's ``iptables-legacy-save`` of the loaded rules, and ``k8snet explain`` of
   that save. Target: ours at most 1.5 x the kernel's, peak memory at most 300 MB.
3. ``k8snet rules FILE --node N --mode nftables`` and the kernel's ``nft -f`` of that
   transaction in a fresh private network namespace (one run: it takes minutes at this
   size). Target: at most 0.30 x.

The kernel side runs inside a lab sandbox (:mod:`k8snet_lesson.lab.sandbox`: its own
mount, PID and network namespaces), as the lab does; where it cannot run (no
capability, no tool) the model side is printed alone, with the reason.

Peak memory is ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a fresh wrapper
process per run, whose only child is the measured command.

``K8SNET_BENCH_BASE=/path/to/another/checkout`` also times that checkout's code (the model
side) in the same run, for a before-and-after table.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVICES = 10_000
ENDPOINTS = 10
NODES = 50
NODE = "node-07"
CLUSTER_CIDR = "10.0.0.0/8"
REPEATS = 3
# what the k8snet command runs, with the checkout on PYTHONPATH choosing whose code
_K8SNET = [sys.executable, "-c", "import sys; from k8snet_lesson.cli import main; sys.exit(main())"]
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The measuring wrapper: runs argv with stdout to a file, prints its wall time and the
# child's peak resident set (KiB on Linux). A fresh one per run, so the maximum is this run's.
_WRAPPER = """
import json, resource, subprocess, sys, time
out, argv = sys.argv[1], sys.argv[2:]
with open(out, "wb") as stream:
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=stream, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "status": done.returncode, "stderr": done.stderr.decode(errors="replace")[-2000:]}))
"""


def _time(prefix: str) -> str:
    return f"2026-01-{1 + len(prefix) % 28:02d}T10:00:00Z"


def cluster_list(services: int = SERVICES, endpoints: int = ENDPOINTS, nodes: int = NODES) -> dict:
    """A ``kubectl get nodes,services,endpointslices -A -o json`` List of that size."""
    items: list[dict] = []
    for n in range(nodes):
        name = f"node-{n:02d}"
        items.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"6f1c{n:08x}-0000-4000-8000-000000000000",
                         "resourceVersion": str(1000 + n), "creationTimestamp": "2026-01-01T09:00:00Z",
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
            "spec": {"podCIDR": f"10.{n + 1}.0.0/16", "podCIDRs": [f"10.{n + 1}.0.0/16"]},
            "status": {"addresses": [{"type": "InternalIP", "address": f"192.168.{n // 200}.{10 + n % 200}"},
                                     {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
        })
    pod = 0
    for s in range(services):
        namespace, name = f"team-{s % 100:02d}", f"svc-{s:05d}"
        cluster_ip = f"10.96.{(s + 10) // 256}.{(s + 10) % 256}"
        uid = f"{s:08x}-1111-4000-8000-000000000000"
        items.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "uid": uid, "resourceVersion": str(20000 + s),
                         "creationTimestamp": "2026-01-02T09:00:00Z", "labels": {"app": name}},
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
                     "selector": {"app": name}, "sessionAffinity": "None",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]},
            "status": {"loadBalancer": {}},
        })
        addresses = []
        for _ in range(endpoints):
            node = pod % nodes
            addresses.append({
                "addresses": [f"10.{node + 1}.{(pod // nodes) // 256 % 256}.{(pod // nodes) % 256}"],
                "conditions": {"ready": True},
                "nodeName": f"node-{node:02d}",
            })
            pod += 1
        items.append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-7x2kq", "namespace": namespace, "resourceVersion": str(40000 + s),
                         "labels": {"kubernetes.io/service-name": name,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": addresses,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        })
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


def _measured(argv: list[str], out: Path, env: dict | None = None) -> dict:
    """One run of ``argv`` (stdout to ``out``) in a fresh wrapper: seconds, peak KiB.

    It runs in ``out``'s directory: ``python -c`` puts its working directory first on
    sys.path, where a checkout's own ``k8snet_lesson`` would win over ``PYTHONPATH``."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, str(out), *argv], capture_output=True, text=True,
                          env=env, check=True, cwd=out.parent)
    result = json.loads(done.stdout)
    if result["status"] != 0:
        raise RuntimeError(f"{' '.join(argv[:6])}: exit status {result['status']}: {result['stderr'].strip()}")
    return result


def _model(args: list[str], out: Path, codes: list[tuple[str, Path]]) -> dict[str, tuple[float, float]]:
    """For each ``(tag, checkout)``: the median seconds and the largest peak MB of ``k8snet
    ARGS`` run from that checkout, the checkouts taking turns (a busy moment of a shared
    machine then falls on both alike). The output goes to ``out`` (``-base`` added for a tag)."""
    runs: dict[str, list[dict]] = {tag: [] for tag, _ in codes}
    for _ in range(REPEATS):
        for tag, code in codes:
            env = dict(os.environ, PYTHONPATH=str(code))
            target = out.with_name(out.stem + _suffix(tag) + out.suffix)
            runs[tag].append(_measured([*_K8SNET, *args], target, env))
    return {tag: (statistics.median(r["seconds"] for r in done), max(r["kib"] for r in done) / 1024)
            for tag, done in runs.items()}


class _Kernel:
    """The kernel side: fresh network namespaces inside one lab sandbox."""

    def __init__(self) -> None:
        from k8snet_lesson.lab.sandbox import Sandbox

        self.sandbox = Sandbox.start()
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        name = f"{self.sandbox.prefix}scale{self.count}"
        self.sandbox.run(["ip", "netns", "add", name])
        return name

    def drop(self, name: str) -> None:
        self.sandbox.run(["ip", "netns", "del", name], check=False)

    def timed(self, argv: list[str], netns: str, timeout: float = 600.0) -> tuple[float, str]:
        started = time.perf_counter()
        done = self.sandbox.run(argv, netns=netns, timeout=timeout)
        return time.perf_counter() - started, done.stdout

    def load(self, command: list[str], path: Path, repeats: int = REPEATS) -> float:
        """Median seconds of loading ``path`` with ``command`` into a fresh namespace."""
        times = []
        for _ in range(repeats):
            name = self.fresh()
            try:
                times.append(self.timed([*command, str(path)], name)[0])
            finally:
                self.drop(name)
        return statistics.median(times)

    def stop(self) -> None:
        self.sandbox.stop()


def _kernel_or_reason() -> tuple[_Kernel | None, str]:
    from k8snet_lesson.lab import probe

    found = probe()
    if not found.ok:
        return None, found.reason
    missing = [t for t in ("iptables-legacy-restore", "iptables-legacy-save", "nft") if shutil.which(t) is None]
    if len(missing) == 3:
        return None, f"{', '.join(missing)} not installed"
    try:
        return _Kernel(), ""
    except Exception as exc:  # a sandbox that cannot start: say why, time the model alone
        return None, str(exc)


def _suffix(tag: str) -> str:
    return "-base" if tag else ""


def run() -> list[tuple[str, float, str, str]]:
    rows: list[tuple[str, float, str, str]] = []
    codes = [("", ROOT)]
    if os.environ.get("K8SNET_BENCH_BASE"):
        codes.append((" [base]", Path(os.environ["K8SNET_BENCH_BASE"]).resolve()))
    with tempfile.TemporaryDirectory(prefix="k8snet-scale-") as tmp:
        work = Path(tmp)
        manifest = work / "cluster.json"
        manifest.write_text(json.dumps(cluster_list(), separators=(",", ":")))
        rows.append(("scale: the manifest (10,000 Services x 10 endpoints, JSON List)",
                     manifest.stat().st_size / 1e6, "MB", ""))
        kernel, why = _kernel_or_reason()
        if kernel is None:
            print(f"bench_scale: the kernel side is not measured: {why}", flush=True)
        try:
            restore, save, nft = work / "rules.restore", work / "rules.save", work / "rules.nft"
            base_args = [str(manifest), "--node", NODE, "--cluster-cidr", CLUSTER_CIDR]
            model = {"rules": _model(["rules", *base_args, "--form", "restore"], restore, codes)}
            count = sum(1 for line in restore.read_text().splitlines() if line.startswith("-A "))
            rows.append(("scale: rules in kube-proxy's restore input", count, "rules", "about 320,000"))
            kernel_restore = None
            if kernel is not None and shutil.which("iptables-legacy-restore"):
                kernel_restore = kernel.load(["iptables-legacy-restore"], restore)
            for tag, _ in codes:
                seconds, mb = model["rules"][tag]
                rows.append((f"scale: k8snet rules --form restore, end to end{tag}", seconds, "s", ""))
                rows.append((f"  peak memory{tag}", mb, "MB", "<= 300 MB"))
                if kernel_restore:
                    rows.append((f"  ratio to the kernel's iptables-legacy-restore{tag}", seconds / kernel_restore,
                                 "x", "<= 0.30"))
            if kernel_restore:
                rows.append(("scale: the kernel's iptables-legacy-restore of that output", kernel_restore, "s", ""))

            kernel_save = None
            if kernel is not None and shutil.which("iptables-legacy-save"):
                name = kernel.fresh()
                try:
                    kernel.timed(["iptables-legacy-restore", str(restore)], name)
                    times = []
                    for _ in range(REPEATS):
                        seconds, text = kernel.timed(["iptables-legacy-save"], name)
                        times.append(seconds)
                    save.write_text(text)
                    kernel_save = statistics.median(times)
                finally:
                    kernel.drop(name)
            else:  # the model's own save form stands in for the kernel's
                subprocess.run([*_K8SNET, "rules", *base_args, "--form", "save"],
                               stdout=save.open("w"), check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                               cwd=work)
            model["explain"] = _model(["explain", str(save)], work / "explain.txt", codes)
            if kernel_save:
                rows.append(("scale: the kernel's iptables-legacy-save of those rules", kernel_save, "s", ""))
            for tag, _ in codes:
                seconds, mb = model["explain"][tag]
                source = "the kernel's save" if kernel_save else "k8snet's save form"
                rows.append((f"scale: k8snet explain of {source}{tag}", seconds, "s", ""))
                rows.append((f"  peak memory{tag}", mb, "MB", "<= 300 MB"))
                if kernel_save:
                    rows.append((f"  ratio to the kernel's iptables-legacy-save{tag}", seconds / kernel_save, "x",
                                 "<= 1.5"))

            model["nft"] = _model(["rules", *base_args, "--mode", "nftables"], nft, codes)
            kernel_nft = None
            if kernel is not None and shutil.which("nft"):
                kernel_nft = kernel.load(["nft", "-f"], nft, repeats=1)  # minutes at this size: once
                rows.append(("scale: the kernel's nft -f of the nftables transaction (one run)", kernel_nft, "s", ""))
            for tag, _ in codes:
                seconds, mb = model["nft"][tag]
                rows.append((f"scale: k8snet rules --mode nftables, end to end{tag}", seconds, "s", ""))
                rows.append((f"  peak memory{tag}", mb, "MB", "<= 300 MB"))
                if kernel_nft:
                    rows.append((f"  ratio to the kernel's nft -f{tag}", seconds / kernel_nft, "x", "<= 0.30"))
        finally:
            if kernel is not None:
                kernel.stop()
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for name, value, unit, target in run():
        print(f"{name:<64} {value:>12.4g} {unit:<6} target {target}", flush=True)
