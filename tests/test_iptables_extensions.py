"""The extensions as records: every check and saver is reached from one, and one record is enough.

A ``-m``/``-j`` extension is one :class:`~k8snet_lesson.iptables._extensions.Extension`
record (its options, which may be negated, their checks, what is mandatory, how it is
saved); the option parser and the save form read nothing else. These tests hold that.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from k8snet_lesson.errors import InvalidValue, ParseError
from k8snet_lesson.iptables import Rule, parse, save_line
from k8snet_lesson.iptables import _extensions, _shape
from k8snet_lesson.iptables._extensions import Extension, Option, _check_ports, _saved_ports


def _referenced() -> set:
    reached = set()
    for extension in _extensions.EXTENSIONS:
        reached.update({extension.check, extension.save})
        reached.update(option.check for option in extension.options)
    return reached - {None}


def test_every_check_and_saver_is_reached_from_a_record():
    defined = {
        function for name, function in inspect.getmembers(_extensions, inspect.isfunction)
        if function.__module__ == _extensions.__name__ and name.startswith(("_check_", "_save_"))
    }
    assert len(defined) > 20  # the lookup itself found the functions
    unreached = sorted(f.__name__ for f in defined - _referenced())
    assert not unreached, f"defined but reached from no extension record: {unreached}"


def test_the_registries_are_the_records():
    assert set(_extensions._MATCHES.values()) | set(_extensions._TARGETS.values()) == set(_extensions.EXTENSIONS)
    assert _extensions._PORT_MODULES == {"tcp", "udp", "sctp"}


@pytest.mark.parametrize("line, message, word", [
    ("-A X -p tcp --tcp-flags FOO SYN -j DROP", "unknown TCP flag", "FOO"),
    ("-A X -p tcp --tcp-flags SYN,ACK BAR -j DROP", "unknown TCP flag", "BAR"),
    ("-A X -m tcp -p tcp --tcp-flags SYN -j DROP", "unknown TCP flag", "-j"),  # as iptables reads it
])
def test_tcp_flags_are_checked_when_parsed(line, message, word):
    with pytest.raises(ParseError) as caught:
        parse(f"*filter\n{line}\nCOMMIT\n", source="rules.txt")
    assert str(caught.value).splitlines()[0] == f"rules.txt:2: {message} {word!r}"


def test_tcp_flags_given_in_any_case_are_saved_in_the_kernels_order():
    (rule,) = parse("*filter\n-A X -p tcp --tcp-flags syn,ack,fin syn -j DROP\nCOMMIT\n").tables[0].rules
    assert save_line(rule) == "-A X -p tcp -m tcp --tcp-flags FIN,SYN,ACK SYN -j DROP"
    with pytest.raises(InvalidValue, match="unknown TCP flag 'FOO'"):
        Rule("X", ("-p", "tcp", "--tcp-flags", "FOO", "SYN")).save_args


# A made-up match, declared by one record and nothing else: -m length (libxt_length.c).
LENGTH = Extension(
    "length",
    (Option("--length", check=_check_ports, invertible=True),),
    mandatory=("--length",),
    save=lambda values: [*(["!"] if values.get("--length")[0] else []), "--length",
                         _saved_ports(values.get("--length")[1][0])],
)


@pytest.fixture
def length_match():
    """LENGTH in the registry the option parser reads, with the shape cache emptied around it."""
    _shape._PLANS.clear()
    _extensions._MATCHES[LENGTH.name] = LENGTH
    try:
        yield LENGTH
    finally:
        del _extensions._MATCHES[LENGTH.name]
        _shape._PLANS.clear()


TEXT = "*filter\n-A X -m length ! --length 1000:1500 -j DROP\nCOMMIT\n"


def test_an_unknown_match_keeps_its_words():
    (rule,) = parse(TEXT).tables[0].rules
    assert rule.modules == ("length",) and save_line(rule) == "-A X -m length ! --length 1000:1500 -j DROP"


def test_one_record_adds_a_match(length_match):
    (rule,) = parse(TEXT).tables[0].rules
    assert rule.uses("length")
    assert save_line(rule) == "-A X -m length ! --length 1000:1500 -j DROP"
    # iptables' getopt spellings come with the record too
    (short,) = parse("*filter\n-A X -m length --len=0:65535 -j DROP\nCOMMIT\n").tables[0].rules
    assert save_line(short) == "-A X -m length --length 0:65535 -j DROP"


@pytest.mark.parametrize("line, message, word", [
    ("-A X -m length --length 70000 -j DROP", "port out of range (0-65535)", "70000"),
    ("-A X -m length -j DROP", "missing --length for module", "length"),
    ("-A X -m length --length 1 --length 2 -j DROP", "option given twice", "--length"),
])
def test_one_record_checks_a_match(length_match, line, message, word):
    with pytest.raises(ParseError) as caught:
        parse(f"*filter\n{line}\nCOMMIT\n", source="rules.txt")
    assert str(caught.value).splitlines()[0] == f"rules.txt:2: {message} {word!r}"



def test_no_function_in_the_iptables_package_is_over_80_lines():
    package = Path(_extensions.__file__).parent
    lengths = {}
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths[f"{path.name}:{node.lineno} {node.name}"] = node.end_lineno - node.lineno + 1
    assert len(lengths) > 100  # the walk found the package's functions
    too_long = {name: length for name, length in lengths.items() if length > 80}
    assert not too_long, f"split these into named steps: {too_long}"
