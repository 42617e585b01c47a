"""Reading table ``ip kube-proxy`` back: the transaction form or ``nft list`` output.

:func:`parse` reads either

- kube-proxy's transaction (``add table|set|map|chain|rule|element ip kube-proxy …``, one
  command a line, also ``flush``/``delete`` commands), or
- ``nft list ruleset`` / ``nft list table ip kube-proxy`` as the kernel prints it (nested
  blocks; other tables are skipped),

into a :class:`~k8snet_lesson.nftables.generate.Transaction`. The kernel's spellings are
brought back to the ones kube-proxy writes (``meta mark set meta mark | 0x00004000`` is
``mark set mark or 0x4000``, priorities by name are numbers, ``timeout 3h`` is
``10800s``, a one-element anonymous set gets its braces back, vmap entries are
separated by `` , ``), so a state read back from the kernel compares equal to the one
loaded. Bad input raises :class:`~k8snet_lesson.errors.ParseError` with the line and a
caret under the bad word.
"""

from __future__ import annotations

import re

from ..errors import ParseError
from .generate import FAMILY, TABLE, Transaction

_PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
_DURATION = re.compile(r"(\d+)(d|h|m|s|ms)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_HANDLE = re.compile(r"\s+# handle \d+\s*$")


def parse(text: str, *, source: str = "<string>") -> Transaction:
    """The kube-proxy table in ``text`` (transaction form or ``nft list`` output)."""
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}", source=source)
    lines = text.split("\n")
    for line in lines:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if word.split()[0] in ("add", "flush", "delete", "create", "insert"):
            return _parse_transaction(lines, source)
        if word.split()[0] == "table":
            return _parse_listing(lines, source)
        raise ParseError("expected an nft command (add …) or a table block (table ip kube-proxy {), not",
                         source=source, line=lines.index(line) + 1, text=line, column=line.index(word),
                         word=word.split()[0])
    raise ParseError("no nftables text (no 'add …' commands and no 'table ip kube-proxy' block)", source=source)


# --- shared ------------------------------------------------------------------------------


def _split_top(text: str, sep: str = ",") -> list[str]:
    """``text`` split on ``sep`` outside quotes and braces, each part stripped."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "{":
            depth += 1
        elif not quoted and ch == "}":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _seconds(text: str) -> str:
    """``3h`` / ``1d2h`` / ``10800s`` -> ``10800s``."""
    total = 0.0
    for number, unit in _DURATION.findall(text):
        total += int(number) * _UNITS[unit]
    return f"{int(total)}s"


def _hex(word: str) -> str:
    return f"{int(word, 16):#x}"


def _rule_text(rule: str) -> str:
    """A rule as kube-proxy writes it, from the kernel's spelling."""
    rule = _HANDLE.sub("", rule.strip())
    rule = re.sub(r"meta mark set meta mark \| (0x[0-9a-f]+)", lambda m: f"mark set mark or {_hex(m.group(1))}", rule)
    rule = re.sub(r"meta mark set meta mark \^ (0x[0-9a-f]+)", lambda m: f"mark set mark xor {_hex(m.group(1))}", rule)
    rule = re.sub(r"meta mark & (0x[0-9a-f]+) == (0x[0-9a-f]+)",
                  lambda m: f"mark and {_hex(m.group(1))} == {int(m.group(2), 16)}", rule)
    # A one-element anonymous set loses its braces when the kernel prints it.
    rule = re.sub(r"^(ip [sd]addr (?:!= )?)(\d+\.\d+\.\d+\.\d+/\d+)( drop\b)", r"\1{ \2 }\3", rule)
    # vmap entries: ", " between them in the kernel's text, " , " in kube-proxy's.
    rule = re.sub(r"\s*,\s+(\d+ : )", r" , \1", rule)
    return rule


def _chain_spec(words: str) -> str:
    """``type filter hook input priority filter; policy accept;`` -> ``{ type … priority 0 ; }``."""
    body = words.replace(";", " ").split()
    out = []
    i = 0
    while i < len(body):
        if body[i] == "policy" and i + 1 < len(body) and body[i + 1] == "accept":
            i += 2
            continue
        if body[i] == "priority":
            j = i + 1
            value = 0
            sign = 1
            while j < len(body) and body[j] not in ("policy", "comment"):
                w = body[j]
                if w in _PRIORITIES:
                    value += sign * _PRIORITIES[w]
                elif w in ("+", "-"):
                    sign = 1 if w == "+" else -1
                else:
                    value += sign * int(w)
                j += 1
            out += ["priority", str(value)]
            i = j
            continue
        out.append(body[i])
        i += 1
    return "{ " + " ".join(out) + " ; }"


# --- transaction form ----------------------------------------------------------------------

_COMMAND = re.compile(r"^(\s*)(add|create|insert|flush|delete) (table|chain|set|map|rule|element) (\S+) (\S+)(?: (.*))?$")


def _parse_transaction(lines: list[str], source: str) -> Transaction:
    tx = Transaction(table_comment=None)
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue

        def error(message: str, word: str, *, at: int | None = None) -> ParseError:
            column = line.find(word) if at is None else at
            return ParseError(message, source=source, line=number, text=line, column=max(column, 0), word=word)

        match = _COMMAND.match(line)
        if not match:
            first = stripped.split()[0]
            raise error("not an nft command of kube-proxy's transaction (add/flush/delete table|chain|set|map|"
                        "rule|element), at", first)
        _, verb, kind, family, table, rest = match.groups()
        rest = rest or ""
        if family != FAMILY:
            raise error("family is not ip (kube-proxy's IPv4 table is 'ip kube-proxy'):", family, at=match.start(4))
        if kind == "table":
            if table != TABLE:
                raise error("table is not kube-proxy:", table, at=match.start(5))
            if verb in ("add", "create"):
                comment = re.search(r'comment "([^"]*)"', rest)
                if comment:
                    tx.table_comment = comment.group(1)
            elif verb == "flush":
                for chain in tx.rules:
                    tx.rules[chain] = []
                tx.elements = []
            else:
                tx.sets, tx.maps, tx.chains, tx.rules, tx.elements = {}, {}, {}, {}, []
            continue
        if table != TABLE:
            raise error("table is not kube-proxy:", table, at=match.start(5))
        name, _, body = rest.partition(" ")
        if not name:
            raise error(f"{verb} {kind} needs a name after", table, at=match.start(5))
        body = body.strip()
        if kind in ("set", "map"):
            store = tx.sets if kind == "set" else tx.maps
            if verb in ("add", "create"):
                if not (body.startswith("{") and body.endswith("}")):
                    raise error(f"{kind} {name} needs its spec in braces, not", body or name)
                store[name] = body
            elif verb == "flush":
                tx.elements = [(c, t) for c, t in tx.elements if c != name]
            else:
                store.pop(name, None)
                tx.elements = [(c, t) for c, t in tx.elements if c != name]
        elif kind == "chain":
            if verb in ("add", "create"):
                if body and not (body.startswith("{") and body.endswith("}")):
                    raise error(f"chain {name}: expected a spec in braces, not", body)
                tx.chains.setdefault(name, body or None)
                if body:
                    tx.chains[name] = body
                tx.rules.setdefault(name, [])
            elif verb == "flush":
                tx.rules[name] = []
            else:
                tx.chains.pop(name, None)
                tx.rules.pop(name, None)
        elif kind == "rule":
            if verb in ("flush", "delete"):
                raise error("deleting single rules is not modelled:", verb)
            if name not in tx.chains:
                raise error("rule for a chain not added before it:", name)
            if not body:
                raise error("empty rule in chain", name)
            rules = tx.rules[name]
            if verb == "insert":
                rules.insert(0, _rule_text(body))
            else:
                rules.append(_rule_text(body))
        else:  # element
            if name not in tx.sets and name not in tx.maps:
                raise error("element for a set or map not added before it:", name)
            if not (body.startswith("{") and body.endswith("}")):
                raise error("elements go in braces, not", body or name)
            items = _split_top(body[1:-1])
            if verb in ("add", "create", "insert"):
                tx.elements += [(name, item) for item in items]
            else:
                keys = {item.partition(" : ")[0] for item in items}
                tx.elements = [(c, t) for c, t in tx.elements
                               if c != name or re.sub(r' comment "[^"]*"', "", t.partition(" : ")[0]) not in keys]
    return tx


# --- nft list form -------------------------------------------------------------------------


def _parse_listing(lines: list[str], source: str) -> Transaction:
    # nft -a: "# handle N" after blocks and rules; tabs as spaces, so a caret lines up
    lines = [_HANDLE.sub("", line).expandtabs(8) for line in lines]
    tx = Transaction(table_comment=None)
    found = False
    i = 0
    n = len(lines)

    def error(message: str, number: int, word: str) -> ParseError:
        line = lines[number - 1]
        return ParseError(message, source=source, line=number, text=line, column=max(line.find(word), 0), word=word)

    def skip_block(start: int) -> int:
        depth = 0
        for j in range(start, n):
            depth += lines[j].count("{") - lines[j].count("}")
            if depth <= 0:
                return j + 1
        raise error("block never closed:", start + 1, lines[start].strip())

    while i < n:
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        words = stripped.split()
        if words[0] != "table" or len(words) < 3 or not stripped.endswith("{"):
            raise error("expected a table block ('table ip kube-proxy {'), not", i + 1, words[0])
        if words[1:3] != [FAMILY, TABLE]:
            i = skip_block(i)
            continue
        found = True
        i = _parse_table(lines, i + 1, tx, error)
    if not found:
        raise ParseError("no 'table ip kube-proxy' block (is kube-proxy running in nftables mode?)", source=source)
    return tx


def _parse_table(lines: list[str], i: int, tx: Transaction, error) -> int:
    i_start = i
    n = len(lines)
    while i < n:
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        if stripped == "}":
            return i + 1
        words = stripped.split()
        if words[0] == "comment":
            tx.table_comment = stripped[len("comment"):].strip().strip('"')
            i += 1
        elif words[0] in ("set", "map") and len(words) == 3 and words[2] == "{":
            i = _parse_container(lines, i + 1, words[0], words[1], tx, error)
        elif words[0] == "chain" and len(words) == 3 and words[2] == "{":
            i = _parse_chain(lines, i + 1, words[1], tx, error)
        else:
            raise error("expected comment, set, map or chain in table ip kube-proxy, not", i + 1, words[0])
    raise error("this table is never closed (no '}' before the end):", i_start, "table")


def _parse_container(lines: list[str], i: int, kind: str, name: str, tx: Transaction, error) -> int:
    start = i
    spec: list[str] = []
    elements: list[str] = []
    n = len(lines)
    while i < n:
        stripped = lines[i].strip()
        number = i + 1
        i += 1
        if not stripped:
            continue
        if stripped == "}":
            (tx.sets if kind == "set" else tx.maps)[name] = "{ " + " ; ".join(spec) + " ; }"
            tx.elements += [(name, e) for e in elements]
            return i
        word = stripped.split()[0]
        if word in ("type", "flags"):
            spec.append(stripped.rstrip(";"))
        elif word == "timeout":
            spec.append("timeout " + _seconds(stripped.split()[1]))
        elif word == "comment":
            spec.append(stripped.rstrip(";"))
        elif word in ("size", "gc-interval", "policy", "auto-merge"):
            continue  # the kernel's defaults, which kube-proxy does not write
        elif word == "elements":
            body = stripped.partition("=")[2].strip()
            while body.count("{") > body.count("}") and i < n:
                body += " " + lines[i].strip()
                i += 1
            if not (body.startswith("{") and body.endswith("}")):
                raise error("elements go in braces:", number, "elements")
            elements += [_rule_text(e) if " : " in e else e for e in _split_top(body[1:-1])]
        else:
            raise error(f"unknown line in {kind} {name}:", number, word)
    raise error(f"this {kind} is never closed (no '}}' before the end):", start, f"{kind} {name}")


def _parse_chain(lines: list[str], i: int, name: str, tx: Transaction, error) -> int:
    start = i  # the 1-based number of the line that opened the chain
    tx.chains[name] = None
    rules = tx.rules.setdefault(name, [])
    n = len(lines)
    comment = None
    while i < n:
        stripped = lines[i].strip()
        i += 1
        if not stripped:
            continue
        if stripped == "}":
            if comment is not None:
                spec = tx.chains[name]
                tx.chains[name] = (spec[:-1] if spec else "{ ") + f"comment {comment} ; }}"
            return i
        if stripped.startswith("type ") and " hook " in stripped:
            tx.chains[name] = _chain_spec(stripped)
        elif stripped.startswith("comment ") and not rules:
            comment = stripped[len("comment "):]
        else:
            rules.append(_rule_text(stripped))
    raise error("this chain is never closed (no '}' before the end):", start, f"chain {name}")
