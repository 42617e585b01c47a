"""Predictions: what a notebook asks the learner to commit to before it shows the answer.

A :class:`Prediction` is content, like a quiz question, and its right answer is
computed by the model from the same cluster the notebook shows: which IP the next pod
gets, the destination after the next hop, the share of rule 2 in a chain of 4,
"refused or timed out?". Nothing here is typed into a notebook. Each topic module
(``layers``, ``services``, ...) registers the builders of its notebook's gates with
:func:`gate`. A builder takes the cluster the notebook shows (and keywords with
defaults for anything else it varies); :func:`build` makes a prediction from its id
and that cluster, and :func:`catalogue` lists them all in the course's order.

A prediction is one of four kinds:

- ``CHOICE``: one of a few options, each with the explanation a learner who picks it
  reads (why it is right, or why it is tempting and wrong);
- ``NUMBER``: a number, written as ``0.5``, ``1/2`` or ``50%``, right within a tolerance;
- ``ADDRESS``: an IPv4 address, optionally with a port (``10.244.2.14:3000``);
- the checker, :func:`check`, returns a :class:`Verdict` with the explanation of what
  was given, the right answer and why it is right.

Every reveal also names the *tempting* wrong answer and why it is wrong (``tempting``),
so a learner who was right by luck still meets the misconception.

    >>> p = Prediction("00-demo", "How many rules are in a chain of 3 endpoints?", Kind.NUMBER, "3",
    ...                why="one rule per endpoint", wrong=(Option("2", "the last rule still counts"),))
    >>> check(p, "3").correct, check(p, " 3.0 ").correct
    (True, True)
    >>> print(check(p, "2").explanation)
    the last rule still counts
    >>> check(p, "seven")
    Traceback (most recent call last):
    ...
    k8snet_lesson.errors.InvalidValue: 'seven' is not a number: write it like 7, 0.25, 2/5 or 40%

What it leaves out: free-text predictions (the quiz judges free text; a prediction is
a commitment to one value), and partial credit.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
from fractions import Fraction
from ipaddress import IPv4Address
from typing import Callable

from ..errors import InvalidValue, NotFound

__all__ = ["Kind", "Option", "Prediction", "Verdict", "check", "gate", "build", "catalogue", "TOPICS"]


class Kind(enum.Enum):
    CHOICE = "choice"
    NUMBER = "number"
    ADDRESS = "address"


@dataclasses.dataclass(frozen=True)
class Option:
    """An answer a learner may give, and what they are told if they give it."""

    text: str
    explanation: str


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A question with a computed answer, asked before the course shows that answer.

    ``id`` is ``NN-slug``: the notebook that asks it, then a name. ``answer`` is the
    right answer as a learner would write it; ``why`` says why it is right. For a
    ``CHOICE``, ``options`` holds every option (the answer among them) with its
    explanation. For ``NUMBER`` and ``ADDRESS``, ``wrong`` holds the tempting wrong
    values with theirs, and ``otherwise`` is said to any other wrong value. ``tempting``
    names the one wrong answer every reveal explains (by default the first wrong
    option).
    """

    id: str
    prompt: str
    kind: Kind
    answer: str
    why: str
    options: tuple[Option, ...] = ()
    wrong: tuple[Option, ...] = ()
    otherwise: str = ""
    tolerance: float = 1e-9
    tempting: str = ""
    title: str = ""  # a few words for the progress summary; the prompt's start by default

    def __post_init__(self) -> None:
        if len(self.id) < 4 or not self.id[:2].isdigit() or self.id[2] != "-":
            raise InvalidValue(f"prediction id {self.id!r} is not NN-name")
        if self.kind is Kind.CHOICE:
            texts = [o.text for o in self.options]
            if texts.count(self.answer) != 1 or len(set(texts)) != len(texts) or len(texts) < 2:
                raise InvalidValue(f"prediction {self.id}: the options {texts} must be distinct and hold the "
                                   f"answer {self.answer!r} once")
        elif self.options:
            raise InvalidValue(f"prediction {self.id}: only a CHOICE has options")
        if self.tempting and self.tempting not in {o.text for o in (*self.options, *self.wrong)}:
            raise InvalidValue(f"prediction {self.id}: the tempting answer {self.tempting!r} is not among its options")

    @property
    def notebook(self) -> str:
        """The number of the notebook that asks it (``"02"``)."""
        return self.id[:2]

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(o.text for o in self.options)

    @property
    def tempting_option(self) -> Option | None:
        """The wrong answer every reveal explains: ``tempting``, or the first wrong option."""
        pool = [o for o in (*self.options, *self.wrong) if o.text != self.answer]
        for option in pool:
            if option.text == self.tempting:
                return option
        return pool[0] if pool else None

    @property
    def short_title(self) -> str:
        if self.title:
            return self.title
        words = self.prompt.replace("`", "").split()
        return " ".join(words[:8]) + (" ..." if len(words) > 8 else "")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The reveal: right or not, what the given answer means, the answer and why."""

    correct: bool
    given: str
    explanation: str
    answer: str
    why: str
    tempting: Option | None = None

    @property
    def headline(self) -> str:
        return "Right" if self.correct else "Not quite"


def _number(text: str) -> Fraction:
    """``0.5``, ``1/2``, ``50%``, ``1,000`` as an exact fraction."""
    cleaned = text.strip().replace(",", "").replace(" ", "")
    percent = cleaned.endswith("%")
    if percent:
        cleaned = cleaned[:-1]
    if not cleaned or len(cleaned) > 40:
        raise InvalidValue(f"{text.strip()!r} is not a number: write it like 7, 0.25, 2/5 or 40%")
    try:
        value = Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        raise InvalidValue(f"{text.strip()!r} is not a number: write it like 7, 0.25, 2/5 or 40%") from None
    return value / 100 if percent else value


def _address(text: str) -> tuple[IPv4Address, int | None]:
    cleaned = text.strip()
    host, _, port = cleaned.partition(":")
    try:
        address = IPv4Address(host)
        number = int(port) if port else None
        if number is not None and not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise InvalidValue(f"{cleaned!r} is not an IPv4 address: write it like 192.0.2.7 "
                           "(or with a port, 192.0.2.7:8080)") from None
    return address, number


def _same(prediction: Prediction, given: str, candidate: str) -> bool:
    if prediction.kind is Kind.NUMBER:
        return abs(_number(given) - _number(candidate)) <= Fraction(prediction.tolerance)
    if prediction.kind is Kind.ADDRESS:
        got, want = _address(given), _address(candidate)
        return got[0] == want[0] and (want[1] is None or got[1] in (None, want[1]))
    return given.strip() == candidate


def check(prediction: Prediction, given: str | None) -> Verdict:
    """Judge what the learner committed to; nonsense input is an :class:`InvalidValue` to show."""
    if given is None or not str(given).strip():
        raise InvalidValue("commit to an answer first")
    given = str(given).strip()
    if prediction.kind is Kind.CHOICE and given not in prediction.choices:
        raise NotFound(f"{given!r} is not one of the options: {', '.join(prediction.choices)}")
    correct = _same(prediction, given, prediction.answer)
    explanation = prediction.why if correct else prediction.otherwise
    for option in (*prediction.options, *prediction.wrong):
        if _same(prediction, given, option.text):
            explanation = option.explanation
            break
    tempting = prediction.tempting_option
    return Verdict(correct, given, explanation, prediction.answer, prediction.why, tempting)


# --- the registry of gates ---------------------------------------------------------

# The modules that define gates, in the course's order (one per notebook or topic).
TOPICS = ("model", "layers", "cni", "pod_to_pod", "services", "ladder", "lab")
_BUILDERS: dict[str, Callable[..., Prediction]] = {}


def gate(prediction_id: str) -> Callable[[Callable[..., Prediction]], Callable[..., Prediction]]:
    """Register a builder: ``builder(cluster, **keywords with defaults) -> Prediction``."""

    def register(builder: Callable[..., Prediction]) -> Callable[..., Prediction]:
        if prediction_id in _BUILDERS:
            raise InvalidValue(f"prediction {prediction_id} is registered twice")
        _BUILDERS[prediction_id] = builder
        builder.prediction_id = prediction_id  # type: ignore[attr-defined]
        return builder

    return register


def _load_topics() -> None:
    for topic in TOPICS:
        try:
            importlib.import_module(f"{__name__}.{topic}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{topic}":
                raise


def catalogue() -> tuple[str, ...]:
    """Every registered prediction id, in notebook order (then registration order)."""
    _load_topics()
    return tuple(sorted(_BUILDERS, key=lambda pid: pid[:2]))


def build(prediction_id: str, cluster, **kwargs) -> Prediction:
    """The prediction ``prediction_id``, computed by its builder from ``cluster`` (and ``kwargs``)."""
    _load_topics()
    try:
        builder = _BUILDERS[prediction_id]
    except KeyError:
        raise NotFound(f"no prediction {prediction_id!r} (predictions: {', '.join(catalogue())})") from None
    made = builder(cluster, **kwargs)
    if made.id != prediction_id:
        raise InvalidValue(f"the builder of {prediction_id} made {made.id}")
    return made
