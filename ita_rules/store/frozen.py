"""The store's small immutable value classes (a record, a put's spec, a staged file, a journal
entry) without the dataclasses module.

A bulk put is what scripts run over and over: importing dataclasses (with inspect, ast, dis
and tokenize) and generating each frozen dataclass's methods cost a put ~8 ms of CPU, ~7% of
a put of 1,000 small files (issue #16 goal 2). :class:`Frozen` gives its subclasses what
``@dataclass(frozen=True)`` gave them, from one list of field names: equality and hashing
over the compared fields, a repr naming every field, assignment and deletion refused, and
:meth:`Frozen.replace` (``dataclasses.replace``). Each subclass writes its ``__init__``
(typed, with its defaults), which sets the fields through the instance's ``__dict__``
(``self.__dict__.update(...)``: assignment is refused).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self


class FrozenError(AttributeError):
    """A field of a frozen value was assigned or deleted (as dataclasses' FrozenInstanceError,
    an AttributeError)."""


class Frozen:
    """Base of an immutable value class: ``_fields`` names its fields in order, ``_compared``
    the ones equality and the hash use (all of them unless the class says otherwise)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _compared: ClassVar[tuple[str, ...] | None] = None

    def _key(self) -> tuple[Any, ...]:
        names = self._fields if self._compared is None else self._compared
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenError(f"cannot delete field {name!r}")

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (``dataclasses.replace``), made through ``__init__`` (which
        refuses a name that is not a field)."""
        values = {name: getattr(self, name) for name in self._fields}
        return type(self)(**{**values, **changes})
