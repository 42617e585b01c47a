"""The project's errors: one base class, each subclass also the builtin it refines.

Every message names the bad value. Errors about text (iptables rules, manifests)
carry the source name, the 1-based line number and the column of the bad word, and
draw a caret under it, the way ``packaging`` does::

    >>> err = ParseError("unknown option", source="dump.txt", line=3,
    ...                  text="-A KUBE-SERVICES --bogus 1", column=17, word="--bogus")
    >>> print(err)
    dump.txt:3: unknown option '--bogus'
        -A KUBE-SERVICES --bogus 1
                         ^~~~~~~
"""

from __future__ import annotations

__all__ = [
    "K8snetError",
    "InvalidValue",
    "NotFound",
    "ParseError",
    "ManifestError",
    "ExhaustedError",
    "OverlapError",
    "LabUnavailable",
]


class K8snetError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidValue(K8snetError, ValueError):
    """A value that makes no sense: a bad CIDR, a mask larger than its range, zero endpoints."""


class NotFound(K8snetError, LookupError):
    """A named thing (pod, service, node, CNI, fault) that does not exist; the message lists what does."""


class ExhaustedError(K8snetError, RuntimeError):
    """An allocator ran out of addresses or ranges; the message says how many the range holds."""


class OverlapError(InvalidValue):
    """Two networks that must be disjoint overlap; the message names both."""


class LabUnavailable(K8snetError, RuntimeError):
    """The kernel lab cannot run here; the message gives the reason the probe found."""


class ParseError(K8snetError, ValueError):
    """Text that could not be read, with the place of the bad word.

    ``source`` names the file (or ``<stdin>``, ``<string>``), ``line`` is 1-based,
    ``column`` is the 0-based offset of ``word`` inside ``text`` (the offending line).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "<string>",
        line: int | None = None,
        text: str | None = None,
        column: int | None = None,
        word: str | None = None,
        named: bool = True,
    ) -> None:
        self.message = message
        self.named = named  # False: the message already names the word; the caret still marks it
        self.source = source
        self.line = line
        self.text = text
        self.column = column
        self.word = word
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        head = f"{where}: {self.message}"
        word = self.word
        if word is not None and self.named:
            head += f" {_shortened(word, _WORD_LIMIT)!r}"
        if self.text is None:
            return head
        text, column = self.text, self.column
        if len(text) > _LINE_LIMIT:  # show the part of a long line around the bad word
            start = 0 if column is None else max(0, min(column - _LINE_LIMIT // 2, len(text) - _LINE_LIMIT))
            text = ("..." if start else "") + text[start:start + _LINE_LIMIT] + (
                "..." if start + _LINE_LIMIT < len(text) else "")
            if column is not None:
                column = column - start + (3 if start else 0)
        out = [head, "    " + text]
        if column is not None:
            width = max(1, min(len(word or " "), len(text) - column))
            out.append("    " + " " * column + "^" + "~" * (width - 1))
        return "\n".join(out)


# Long values are shown in part, so that an error stays a few short lines.
_WORD_LIMIT = 60
_LINE_LIMIT = 120


def _shortened(word: str, limit: int) -> str:
    return word if len(word) <= limit else f"{word[:limit - 3]}..."


class ManifestError(ParseError):
    """A Kubernetes manifest that could not be read (bad YAML, unknown kind, bad field)."""
