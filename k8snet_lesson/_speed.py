"""The three tricks that keep rule sets at Kubernetes' limits fast, explained once.

A node at Kubernetes' limits (10,000 Services, 150,000 endpoints) holds about 10^6
rules. Writing them (``kube_proxy.generate``), reading them (``iptables.parse``) and
explaining them (``explain.explain``) each make hundreds of thousands of small frozen
values, and two costs of Python itself then dominate:

* **The cyclic garbage collector.** Every few hundred new container objects it scans
  the young ones, and every so often all of them; with 10^6 tuples alive that is the
  whole rule set again and again, although none of these values is in a reference
  cycle (plain reference counting frees them). :func:`no_cycle_collection` pauses it
  for the duration of one such call and restores the state the caller had.
* **A frozen dataclass's ``__init__``.** It costs a Python frame and one
  ``object.__setattr__`` per field. A slotted class's fields are descriptors whose
  ``__set__`` fills the slot directly: :func:`slot_setters` hands those out, and
  :func:`slot_filler` builds a constructor from them that makes the identical value
  in about a third of the time.
* **A NamedTuple's constructor.** Its ``__new__`` is a Python function that packs the
  fields into a tuple and hands it to ``tuple.__new__``: :func:`tuple_maker` calls
  ``tuple.__new__`` directly, in about half the time (kube-proxy's 150,000 endpoints).

All three are invisible from outside: the values are equal, hash alike and stay immutable.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
from collections.abc import Callable
from typing import Any


class no_cycle_collection:  # noqa: N801 - used as a function: ``with no_cycle_collection():``
    """Pause the cyclic garbage collector inside the block (see the module's text).

    A class rather than a ``contextlib`` generator: leaving a generator allocates as soon
    as the collector is back on, and that first allocation has it scan every value the
    block has just made, at once.

    >>> with no_cycle_collection():
    ...     gc.isenabled()
    False
    """

    __slots__ = ("enabled",)

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            gc.enable()


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """The ``__set__`` of each named slot of ``cls``: ``setter(value, field_value)`` fills it.

    For a class's own ``__init__`` and for hot loops that build values without calling it.
    """
    return tuple(cls.__dict__[name].__set__ for name in names)


def slot_filler(cls: type, given: tuple[str, ...]) -> Callable[..., Any]:
    """``cls(*given)`` without ``__init__``, for the hot loop; ``cls`` itself when that is not safe.

    Only for a slotted dataclass without ``__post_init__`` whose other fields have plain
    defaults (one or two given fields).

    >>> @dataclasses.dataclass(frozen=True, slots=True)
    ... class Point:
    ...     x: int
    ...     y: int = 0
    >>> slot_filler(Point, ("x",))(3) == Point(3)
    True
    """
    try:
        fields = dataclasses.fields(cls)
    except TypeError:
        return cls
    if hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__:
        return cls
    if tuple(f.name for f in fields if f.init)[: len(given)] != given or len(given) not in (1, 2):
        return cls
    rest = []
    for f in fields:
        if f.name not in given:
            if f.default is dataclasses.MISSING:
                return cls
            rest.append((cls.__dict__[f.name].__set__, f.default))
    setters = slot_setters(cls, *given)
    new = object.__new__
    defaults = tuple(rest)
    if len(given) == 2:
        set_first, set_second = setters

        def fill2(first: Any, second: Any) -> Any:
            value = new(cls)
            set_first(value, first)
            set_second(value, second)
            for setter, default in defaults:
                setter(value, default)
            return value

        return fill2
    (set_first,) = setters

    def fill1(first: Any) -> Any:
        value = new(cls)
        set_first(value, first)
        for setter, default in defaults:
            setter(value, default)
        return value

    return fill1


def tuple_maker(cls: type[tuple]) -> Callable[[tuple], Any]:
    """``maker(values)`` is ``cls(*values)`` for a NamedTuple ``cls``, without its Python ``__new__``.

    ``values`` must hold exactly the fields, in order: there is no check.

    >>> from typing import NamedTuple
    >>> class Point(NamedTuple):
    ...     x: int
    ...     y: int
    >>> tuple_maker(Point)((3, 4)) == Point(3, 4) and type(tuple_maker(Point)((3, 4))) is Point
    True
    """
    return functools.partial(tuple.__new__, cls)
