"""The parser's quick steps for kube-proxy's rule shapes give what its general steps give.

:func:`parse` reads ``-A`` rules and ``:CHAIN - [0:0]`` lines of kube-proxy's shapes by
quick steps, and any other line by the general ones (the tokenizer, then iptables'
option parser); ``_parse_general`` reads every line by the general steps. On generated
dumps (hypothesis) and on real ones (the course's dumps, kube-proxy's golden files, the
model's own output) both must give equal RuleSets, or both refuse the text.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from k8snet_lesson.errors import ParseError
from k8snet_lesson.iptables import parse, to_restore, to_save
from k8snet_lesson.iptables._parse import _parse_general
from k8snet_lesson.iptables._tokenize import _restore_word
from k8snet_lesson.kube_proxy import rules_for
from k8snet_lesson.manifests import load
from k8snet_lesson.resources import data_path

from golden_data import GOLDEN, SKIP_REASON


def _outcome(read, text: str):
    try:
        return read(text)
    except ParseError:
        return "ParseError"


def _both(text: str):
    quick, general = _outcome(parse, text), _outcome(_parse_general, text)
    assert quick == general
    return quick


# --- real dumps ----------------------------------------------------------------------


def _real_dumps() -> list[tuple[str, str]]:
    dumps = [(path.name, path.read_text()) for path in sorted(data_path("dumps").glob("*.txt"))]
    if GOLDEN is not None:
        dumps += [(path.name, path.read_text()) for path in sorted(GOLDEN.glob("*.expected.txt"))]
    cluster = load("lesson")
    for node in cluster.nodes:
        rules = rules_for(cluster, node.name, include_builtin=True)
        dumps += [(f"lesson {node.name} restore", to_restore(rules)), (f"lesson {node.name} save", to_save(rules))]
    return dumps


REAL = _real_dumps()


@pytest.mark.parametrize("text", [t for _, t in REAL], ids=[n for n, _ in REAL])
def test_real_dumps_read_alike_both_ways(text):
    rules = _both(text)
    assert rules != "ParseError" and sum(len(t.rules) for t in rules.tables) > 0


def test_the_golden_files_are_among_the_real_dumps():
    if GOLDEN is None:
        pytest.skip(SKIP_REASON)
    assert sum(name.endswith(".expected.txt") for name, _ in REAL) >= 10


# --- generated dumps -------------------------------------------------------------------

HASH = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16)
OCTET = st.integers(0, 255)
ADDRESS = st.tuples(OCTET, OCTET, OCTET, OCTET).map(lambda o: ".".join(map(str, o)))
PORT = st.integers(1, 65535)
COMMENT = st.text(st.sampled_from('abcxyz019/:-_. "\\'), min_size=0, max_size=24)
COUNTERS = st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.integers(0, 10**9)))
NOISE = st.sampled_from(["", "!", "--bogus", "-j", "-m", "tcp", "--dport", "99999", "10.0.0.0/33", '"', "\\"])


@st.composite
def rule_lines(draw, svc: str, sep: str) -> str:
    """One rule of a shape kube-proxy writes (restore or save spelling), maybe spoilt."""
    comment = _restore_word(draw(COMMENT)) if draw(st.booleans()) else None
    quoted = f" -m comment --comment {comment}" if comment is not None else ""
    ip, port = draw(ADDRESS), draw(PORT)
    shape = draw(st.integers(0, 6))
    if shape == 0:
        words = f"-A KUBE-SERVICES{quoted} -m tcp -p tcp -d {ip} --dport {port} -j {svc}"
    elif shape == 1:
        words = f"-A {svc} ! -s 10.0.0.0/8 -d {ip}/32 -p tcp{quoted} -m tcp --dport {port} -j KUBE-MARK-MASQ"
    elif shape == 2:
        probability = draw(st.floats(0.0001, 0.9999)).__format__(".11f")
        words = f"-A {svc}{quoted} -m statistic --mode random --probability {probability} -j {sep}"
    elif shape == 3:
        words = f"-A {sep}{quoted} -s {ip}/32 -j KUBE-MARK-MASQ"
    elif shape == 4:
        words = f"-A {sep}{quoted} -m tcp -p tcp -j DNAT --to-destination {ip}:{port}"
    elif shape == 5:
        words = f"-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
    else:
        words = f"-A KUBE-SERVICES{quoted} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
    if draw(st.integers(0, 9)) == 0:  # spoil one rule in ten: both must refuse it, or read it alike
        parts = words.split(" ")
        at = draw(st.integers(2, len(parts)))
        parts.insert(at, draw(NOISE))
        words = " ".join(parts)
    counters = draw(COUNTERS)
    return f"[{counters[0]}:{counters[1]}] {words}" if counters else words


@st.composite
def dumps(draw) -> str:
    services = draw(st.lists(st.tuples(HASH, st.lists(HASH, min_size=1, max_size=3)), min_size=1, max_size=4))
    chains = [":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-MARK-MASQ - [0:0]",
              ":KUBE-POSTROUTING - [0:0]"]
    lines = []
    for svc_hash, sep_hashes in services:
        svc = "KUBE-SVC-" + svc_hash
        chains.append(f":{svc} - [0:0]")
        for sep_hash in sep_hashes:
            sep = "KUBE-SEP-" + sep_hash
            chains.append(f":{sep} - [0:0]")
            lines += draw(st.lists(rule_lines(svc, sep), min_size=1, max_size=4))
    lines.append("-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000")
    header = ["*filter", ":INPUT ACCEPT [0:0]", "COMMIT"] if draw(st.booleans()) else []
    return "\n".join([*header, "*nat", *chains, *lines, "COMMIT"]) + "\n"


@settings(max_examples=300, deadline=None)
@given(dumps())
def test_generated_dumps_read_alike_both_ways(text):
    _both(text)


def test_the_generated_dumps_are_both_read_and_refused():
    """The property above is not vacuous: the generator makes both outcomes."""
    read = find(dumps(), lambda text: _both(text) != "ParseError", settings=settings(database=None, phases=[Phase.generate]))
    refused = find(dumps(), lambda text: _both(text) == "ParseError", settings=settings(database=None, phases=[Phase.generate]))
    assert read != refused
