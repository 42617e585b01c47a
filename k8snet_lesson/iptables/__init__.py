"""iptables rule sets as values, in both real text forms, and their parser.

A :class:`Rule` is what follows ``-A CHAIN`` on one line: its words (arguments),
unquoted, in the order they were written. That is how iptables-restore itself reads a
line, and it keeps kube-proxy's own word order (``-m comment --comment ... -m tcp -p tcp
-d IP --dport 80 -j ...``) so ``parse(str(ruleset)) == ruleset`` holds exactly. Typed
views (destination network, ports, probability, target, comment) are read from the words.

Two renderings, both real:

* :func:`to_restore` (also ``str(ruleset)``) is the ``iptables-restore`` input kube-proxy
  writes: ``*table``, ``:CHAIN - [0:0]``, ``-A CHAIN words...`` with a word wrapped in
  double quotes when it holds whitespace (``--comment "ns1/svc1 cluster IP"`` but
  ``--comment ns1/svc1``), ``COMMIT``. For kube-proxy's rules this is byte for byte the
  text kube-proxy hands to iptables-restore.
* :func:`to_save` is what ``iptables-save`` prints on the node once the kernel has the
  rules: the format of iptables 1.8.9 (the version in Debian 12), whose save functions
  (``libxt_*.c``, ``libipt_*.c``, ``xshared.c``) are followed word for word: ``-s``,
  ``-d``, ``-i``, ``-o``, ``-p`` first, hosts as ``/32``; then each ``-m module`` in the
  order the modules were loaded, with its options in the module's own order
  (``-m tcp -p tcp`` becomes ``-p tcp -m tcp --dport 80``); then ``-j`` and the target's
  options. Comments are quoted by ``xtables_save_string`` (anything but ``[A-Za-z0-9_-]``
  is quoted); ``--probability`` is printed back from the 31-bit integer the kernel keeps
  (``lround(p * 2**31)``, printed with ``%.11f``: ``0.3333333333`` comes back as
  ``0.33333333349``); MARK is always ``--set-xmark value/mask`` (``--or-mark 0x4000`` is
  ``--set-xmark 0x4000/0x4000``, ``--xor-mark 0x4000`` is ``--set-xmark 0x4000/0x0``);
  REJECT names its ``--reject-with icmp-port-unreachable``; ``-m recent`` prints
  ``--rcheck --seconds 10800 --reap --name X --mask 255.255.255.255 --rsource``.

:func:`parse` reads the restore form, the save form (with or without ``[packets:bytes]``
counters), ``iptables -S`` output (``-P``/``-N``/``-A``, one table, no ``*table`` line)
and what older kube-proxy wrote (5-decimal probabilities, ``"ns/svc:"`` comments,
``MARK --set-xmark`` in KUBE-SEP chains). It tokenises like iptables-restore
(``add_param_to_argv``: double quotes group, a backslash escapes inside quotes, a closing
quote ends the word) and checks each rule the way iptables' option parser would for the
extensions kube-proxy uses, so bad input raises :class:`~k8snet_lesson.errors.ParseError`
with the source, line, word and a caret. Extensions it does not know keep their words.

What it simplifies: IPv4 only; port and protocol *names* (``--dport http``) are not
looked up in ``/etc/services``; chain counters print as ``[0:0]`` unless
``counters=True``; tables keep the order they were given (iptables-save lists them in
the kernel's order); an extension option claimed by two loaded modules goes to the most
recent one; ``-I``/``-N``/``-X``/``-F``/``-P`` lines are applied to the text's own rules
(there is no kernel state to append to).

    >>> rs = parse('''*nat
    ... :KUBE-SVC-X - [0:0]
    ... -A KUBE-SVC-X -m comment --comment "ns1/svc1 -> 10.0.1.2:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-A
    ... COMMIT
    ... ''')
    >>> rule = rs.tables[0].rules[0]
    >>> rule.comment, rule.probability, rule.jump_chain
    ('ns1/svc1 -> 10.0.1.2:80', 0.3333333333, 'KUBE-SEP-A')
    >>> print(save_line(rule))
    -A KUBE-SVC-X -m comment --comment "ns1/svc1 -> 10.0.1.2:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-A
"""

from __future__ import annotations

from ._extensions import kernel_probability, saved_probability_text
from ._parse import parse
from ._render import restore_line, save_line, to_restore, to_save
from ._values import (
    BUILTIN_CHAINS,
    SAMPLE_DATE,
    TABLES,
    AddrTypeMatch,
    Chain,
    MarkMatch,
    RecentCommand,
    RecentMatch,
    Rule,
    RuleSet,
    Table,
)

__all__ = [
    "Rule",
    "Chain",
    "Table",
    "RuleSet",
    "RecentMatch",
    "RecentCommand",
    "AddrTypeMatch",
    "MarkMatch",
    "parse",
    "to_restore",
    "to_save",
    "save_line",
    "restore_line",
    "kernel_probability",
    "saved_probability_text",
    "BUILTIN_CHAINS",
    "TABLES",
    "SAMPLE_DATE",
]
