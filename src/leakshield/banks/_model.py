"""The values the bank subsystem hands out: banks, content, matches, import reports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leakshield.errors import InputError, NotFoundError, UsageError
from leakshield.signals import MATCH_DISTANCE, Signal, signal_type

_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,99}")

DEFAULT_THRESHOLDS: Mapping[str, int] = {
    "pdq": MATCH_DISTANCE,
    "vpdq": MATCH_DISTANCE,
    "md5": 0,
    "sha256": 0,
}
"""The largest distance that matches, per signal type, for a bank that sets none."""

MAX_THRESHOLD = 128


class BankNotFoundError(NotFoundError):
    """No bank, or no content item, has that name or id."""

    slug = "bank-not-found"
    title = "Bank not found"


class BankExistsError(UsageError):
    """A bank with that name already exists."""

    http_status = 409
    slug = "bank-exists"
    title = "Bank exists"


class BankInputError(InputError):
    """A bank name, threshold or content field is not acceptable."""

    slug = "bad-bank-input"
    title = "Bad bank input"


def check_bank_name(name: str) -> str:
    """Return ``name`` if it is in CAPS_AND_UNDERSCORES, else raise `BankInputError`."""
    if not _NAME.fullmatch(name):
        raise BankInputError(
            f"{name[:100]!r} is not a bank name: use capital letters, digits and underscores, "
            "starting with a letter (e.g. MY_PHOTOS), at most 100 characters."
        )
    return name


def check_thresholds(thresholds: Mapping[str, int]) -> dict[str, int]:
    """Validated per-type thresholds: known types that can be matched, 0 to 128."""
    checked: dict[str, int] = {}
    for name, value in thresholds.items():
        kind = signal_type(name).type_name
        if kind not in DEFAULT_THRESHOLDS:
            raise BankInputError(f"signal type {kind} cannot be matched, so it takes no threshold")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_THRESHOLD:
            raise BankInputError(
                f"the {kind} threshold must be a whole number from 0 to {MAX_THRESHOLD}, "
                f"not {value!r}"
            )
        if kind in ("md5", "sha256") and value != 0:
            raise BankInputError(f"{kind} matches exactly: its threshold can only be 0")
        checked[kind] = value
    return checked


@dataclass(frozen=True)
class Bank:
    """A named list of hashes. A negative bank lists known false positives: a match in it
    suppresses the matches of the same input in every other bank."""

    id: int
    name: str
    description: str = ""
    enabled: bool = True
    negative: bool = False
    thresholds: Mapping[str, int] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    content_count: int | None = None

    def threshold(self, kind: str) -> int:
        """The largest distance that matches for signal type ``kind`` in this bank."""
        return self.thresholds.get(kind, DEFAULT_THRESHOLDS.get(kind, 0))

    def to_record(self) -> dict[str, Any]:
        """The documented JSON form."""
        record: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "negative": self.negative,
            "thresholds": {k: self.threshold(k) for k in DEFAULT_THRESHOLDS},
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }
        if self.content_count is not None:
            record["content_count"] = self.content_count
        return record


@dataclass(frozen=True)
class BankContent:
    """One piece of media in a bank: its signals, metadata and note."""

    id: int
    bank: str
    signals: tuple[Signal, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""
    created_at: datetime | None = None
    disabled_until: datetime | None = None

    def enabled_at(self, when: datetime) -> bool:
        """False while the content is disabled."""
        return self.disabled_until is None or self.disabled_until <= when

    def to_record(self) -> dict[str, Any]:
        """The documented JSON form."""
        return {
            "id": self.id,
            "bank": self.bank,
            "signals": [{"signal_type": s.type_name, "signal": str(s)} for s in self.signals],
            "metadata": dict(self.metadata),
            "note": self.note,
            "created_at": _iso(self.created_at),
            "disabled_until": _iso(self.disabled_until),
        }


@dataclass(frozen=True)
class Match:
    """One bank entry that an input matched, and how close it was. For vPDQ the distance
    is the smallest frame distance, and the shares of matched frames come with it."""

    bank: str
    content_id: int
    signal_type: str
    distance: int
    negative: bool = False
    query_match_percent: float | None = None
    compared_match_percent: float | None = None

    def to_record(self) -> dict[str, Any]:
        """The documented JSON form."""
        record: dict[str, Any] = {
            "bank": self.bank,
            "content_id": self.content_id,
            "signal_type": self.signal_type,
            "distance": self.distance,
        }
        if self.negative:
            record["negative"] = True
        if self.query_match_percent is not None:
            record["query_match_percent"] = round(self.query_match_percent, 2)
            record["compared_match_percent"] = round(self.compared_match_percent or 0.0, 2)
        return record


@dataclass(frozen=True)
class ImportReport:
    """What an import did: entries added, already present, removed (withdrawn), skipped."""

    added: int = 0
    existing: int = 0
    removed: int = 0
    skipped: tuple[tuple[int, str], ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The documented JSON form."""
        return {
            "added": self.added,
            "existing": self.existing,
            "removed": self.removed,
            "skipped": [{"line": line, "reason": reason} for line, reason in self.skipped],
        }


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
