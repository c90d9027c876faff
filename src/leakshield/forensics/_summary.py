"""The plain-words summary of an analysis: what the file shows, and what cannot be told."""

from __future__ import annotations

from collections.abc import Sequence

from leakshield.forensics._model import Finding, SubjectInfo

__all__ = ["cannot_tell", "shows"]


def shows(subject: SubjectInfo, findings: Sequence[Finding]) -> list[str]:
    """One sentence per thing the file shows, strongest evidence first."""
    return [f.summary for f in findings if f.error is None]


def cannot_tell(subject: SubjectInfo, findings: Sequence[Finding]) -> list[str]:
    """What this analysis cannot tell about the file."""
    return []
