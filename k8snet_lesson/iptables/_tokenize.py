"""Words in and out: iptables-restore's tokenizer and the quoting of both text forms."""

from __future__ import annotations

import re

from ..errors import InvalidValue

# --- tokenising ----------------------------------------------------------------------


class _TokenError(Exception):
    def __init__(self, column: int, message: str, word: str) -> None:
        self.column, self.message, self.word = column, message, word


def _tokenize(line: str) -> list[tuple[str, int]]:
    """Split one line into ``(word, column)`` exactly as iptables-restore does.

    Outside quotes, spaces, tabs and newlines separate words and a backslash is an
    ordinary character; a double quote opens a quoted part (joined to what precedes it);
    inside quotes a backslash escapes the next character and the closing quote ends the
    word (so ``""`` is an empty word).
    """
    words: list[tuple[str, int]] = []
    buf: list[str] = []
    start = -1
    quote_open = False
    quote_column = 0
    escaped = False
    for i, ch in enumerate(line):
        if quote_open:
            if escaped:
                buf.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quote_open = False
                words.append(("".join(buf), start))
                buf, start = [], -1
            else:
                buf.append(ch)
            continue
        if ch == '"':
            quote_open, quote_column = True, i
            if start < 0:
                start = i
        elif ch in " \t\n":
            if buf:
                words.append(("".join(buf), start))
                buf, start = [], -1
        else:
            if start < 0:
                start = i
            buf.append(ch)
    if quote_open:
        raise _TokenError(quote_column, "unterminated quote", line[quote_column:])
    if buf:
        words.append(("".join(buf), start))
    return words


def _split_quoted(line: str) -> list[str] | None:
    """The fast path of :func:`_tokenize` for printable lines without backslashes."""
    parts = line.split('"')
    if not len(parts) % 2:
        return None  # unterminated quote: the slow path reports where
    words: list[str] = []
    pending = ""
    last = len(parts) - 1
    for k, segment in enumerate(parts):
        if k % 2:
            words.append(pending + segment)
            pending = ""
            continue
        split = segment.split()
        if k < last and segment and segment[-1] != " ":
            pending = split.pop()
        words.extend(split)
    return words


# Quoting for the restore form: kube-proxy wraps a word in double quotes when it holds
# whitespace; a quote or backslash inside a quoted word is escaped so the text reads back.
_NEEDS_QUOTES = re.compile(r'[ \t"\n\r]')


def _restore_word(word: str) -> str:
    if word and not _NEEDS_QUOTES.search(word):
        return word
    if "\n" in word or "\r" in word:
        raise InvalidValue(f"the word {word!r} holds a line break, which iptables text cannot carry")
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


_SAVE_PLAIN = re.compile(r"[A-Za-z0-9_-]+")


def _save_string(value: str) -> str:
    """``xtables_save_string``: quote unless only ``[A-Za-z0-9_-]``; escape ``"``, ``\\``, ``'``."""
    if _SAVE_PLAIN.fullmatch(value):
        return value
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
    return '"' + out + '"'


class _SaveQuoted(str):
    """A word iptables-save passes through xtables_save_string (the comment)."""
