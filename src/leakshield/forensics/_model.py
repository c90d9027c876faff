"""What an analysis finds: findings with their strength, direction and plain-words meaning."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Analysis", "Direction", "Finding", "FindingImage", "Strength", "SubjectInfo"]


class Strength(StrEnum):
    """How much weight a finding carries, in the words the report uses."""

    STRONG = "strong"
    MODERATE = "moderate"
    WEAK = "weak"
    NONE = "none"  # examined, and nothing found: never evidence either way


class Direction(StrEnum):
    """Which way a finding points."""

    MADE_FROM_YOUR_PHOTO = "made-from-your-photo"
    AI_GENERATED = "ai-generated"
    EDITED = "edited"
    CAMERA_ORIGINAL = "camera-original"  # consistent with a camera original; never proof
    INFORMATIONAL = "informational"


@dataclass(frozen=True)
class FindingImage:
    """A picture that shows a finding to a person (PNG), with what it can and cannot show."""

    name: str
    caption: str
    png: bytes = field(repr=False)
    caveat: str = ""

    def to_record(self, *, with_data: bool = False) -> dict[str, Any]:
        record: dict[str, Any] = {"name": self.name, "caption": self.caption, "caveat": self.caveat}
        if with_data:
            record["png_base64"] = base64.b64encode(self.png).decode("ascii")
        return record


@dataclass(frozen=True)
class Finding:
    """One thing an analyzer examined and what it found.

    ``evidence`` holds the facts behind the words (JSON values only). ``error`` is set
    when the analyzer could not examine the file; the finding then carries no weight.
    """

    analyzer: str
    examined: str
    strength: Strength
    direction: Direction
    summary: str
    explanation: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    images: tuple[FindingImage, ...] = ()
    error: Mapping[str, str] | None = None

    def to_record(self, *, with_images: bool = False) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "examined": self.examined,
            "strength": str(self.strength),
            "direction": str(self.direction),
            "summary": self.summary,
            "explanation": self.explanation,
            "evidence": dict(self.evidence),
            "images": [image.to_record(with_data=with_images) for image in self.images],
            "error": dict(self.error) if self.error else None,
        }


@dataclass(frozen=True)
class SubjectInfo:
    """The file that was analysed, as found."""

    path: str
    size: int | None
    sha256: str | None
    format: str | None
    width: int | None
    height: int | None
    problem: Mapping[str, str] | None = None  # why its pixels could not be read

    def to_record(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "problem": dict(self.problem) if self.problem else None,
        }


@dataclass(frozen=True)
class Analysis:
    """Every finding on one file, with the plain-words summary and the limits of what was
    examined."""

    subject: SubjectInfo
    findings: tuple[Finding, ...]
    shows: tuple[str, ...]  # "What this file shows", one sentence each
    cannot_tell: tuple[str, ...]  # what this analysis cannot tell
    started: str
    finished: str
    tool_version: str

    def to_record(self, *, with_images: bool = False) -> dict[str, Any]:
        return {
            "subject": self.subject.to_record(),
            "shows": list(self.shows),
            "cannot_tell": list(self.cannot_tell),
            "findings": [f.to_record(with_images=with_images) for f in self.findings],
            "started": self.started,
            "finished": self.finished,
            "tool_version": self.tool_version,
        }

    def by_analyzer(self, name: str) -> tuple[Finding, ...]:
        """The findings of one analyzer."""
        return tuple(f for f in self.findings if f.analyzer == name)


def failed(analyzer: str, examined: str, code: str, message: str) -> Finding:
    """The finding of an analyzer that could not examine the file: no weight either way."""
    return Finding(
        analyzer=analyzer,
        examined=examined,
        strength=Strength.NONE,
        direction=Direction.INFORMATIONAL,
        summary=f"Could not be examined: {message}",
        explanation="This part of the analysis did not run, so it says nothing about the file.",
        error={"code": code, "message": message},
    )
