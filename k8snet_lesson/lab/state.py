"""A lab that outlives its command (``k8snet netlab up``): its state file, and ``down``.

``up`` builds a detached lab and records what is needed to find it again and to stop
only what it started: the run prefix, the host PID of the lab's PID 1 and that
process's start time (so a recycled PID is never mistaken for it), the PIDs of the
processes it runs inside the lab, and how the cluster was made. The file lives in
``$K8SNET_LAB_STATE_DIR``, else ``/run/k8snet-lesson`` (root) or the temp directory.

``down`` stops the recorded PID 1 (the kernel then removes every namespace, link,
rule and process of the lab), deletes any network namespace with a lab prefix that
the host itself can see (a crashed older run could have left one), and removes the
state file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

from ..cluster import Cluster, Protocol
from ..errors import NotFound
from .kernel import App, Backend, Lab
from .sandbox import Sandbox, processes_with
from .topology import check_prefix, plan

__all__ = ["STATE_ENV", "LabState", "state_path", "save", "load", "attach", "Down", "down", "host_lab_namespaces"]

STATE_ENV = "K8SNET_LAB_STATE_DIR"
_HOST_LAB_NAME = re.compile(r"^k8snet-[0-9a-z]{1,12}-(underlay|probe|node-\S+|pod-\S+)$")


def state_path() -> Path:
    """Where the state file of a running lab lives."""
    if os.environ.get(STATE_ENV):
        base = Path(os.environ[STATE_ENV])
    elif os.geteuid() == 0 and Path("/run").is_dir():
        base = Path("/run/k8snet-lesson")
    else:
        base = Path(tempfile.gettempdir()) / f"k8snet-lesson-{os.getuid()}"
    return base / "netlab.json"


@dataclasses.dataclass(frozen=True)
class LabState:
    """What ``up`` records about a running lab."""

    prefix: str
    pid: int
    start_time: int | None
    scenario: str
    client: str
    service: str
    backend: str
    ttl: float
    created: float
    apps: tuple[dict, ...] = ()
    netns_inodes: dict = dataclasses.field(default_factory=dict)
    rootless: bool = False

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LabState:
        raw = json.loads(text)
        raw["apps"] = tuple(raw.get("apps", ()))
        return cls(**raw)


def save(lab: Lab, *, scenario: str, client: str, service: str) -> Path:
    """Record a detached lab; returns the state file's path."""
    path = state_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    apps = tuple(
        {"pod": a.pod, "pid": a.pid, "program": a.program,
         "sockets": [[str(address), port, protocol.value] for address, port, protocol in a.sockets]}
        for a in lab.apps.values()
    )  # fmt: skip
    state = LabState(
        prefix=lab.prefix,
        pid=lab.sandbox.pid,
        start_time=lab.sandbox.start_time,
        scenario=scenario,
        client=client,
        service=service,
        backend=lab.backend.value,
        ttl=lab.ttl,
        created=time.time(),
        apps=apps,
        netns_inodes=dict(lab.netns_inodes),
        rootless=lab.sandbox.rootless,
    )
    temporary = path.with_suffix(".tmp")
    temporary.write_text(state.to_json())
    temporary.replace(path)  # nothing half-written
    return path


def load() -> LabState | None:
    """The recorded lab, or None when no state file exists."""
    path = state_path()
    try:
        return LabState.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        raise NotFound(f"{path}: not a lab state file ({exc}); remove it with `k8snet netlab down`") from None


def attach(state: LabState, cluster: Cluster) -> Lab:
    """A :class:`Lab` handle on the recorded, running lab built from ``cluster``."""
    sandbox = Sandbox.attach(state.prefix, state.pid, state.start_time, rootless=state.rootless)
    topology = plan(cluster, state.prefix)
    lab = Lab(sandbox=sandbox, topology=topology, cluster=topology.cluster, backend=Backend(state.backend), ttl=state.ttl)
    for raw in state.apps:
        sockets = tuple((IPv4Address(a), int(p), Protocol(proto)) for a, p, proto in raw["sockets"])
        app = App(raw["pod"], int(raw["pid"]), sockets, raw["program"])
        lab.apps[f"{app.pod}#{app.program}"] = app
    lab.netns_inodes = {k: int(v) for k, v in state.netns_inodes.items()}
    from ..kube_proxy import rules_for
    from .kernel import _without_builtin

    for node in topology.nodes:
        lab.loaded_rules[node.name] = _without_builtin(rules_for(lab.cluster, node.name, include_builtin=True))
    return lab


@dataclasses.dataclass(frozen=True)
class Down:
    """What ``down`` did."""

    stopped: tuple[str, ...]  # lab prefixes whose PID 1 was stopped
    deleted_namespaces: tuple[str, ...]  # lab-prefixed names the host could see
    killed: tuple[int, ...]  # PIDs found inside those namespaces
    left: tuple[int, ...]  # processes still mentioning a stopped prefix (should be empty)
    state_removed: bool


def host_lab_namespaces() -> tuple[str, ...]:
    """Network namespace names with a lab prefix in the host's own ``/run/netns``."""
    try:
        names = sorted(os.listdir("/run/netns"))
    except OSError:
        return ()
    return tuple(n for n in names if _HOST_LAB_NAME.match(n))


def down() -> Down:
    """Stop the recorded lab and remove anything a lab left where the host can see it."""
    state = None
    try:
        state = load()
    except NotFound:
        pass
    stopped = []
    left: tuple[int, ...] = ()
    if state is not None:
        check_prefix(state.prefix)
        sandbox = Sandbox(prefix=state.prefix, pid=state.pid, start_time=state.start_time, detached=True,
                          rootless=state.rootless)  # fmt: skip
        if sandbox.alive:
            sandbox.stop()
            stopped.append(state.prefix)
        deadline = time.monotonic() + 5
        while (left := processes_with(state.prefix)) and time.monotonic() < deadline:
            time.sleep(0.05)
    deleted, killed = [], []
    for name in host_lab_namespaces():
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
                killed.append(int(pid))
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        deleted.append(name)
    removed = False
    path = state_path()
    if path.exists():
        path.unlink()
        removed = True
    return Down(tuple(stopped), tuple(deleted), tuple(killed), left, removed)
