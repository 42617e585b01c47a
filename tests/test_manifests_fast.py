"""The manifest reader's fast path gives what the located reader gives, errors included.

Well-formed manifests are read by json.loads or libyaml's loader without positions; at
the first error the located (position-keeping) reader reads the text again and reports
it. Every text below goes through both: ``loads`` as it is, and ``loads`` with the fast
path switched off. Both must give the same cluster, or exactly the same message.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from k8snet_lesson import manifests
from k8snet_lesson.errors import ManifestError
from k8snet_lesson.manifests import MAX_DEPTH, MAX_INT_DIGITS, load, loads
from k8snet_lesson.resources import data_path
from test_manifests import ERRORS, KUBEADM_BAD_SUBNET, NOW, doc

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
       "spec": {"nodeName": "node-a", "containers": [{"name": "web", "ports": [{"containerPort": 8080}]}]},
       "status": {"phase": "Running", "podIP": "10.244.1.5"}}


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def _as_json(text: str) -> str | None:
    """A YAML error case written as kubectl writes JSON (None where it is not one document of JSON data)."""
    try:
        documents = list(yaml.safe_load_all(text))
        return json.dumps(documents[0], indent=4, default=str) if len(documents) == 1 else None
    except yaml.YAMLError:
        return None


# name, text: each read both ways
CORPUS = [(f"yaml: {name}", doc(text)) for name, text, _ in ERRORS]
CORPUS += [(f"json: {name}", j) for name, text, _ in ERRORS if (j := _as_json(doc(text))) is not None]
CORPUS += [
    ("json: a good pod", json.dumps(POD)),
    ("json: a list with a bad address on its 2nd item", json.dumps({"kind": "List", "items": [
        POD, {**POD, "metadata": {"name": "db"}, "status": {"podIP": "10.244.1.500"}}]}, indent=2)),
    ("json: the same pod twice", json.dumps({"kind": "List", "items": [POD, POD]}, indent=2)),
    ("yaml: the same pod twice", yaml.safe_dump_all([POD, POD])),
    ("json: nested exactly MAX_DEPTH levels", json.dumps({**POD, "extra": _nested(MAX_DEPTH - 1)})),
    ("json: nested one level deeper", json.dumps({**POD, "extra": _nested(MAX_DEPTH)})),
    ("json: nested far deeper", json.dumps({**POD, "extra": _nested(3 * MAX_DEPTH)})),
    ("yaml: nested exactly MAX_DEPTH levels", yaml.safe_dump({**POD, "extra": _nested(MAX_DEPTH - 1)})),
    ("yaml: nested one level deeper", yaml.safe_dump({**POD, "extra": _nested(MAX_DEPTH)})),
    ("json: an integer of MAX_INT_DIGITS digits", json.dumps({**POD, "extra": int("9" * MAX_INT_DIGITS)})),
    ("json: one digit more", json.dumps({**POD, "extra": int("9" * (MAX_INT_DIGITS + 1))})),
    ("yaml: one digit more", yaml.safe_dump(POD) + "extra: " + "9" * (MAX_INT_DIGITS + 1) + "\n"),
    ("yaml: a long hexadecimal integer", yaml.safe_dump(POD) + "extra: 0x" + "f" * MAX_INT_DIGITS + "\n"),
    ("yaml: a long integer in a flow list", yaml.safe_dump(POD) + "extra: [1, " + "7" * 45 + "]\n"),
    ("yaml: an alias to a collection that contains it", "a: &x\n  b: *x\n"),
    ("yaml: an undefined alias", yaml.safe_dump(POD) + "extra: *nowhere\n"),
    ("yaml: a merge key", "kind: Pod\nbase: &b {name: web}\nmetadata:\n  <<: *b\n  namespace: shop\n"),
    ("yaml: a tag", yaml.safe_dump(POD) + "extra: !!binary aGVsbG8=\n"),
    ("yaml: a non-specific tag", "kind: Pod\nmetadata: {name: ! web}\nstatus: {podIP: ! 10.244.1.5}\n"),
    ("yaml: a mapping as a key", "kind: Pod\nmetadata: {name: web}\n{a: 1}: x\n"),
    ("yaml: a control character", "kind: Pod\nmetadata: {name: w\x07b}\n"),
    ("yaml: a date", yaml.safe_dump(POD).replace("metadata:", "metadata:\n  creationTimestamp: 2026-02-28T12:00:00Z")),
    ("yaml: an empty document", "---\n---\n"),
    ("yaml: nothing", ""),
    ("yaml: a scalar", "just words\n"),
    ("json: an array at the top", json.dumps([POD])),
    ("json: invalid", '{"kind": "Pod", "metadata": {"name": "web"},}'),
    ("json: a string PyYAML refuses", json.dumps({**POD, "extra": "\ud83d\ude00 \t tab"}, ensure_ascii=True)),
    ("yaml: kubeadm-config with a bad subnet", KUBEADM_BAD_SUBNET),
    ("yaml: the lesson's cluster", data_path("lesson-cluster.yaml").read_text()),
    ("yaml: the two-node flow", data_path("two-node-flow.yaml").read_text()),
]


def _outcome(text: str):
    try:
        return loads(text, source="bad.yaml", now=NOW)
    except ManifestError as exc:
        return f"ManifestError: {exc}"


@pytest.mark.parametrize("text", [t for _, t in CORPUS], ids=[n for n, _ in CORPUS])
def test_the_fast_path_gives_what_the_located_reader_gives(text, monkeypatch):
    fast = _outcome(text)
    monkeypatch.setattr(manifests, "_fast_documents", lambda text: None)
    assert _outcome(text) == fast


def test_the_fast_path_is_taken_for_well_formed_text_and_refused_for_what_only_the_located_reader_reads():
    taken = [name for name, text in CORPUS if manifests._fast_documents(text) is not None]
    assert "json: a good pod" in taken and "yaml: the lesson's cluster" in taken
    assert "json: a list with a bad address on its 2nd item" in taken  # read fast, then again to locate
    for refused in ("json: nested one level deeper", "json: nested far deeper", "yaml: nested one level deeper",
                    "json: one digit more", "yaml: one digit more", "yaml: a long hexadecimal integer",
                    "yaml: a long integer in a flow list", "yaml: a merge key", "yaml: a tag"):
        assert refused not in taken, refused


def test_a_name_given_again_in_a_later_file_names_the_first_line_both_ways(tmp_path, monkeypatch):
    first, second = tmp_path / "first.json", tmp_path / "second.yaml"
    first.write_text(json.dumps({"kind": "List", "items": [{**POD, "metadata": {"name": "db", "namespace": "shop"}},
                                                              POD]}, indent=2))
    second.write_text(yaml.safe_dump(POD))
    messages = []
    for _ in range(2):
        with pytest.raises(ManifestError) as caught:
            load([first, second], now=NOW)
        messages.append(str(caught.value))
        monkeypatch.setattr(manifests, "_fast_documents", lambda text: None)
    assert messages[0] == messages[1]
    assert re.search(rf"^{re.escape(str(second))}:1: Pod shop/web is given twice \(first at "
                     rf"{re.escape(str(first))}:[0-9]+\)", messages[0]), messages[0]


@pytest.mark.parametrize("depth, read", [(MAX_DEPTH - 1, True), (MAX_DEPTH, False), (3 * MAX_DEPTH, False)])
def test_json_nesting_is_bounded_exactly(depth, read):
    """The fast path takes MAX_DEPTH levels and no more; deeper text goes to the located
    reader, which names it."""
    text = json.dumps({**POD, "extra": _nested(depth)})
    assert (manifests._json_documents(text) is not None) == read

