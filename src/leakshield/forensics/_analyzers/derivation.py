"""Derivation: which of the user's photos this image was made from, and what differs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from leakshield.forensics._diffmap import Difference, Region, difference
from leakshield.forensics._images import heat_map, to_png
from leakshield.forensics._match import SourceMatch, describe_suspect, find_sources
from leakshield.forensics._model import Direction, Finding, FindingImage, Strength
from leakshield.forensics._registry import AnalysisContext, analyzer
from leakshield.forensics._subject import Subject, load_subject

_TITLE = "Made from your photos"
_EXPLAIN = (
    "Distinctive points of your photo were found in this image, and enough of them agree on "
    "one placement (a crop, resize, rotation or flip) that chance is ruled out: unrelated "
    "photos do not line up like this. "
)


@analyzer("derivation", _TITLE)
def derivation(subject: Subject, context: AnalysisContext) -> list[Finding]:
    """Find the user's photos this image was made from and map what differs from each."""
    references = context.references
    if references is None or not len(references):
        return [
            _none(
                "Not checked: none of your photos are registered.",
                "`leakshield protect` registers your photos as it protects them (or pass "
                "--reference PHOTO to compare with a photo directly). Only registered photos "
                "can be found.",
                {},
            )
        ]
    pixels = subject.rgb()
    matches = find_sources(describe_suspect(pixels), references)
    where = f"bank {references.bank}" if references.bank else "the photos given"
    if not matches:
        return [
            _none(
                f"None of your {len(references)} photos in {where} was found in this image.",
                "This does not show the image was not made from a photo of you: only the "
                "photos registered can be found, and a small or heavily changed part of a "
                "photo (regenerated, repainted, strongly warped) can escape this check.",
                {"photos_compared": len(references)},
            )
        ]
    return [_finding(subject, pixels, match, context) for match in matches]


def _none(summary: str, explanation: str, evidence: dict[str, object]) -> Finding:
    return Finding(
        "derivation", _TITLE, Strength.NONE, Direction.INFORMATIONAL, summary, explanation, evidence
    )


def _finding(
    subject: Subject, pixels: NDArray[np.uint8], match: SourceMatch, context: AnalysisContext
) -> Finding:
    reference = match.reference
    height, width = pixels.shape[:2]
    evidence: dict[str, object] = {
        "your_photo": reference.title,
        "your_photo_sha256": reference.sha256,
        "agreeing_points": match.inliers,
        "matched_points": match.matches,
        "flipped": match.flipped,
        "scale": round(match.scale, 3),
        "rotation_degrees": round(match.rotation, 1),
        "transform": [[round(float(v), 4) for v in row] for row in match.transform],
    }
    photo, missing = _original(reference.path, reference.sha256, context)
    diff = difference(pixels, photo, match.transform, match.points) if photo is not None else None
    how = _how(match, reference.width * reference.height, width, height, diff)
    sentences = [f"This image was made from your photo '{reference.title}'{how}."]
    if diff is not None:
        evidence.update(
            covers_fraction=round(diff.overlap_fraction, 4),
            changed_fraction=round(diff.changed_fraction, 4),
            changed_regions=[r.to_record() for r in diff.regions[:10]],
        )
        sentences.append(_changes(diff, width, height, reference.title))
    else:
        evidence["difference_map"] = missing
    explanation = _EXPLAIN + (
        f"{match.inliers} points agree. "
        + (
            "The difference map compares the two after aligning them and evening out overall "
            "colour and brightness; re-compression and resizing are tolerated, so a marked "
            "region is a change of content, though the map cannot say how it was made."
            if diff is not None
            else f"No difference map: {missing}"
        )
    )
    images = _pictures(pixels, diff, reference.title) if diff is not None and context.images else ()
    return Finding(
        "derivation",
        _TITLE,
        Strength.STRONG if match.strong else Strength.MODERATE,
        Direction.MADE_FROM_YOUR_PHOTO,
        " ".join(sentences),
        explanation,
        evidence,
        images,
    )


def _original(
    path: str | None, sha256: str, context: AnalysisContext
) -> tuple[NDArray[np.uint8] | None, str]:
    """The user's photo, if it is still where it was registered and unchanged."""
    if path is None:
        return None, "where your photo is was not recorded."
    where = Path(path)
    if not where.is_file():
        return None, "your photo is no longer where it was registered."
    try:
        original = load_subject(where, context.limits)
        if hashlib.sha256(original.data).hexdigest() != sha256:
            return None, "your photo has changed since it was registered."
        return original.rgb(), ""
    except Exception as exc:  # the comparison is an extra; the match stands without it
        return None, f"your photo could not be read ({exc})."


def _how(
    match: SourceMatch, photo_area: int, width: int, height: int, diff: Difference | None
) -> str:
    """How the photo was used, in words: ", flipped, showing about 40% of it"."""
    parts = []
    if match.flipped:
        parts.append("flipped left to right")
    if abs(match.rotation) >= 2:
        parts.append(f"turned {abs(match.rotation):.0f} degrees")
    shown = _shown_fraction(match, photo_area, width, height, diff)
    if shown < 0.9:
        parts.append(f"showing about {shown:.0%} of it")
    return (", " + ", ".join(parts)) if parts else ""


def _shown_fraction(
    match: SourceMatch, photo_area: int, width: int, height: int, diff: Difference | None
) -> float:
    """Share of the photo's area that appears in the image (and, with a difference map,
    still matches it)."""
    scale2 = match.scale**2
    if diff is not None:
        unchanged = float((diff.overlap & ~diff.changed).sum()) / (diff.scale**2)
        return min(1.0, unchanged / scale2 / photo_area)
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    inverse = cv2.invertAffineTransform(match.transform)
    back = cv2.transform(corners[None], inverse)[0]
    w = h = np.sqrt(photo_area)  # only the area matters below
    area, _ = cv2.intersectConvexConvex(
        back, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    )
    return float(min(1.0, area / photo_area))


def _changes(diff: Difference, width: int, height: int, title: str) -> str:
    covers = diff.overlap_fraction
    if not diff.regions:
        rest = "" if covers > 0.9 else f" (it covers about {covers:.0%} of this image)"
        return f"No region differs from your photo beyond re-compression{rest}."
    named = [
        f"the {r.where(width, height)} (about {r.fraction:.0%} of the image)"
        for r in diff.regions[:3]
    ]
    listing = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    more = f", and {len(diff.regions) - 3} smaller regions" if len(diff.regions) > 3 else ""
    if diff.changed_fraction > 0.6:
        kept = diff.overlap & ~diff.changed
        ys, xs = np.nonzero(kept)
        if len(xs):
            box = Region(
                int(xs.min() / diff.scale),
                int(ys.min() / diff.scale),
                int(np.ptp(xs) / diff.scale) + 1,
                int(np.ptp(ys) / diff.scale) + 1,
                float(kept.mean()),
            )
            return (
                f"Only part of your photo appears: it matches at the {box.where(width, height)} "
                f"of this image (about {box.fraction:.0%} of it); the area around it differs "
                "from your photo."
            )
    several = len(diff.regions) > 1
    regions, verb = ("regions", "differ") if several else ("region", "differs")
    return f"The {regions} at {listing}{more} {verb} from your photo; the rest matches."


def _pictures(pixels: NDArray[np.uint8], diff: Difference, title: str) -> tuple[FindingImage, ...]:
    size = diff.changed.shape[::-1]
    small = np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    shown = small.copy()
    overlay = shown.copy()
    overlay[diff.changed] = (230, 30, 30)
    shown = np.asarray(cv2.addWeighted(overlay, 0.35, shown, 0.65, 0), dtype=np.uint8)
    outline_changed = cv2.findContours(
        diff.changed.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )[0]
    outline_cover = cv2.findContours(
        diff.overlap.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )[0]
    cv2.drawContours(shown, outline_cover, -1, (40, 200, 60), 2)
    cv2.drawContours(shown, outline_changed, -1, (230, 30, 30), 2)
    return (
        FindingImage(
            "derivation-regions",
            f"Green: where your photo '{title}' lies in this image. Red: regions that differ "
            "from it.",
            to_png(shown),
            "Your photo itself is not shown; only this image, marked.",
        ),
        FindingImage(
            "derivation-difference",
            "How much each place differs from your photo after alignment (brighter: more).",
            to_png(heat_map(diff.delta, high=max(30.0, float(diff.delta.max()) * 0.5))),
            "Small speckles come from re-compression; only marked regions are reported.",
        ),
    )
