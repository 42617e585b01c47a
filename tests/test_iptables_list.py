"""``iptables -L -n`` of the model's rules, byte for byte against the real iptables 1.8.9.

The files under tests/data/iptables-list/ were recorded by scripts/iptables_list_fixtures.py:
each ``NAME.rules`` was loaded with iptables-restore into a private network namespace and
listed with ``iptables -t TABLE -L -n``, under iptables-legacy and iptables-nft.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from k8snet_lesson import iptables
from k8snet_lesson.errors import InvalidValue, NotFound
from k8snet_lesson.view.iptables_list import grep, list_rules, rule_line

DATA = Path(__file__).parent / "data" / "iptables-list"
RECORDED = sorted(DATA.glob("*.*.*.txt"))


def test_the_recordings_are_there_and_from_iptables_1_8_9():
    assert (DATA / "VERSION").read_text().strip() == "v1.8.9"
    assert {p.name.split(".")[1] for p in RECORDED} == {"legacy", "nft"}
    assert len(RECORDED) == 12


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_a_whole_table_lists_as_iptables_lists_it(path):
    name, _backend, table = path.name.split(".")[:3]
    rules = iptables.parse((DATA / f"{name}.rules").read_text(), source=f"{name}.rules")
    assert list_rules(rules, table) + "\n" == path.read_text()


@pytest.mark.parametrize("path", [p for p in RECORDED if ".nft." in p.name], ids=lambda p: p.stem)
def test_each_chain_lists_as_its_block_of_the_table(path):
    """``iptables -L CHAIN`` prints the chain's block of the whole-table listing."""
    name, _backend, table = path.name.split(".")[:3]
    rules = iptables.parse((DATA / f"{name}.rules").read_text())
    blocks = path.read_text().rstrip("\n").split("\n\n")
    for block in blocks:
        chain = block.split()[1]
        assert list_rules(rules, table, chain) == block


def test_the_lessons_grep_for_checkout():
    rules = iptables.parse((DATA / "lesson.rules").read_text())
    shown = grep(list_rules(rules, "nat", "KUBE-SERVICES"), "checkout")
    assert shown == ("KUBE-SVC-BDWIX6P63EFORMKP  6    --  0.0.0.0/0            10.96.214.88         "
                     "/* production/checkout-api-svc cluster IP */ tcp dpt:80")


@pytest.mark.parametrize("args, shown", [
    (("-p", "tcp", "-m", "tcp", "--dport", "30000:32767", "-j", "ACCEPT"), "tcp dpts:30000:32767"),
    (("-p", "tcp", "-m", "tcp", "!", "--dport", "80", "-j", "ACCEPT"), "tcp dpt:!80"),
    (("-j", "MARK", "--set-xmark", "0x4000/0xffffffff"), "MARK set 0x4000"),
    (("-j", "MARK", "--set-xmark", "0x0/0x4000"), "MARK and 0xffffbfff"),
    (("!", "-p", "udp", "-j", "DROP"), "DROP      !17   --"),
])
def test_forms_the_recordings_do_not_hold(args, shown):
    assert shown in rule_line(iptables.Rule("X", args))


def test_what_it_cannot_list_it_refuses_by_name():
    with pytest.raises(InvalidValue, match="-m nfacct"):
        rule_line(iptables.Rule("X", ("-m", "nfacct", "--nfacct-name", "n", "-j", "ACCEPT")))
    rules = iptables.parse((DATA / "lesson.rules").read_text())
    with pytest.raises(NotFound, match="No chain/target/match by that name"):
        list_rules(rules, "nat", "KUBE-SVC-NOPE")
    with pytest.raises(InvalidValue, match="'raws' is not one of"):
        list_rules(rules, "raws")


def test_a_command_line_prints_its_prompt_and_listing():
    from k8snet_lesson.view.iptables_list import run

    rules = iptables.parse((DATA / "lesson.rules").read_text())
    shown = run(rules, "iptables -t nat -L KUBE-SERVICES -n | grep checkout")
    assert shown.splitlines() == ["$ iptables -t nat -L KUBE-SERVICES -n | grep checkout",
                                  grep(list_rules(rules, "nat", "KUBE-SERVICES"), "checkout")]
    assert run(rules, "iptables -L -n").splitlines()[1:] == list_rules(rules).splitlines()
    for bad, message in (("iptables -t nat -S", "not a listing"), ("iptables -L -n | sort", "only '| grep WORD'"),
                         ("iptables -L -n -v", "'-v' is not an option")):
        with pytest.raises(InvalidValue, match=message):
            run(rules, bad)
