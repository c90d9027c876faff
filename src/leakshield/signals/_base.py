"""Signals as value objects, and the registry of signal types."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Self, TypeVar

from leakshield.errors import InputError

_HEX = re.compile(r"[0-9a-f]*")


class SignalError(InputError):
    """A signal string is malformed or names an unknown type."""

    slug = "bad-signal"
    title = "Bad signal"


class Signal(ABC):
    """A fingerprint of one piece of media. ``str()`` gives its string form, which
    `parse` turns back into an equal signal."""

    type_name: ClassVar[str]
    description: ClassVar[str]

    @classmethod
    @abstractmethod
    def parse(cls, text: str) -> Self:
        """The signal whose string form is ``text``; raises `SignalError` if it is malformed."""

    @classmethod
    @abstractmethod
    def examples(cls) -> tuple[str, ...]:
        """Valid string forms of this type, for documentation and tests."""

    @abstractmethod
    def __str__(self) -> str: ...

    def typed(self) -> str:
        """The ``TYPE:VALUE`` form used on the command line."""
        return f"{self.type_name}:{self}"


@dataclass(frozen=True)
class FixedHash(Signal):
    """A hash of a fixed number of bytes, written as lowercase hex. ``a - b`` is the
    Hamming distance between two hashes of the same type."""

    digest: bytes
    size: ClassVar[int]

    def __post_init__(self) -> None:
        if len(self.digest) != self.size:
            raise SignalError(
                f"a {self.type_name} hash is {self.size} bytes, not {len(self.digest)}"
            )

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``size * 2`` hex digits (either case, surrounding space ignored)."""
        value = text.strip().lower()
        # isalnum() first: bytes.fromhex alone would accept inner spaces.
        if len(value) != cls.size * 2 or not value.isalnum() or not _HEX.fullmatch(value):
            raise SignalError(
                f"{text.strip()[:80]!r} is not a {cls.type_name} hash: "
                f"expected {cls.size * 2} hex digits"
            )
        return cls(bytes.fromhex(value))

    def __str__(self) -> str:
        return self.digest.hex()

    def __sub__(self, other: object) -> int:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, FixedHash)
        diff = int.from_bytes(self.digest, "big") ^ int.from_bytes(other.digest, "big")
        return diff.bit_count()


SignalT = TypeVar("SignalT", bound=type[Signal])
_REGISTRY: dict[str, type[Signal]] = {}


def register(cls: SignalT) -> SignalT:
    """Class decorator: make a signal type known by its ``type_name``."""
    _REGISTRY[cls.type_name] = cls
    return cls


def signal_types() -> dict[str, type[Signal]]:
    """Every registered signal type, by name."""
    return dict(sorted(_REGISTRY.items()))


def signal_type(name: str) -> type[Signal]:
    """The signal type called ``name``; raises `SignalError` for an unknown one."""
    try:
        return _REGISTRY[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise SignalError(f"unknown signal type {name!r}; known types: {known}") from None


def parse_signal(text: str) -> Signal:
    """Parse ``TYPE:VALUE`` (e.g. ``pdq:f8f8...``) into a signal of that type."""
    kind, sep, value = text.partition(":")
    if not sep:
        raise SignalError(f"{text[:80]!r} has no type; write TYPE:VALUE, e.g. pdq:<64 hex digits>")
    return signal_type(kind).parse(value)
