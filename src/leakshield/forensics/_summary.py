"""The plain-words summary of an analysis: what the file shows, and what cannot be told."""

from __future__ import annotations

from collections.abc import Sequence

from leakshield.forensics._model import Direction, Finding, Strength, SubjectInfo

__all__ = ["cannot_tell", "shows"]

_ORDER = {Strength.STRONG: 0, Strength.MODERATE: 1, Strength.WEAK: 2, Strength.NONE: 3}
_LEAD = {
    Strength.STRONG: "Strong evidence",
    Strength.MODERATE: "Moderate evidence",
    Strength.WEAK: "Weak evidence",
}


def weighed(findings: Sequence[Finding], *, informational: bool = False) -> list[Finding]:
    """Findings that carry weight and point somewhere (or, with ``informational``, those
    that only inform), strongest first, in analyzer order within a strength."""
    carrying = [
        f
        for f in findings
        if f.error is None
        and f.strength != Strength.NONE
        and (f.direction == Direction.INFORMATIONAL) == informational
    ]
    return sorted(carrying, key=lambda f: _ORDER[Strength(f.strength)])


def shows(subject: SubjectInfo, findings: Sequence[Finding]) -> list[str]:
    """One sentence per thing the file shows, strongest evidence first, each led by how
    strong it is, then facts for information; when no evidence points anywhere, a
    sentence saying what that means."""
    lines = [f"{_LEAD[Strength(f.strength)]}: {_sentence(f.summary)}" for f in weighed(findings)]
    lines += [
        f"For information: {_sentence(f.summary)}" for f in weighed(findings, informational=True)
    ]
    if subject.problem is not None:
        lines.append(
            f"Its pixels could not be read ({subject.problem['message']}), so only the "
            "checks that read the file's bytes ran."
        )
    if not weighed(findings):
        lines.append(
            "No trace was found of your photos, your watermark, an AI generator or editing. "
            "That is not evidence that the image is authentic or unaltered: most traces are "
            "removed by re-saving, and many tools leave none."
        )
    return lines


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", ")")) else text + "."


def cannot_tell(subject: SubjectInfo, findings: Sequence[Finding]) -> list[str]:
    """What this analysis cannot tell about the file, given what it found."""
    directions = {Direction(f.direction) for f in weighed(findings)}
    lines = [
        "Who made or posted this image, or whether the person shown agreed to it.",
    ]
    if Direction.MADE_FROM_YOUR_PHOTO not in directions:
        lines.append(
            "Whether it was made from a photo of you that is not registered here, or from a "
            "part of one too small or too changed to recognise."
        )
    else:
        lines.append(
            "How the regions that differ from your photo were made (by hand, by an AI model, "
            "or from another picture): the difference map shows where, not how."
        )
    if Direction.AI_GENERATED not in directions:
        lines.append(
            "Whether an AI model made or changed it: generators that leave no trace, or whose "
            "traces were removed, cannot be told from a camera photo by these checks."
        )
    if any(f.images and f.strength == Strength.NONE for f in findings):
        lines.append(
            "What the visual aids (error levels, noise) mean for this image: they are for a "
            "person to look at, and are never scored as proof."
        )
    failed = [f.examined for f in findings if f.error is not None]
    if failed:
        lines.append(
            "What these checks would have found, as they could not run: " + ", ".join(failed) + "."
        )
    return lines
