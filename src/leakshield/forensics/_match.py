"""Which of the user's photos a suspect image was made from: local features matched by
brute force, then a geometric check that the matches agree on one affine transform
(a crop, resize, rotation, stretch or flip of the photo, or a part of it pasted elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from leakshield.forensics._features import (
    SUSPECT_POINTS,
    WORK_SIDE,
    Features,
    describe,
    working_gray,
)
from leakshield.forensics._kernel import nearest_two
from leakshield.forensics._references import Reference, ReferenceSet

__all__ = ["MIN_INLIERS", "SourceMatch", "Suspect", "describe_suspect", "find_sources"]

# A match: close in absolute terms, and clearly closer than the photo's next best point.
_MAX_DISTANCE = 64
_RATIO = 0.8
_PRUNE = 24  # of the first 64 bits; see the kernel
# Photos with this many matches are checked geometrically, at most _CANDIDATES of them.
_MIN_MATCHES = 8
_CANDIDATES = 8
# A source is claimed when this many matches agree on one transform within _REPROJECTION
# working pixels. Unrelated photos rarely give more than 5 by chance (see the bench).
MIN_INLIERS = 14
STRONG_INLIERS = 30
_REPROJECTION = 4.0
_PHOTOS_PER_PASS = 512  # bounds the distance tables' memory on big banks


@dataclass(frozen=True)
class Suspect:
    """The suspect image described for matching: as it is and mirrored."""

    width: int  # full size
    height: int
    scale: float  # working pixels per full pixel
    plain: Features
    mirrored: Features  # features of the mirrored image, points mapped back to the image


@dataclass(frozen=True)
class SourceMatch:
    """One of the user's photos that the suspect image was made from."""

    reference: Reference
    inliers: int
    matches: int
    flipped: bool
    transform: NDArray[np.float64]  # 2 x 3: photo's full-size pixels -> suspect's
    points: NDArray[np.float32]  # the agreeing points, in the suspect's full-size pixels

    @property
    def scale(self) -> float:
        """How much bigger the photo appears in the suspect image (geometric mean)."""
        return float(np.sqrt(abs(np.linalg.det(self.transform[:, :2]))))

    @property
    def rotation(self) -> float:
        """Rotation in degrees, anticlockwise as seen."""
        a = self.transform[:, :2] @ (np.diag([-1.0, 1.0]) if self.flipped else np.eye(2))
        return float(np.degrees(np.arctan2(-a[1, 0], a[0, 0])))

    @property
    def strong(self) -> bool:
        return self.inliers >= STRONG_INLIERS


def describe_suspect(rgb: NDArray[np.uint8]) -> Suspect:
    """Features of the suspect image, plain and mirrored."""
    gray, scale = working_gray(rgb, WORK_SIDE)
    plain = describe(gray, SUSPECT_POINTS)
    mirrored = describe(np.ascontiguousarray(gray[:, ::-1]), SUSPECT_POINTS).mirrored()
    return Suspect(rgb.shape[1], rgb.shape[0], scale, plain, mirrored)


def find_sources(suspect: Suspect, references: ReferenceSet, limit: int = 3) -> list[SourceMatch]:
    """The user's photos the suspect was made from, most agreeing points first."""
    if not len(references) or not len(suspect.plain) + len(suspect.mirrored):
        return []
    found: list[SourceMatch] = []
    for features, flipped in ((suspect.plain, False), (suspect.mirrored, True)):
        if not len(features):
            continue
        for index, pairs in _candidates(features, references):
            match = _verify(suspect, features, references.references[index], pairs, flipped)
            if match is not None:
                found.append(match)
    best: dict[str, SourceMatch] = {}
    for match in found:
        held = best.get(match.reference.sha256)
        if held is None or match.inliers > held.inliers:
            best[match.reference.sha256] = match
    return sorted(best.values(), key=lambda m: -m.inliers)[:limit]


def _candidates(
    features: Features, references: ReferenceSet
) -> list[tuple[int, NDArray[np.int64]]]:
    """Photos with enough matches, and for each its (query, stored point) pairs."""
    queries = np.ascontiguousarray(features.descriptors)
    offsets = references.offsets
    found: list[tuple[int, int, NDArray[np.int64]]] = []
    for first in range(0, len(references), _PHOTOS_PER_PASS):
        last = min(first + _PHOTOS_PER_PASS, len(references))
        part = offsets[first : last + 1]
        shape = (queries.shape[0], last - first)
        best = np.empty(shape, np.int32)
        second = np.empty(shape, np.int32)
        where = np.empty(shape, np.int64)
        nearest_two(queries, references.descriptors, part, _PRUNE, best, second, where)
        good = (best <= _MAX_DISTANCE) & (best < _RATIO * second)
        counts = good.sum(axis=0)
        for column in np.flatnonzero(counts >= _MIN_MATCHES):
            rows = np.flatnonzero(good[:, column])
            stored = where[rows, column] - offsets[first + column]
            pairs = _one_to_one(rows, stored, best[rows, column])
            found.append((len(pairs), first + int(column), pairs))
    found.sort(key=lambda item: -item[0])
    return [(index, pairs) for _, index, pairs in found[:_CANDIDATES]]


def _one_to_one(
    rows: NDArray[np.int64], stored: NDArray[np.int64], distance: NDArray[np.int32]
) -> NDArray[np.int64]:
    """(query, stored) pairs keeping, for each stored point, only its closest query: many
    queries on one point would count one agreement many times."""
    order = np.lexsort((distance, stored))
    stored_sorted = stored[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = stored_sorted[1:] != stored_sorted[:-1]
    keep = order[first]
    return np.stack([rows[keep], stored[keep]], axis=1)


def _verify(
    suspect: Suspect,
    features: Features,
    reference: Reference,
    pairs: NDArray[np.int64],
    flipped: bool,
) -> SourceMatch | None:
    if len(pairs) < _MIN_MATCHES:
        return None
    ref = reference.features
    source = ref.points[pairs[:, 1]].astype(np.float32)
    target = features.points[pairs[:, 0]].astype(np.float32)
    affine, mask = cv2.estimateAffine2D(
        source,
        target,
        method=cv2.RANSAC,
        ransacReprojThreshold=_REPROJECTION,
        maxIters=2000,
        confidence=0.995,
        refineIters=10,
    )
    if affine is None or mask is None:
        return None
    inlier = mask.ravel().astype(bool)
    count = int(inlier.sum())
    transform = np.asarray(affine, dtype=np.float64)
    if count < MIN_INLIERS or not _plausible(transform, flipped, target[inlier], features):
        return None
    # Working pixels of each image -> full-size pixels.
    ref_scale = ref.width / reference.width
    to_full = np.array([[1 / suspect.scale, 0, 0], [0, 1 / suspect.scale, 0], [0, 0, 1.0]])
    from_full = np.array([[ref_scale, 0, 0], [0, ref_scale, 0], [0, 0, 1.0]])
    full = (to_full @ np.vstack([transform, [0, 0, 1.0]]) @ from_full)[:2]
    points = target[inlier] / np.float32(suspect.scale)
    return SourceMatch(reference, count, len(pairs), flipped, full, points)


def _plausible(
    affine: NDArray[np.float64], flipped: bool, points: NDArray[np.float32], features: Features
) -> bool:
    """A transform a repost or an edit could have made: not collapsed, not wildly
    stretched, mirrored only when matched mirrored, agreeing points not all in one spot."""
    linear = affine[:, :2]
    singular = np.linalg.svd(linear, compute_uv=False)
    if singular[1] < 0.05 or singular[0] > 20 or singular[0] / singular[1] > 3.0:
        return False
    if (np.linalg.det(linear) < 0) != flipped:
        return False
    spread = points.max(axis=0) - points.min(axis=0)
    return bool(spread.min() >= 0.04 * min(features.width, features.height))
