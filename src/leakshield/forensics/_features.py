"""Local features for derivation: ORB keypoints spread over the image, at a working size.

ORB's binary descriptors are 256 bits, compared by Hamming distance: cheap to store (32
bytes a point) and to match by brute force. They survive resizing, cropping, rotation and
re-compression, but not mirroring, so a suspect image is also described mirrored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "REFERENCE_POINTS",
    "SUSPECT_POINTS",
    "WORK_SIDE",
    "Features",
    "describe",
    "working_gray",
]

# Long side at which features are taken: detail enough to match a crop of a quarter of the
# area, small enough that a 12 MP photo is described in a few tens of milliseconds.
WORK_SIDE = 1024
REFERENCE_POINTS = 320
SUSPECT_POINTS = 900
# Keypoints are kept best-first within each cell of this grid, so a region of the photo
# reused elsewhere (a face pasted into another picture) keeps points of its own.
_GRID = 6


@dataclass(frozen=True)
class Features:
    """Keypoints (x, y at the working size) and their descriptors (N x 4 uint64)."""

    points: NDArray[np.float32]
    descriptors: NDArray[np.uint64]
    width: int  # working size
    height: int

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def mirrored(self) -> Features:
        """Not the features of the mirrored image (describe that instead): the same points
        with x mirrored, for mapping matches back."""
        points = self.points.copy()
        points[:, 0] = (self.width - 1) - points[:, 0]
        return Features(points, self.descriptors, self.width, self.height)


def working_gray(rgb: NDArray[np.uint8], side: int = WORK_SIDE) -> tuple[NDArray[np.uint8], float]:
    """``rgb`` as gray, scaled down so its long side is at most ``side``; and the scale
    (working pixels per original pixel)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    height, width = gray.shape[:2]
    scale = min(1.0, side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(gray), scale


def describe(gray: NDArray[np.uint8], count: int) -> Features:
    """Up to ``count`` ORB features of ``gray``, spread over a grid of cells."""
    height, width = gray.shape[:2]
    empty = Features(np.zeros((0, 2), np.float32), np.zeros((0, 4), np.uint64), width, height)
    if min(height, width) < 32:
        return empty
    orb = cv2.ORB.create(nfeatures=count * 4, scaleFactor=1.2, nlevels=8, fastThreshold=12)
    keypoints = orb.detect(gray, None)
    keypoints = _spread(keypoints, width, height, count)
    keypoints, descriptors = orb.compute(gray, keypoints)
    if descriptors is None or not keypoints:
        return empty
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    packed = np.ascontiguousarray(descriptors, dtype=np.uint8).view(np.uint64).reshape(-1, 4)
    return Features(points, packed, width, height)


def _spread(
    keypoints: Sequence[cv2.KeyPoint], width: int, height: int, count: int
) -> list[cv2.KeyPoint]:
    """The strongest keypoints, at most an equal share per grid cell first, then the
    strongest of the rest."""
    ordered = sorted(keypoints, key=lambda k: -k.response)
    share = max(1, count // (_GRID * _GRID))
    taken: dict[tuple[int, int], int] = {}
    chosen: list[cv2.KeyPoint] = []
    rest: list[cv2.KeyPoint] = []
    for point in ordered:
        cell = (int(point.pt[0] * _GRID / width), int(point.pt[1] * _GRID / height))
        if taken.get(cell, 0) < share:
            taken[cell] = taken.get(cell, 0) + 1
            chosen.append(point)
        else:
            rest.append(point)
    chosen.extend(rest[: max(0, count - len(chosen))])
    return chosen[:count]
