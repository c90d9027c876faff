"""What the evidence vault deals in: cases, evidence items, and the errors a user can meet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leakshield.errors import ConfigError, InputError, NotFoundError, UsageError

__all__ = [
    "CaseBusyError",
    "CaseNotFoundError",
    "CaseSummary",
    "DamagedCaseError",
    "EvidenceItem",
    "PassphraseError",
    "canonical_json",
]


class PassphraseError(ConfigError):
    """The passphrase is missing or does not open the case."""

    slug = "wrong-passphrase"
    title = "Wrong passphrase"


class CaseNotFoundError(NotFoundError):
    """No case has that id (or the prefix given is ambiguous)."""

    slug = "case-not-found"
    title = "Case not found"


class DamagedCaseError(InputError):
    """Stored case data failed its integrity check: damaged or tampered with."""

    slug = "damaged-case"
    title = "Damaged case"


class CaseBusyError(UsageError):
    """Another leakshield process is writing to the case."""

    slug = "case-busy"
    title = "Case busy"


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """The one byte form of a record that its hash and signature cover."""
    import json

    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


@dataclass(frozen=True)
class EvidenceItem:
    """One item of a case: a file, a note or a web capture, as recorded in its log."""

    id: str
    kind: str  # "file", "note" or "capture"
    added_at: str
    added_by: str
    sha256: str
    leaf_index: int
    record: Mapping[str, Any]  # the full ItemRecord (see docs/evidence.md)

    @property
    def files(self) -> list[Mapping[str, Any]]:
        return list(self.record.get("files", []))

    @property
    def label(self) -> str:
        """What a person calls it: the file name, the note's start, or the URL."""
        if self.kind == "note":
            text = str(self.record.get("text") or "")
            return text if len(text) <= 60 else text[:57] + "..."
        if self.kind == "capture":
            capture = self.record.get("capture") or {}
            return str(capture.get("url", "capture"))
        files = self.files
        return str(files[0]["name"]) if files else self.id

    def to_record(self) -> dict[str, Any]:
        return {**dict(self.record), "leaf_index": self.leaf_index}


@dataclass(frozen=True)
class CaseSummary:
    """What `case list` shows without a passphrase: nothing about the content."""

    id: str
    created: str
    records: int  # entries in its log, per its last signed tree head
    last_activity: str | None
    key_id: str

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "records": self.records,
            "last_activity": self.last_activity,
            "key_id": self.key_id,
        }
