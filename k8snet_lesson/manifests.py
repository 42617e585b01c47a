"""Kubernetes manifests in, a :class:`~k8snet_lesson.cluster.Cluster` out (and back).

The only module that reads files. It reads YAML or JSON, one or many documents, and
``kind: List`` (as ``kubectl get -o yaml`` prints; any ``*List`` kind with ``items``),
``-`` meaning standard input, and ``lesson`` or ``two-node-flow`` naming the course's own
clusters (:data:`PACKAGED`) where no file of that name exists. Kinds and the fields it reads:

* **Node** (v1): ``metadata.name``/``labels``, ``spec.podCIDR``, ``status.addresses``
  (the ``InternalIP``), ``status.conditions`` (``Ready``; absent means ready).
* **Pod** (v1): ``metadata.labels``/``uid``/``deletionTimestamp`` (set: terminating),
  ``spec.nodeName``, ``spec.hostNetwork``, ``spec.containers[].name/image/ports``,
  ``status.podIP``, ``status.phase``, ``status.conditions`` (``Ready``),
  ``status.containerStatuses[].restartCount`` (summed). A pod without ``status.phase`` is
  Pending if it has no IP and Running if it has one; without ``status.conditions`` a
  Running pod counts as ready (hand-written manifests rarely carry conditions).
* **Service** (v1): ``spec.type``, ``selector`` (absent or ``{}``: no selector),
  ``clusterIP`` (``None`` or absent: no ClusterIP; the model allocates none),
  ``ports[].name/port/targetPort/protocol/nodePort`` (a numeric targetPort must be written
  as a number), ``sessionAffinity`` and ``sessionAffinityConfig.clientIP.timeoutSeconds``,
  ``internalTrafficPolicy``, ``externalTrafficPolicy``, ``externalIPs``,
  ``loadBalancerSourceRanges``, ``healthCheckNodePort``, ``publishNotReadyAddresses``,
  ``status.loadBalancer.ingress[].ip`` (but not one with ``ipMode: Proxy``, which is no VIP).
  As the API server validates them: ``timeoutSeconds`` within 1..86400, ``targetPort: 0``
  defaulted to ``port``, source ranges with host bits kept as written. A dual-stack
  Service is read as an IPv4 kube-proxy reads it: its IPv4 ClusterIP (from
  ``clusterIPs``) and the IPv4 entries of every address field; an IPv6-only one is skipped.
* **EndpointSlice** (discovery.k8s.io/v1): the ``kubernetes.io/service-name`` and
  ``endpointslice.kubernetes.io/managed-by`` labels, ``endpoints[]`` (addresses,
  conditions, nodeName, zone, targetRef, hostname), ``ports[]``. Slices whose
  ``addressType`` is not IPv4 are skipped (the model is IPv4 only).
* **Endpoints** (v1): mirrored into EndpointSlices the way the EndpointSlice mirroring
  controller does, and only when it would: the Service exists, has no selector, has no
  slices given already, and the Endpoints lacks the ``endpointslice.kubernetes.io/skip-mirror``
  label. ``addresses`` become ``ready: true``, ``notReadyAddresses`` ``ready: false``.
* **NetworkPolicy** (networking.k8s.io/v1), simplified to the model's ingress allow-list:
  ``spec.podSelector.matchLabels`` picks the pods; each ``ingress[].from[].podSelector
  .matchLabels`` is an allowed client selector in the same namespace; a rule without
  ``from`` allows every pod of the namespace. Peers with ``namespaceSelector`` or
  ``ipBlock``, rule ``ports`` and egress are not modelled and are left out;
  ``matchExpressions`` is refused. A policy whose ``policyTypes`` lack ``Ingress`` does
  not restrict ingress and is left out.
* **ClusterConfiguration** (kubeadm.k8s.io/v1beta3 or v1beta4, also inside the
  ``kube-system/kubeadm-config`` ConfigMap as kubeadm stores it):
  ``networking.podSubnet`` (the cluster CIDR), ``networking.serviceSubnet``,
  ``networking.dnsDomain``, ``controllerManager.extraArgs`` ``node-cidr-mask-size``. Without
  one the model's defaults hold (10.244.0.0/16, 10.96.0.0/12).
* Accepted and ignored: Namespace, the workload controllers (Deployment, ReplicaSet,
  StatefulSet, DaemonSet, Job, CronJob; their pods carry the network facts), other
  ConfigMaps, Secret, ServiceAccount, RBAC, Event, Lease, ControllerRevision,
  PersistentVolumeClaim, PodDisruptionBudget, HorizontalPodAutoscaler, Ingress, and
  kubeadm's InitConfiguration/JoinConfiguration, KubeletConfiguration and
  KubeProxyConfiguration. Any other kind is an error.

What a manifest cannot say, annotations say (non-standard, prefix ``k8snet-lesson/``):

* on a Pod: ``bind-address`` (the address its first container's app binds, e.g.
  ``127.0.0.1``) and ``listen-ports`` (comma-separated ports it really listens on), or per
  container ``<container>.bind-address`` / ``<container>.listen-ports``;
* on a Node: ``kube-proxy-synced: "false"`` (kube-proxy there is down or stale);
* on a ClusterConfiguration: ``node-network`` (the node network's CIDR; without it the
  model infers none) and ``cni`` (the CNI profile's name, default ``flannel``).

Ages: ``metadata.creationTimestamp`` is read relative to ``now`` (the current time unless
given), as kubectl computes AGE; without one the model's default ages hold (8d for pods
and Services, 30d for nodes).

Errors are :class:`~k8snet_lesson.errors.ManifestError`: the file, the line of the bad
field (or of the object when a field is missing), the bad value and a caret under it.

    >>> cluster = loads('''
    ... apiVersion: v1
    ... kind: Pod
    ... metadata: {name: web-1, namespace: default, labels: {app: web}}
    ... spec: {nodeName: node-a, containers: [{name: web, ports: [{containerPort: 8080}]}]}
    ... status: {phase: Running, podIP: 10.244.1.5}
    ... ''')
    >>> pod = cluster.pod("default/web-1")
    >>> str(pod.pod_ip), pod.ready, pod.containers[0].ports[0].container_port
    ('10.244.1.5', True, 8080)
    >>> loads("kind: Pod\\nmetadata: {name: x}\\nstatus: {podIP: 10.0.0.300}\\n", source="x.yaml")
    Traceback (most recent call last):
    ...
    k8snet_lesson.errors.ManifestError: x.yaml:3: Pod default/x: status.podIP is not an IPv4 address: '10.0.0.300'
        status: {podIP: 10.0.0.300}
                        ^~~~~~~~~~
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, ip_address, ip_interface, ip_network
from pathlib import Path
from typing import Any

from .cluster import (
    ANY_ADDRESS,
    Cluster,
    Container,
    ContainerPort,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Labels,
    NetworkPolicy,
    Node,
    ObjectReference,
    Pod,
    PodPhase,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)
from .endpoints import (
    ENDPOINTSLICE_MIRRORING_CONTROLLER,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    slice_name,
)
from ._speed import no_cycle_collection, slot_setters
from .errors import InvalidValue, ManifestError

__all__ = ["load", "loads", "dumps", "read_text", "ANNOTATION_PREFIX"]

ANNOTATION_PREFIX = "k8snet-lesson/"
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"

_IGNORED_KINDS = frozenset(
    {
        "Namespace", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
        "ReplicationController", "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding",
        "ClusterRole", "ClusterRoleBinding", "Event", "Lease", "ControllerRevision",
        "PersistentVolumeClaim", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Ingress",
        "InitConfiguration", "JoinConfiguration", "KubeletConfiguration", "KubeProxyConfiguration",
    }
)
_API_VERSIONS = {
    "Node": ("v1",),
    "Pod": ("v1",),
    "Service": ("v1",),
    "Endpoints": ("v1",),
    "EndpointSlice": ("discovery.k8s.io/v1",),
    "NetworkPolicy": ("networking.k8s.io/v1",),
    "ClusterConfiguration": ("kubeadm.k8s.io/v1beta2", "kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4"),
}
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400  # core.MaxClientIPServiceAffinitySeconds


# --- located YAML: values that remember where they were written ---------------------

# Bounds on what one manifest may hold, so that no input makes the reader recurse without
# end or run out of memory. Real objects are nested 20 levels at most; integers fit in
# 64 bits (the API server refuses longer ones); an alias may be used, but not one that
# refers to a collection it sits in.
MAX_DEPTH = 100
MAX_INT_DIGITS = 40


class _Map(dict):
    """A mapping that remembers its own position and each value's (line, column)."""

    line: int | None = None
    column: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.positions: dict[Any, tuple[int, int]] = {}


class _Seq(list):
    line: int | None = None
    column: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.positions: list[tuple[int, int] | None] = []


def _position(event: Any, line_offset: int) -> tuple[int, int]:
    column = event.start_mark.column
    if getattr(event, "style", None) in ("'", '"'):
        column += 1  # point at the value, not its opening quote
    return event.start_mark.line + 1 + line_offset, column


class _Container:
    """A mapping or sequence being built from parser events (an explicit stack, no recursion)."""

    __slots__ = ("value", "anchor", "key", "key_position", "merges", "size")

    def __init__(self, value: Any, anchor: str | None) -> None:
        self.value, self.anchor = value, anchor
        self.size = 1  # the nodes it holds with every alias expanded, itself included
        self.key: Any = _NO_KEY
        self.key_position: tuple[int, int] | None = None
        self.merges: list[Any] = []


_NO_KEY = object()
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"


def _built(text: str, source: str, line_offset: int) -> list[Any]:
    """The documents of ``text``, read event by event into located containers.

    PyYAML's composer and constructor recurse once per level of nesting (and without end
    on an alias that refers to a collection containing it); reading the parser's events
    with an explicit stack bounds both: nesting deeper than :data:`MAX_DEPTH` and such an
    alias are errors that name their line. An alias shares the anchored value; merge keys
    (``<<``) fill in the keys a mapping does not set itself.
    """
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    constructor = yaml.constructor.SafeConstructor()

    def fail(message: str, mark: Any) -> ManifestError:
        line = mark.line + 1
        lines = text.splitlines()
        shown = lines[line - 1] if line <= len(lines) else None
        return ManifestError(message, source=source, line=line + line_offset, text=shown,
                             column=mark.column if shown is not None else None)

    documents: list[Any] = []
    anchors: dict[str, Any] = {}
    sizes: dict[str, int] = {}  # an anchor's expanded size
    events = 0
    open_anchors: set[str] = set()
    stack: list[_Container] = []
    root: list[Any] = []

    def add(value: Any, position: tuple[int, int], mark: Any, size: int = 1) -> None:
        if stack:
            stack[-1].size += size
        if not stack:
            root.append(value)
            return
        top = stack[-1]
        if isinstance(top.value, _Seq):
            top.value.append(value)
            top.value.positions.append(position)
        elif top.key is _NO_KEY:
            if isinstance(value, (dict, list)):
                value = str(value) if len(value) < 8 else f"<{type(value).__name__}>"
            top.key, top.key_position = value, position
        else:
            if top.key is _MERGE:
                top.merges.append((value, mark))
            else:
                top.value[top.key] = value
                top.value.positions[top.key] = position
            top.key = _NO_KEY

    try:
        while True:
            event = loader.get_event()
            events += 1
            if event is None or isinstance(event, yaml.StreamEndEvent):
                break
            if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentStartEvent)):
                anchors.clear()
                continue
            if isinstance(event, yaml.DocumentEndEvent):
                documents.extend(root)
                root.clear()
                continue
            position = _position(event, line_offset)
            if isinstance(event, yaml.AliasEvent):
                if event.anchor in open_anchors:
                    raise fail(f"invalid YAML: alias *{event.anchor} refers to a collection that contains it",
                               event.start_mark)
                if event.anchor not in anchors:
                    raise fail(f"invalid YAML: found undefined alias *{event.anchor}", event.start_mark)
                add(anchors[event.anchor], position, event.start_mark, sizes.get(event.anchor, 1))
                continue
            if isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                if tag == _INT_TAG and len(event.value) > MAX_INT_DIGITS:
                    raise fail(f"invalid YAML: an integer of {len(event.value)} characters is too large "
                               f"(at most {MAX_INT_DIGITS})", event.start_mark)
                if tag == _MERGE_TAG and stack and isinstance(stack[-1].value, _Map) and stack[-1].key is _NO_KEY:
                    stack[-1].key = _MERGE
                    continue
                node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                try:
                    value = constructor.construct_object(node, deep=True)
                except yaml.constructor.ConstructorError as exc:
                    raise fail(f"invalid YAML: {exc.problem}", event.start_mark) from None
                except ValueError as exc:
                    raise fail(f"invalid YAML: {exc}", event.start_mark) from None
                if event.anchor:
                    anchors[event.anchor] = value
                add(value, position, event.start_mark)
                continue
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise fail(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", event.start_mark)
                value = _Map() if isinstance(event, yaml.MappingStartEvent) else _Seq()
                value.line, value.column = position[0], event.start_mark.column
                stack.append(_Container(value, event.anchor))
                if event.anchor:
                    open_anchors.add(event.anchor)
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                done = stack.pop()
                for merged, mark in done.merges:
                    for part in (merged if isinstance(merged, list) else [merged]):
                        if not isinstance(part, dict):
                            raise fail("invalid YAML: a merge key (<<) needs a mapping or a list of mappings", mark)
                        for k, v in part.items():
                            if k not in done.value:
                                done.value[k] = v
                                if isinstance(part, _Map) and k in part.positions:
                                    done.value.positions[k] = part.positions[k]
                if done.size > _ALIAS_RATIO * events + _ALIAS_ALLOWANCE:
                    # an alias bomb ("billion laughs"): each level multiplies what the reader
                    # would walk, as go-yaml's "document contains excessive aliasing" guards
                    raise fail("invalid YAML: excessive aliasing (the aliases expand to more than "
                               f"{_ALIAS_RATIO} times the document)", event.start_mark)
                if done.anchor:
                    open_anchors.discard(done.anchor)
                    anchors[done.anchor] = done.value
                    sizes[done.anchor] = done.size
                add(done.value, position, event.start_mark, done.size)
    finally:
        loader.dispose()
    documents.extend(root)
    return documents


_MERGE = object()
_ALIAS_RATIO = 10
_ALIAS_ALLOWANCE = 100_000


class _NumberTooLarge(Exception):
    """A JSON integer longer than :data:`MAX_INT_DIGITS` (read again as YAML to locate it)."""


def _json_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise _NumberTooLarge(text)
    return int(text)


# --- the fast path: well-formed manifests without positions ---------------------------
#
# Almost every manifest is well formed, and then no position is ever needed: the text is
# read by json.loads or libyaml's whole-document loader into plain dicts and lists, many
# times faster than the event-by-event reader above. The reader's checks run on those
# values as they are; at the first error the text is read again by the located reader,
# which finds the same error and says on which line (see _read_text). So the fast path
# must refuse, and leave to the located reader, every text the located reader refuses
# on its own: one nested deeper than MAX_DEPTH, an integer longer than MAX_INT_DIGITS,
# aliases (their checks), tags and merge keys (the located reader's own handling).

# A plain scalar that could be an integer of MAX_INT_DIGITS characters or more (any YAML
# 1.1 integer starts with a sign or a digit; the class holds every character of the
# binary, octal, hexadecimal and base-60 forms); more than that is matched too, and is
# only read the slow way.
_LONG_NUMBER_RE = re.compile(r"(?:^|[\s\[{,])[-+]?[0-9][0-9a-fA-FxXoObB_:]{%d,}(?=$|[\s\]},#])"
                             % (MAX_INT_DIGITS - 1), re.MULTILINE)
# A dotted quad exactly as ipaddress reads one (each octet 0-255, no leading zero).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_new = object.__new__
(_set_ipv4,) = slot_setters(IPv4Address, "_ip")  # an address the pattern above has checked, set without re-parsing


def _json_documents(text: str) -> list[Any] | None:
    """``[json.loads(text)]``, or None when the located reader must read it: invalid JSON,
    an integer that is too large, nesting deeper than MAX_DEPTH levels (the values are
    walked with an explicit stack after loading: about 3% of reading a 17 MB List)."""
    try:
        data = json.loads(text, parse_int=_json_int)
    except (json.JSONDecodeError, _NumberTooLarge, RecursionError):
        return None
    if not _within_depth(data):
        return None
    return [data]


def _within_depth(value: Any) -> bool:
    """Whether ``value`` is nested at most MAX_DEPTH levels (an explicit stack: no recursion)."""
    pending = [(value, 1)] if isinstance(value, (dict, list)) else []
    while pending:
        container, depth = pending.pop()
        if depth > MAX_DEPTH:
            return False
        for item in container.values() if isinstance(container, dict) else container:
            if type(item) is dict or type(item) is list:
                pending.append((item, depth + 1))
    return True


def _yaml_documents(text: str) -> list[Any] | None:
    """The documents of ``text`` read by libyaml's CSafeLoader, or None when the located
    reader must read them (no libyaml, anything it refuses, or a text the fast path
    leaves to the located reader: see above)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None or "&" in text or "*" in text or "!" in text or "<<" in text:
        return None
    if _LONG_NUMBER_RE.search(text):
        return None
    try:
        documents = list(yaml.load_all(text, Loader=loader))
    except Exception:  # noqa: BLE001 - whatever it is, the located reader says it exactly
        return None
    if not all(_within_depth(document) for document in documents):
        return None
    return documents


def _fast_documents(text: str) -> list[Any] | None:
    """The documents of ``text`` without positions, or None: see the fast path above."""
    if text.lstrip()[:1] in ("{", "["):
        documents = _json_documents(text)
        if documents is not None:
            return documents
    return _yaml_documents(text)


def _plain(value: Any) -> Any:
    """JSON data (no positions) as located containers without positions, or None when it
    is nested deeper than :data:`MAX_DEPTH` (an explicit stack: no recursion)."""
    top = _Map() if isinstance(value, dict) else _Seq() if isinstance(value, list) else None
    if top is None:
        return value
    pending = [(value, top, 1)]
    while pending:
        source, target, depth = pending.pop()
        if depth > MAX_DEPTH:
            return None
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for k, v in items:
            if isinstance(v, (dict, list)):
                child = _Map() if isinstance(v, dict) else _Seq()
                pending.append((v, child, depth + 1))
                v = child
            if isinstance(target, _Map):
                target[k] = v
            else:
                target.append(v)
                target.positions.append(None)
    return top


def _documents(text: str, source: str, line_offset: int = 0) -> list[Any]:
    import yaml

    try:
        return _built(text, source, line_offset)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ManifestError(f"invalid YAML: character {exc.character!r} is not allowed", source=source,
                            line=line + line_offset) from None
    except yaml.MarkedYAMLError as exc:
        if text.lstrip()[:1] in ("{", "["):
            try:  # JSON that PyYAML's YAML 1.1 reader refuses (some escapes)
                data = json.loads(text, parse_int=_json_int)
            except json.JSONDecodeError as json_exc:
                lines = text.splitlines()
                shown = lines[json_exc.lineno - 1] if json_exc.lineno <= len(lines) else None
                raise ManifestError(f"invalid JSON: {json_exc.msg}", source=source, line=json_exc.lineno + line_offset,
                                    text=shown, column=json_exc.colno - 1 if shown is not None else None) from None
            except _NumberTooLarge as number:
                raise ManifestError(f"invalid JSON: an integer of {len(str(number))} characters is too large "
                                    f"(at most {MAX_INT_DIGITS})", source=source) from None
            except RecursionError:
                raise ManifestError(f"invalid JSON: nested more than {MAX_DEPTH} levels deep",
                                    source=source) from None
            located = _plain(data)
            if located is None and isinstance(data, (dict, list)):
                raise ManifestError(f"invalid JSON: nested more than {MAX_DEPTH} levels deep", source=source)
            return [located]
        mark = exc.problem_mark or exc.context_mark
        lines = text.splitlines()
        line = mark.line + 1 if mark else None
        raise ManifestError(
            f"invalid YAML: {exc.problem or exc.context}",
            source=source,
            line=None if line is None else line + line_offset,
            text=lines[line - 1] if line and line <= len(lines) else None,
            column=mark.column if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", source=source) from None


def _go_value(value: Any) -> str:
    """A value as the API server's field errors print it (``%q`` for a string, shortened)."""
    text = json.dumps(value) if isinstance(value, (str, bool, type(None))) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the reader: one object at a time, errors that point at the field --------------


class _Reader:
    def __init__(self, text: str, source: str, now: datetime) -> None:
        self.text = text
        self.source = source
        self.now = now
        self.embedded = False
        self.fast = False  # reading values without positions (see _fast_documents)
        self.path: list[int] = []  # the document's index, then each List item's

    @functools.cached_property
    def lines(self) -> list[str]:
        """The text's lines, split only when an error shows one."""
        return self.text.splitlines()

    # where -----------------------------------------------------------------------
    def fail(self, message: str, container: Any = None, key: Any = None, word: Any = None, *,
             named: bool = True) -> ManifestError:
        """The error for a bad field: the line of ``container[key]`` (or of ``container``
        when the key is missing), and a caret under ``word`` where it is written (the
        message ends with the word unless ``named=False``: it names it already)."""
        position = None
        if isinstance(container, _Map):
            position = container.positions.get(key)
        elif isinstance(container, _Seq) and isinstance(key, int) and 0 <= key < len(container.positions):
            position = container.positions[key]
        line, column = position if position is not None else (getattr(container, "line", None), None)
        text = self.lines[line - 1] if line is not None and 0 < line <= len(self.lines) else None
        if isinstance(word, (dict, list)):
            word = None
        elif isinstance(word, (bool, type(None))) and word is not None:
            word = json.dumps(word)
        elif word is not None and not isinstance(word, str):
            word = str(word)
        if text is not None and column is not None and word is not None:
            # the word is the value itself, or a part of it (one port of "80,http")
            found = column if text.startswith(word, column) else text.find(word, column)
            if found >= 0:
                # tabs would shift the caret: show them as the spaces they stand for
                found = len(text[:found].expandtabs(8))
                return ManifestError(message, source=self.source, line=line, text=text.expandtabs(8),
                                     column=found, word=word, named=named)
        if not named:
            return ManifestError(message, source=self.source, line=line, text=text)
        return ManifestError(message, source=self.source, line=line, text=text if word is None else None, word=word)

    def mappings(self, parent: _Map, key: str, where: str) -> list[_Map]:
        """The entries of the list ``parent[key]``, each of which must be a mapping."""
        entries = self.sequence(parent, key, where)
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise self.fail(f"{where}: each entry of {key} must be a mapping", entries, i, entry)
        return list(entries)

    # typed fields ----------------------------------------------------------------
    def mapping(self, parent: _Map, key: str, where: str) -> _Map:
        value = parent.get(key)
        if value is None:
            return _Map()
        if not isinstance(value, dict):
            raise self.fail(f"{where}: {key} must be a mapping", parent, key, value)
        return value

    def sequence(self, parent: _Map, key: str, where: str) -> _Seq:
        value = parent.get(key)
        if value is None:
            return _Seq()
        if not isinstance(value, list):
            raise self.fail(f"{where}: {key} must be a list", parent, key, value)
        return value

    def string(self, parent: _Map, key: str, where: str, *, default: str | None = None, required: bool = False) -> Any:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(f"{where}: {key} is missing", parent)
            return default
        if not isinstance(value, str):
            raise self.fail(f"{where}: {key} must be a string", parent, key, value)
        return value

    def boolean(self, parent: _Map, key: str, where: str, default: bool | None = False) -> Any:
        value = parent.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(f"{where}: {key} must be true or false", parent, key, value)
        return value

    def integer(self, parent: _Map, key: str, where: str, default: int | None = None) -> Any:
        value = parent.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where}: {key} must be an integer", parent, key, value)
        return value

    def port(self, parent: _Map, key: str, where: str, *, required: bool = False) -> int | None:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(f"{where}: {key} is missing", parent)
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise self.fail(f"{where}: {key} must be a port number (1-65535), not", parent, key, value)
        return value

    def address(self, parent: Any, key: Any, where: str, what: str) -> IPv4Address:
        value = parent[key]
        if type(value) is str and _DOTTED_QUAD_RE.fullmatch(value):  # as ip_address reads it, quicker
            a, b, c, d = value.split(".")
            return IPv4Address((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d))
        try:
            address = ip_address(value) if isinstance(value, str) else None
        except ValueError:
            address = None
        if not isinstance(address, IPv4Address):
            raise self.fail(f"{where}: {what} is not an IPv4 address:", parent, key, value)
        return address

    def network(self, parent: Any, key: Any, where: str, what: str) -> IPv4Network:
        return self.cidr(parent, key, parent[key], where, what)

    def cidr(self, parent: Any, key: Any, value: Any, where: str, what: str) -> IPv4Network:
        text = value.strip() if isinstance(value, str) else None
        try:
            network = ip_network(text) if text else None
        except ValueError:
            network = None
        if isinstance(network, IPv4Network):
            return network
        try:  # say so when only the host bits are wrong, as they usually are
            loose = ip_network(text, strict=False) if text else None
        except ValueError:
            loose = None
        if isinstance(loose, IPv4Network):
            raise self.fail(f"{where}: {what} has host bits set (the network is {loose}):", parent, key, value)
        raise self.fail(f"{where}: {what} is not an IPv4 CIDR:", parent, key, value)

    def enum(self, kind: type, parent: _Map, key: str, where: str, default: Any) -> Any:
        value = parent.get(key)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise self.fail(f"{where}: {key} must be one of {allowed}, not", parent, key, value) from None

    def labels(self, parent: _Map, key: str, where: str) -> dict[str, str]:
        value = self.mapping(parent, key, where)
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise self.fail(f"{where}: every value of {key} must be a string (quote it), not", value, k, v)
        return dict(value)

    def age(self, meta: _Map, where: str, default: timedelta | None) -> timedelta | None:
        value = meta.get("creationTimestamp")
        if value is None:
            return default
        moment = self.timestamp(meta, "creationTimestamp", where)
        return max(self.now - moment, timedelta(0))

    def timestamp(self, meta: _Map, key: str, where: str) -> datetime:
        value = meta[key]
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
            except ValueError:
                pass
        raise self.fail(f"{where}: {key} is not an RFC 3339 time", meta, key, value)

    # objects ---------------------------------------------------------------------
    def meta(self, obj: _Map, kind: str, *, namespaced: bool = True) -> tuple[_Map, str, str, str]:
        meta = self.mapping(obj, "metadata", kind)
        if not isinstance(meta.get("name"), str) or not meta.get("name"):
            raise self.fail(f"{kind}: metadata.name is missing", meta if getattr(meta, "line", None) is not None else obj)
        name = meta["name"]
        namespace = self.string(meta, "namespace", kind, default="default") if namespaced else ""
        where = f"{kind} {namespace}/{name}" if namespaced else f"{kind} {name}"
        return meta, namespace, name, where

    def annotations(self, meta: _Map, where: str) -> dict[str, str]:
        return self.labels(meta, "annotations", where)

    def node(self, obj: _Map) -> Node:
        meta, _, name, where = self.meta(obj, "Node", namespaced=False)
        spec, status = self.mapping(obj, "spec", where), self.mapping(obj, "status", where)
        pod_cidr = None
        if spec.get("podCIDR") is not None:
            pod_cidr = self.network(spec, "podCIDR", where, "spec.podCIDR")
        internal_ip = None
        addresses = self.sequence(status, "addresses", where)
        for i, entry in enumerate(addresses):
            if isinstance(entry, dict) and entry.get("type") == "InternalIP" and internal_ip is None:
                if "address" not in entry:
                    raise self.fail(f"{where}: status.addresses[{i}].address is missing", addresses, i)
                internal_ip = self.address(entry, "address", where, "status.addresses InternalIP")
        if internal_ip is None:
            raise self.fail(f"{where}: status.addresses has no InternalIP", obj)
        annotations = self.annotations(meta, where)
        synced = annotations.get(ANNOTATION_PREFIX + "kube-proxy-synced", "true")
        if synced not in ("true", "false"):
            annotations_map = self.mapping(meta, "annotations", where)
            raise self.fail(f"{where}: annotation {ANNOTATION_PREFIX}kube-proxy-synced must be \"true\" or \"false\"",
                            annotations_map, ANNOTATION_PREFIX + "kube-proxy-synced", synced)
        return Node(
            name=name,
            internal_ip=internal_ip,
            pod_cidr=pod_cidr,
            ready=self.condition(status, "Ready", where, default=True),
            labels=self.labels(meta, "labels", where),
            kube_proxy_synced=synced == "true",
            age=self.age(meta, where, Node.__dataclass_fields__["age"].default),
        )

    def condition(self, status: _Map, kind: str, where: str, *, default: bool) -> bool:
        conditions = self.sequence(status, "conditions", where)
        if not conditions:
            return default
        for entry in conditions:
            if isinstance(entry, dict) and entry.get("type") == kind:
                return entry.get("status") == "True"
        return False

    def pod(self, obj: _Map) -> Pod:
        meta, namespace, name, where = self.meta(obj, "Pod")
        spec, status = self.mapping(obj, "spec", where), self.mapping(obj, "status", where)
        annotations = self.annotations(meta, where)
        annotation_map = self.mapping(meta, "annotations", where)
        containers = []
        for i, entry in enumerate(self.sequence(spec, "containers", where)):
            if not isinstance(entry, dict):
                raise self.fail(f"{where}: spec.containers[{i}] must be a mapping", spec.get("containers"), i, entry)
            containers.append(self.container(entry, where, i, annotations, annotation_map))
        pod_ip = None
        if status.get("podIP") not in (None, ""):
            pod_ip = self.address(status, "podIP", where, "status.podIP")
        phase = self.enum(PodPhase, status, "phase", where + " status", PodPhase.RUNNING if pod_ip else PodPhase.PENDING)
        restarts = 0
        for entry in self.sequence(status, "containerStatuses", where):
            if isinstance(entry, dict):
                restarts += self.integer(entry, "restartCount", where, 0)
        return Pod(
            namespace=namespace,
            name=name,
            labels=self.labels(meta, "labels", where),
            node_name=self.string(spec, "nodeName", where),
            pod_ip=pod_ip,
            containers=tuple(containers),
            ready=self.condition(status, "Ready", where, default=phase is PodPhase.RUNNING),
            terminating=meta.get("deletionTimestamp") is not None,
            host_network=self.boolean(spec, "hostNetwork", where),
            phase=phase,
            restarts=restarts,
            age=self.age(meta, where, Pod.__dataclass_fields__["age"].default),
            uid=self.string(meta, "uid", where, default=""),
        )

    def container(self, entry: _Map, where: str, index: int, annotations: dict[str, str], annotation_map: _Map) -> Container:
        name = self.string(entry, "name", f"{where} spec.containers[{index}]", required=True)
        ports = []
        for j, port in enumerate(self.sequence(entry, "ports", where)):
            if not isinstance(port, dict):
                raise self.fail(f"{where}: container {name} ports[{j}] must be a mapping", entry.get("ports"), j, port)
            ports.append(ContainerPort(
                container_port=self.port(port, "containerPort", f"{where} container {name}", required=True),
                name=self.string(port, "name", where, default=""),
                protocol=self.enum(Protocol, port, "protocol", where, Protocol.TCP),
            ))
        bind_key, listen_key = f"{name}.bind-address", f"{name}.listen-ports"
        if index == 0:
            bind_key = bind_key if ANNOTATION_PREFIX + bind_key in annotations else "bind-address"
            listen_key = listen_key if ANNOTATION_PREFIX + listen_key in annotations else "listen-ports"
        bind_address: IPv4Address = ANY_ADDRESS
        if ANNOTATION_PREFIX + bind_key in annotations:
            bind_address = self.address(annotation_map, ANNOTATION_PREFIX + bind_key, where,
                                        f"annotation {ANNOTATION_PREFIX}{bind_key}")
        listen_ports = None
        if ANNOTATION_PREFIX + listen_key in annotations:
            text = annotations[ANNOTATION_PREFIX + listen_key]
            listen_ports = []
            for word in filter(None, (w.strip() for w in text.split(","))):
                if not (word.isascii() and word.isdigit() and len(word) <= 5) or not 1 <= int(word) <= 65535:
                    raise self.fail(f"{where}: annotation {ANNOTATION_PREFIX}{listen_key} has a bad port",
                                    annotation_map, ANNOTATION_PREFIX + listen_key, word)
                listen_ports.append(int(word))
            listen_ports = tuple(listen_ports)
        return Container(name=name, ports=tuple(ports), bind_address=bind_address, listen_ports=listen_ports,
                         image=self.string(entry, "image", where, default=""))

    def service(self, obj: _Map) -> Service | None:
        """A Service as an IPv4 kube-proxy sees it, validated as the API server validates it.

        Dual-stack Services are read as an IPv4 kube-proxy reads them: the IPv4 ClusterIP
        of ``clusterIPs``, and only the IPv4 entries of ``externalIPs``, of the ingress IPs
        and of ``loadBalancerSourceRanges`` (pkg/proxy/service.go filters each by family).
        A Service with no IPv4 ClusterIP at all (IPv6 single-stack) is not seen: None.
        """
        meta, namespace, name, where = self.meta(obj, "Service")
        spec, status = self.mapping(obj, "spec", where), self.mapping(obj, "status", where)
        selector = self.labels(spec, "selector", where) or None
        cluster_ip, ipv6_only = self.cluster_ip(spec, where)
        if ipv6_only:
            return None
        ports = []
        port_list = self.sequence(spec, "ports", where)
        for i, entry in enumerate(port_list):
            if not isinstance(entry, dict):
                raise self.fail(f"{where}: spec.ports[{i}] must be a mapping", port_list, i, entry)
            ports.append(self.service_port(entry, where, i))
        self.port_names(port_list, ports, where)
        affinity = self.enum(SessionAffinity, spec, "sessionAffinity", where, SessionAffinity.NONE)
        external_ips = self.sequence(spec, "externalIPs", where)
        ranges = self.sequence(spec, "loadBalancerSourceRanges", where)
        ingress = self.sequence(self.mapping(status, "loadBalancer", where), "ingress", where)
        lb_ips = []
        for i, entry in enumerate(ingress):
            if not isinstance(entry, dict) or entry.get("ip") is None:
                continue
            address = self.ip(entry, "ip", where, f"status.loadBalancer.ingress[{i}].ip")
            # ipMode Proxy (v1.30+): the load balancer proxies to the nodes, so the IP is not
            # a VIP on them and kube-proxy writes no rules for it (IsVIPMode in
            # pkg/proxy/util/utils.go, checked where pkg/proxy/service.go reads the ingress)
            if isinstance(address, IPv4Address) and entry.get("ipMode") != "Proxy":
                lb_ips.append(address)
        return Service(
            namespace=namespace,
            name=name,
            ports=tuple(ports),
            selector=selector,
            cluster_ip=cluster_ip,
            type=self.enum(ServiceType, spec, "type", where, ServiceType.CLUSTER_IP),
            session_affinity=affinity,
            session_affinity_timeout=self.affinity_timeout(spec, where),
            internal_traffic_policy=self.enum(TrafficPolicy, spec, "internalTrafficPolicy", where, TrafficPolicy.CLUSTER),
            external_traffic_policy=self.enum(TrafficPolicy, spec, "externalTrafficPolicy", where, TrafficPolicy.CLUSTER),
            external_ips=tuple(a for i in range(len(external_ips))
                               if isinstance(a := self.ip(external_ips, i, where, f"spec.externalIPs[{i}]"), IPv4Address)),
            load_balancer_ips=tuple(lb_ips),
            load_balancer_source_ranges=tuple(r for i in range(len(ranges))
                                              if (r := self.source_range(ranges, i, where)) is not None),
            health_check_node_port=self.port(spec, "healthCheckNodePort", where),
            publish_not_ready_addresses=self.boolean(spec, "publishNotReadyAddresses", where),
            age=self.age(meta, where, Service.__dataclass_fields__["age"].default),
            external_name=self.external_name(spec, where),
        )

    def external_name(self, spec: _Map, where: str) -> str | None:
        """``spec.externalName``, required for type ExternalName (ValidateService), without
        its trailing dot; other types drop it, as the API server's strategy does."""
        if spec.get("type") != ServiceType.EXTERNAL_NAME.value:
            return None
        name = self.string(spec, "externalName", where)
        if not name or not name.rstrip("."):
            raise self.fail(f"{where}: spec.externalName: Required value", spec)
        return name.rstrip(".").lower()

    def port_names(self, port_list: _Seq, ports: list[ServicePort], where: str) -> None:
        """ValidateService (pkg/apis/core/validation/validation.go): with more than one port
        each needs a name, and the names differ."""
        seen: set[str] = set()
        for i, port in enumerate(ports):
            if len(ports) > 1 and not port.name:
                raise self.fail(f"{where}: spec.ports[{i}].name: Required value", port_list, i)
            if port.name and port.name in seen:
                raise self.fail(f'{where}: spec.ports[{i}].name: Duplicate value: "{port.name}"', port_list[i], "name",
                                port.name, named=False)
            seen.add(port.name)

    def ip(self, parent: Any, key: Any, where: str, what: str) -> IPv4Address | IPv6Address:
        """An IPv4 or IPv6 address (the API takes both; the caller keeps the IPv4 ones)."""
        value = parent[key]
        try:
            return ip_address(value.strip()) if isinstance(value, str) else ip_address("")
        except ValueError:
            raise self.fail(f"{where}: {what}: Invalid value: {_go_value(value)}: must be a valid IP address, "
                            "(e.g. 10.9.8.7 or 2001:db8::ffff)", parent, key, value, named=False) from None

    def cluster_ip(self, spec: _Map, where: str) -> tuple[IPv4Address | None, bool]:
        """The IPv4 ClusterIP of ``clusterIP``/``clusterIPs``, and whether the Service is
        IPv6 single-stack (has ClusterIPs, none of them IPv4)."""
        ips = self.sequence(spec, "clusterIPs", where)
        container, keys = (ips, range(len(ips))) if ips else (spec, ["clusterIP"] if "clusterIP" in spec else [])
        addresses = []
        for key in keys:
            if container[key] in (None, "", "None"):
                return None, False  # headless
            addresses.append(self.ip(container, key, where, "spec.clusterIPs" if ips else "spec.clusterIP"))
        ipv4 = [a for a in addresses if isinstance(a, IPv4Address)]
        return (ipv4[0] if ipv4 else None), bool(addresses) and not ipv4

    def affinity_timeout(self, spec: _Map, where: str) -> int:
        """``sessionAffinityConfig.clientIP.timeoutSeconds``: 10800 unless given, and 1..86400
        as the API server requires (validateAffinityTimeout, pkg/apis/core/validation/validation.go)."""
        config = self.mapping(self.mapping(spec, "sessionAffinityConfig", where), "clientIP", where)
        timeout = self.integer(config, "timeoutSeconds", where, 10800)
        if not 0 < timeout <= MAX_CLIENT_IP_AFFINITY_SECONDS:
            raise self.fail(f"{where}: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: {timeout}: "
                            f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}",
                            config, "timeoutSeconds", timeout, named=False)
        return timeout

    def source_range(self, ranges: _Seq, index: int, where: str) -> IPv4Interface | None:
        """A loadBalancerSourceRanges entry as written (host bits are allowed, spaces around
        it too: IsValidCIDR after TrimSpace in ValidateService); None for an IPv6 range."""
        value = ranges[index]
        text = value.strip() if isinstance(value, str) else ""
        try:
            interface = ip_interface(text) if "/" in text else None
        except ValueError:
            interface = None
        if interface is None:
            raise self.fail(f"{where}: spec.loadBalancerSourceRanges[{index}]: Invalid value: {_go_value(value)}: "
                            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)", ranges, index, value,
                            named=False)
        return interface if isinstance(interface, IPv4Interface) else None

    def service_port(self, entry: _Map, where: str, index: int) -> ServicePort:
        port = self.port(entry, "port", f"{where} spec.ports[{index}]", required=True)
        target = entry.get("targetPort")
        if target == 0 and not isinstance(target, bool):
            target = None  # the API defaults targetPort 0 to port (SetDefaults_Service)
        if isinstance(target, str):
            if target.isdigit():
                raise self.fail(f"{where}: targetPort must be a number or a port name, not the quoted string",
                                entry, "targetPort", target)
            if not target:
                target = None
        elif target is not None:
            target = self.port(entry, "targetPort", where)
        return ServicePort(
            port=port,
            target_port=target,
            name=self.string(entry, "name", where, default=""),
            protocol=self.enum(Protocol, entry, "protocol", where, Protocol.TCP),
            node_port=self.port(entry, "nodePort", where),
        )

    def endpoint_slice(self, obj: _Map) -> EndpointSlice | None:
        meta, namespace, name, where = self.meta(obj, "EndpointSlice")
        labels = self.labels(meta, "labels", where)
        if LABEL_SERVICE_NAME not in labels:
            raise self.fail(f"{where}: metadata.labels has no {LABEL_SERVICE_NAME}", obj)
        address_type = self.string(obj, "addressType", where, default="IPv4")
        if address_type != "IPv4":
            return None  # IPv6 and FQDN slices: the model is IPv4 only
        endpoints = []
        known: dict[tuple, EndpointConditions] = {}
        endpoint_list = self.sequence(obj, "endpoints", where)
        quick = self.quick_endpoint
        for i, entry in enumerate(endpoint_list):
            endpoint = quick(entry, known)
            if endpoint is not None:
                endpoints.append(endpoint)
                continue
            if not isinstance(entry, dict):
                raise self.fail(f"{where}: endpoints[{i}] must be a mapping", endpoint_list, i, entry)
            addresses = self.sequence(entry, "addresses", where)
            if not addresses:
                raise self.fail(f"{where}: endpoints[{i}].addresses is empty", entry)
            conditions = self.mapping(entry, "conditions", where)
            state = (self.boolean(conditions, "ready", where, None), self.boolean(conditions, "serving", where, None),
                     self.boolean(conditions, "terminating", where, None))
            if state not in known:  # a slice's endpoints share their few equal condition values
                known[state] = EndpointConditions(*state)
            endpoints.append(Endpoint(
                addresses=tuple(self.address(addresses, j, where, "endpoint address") for j in range(len(addresses))),
                conditions=known[state],
                node_name=self.string(entry, "nodeName", where),
                zone=self.string(entry, "zone", where),
                target_ref=self.object_reference(self.mapping(entry, "targetRef", where), where),
                hostname=self.string(entry, "hostname", where),
            ))
        ports = []
        for entry in self.mappings(obj, "ports", where):
            ports.append(EndpointPort(
                port=self.port(entry, "port", where),
                name=self.string(entry, "name", where, default=""),
                protocol=self.enum(Protocol, entry, "protocol", where, Protocol.TCP),
            ))
        return EndpointSlice(
            namespace=namespace,
            name=name,
            service_name=labels[LABEL_SERVICE_NAME],
            endpoints=tuple(endpoints),
            ports=tuple(ports),
            address_type=address_type,
            managed_by=labels.get(LABEL_MANAGED_BY, ""),
            age=self.age(meta, where, EndpointSlice.__dataclass_fields__["age"].default),
        )

    @staticmethod
    def quick_endpoint(entry: Any, known: dict[tuple, EndpointConditions]) -> Endpoint | None:
        """The endpoint of the usual entry (one dotted-quad address, conditions and names of
        the right types, no targetRef), checked and built in one step; None for any other,
        which the general steps read and check field by field."""
        if type(entry) is not dict:
            return None
        get = entry.get
        addresses, conditions, node_name = get("addresses"), get("conditions"), get("nodeName")
        zone, hostname = get("zone"), get("hostname")
        if (type(addresses) is not list or len(addresses) != 1 or type(addresses[0]) is not str
                or get("targetRef") is not None or not (conditions is None or type(conditions) is dict)
                or not (node_name is None or type(node_name) is str) or not (zone is None or type(zone) is str)
                or not (hostname is None or type(hostname) is str)):
            return None
        address = addresses[0]
        if not _DOTTED_QUAD_RE.fullmatch(address):
            return None
        state = (None, None, None)
        if conditions:
            ready, serving, terminating = conditions.get("ready"), conditions.get("serving"), conditions.get("terminating")
            if not ((ready is None or ready is True or ready is False)
                    and (serving is None or serving is True or serving is False)
                    and (terminating is None or terminating is True or terminating is False)):
                return None
            state = (ready, serving, terminating)
        if state not in known:
            known[state] = EndpointConditions(*state)
        a, b, c, d = address.split(".")
        ip = _new(IPv4Address)  # IPv4Address(int) without its checks, which the pattern made (see _speed)
        _set_ipv4(ip, (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d))
        return Endpoint((ip,), known[state], node_name, zone, None, hostname)

    def object_reference(self, ref: _Map, where: str) -> ObjectReference | None:
        if not ref:
            return None
        return ObjectReference(
            kind=self.string(ref, "kind", where, default=""),
            namespace=self.string(ref, "namespace", where, default=""),
            name=self.string(ref, "name", where, default=""),
            uid=self.string(ref, "uid", where, default=""),
        )

    def endpoints(self, obj: _Map) -> dict[str, Any]:
        """An Endpoints object, kept as data until the Services are known (mirroring)."""
        meta, namespace, name, where = self.meta(obj, "Endpoints")
        subsets = []
        for subset in self.mappings(obj, "subsets", where):
            addresses = []
            for key, ready in (("addresses", True), ("notReadyAddresses", False)):
                for entry in self.mappings(subset, key, where):
                    address = self.address(entry, "ip", where, f"subsets {key} ip") if "ip" in entry else None
                    if address is None:
                        raise self.fail(f"{where}: an entry of {key} has no ip", entry)
                    endpoint = Endpoint(
                        addresses=(address,),
                        conditions=EndpointConditions(ready=ready, serving=None, terminating=None),
                        node_name=self.string(entry, "nodeName", where),
                        target_ref=self.object_reference(self.mapping(entry, "targetRef", where), where),
                        hostname=self.string(entry, "hostname", where),
                    )
                    addresses.append(endpoint)
            ports = tuple(
                EndpointPort(self.port(p, "port", where), self.string(p, "name", where, default=""),
                             self.enum(Protocol, p, "protocol", where, Protocol.TCP))
                for p in self.mappings(subset, "ports", where)
            )
            subsets.append((ports, addresses))
        return {
            "namespace": namespace,
            "name": name,
            "skip_mirror": self.labels(meta, "labels", where).get(LABEL_SKIP_MIRROR) == "true",
            "subsets": subsets,
            "age": self.age(meta, where, EndpointSlice.__dataclass_fields__["age"].default),
        }

    def network_policy(self, obj: _Map) -> NetworkPolicy | None:
        meta, namespace, name, where = self.meta(obj, "NetworkPolicy")
        spec = self.mapping(obj, "spec", where)
        types = self.sequence(spec, "policyTypes", where)
        if types and "Ingress" not in types:
            return None  # egress-only: the model's policies restrict ingress only
        allow_from = []
        for rule in self.mappings(spec, "ingress", where):
            peers = self.mappings(rule, "from", where)
            if not peers:
                allow_from.append(Labels())
                continue
            for peer in peers:
                if "namespaceSelector" in peer or "ipBlock" in peer or "podSelector" not in peer:
                    continue  # not modelled: other namespaces and IP blocks
                allow_from.append(Labels(self.selector(peer, "podSelector", where)))
        return NetworkPolicy(
            namespace=namespace,
            name=name,
            pod_selector=Labels(self.selector(spec, "podSelector", where)),
            allow_from=tuple(allow_from),
        )

    def selector(self, parent: _Map, key: str, where: str) -> dict[str, str]:
        selector = self.mapping(parent, key, where)
        if selector.get("matchExpressions"):
            raise self.fail(f"{where}: {key}.matchExpressions is not modelled (use matchLabels)",
                            selector, "matchExpressions")
        return self.labels(selector, "matchLabels", where)

    def cluster_configuration(self, obj: _Map) -> dict[str, Any]:
        where = "ClusterConfiguration"
        networking = self.mapping(obj, "networking", where)
        meta = self.mapping(obj, "metadata", where)
        annotations = self.annotations(meta, where)
        annotation_map = self.mapping(meta, "annotations", where)
        out: dict[str, Any] = {}
        for key, field in (("podSubnet", "cluster_cidr"), ("serviceSubnet", "service_cidr")):
            value = self.string(networking, key, where)
            if value is None:
                continue
            # a dual-stack subnet lists both families: keep the IPv4 one
            parts = [p.strip() for p in value.split(",")]
            ipv4 = [p for p in parts if ":" not in p]
            if len(ipv4) != 1:
                raise self.fail(f"{where}: networking.{key} has no single IPv4 CIDR", networking, key, value)
            out[field] = self.cidr(networking, key, ipv4[0], where, f"networking.{key}")
            if field == "service_cidr" and out[field].num_addresses < 8:  # kube-apiserver's ServiceIPRange
                raise self.fail(f"{where}: networking.serviceSubnet: the service cluster IP range must be at least "
                                "8 IP addresses", networking, key, value)
        dns_domain = self.string(networking, "dnsDomain", where)
        if dns_domain is not None:
            out["dns_domain"] = dns_domain
        mask = self.node_cidr_mask_size(self.mapping(obj, "controllerManager", where), where)
        if mask is not None:
            out["node_cidr_mask_size"] = mask
        if ANNOTATION_PREFIX + "node-network" in annotations:
            out["node_network"] = self.network(annotation_map, ANNOTATION_PREFIX + "node-network", where,
                                               f"annotation {ANNOTATION_PREFIX}node-network")
        if ANNOTATION_PREFIX + "cni" in annotations:
            out["cni"] = annotations[ANNOTATION_PREFIX + "cni"]
        return out

    def node_cidr_mask_size(self, controller_manager: _Map, where: str) -> int | None:
        extra = controller_manager.get("extraArgs")
        value = None
        if isinstance(extra, dict):  # v1beta3: a map
            value, container, key = extra.get("node-cidr-mask-size"), extra, "node-cidr-mask-size"
        elif isinstance(extra, list):  # v1beta4: a list of {name, value}
            for i, entry in enumerate(extra):
                if isinstance(entry, dict) and entry.get("name") == "node-cidr-mask-size":
                    value, container, key = entry.get("value"), entry, "value"
        if value is None:
            return None
        text = str(value)
        if not (text.isascii() and text.isdigit() and len(text) <= 2) or not 1 <= int(text) <= 32:
            raise self.fail(f"{where}: node-cidr-mask-size is not a prefix length (1-32)", container, key, value)
        return int(text)


# --- whole documents ---------------------------------------------------------------


@dataclasses.dataclass
class _Collected:
    nodes: list = dataclasses.field(default_factory=list)
    pods: list = dataclasses.field(default_factory=list)
    services: list = dataclasses.field(default_factory=list)
    endpoint_slices: list = dataclasses.field(default_factory=list)
    endpoints: list = dataclasses.field(default_factory=list)
    network_policies: list = dataclasses.field(default_factory=list)
    networks: dict = dataclasses.field(default_factory=dict)
    seen: dict = dataclasses.field(default_factory=dict)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


def _read_text(text: str, source: str, now: datetime, into: _Collected, line_offset: int = 0,
               *, embedded: bool = False) -> None:
    reader = _Reader(text, source, now)
    reader.embedded = embedded
    if line_offset:
        reader.lines = [""] * line_offset + reader.lines
    documents = None if embedded else _fast_documents(text)
    if documents is not None:
        # The fast path (see _fast_documents) reads into a trial copy: at its first error
        # the located reader reads the text again from the state before it, finds the same
        # error and says on which line.
        trial = dataclasses.replace(into, seen=dict(into.seen), networks=dict(into.networks),
                                    **{f: list(getattr(into, f)) for f in _BUCKETS})
        reader.fast = True
        try:
            for index, document in enumerate(documents):
                reader.path = [index]
                _read_object(reader, document, trial)
        except (ManifestError, _NeedsPositions) as exc:
            reader.fast = False
            try:
                located = _documents(text, source, line_offset)
            except ManifestError:
                raise exc from None
            _read_documents(reader, located, into)
            if isinstance(exc, ManifestError):
                raise exc from None  # pragma: no cover - the located reading raises first
            return
        for name in ("seen", "networks", *_BUCKETS):
            setattr(into, name, getattr(trial, name))
        return
    _read_documents(reader, _documents(text, source, line_offset), into)


def _read_documents(reader: _Reader, documents: list[Any], into: _Collected) -> None:
    for index, document in enumerate(documents):
        reader.path = [index]
        _read_object(reader, document, into)


class _NeedsPositions(Exception):
    """The fast path met what only the located reader reads (a ClusterConfiguration
    embedded in kubeadm-config, whose lines count from the ConfigMap's)."""


class _Where:
    """Where an object read by the fast path was written, as ``file:line``.

    The line is found only when a message names it (a second object of the same name,
    later): by reading the text again with positions and following the same path of
    document and List item indexes.
    """

    __slots__ = ("source", "text", "path")

    def __init__(self, source: str, text: str, path: tuple[int, ...]) -> None:
        self.source, self.text, self.path = source, text, path

    def __str__(self) -> str:
        try:
            value = _documents(self.text, self.source)[self.path[0]]
            for index in self.path[1:]:
                value = value["items"][index]
            line = value.line
        except (ManifestError, LookupError, TypeError, AttributeError):
            line = None
        return f"{self.source}:{line}"


def _where(reader: _Reader, obj: Any) -> str | _Where:
    """``file:line`` of ``obj``: at once where it has a position, later where it has none."""
    line = getattr(obj, "line", None)
    if line is None and reader.fast:
        return _Where(reader.source, reader.text, tuple(reader.path))
    return f"{reader.source}:{line}"


_BUCKETS = ("nodes", "pods", "services", "endpoint_slices", "endpoints", "network_policies")


def _read_object(reader: _Reader, obj: Any, into: _Collected) -> None:
    if not isinstance(obj, dict):
        raise reader.fail("a manifest must be a mapping with apiVersion and kind", obj, word=None)
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise reader.fail("kind is missing", obj)
    if kind.endswith("List") and "items" in obj:
        items = reader.sequence(obj, "items", kind)
        for index, item in enumerate(items):
            reader.path.append(index)
            _read_object(reader, item, into)
            reader.path.pop()
        return
    api_version = obj.get("apiVersion")
    if kind in _API_VERSIONS and api_version is not None and api_version not in _API_VERSIONS[kind]:
        expected = " or ".join(_API_VERSIONS[kind])
        raise reader.fail(f"{kind}: apiVersion must be {expected}, not", obj, "apiVersion", api_version)
    if kind == "ConfigMap":
        if not reader.embedded:  # a ConfigMap inside kubeadm-config's text is not read again
            _read_config_map(reader, obj, into)
        return
    if kind in _IGNORED_KINDS:
        return
    builders = {
        "Node": (reader.node, into.nodes),
        "Pod": (reader.pod, into.pods),
        "Service": (reader.service, into.services),
        "EndpointSlice": (reader.endpoint_slice, into.endpoint_slices),
        "Endpoints": (reader.endpoints, into.endpoints),
        "NetworkPolicy": (reader.network_policy, into.network_policies),
    }
    if kind == "ClusterConfiguration":
        if "ClusterConfiguration" in into.seen:
            raise reader.fail(f"a second ClusterConfiguration (the first is at {into.seen['ClusterConfiguration']})", obj)
        into.seen["ClusterConfiguration"] = _where(reader, obj)
        into.networks.update(reader.cluster_configuration(obj))
        return
    if kind not in builders:
        raise reader.fail("unknown kind", obj, "kind", kind)
    build, bucket = builders[kind]
    try:
        value = build(obj)
    except InvalidValue as exc:
        if isinstance(exc, ManifestError):
            raise
        raise reader.fail(f"{kind}: {exc}", obj) from None
    if value is None:
        return
    key = (kind, value["namespace"] if isinstance(value, dict) else getattr(value, "namespace", ""),
           value["name"] if isinstance(value, dict) else value.name)
    if key in into.seen:
        raise reader.fail(f"{kind} {'/'.join(k for k in key[1:] if k)} is given twice (first at {into.seen[key]})", obj)
    into.seen[key] = _where(reader, obj)
    bucket.append(value)


def _read_config_map(reader: _Reader, obj: _Map, into: _Collected) -> None:
    meta = reader.mapping(obj, "metadata", "ConfigMap")
    if (meta.get("namespace"), meta.get("name")) != ("kube-system", "kubeadm-config"):
        return
    data = reader.mapping(obj, "data", "ConfigMap kube-system/kubeadm-config")
    text = data.get("ClusterConfiguration")
    if not isinstance(text, str):
        return
    if reader.fast:
        raise _NeedsPositions
    # The embedded document's lines start on the line after "ClusterConfiguration: |".
    line = data.positions.get("ClusterConfiguration", (0, 0))[0]
    _read_text(text, reader.source, reader.now, into, line_offset=line, embedded=True)


def _mirror(into: _Collected) -> list[EndpointSlice]:
    """The EndpointSlice mirroring controller, for the Endpoints read."""
    services = {(s.namespace, s.name): s for s in into.services}
    has_slices = {(s.namespace, s.service_name) for s in into.endpoint_slices}
    out = []
    for endpoints in into.endpoints:
        key = (endpoints["namespace"], endpoints["name"])
        service = services.get(key)
        if service is None or service.selector is not None or endpoints["skip_mirror"] or key in has_slices:
            continue
        groups: dict[tuple, list[Endpoint]] = {}
        for ports, addresses in endpoints["subsets"]:
            groups.setdefault(ports, []).extend(addresses)
        for ports, addresses in groups.items():
            out.append(EndpointSlice(
                namespace=service.namespace,
                name=slice_name(service, "mirror", ",".join(f"{p.name}:{p.port}/{p.protocol.value}" for p in ports)),
                service_name=service.name,
                endpoints=tuple(addresses),
                ports=ports,
                managed_by=ENDPOINTSLICE_MIRRORING_CONTROLLER,
                age=endpoints["age"],
            ))
    return out


def _cluster(into: _Collected) -> Cluster:
    return Cluster(
        nodes=tuple(into.nodes),
        pods=tuple(into.pods),
        services=tuple(into.services),
        endpoint_slices=tuple(into.endpoint_slices) + tuple(_mirror(into)),
        network_policies=tuple(into.network_policies),
        **into.networks,
    )


def loads(text: str, *, source: str = "<string>", now: datetime | None = None) -> Cluster:
    """The cluster that ``text`` (YAML or JSON manifests) describes; ``source`` names it in errors."""
    into = _Collected()
    with no_cycle_collection():  # a million small dicts and values, none in a cycle: see _speed
        _read_text(text, source, _now(now), into)
        return _cluster(into)


#: The course's clusters by name (``k8snet rules lesson --node ...``): their data files.
PACKAGED = {"lesson": "lesson-cluster.yaml", "two-node-flow": "two-node-flow.yaml"}


def packaged(path: str | Path) -> str | Path:
    """``path``, or the data file of the course's cluster it names where no such file exists."""
    from .resources import data_path

    if str(path) in PACKAGED and not Path(path).exists():
        return data_path(PACKAGED[str(path)])
    return path


def load(paths: Sequence[str | Path] | str | Path, *, now: datetime | None = None) -> Cluster:
    """The cluster that the manifest files ``paths`` describe together (``-`` is standard input)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise ManifestError("no manifest file given", source="<arguments>")
    paths = [packaged(path) for path in paths]
    moment = _now(now)
    into = _Collected()
    with no_cycle_collection():  # as in loads
        for path in paths:
            text, source = read_text(path, what="manifest")
            _read_text(text, source, moment, into)
        return _cluster(into)


def read_text(path: str | Path, *, what: str, error: type[Exception] = ManifestError) -> tuple[str, str]:
    """The text of ``path`` (``-`` is standard input) and the name errors should use for it.

    Both are read as bytes and decoded as UTF-8 (a leading byte-order mark is dropped), so
    a file and standard input fail alike: one ``error`` naming the source and the offset
    of the first byte that is not UTF-8.
    """
    if str(path) == "-":
        source = "<stdin>"
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read() if stream is not None else sys.stdin.read()
    else:
        source = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise _error_of(error, f"cannot read {what}: {exc.strerror or exc}", source) from None
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), source
    try:
        return data.decode("utf-8-sig"), source
    except UnicodeDecodeError as exc:
        raise _error_of(error, f"cannot read {what}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                               f"{exc.start})", source) from None


def _error_of(error: type[Exception], message: str, source: str) -> Exception:
    if issubclass(error, ManifestError):
        return error(message, source=source)
    return error(f"{source}: {message}")


# --- writing: a cluster as `kubectl get -o yaml` prints a List ----------------------


def _timestamp(now: datetime, age: timedelta) -> str:
    return (now - age).strftime(_TIME_FORMAT)


def _meta(name: str, namespace: str | None, age: timedelta, now: datetime, **extra: Any) -> dict:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": _timestamp(now, age)}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update({k: v for k, v in extra.items() if v})
    return meta


def _node_object(node: Node, now: datetime) -> dict:
    annotations = {} if node.kube_proxy_synced else {ANNOTATION_PREFIX + "kube-proxy-synced": "false"}
    spec = {"podCIDR": str(node.pod_cidr), "podCIDRs": [str(node.pod_cidr)]} if node.pod_cidr else {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(node.name, None, node.age, now, labels=dict(node.labels), annotations=annotations),
        "spec": spec,
        "status": {
            "addresses": [{"address": str(node.internal_ip), "type": "InternalIP"},
                          {"address": node.name, "type": "Hostname"}],
            "conditions": [{"type": "Ready", "status": "True" if node.ready else "False"}],
        },
    }


def _pod_object(pod: Pod, now: datetime) -> dict:
    annotations = {}
    containers = []
    for container in pod.containers:
        if container.bind_address != ANY_ADDRESS:
            annotations[f"{ANNOTATION_PREFIX}{container.name}.bind-address"] = str(container.bind_address)
        if container.listen_ports is not None:
            annotations[f"{ANNOTATION_PREFIX}{container.name}.listen-ports"] = ",".join(map(str, container.listen_ports))
        entry: dict[str, Any] = {"name": container.name}
        if container.image:
            entry["image"] = container.image
        if container.ports:
            entry["ports"] = [
                {"containerPort": p.container_port, "protocol": p.protocol.value, **({"name": p.name} if p.name else {})}
                for p in container.ports
            ]
        containers.append(entry)
    meta = _meta(pod.name, pod.namespace, pod.age, now, labels=dict(pod.labels), annotations=annotations, uid=pod.uid)
    if pod.terminating:
        meta["deletionTimestamp"] = now.strftime(_TIME_FORMAT)
    spec: dict[str, Any] = {"containers": containers}
    if pod.node_name:
        spec["nodeName"] = pod.node_name
    if pod.host_network:
        spec["hostNetwork"] = True
    ready = "True" if pod.ready else "False"
    status: dict[str, Any] = {
        "phase": pod.phase.value,
        "conditions": [{"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": ready}],
        "containerStatuses": [
            {"name": c.name, "ready": pod.ready, "restartCount": pod.restarts if i == 0 else 0}
            for i, c in enumerate(pod.containers)
        ],
    }
    if pod.pod_ip is not None:
        status["podIP"] = str(pod.pod_ip)
        status["podIPs"] = [{"ip": str(pod.pod_ip)}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def _service_object(service: Service, now: datetime) -> dict:
    ports = []
    for port in service.ports:
        entry: dict[str, Any] = {"port": port.port, "protocol": port.protocol.value, "targetPort": port.target_port}
        if port.name:
            entry["name"] = port.name
        if port.node_port is not None:
            entry["nodePort"] = port.node_port
        ports.append(entry)
    spec: dict[str, Any] = {
        "type": service.type.value,
        "sessionAffinity": service.session_affinity.value,
        "internalTrafficPolicy": service.internal_traffic_policy.value,
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
    }
    if service.type is not ServiceType.EXTERNAL_NAME:
        spec["clusterIP"] = str(service.cluster_ip) if service.cluster_ip else "None"
        spec["clusterIPs"] = [spec["clusterIP"]]
    if ports:
        spec["ports"] = ports
    if service.selector is not None:
        spec["selector"] = dict(service.selector)
    if service.session_affinity is SessionAffinity.CLIENT_IP or service.session_affinity_timeout != 10800:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": service.session_affinity_timeout}}
    if service.type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER) or \
            service.external_traffic_policy is not TrafficPolicy.CLUSTER:
        spec["externalTrafficPolicy"] = service.external_traffic_policy.value
    if service.external_ips:
        spec["externalIPs"] = [str(a) for a in service.external_ips]
    if service.load_balancer_source_ranges:
        spec["loadBalancerSourceRanges"] = [str(r) for r in service.load_balancer_source_ranges]
    if service.health_check_node_port is not None:
        spec["healthCheckNodePort"] = service.health_check_node_port
    if service.publish_not_ready_addresses:
        spec["publishNotReadyAddresses"] = True
    if service.external_name is not None:
        spec["externalName"] = service.external_name
    load_balancer = {"ingress": [{"ip": str(a)} for a in service.load_balancer_ips]} if service.load_balancer_ips else {}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(service.name, service.namespace, service.age, now),
        "spec": spec,
        "status": {"loadBalancer": load_balancer},
    }


def _endpoint_slice_object(endpoint_slice: EndpointSlice, now: datetime) -> dict:
    labels = {LABEL_SERVICE_NAME: endpoint_slice.service_name}
    if endpoint_slice.managed_by:
        labels[LABEL_MANAGED_BY] = endpoint_slice.managed_by
    endpoints = []
    for endpoint in endpoint_slice.endpoints:
        conditions = {k: v for k, v in (("ready", endpoint.conditions.ready), ("serving", endpoint.conditions.serving),
                                        ("terminating", endpoint.conditions.terminating)) if v is not None}
        entry: dict[str, Any] = {"addresses": [str(a) for a in endpoint.addresses], "conditions": conditions}
        if endpoint.node_name:
            entry["nodeName"] = endpoint.node_name
        if endpoint.zone:
            entry["zone"] = endpoint.zone
        if endpoint.hostname:
            entry["hostname"] = endpoint.hostname
        if endpoint.target_ref is not None:
            ref = endpoint.target_ref
            entry["targetRef"] = {k: v for k, v in (("kind", ref.kind), ("name", ref.name),
                                                    ("namespace", ref.namespace), ("uid", ref.uid)) if v}
        endpoints.append(entry)
    ports = [{"name": p.name, "protocol": p.protocol.value, **({"port": p.port} if p.port is not None else {})}
             for p in endpoint_slice.ports]
    return {
        "addressType": endpoint_slice.address_type,
        "apiVersion": "discovery.k8s.io/v1",
        "endpoints": endpoints,
        "kind": "EndpointSlice",
        "metadata": _meta(endpoint_slice.name, endpoint_slice.namespace, endpoint_slice.age, now, labels=labels),
        "ports": ports,
    }


def _network_policy_object(policy: NetworkPolicy, now: datetime) -> dict:
    rules = []
    if policy.allow_from:
        rules = [{"from": [{"podSelector": {"matchLabels": dict(s)}} for s in policy.allow_from]}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(policy.name, policy.namespace, timedelta(days=8), now),
        "spec": {"podSelector": {"matchLabels": dict(policy.pod_selector)}, "policyTypes": ["Ingress"],
                 "ingress": rules},
    }


def _kubeadm_config_object(cluster: Cluster, now: datetime) -> dict:
    from .view.kubectl import to_yaml

    annotations = {ANNOTATION_PREFIX + "cni": cluster.cni}
    if cluster.node_network is not None:
        annotations[ANNOTATION_PREFIX + "node-network"] = str(cluster.node_network)
    configuration = {
        "apiVersion": "kubeadm.k8s.io/v1beta3",
        "kind": "ClusterConfiguration",
        "metadata": {"annotations": annotations},
        "networking": {"dnsDomain": cluster.dns_domain, "podSubnet": str(cluster.cluster_cidr),
                       "serviceSubnet": str(cluster.service_cidr)},
        "controllerManager": {"extraArgs": {"node-cidr-mask-size": str(cluster.node_cidr_mask_size)}},
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta("kubeadm-config", "kube-system", timedelta(days=30), now),
        "data": {"ClusterConfiguration": to_yaml(configuration)},
    }


def dumps(cluster: Cluster, *, now: datetime | None = None) -> str:
    """``cluster`` as the ``kind: List`` that ``kubectl get ... -o yaml`` prints: nodes,
    pods, Services, the explicitly given EndpointSlices and NetworkPolicies, plus the
    ``kube-system/kubeadm-config`` ConfigMap holding the cluster's networks. Ages become
    ``creationTimestamp`` values before ``now``, so ``loads(dumps(c, now=t), now=t) == c``
    for ages in whole seconds."""
    from .view.kubectl import to_yaml

    moment = _now(now)
    items = [_kubeadm_config_object(cluster, moment)]
    items += [_node_object(n, moment) for n in cluster.nodes]
    items += [_pod_object(p, moment) for p in cluster.pods]
    items += [_service_object(s, moment) for s in cluster.services]
    items += [_endpoint_slice_object(s, moment) for s in cluster.endpoint_slices]
    items += [_network_policy_object(p, moment) for p in cluster.network_policies]
    return to_yaml({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
