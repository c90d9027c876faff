"""Where a suspect image differs from the photo it was made from: align the photo onto the
suspect, undo overall colour changes, and mark what still differs.

Re-compression, resizing and small misalignment must not light up, so both images are
blurred a little, each pixel of the suspect is compared with the range of the photo's
pixels around it, and only regions of some size count.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["DIFF_SIDE", "Difference", "Region", "difference"]

DIFF_SIDE = 768  # long side at which the two are compared
_MIN_DELTA = 12.0  # CIELAB distance a person sees as a clear change
_NOISE_FACTOR = 5.0  # ... or this many robust deviations of the overlap's differences
_MIN_REGION = 0.002  # of the overlap: smaller differing spots are noise


@dataclass(frozen=True)
class Region:
    """A region that differs, in the suspect's full-size pixels."""

    x: int
    y: int
    width: int
    height: int
    fraction: float  # of the suspect image's area

    def where(self, image_width: int, image_height: int) -> str:
        """Where the region is, in words ("upper left", "centre", ...)."""
        cx = (self.x + self.width / 2) / image_width
        cy = (self.y + self.height / 2) / image_height
        row = "upper" if cy < 1 / 3 else "lower" if cy > 2 / 3 else "middle"
        column = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
        if row == "middle":
            return "centre" if column == "centre" else f"middle {column}"
        return f"{row} {column}" if column != "centre" else f"{row} centre"

    def to_record(self) -> dict[str, object]:
        return {
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
            "fraction": round(self.fraction, 4),
        }


@dataclass(frozen=True)
class Difference:
    """The comparison, at the comparison size (``scale`` of the suspect's full size)."""

    overlap: NDArray[np.bool_]  # where the photo covers the suspect
    changed: NDArray[np.bool_]  # where, within that, they differ
    delta: NDArray[np.float32]  # how much (CIELAB distance after tolerance)
    scale: float
    regions: tuple[Region, ...]

    @property
    def overlap_fraction(self) -> float:
        """Share of the suspect image that the photo covers."""
        return float(self.overlap.mean())

    @property
    def changed_fraction(self) -> float:
        """Share of the covered part that differs from the photo."""
        covered = int(self.overlap.sum())
        return float(self.changed.sum() / covered) if covered else 0.0

    def changed_mask(self, width: int, height: int) -> NDArray[np.bool_]:
        """The changed mask at ``width`` x ``height`` (the suspect's full size, say)."""
        mask = self.changed.astype(np.uint8)
        resized = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
        return np.asarray(resized, dtype=bool)


def difference(
    suspect: NDArray[np.uint8],
    photo: NDArray[np.uint8],
    transform: NDArray[np.float64],
    anchors: NDArray[np.float32],
) -> Difference:
    """Compare ``suspect`` with ``photo`` placed by ``transform`` (2 x 3, the photo's
    full-size pixels to the suspect's). ``anchors`` are points of the suspect (full-size
    pixels) known to match the photo: colour, alignment and noise are judged around them,
    since most of the area may differ (a face pasted onto another picture)."""
    height, width = suspect.shape[:2]
    scale = min(1.0, DIFF_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = _u8(cv2.resize(suspect, size, interpolation=cv2.INTER_AREA)) if scale < 1 else suspect
    placed, overlap = _place(photo, transform, scale, size)
    near = _near(anchors * scale, overlap, radius=max(4, round(min(size) / 60)))
    refined = _refine(small, placed, overlap, _near(anchors * scale, overlap, min(size) // 12))
    if refined is not None:
        placed, overlap = refined
        near &= overlap
    delta = _delta(small, placed, overlap, near)
    threshold = max(_MIN_DELTA, _NOISE_FACTOR * _robust_spread(delta[near]))
    changed = _clean((delta > threshold) & overlap, overlap)
    regions = _regions(changed, scale, width * height)
    return Difference(overlap, changed, delta, scale, regions)


def _place(
    photo: NDArray[np.uint8], transform: NDArray[np.float64], scale: float, size: tuple[int, int]
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    matrix = np.vstack([transform * scale, [0.0, 0.0, 1.0]])
    # Shrink the photo first, so the warp samples it without aliasing.
    shrink = min(1.0, float(np.sqrt(abs(np.linalg.det(matrix[:2, :2])))))
    if shrink < 0.9:
        h, w = photo.shape[:2]
        shrunk = (max(1, round(w * shrink)), max(1, round(h * shrink)))
        photo = _u8(cv2.resize(photo, shrunk, interpolation=cv2.INTER_AREA))
        matrix = matrix @ np.diag([1 / shrink, 1 / shrink, 1.0])
    placed = _u8(cv2.warpAffine(photo, matrix[:2], size, flags=cv2.INTER_LINEAR))
    ones = np.full(photo.shape[:2], 255, np.uint8)
    cover = cv2.warpAffine(ones, matrix[:2], size, flags=cv2.INTER_NEAREST)
    # Away from the edge, where interpolation mixes in the border.
    cover = cv2.erode(cover, np.ones((5, 5), np.uint8))
    return placed, cover > 0


def _near(
    points: NDArray[np.float32], overlap: NDArray[np.bool_], radius: int
) -> NDArray[np.bool_]:
    """The overlap within ``radius`` of the matching points (all of it when too few)."""
    mask = np.zeros(overlap.shape, np.uint8)
    for x, y in np.round(points).astype(int):
        cv2.circle(mask, (int(x), int(y)), radius, 1, thickness=-1)
    near = mask.astype(bool) & overlap
    return near if near.sum() >= 200 else overlap.copy()


def _refine(
    small: NDArray[np.uint8],
    placed: NDArray[np.uint8],
    overlap: NDArray[np.bool_],
    near: NDArray[np.bool_],
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]] | None:
    """Polish the alignment to a fraction of a pixel (ECC) where the two match: keypoint
    positions alone leave a pixel or so, which would light up every edge."""
    if near.sum() < 1000:
        return None
    target = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    moving = cv2.cvtColor(placed, cv2.COLOR_RGB2GRAY).astype(np.float32)
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4)
    try:
        _, found = cv2.findTransformECC(
            target, moving, warp, cv2.MOTION_AFFINE, criteria, near.astype(np.uint8), 3
        )
        warp = np.asarray(found, dtype=np.float32)
    except cv2.error:
        return None
    if np.abs(warp[:, 2]).max() > 4 or np.abs(warp[:, :2] - np.eye(2)).max() > 0.02:
        return None  # ECC wandered off: keep the keypoint alignment
    size = (small.shape[1], small.shape[0])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    moved = _u8(cv2.warpAffine(placed, warp, size, flags=flags))
    cover = cv2.warpAffine(
        overlap.astype(np.uint8), warp, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    return moved, cover > 0


def _delta(
    small: NDArray[np.uint8],
    placed: NDArray[np.uint8],
    overlap: NDArray[np.bool_],
    near: NDArray[np.bool_],
) -> NDArray[np.float32]:
    suspect_lab = _lab(small)
    photo_lab = _lab(placed)
    photo_lab = _match_colours(photo_lab, suspect_lab, near)
    # Each pixel against the range of the other image's pixels around it, both ways: half a
    # pixel of misalignment or a resampled edge is then no difference, while a flat patch
    # over texture still is (the texture falls outside the flat patch's range).
    total = np.zeros(small.shape[:2], np.float32)
    for channel in range(3):
        one_way = _outside(suspect_lab[..., channel], photo_lab[..., channel])
        other_way = _outside(photo_lab[..., channel], suspect_lab[..., channel])
        outside = np.maximum(one_way, other_way)
        total += outside * outside
    delta = np.sqrt(total).astype(np.float32)
    delta[~overlap] = 0
    return delta


def _outside(values: NDArray[np.float32], around: NDArray[np.float32]) -> NDArray[np.float32]:
    """How far each of ``values`` lies outside the 3 x 3 range of ``around`` at its place."""
    kernel = np.ones((3, 3), np.uint8)
    above = values - np.asarray(cv2.dilate(around, kernel), dtype=np.float32)
    below = np.asarray(cv2.erode(around, kernel), dtype=np.float32) - values
    return np.asarray(np.maximum(np.maximum(above, below), 0), dtype=np.float32)


def _lab(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    blurred = cv2.GaussianBlur(rgb.astype(np.float32) / 255.0, (0, 0), 1.2)
    return np.asarray(cv2.cvtColor(blurred, cv2.COLOR_RGB2Lab), dtype=np.float32)


def _match_colours(
    photo: NDArray[np.float32], suspect: NDArray[np.float32], overlap: NDArray[np.bool_]
) -> NDArray[np.float32]:
    """The photo with a gain and offset per channel fitted to the suspect (a brightness,
    contrast or colour filter is not a change of content), robust to changed regions."""
    fitted = photo.copy()
    if overlap.sum() < 100:
        return fitted
    for channel in range(3):
        x = photo[..., channel][overlap].astype(np.float64)
        y = suspect[..., channel][overlap].astype(np.float64)
        keep = np.ones(len(x), dtype=bool)
        gain, offset = 1.0, 0.0
        for _ in range(3):
            if keep.sum() < 50 or np.ptp(x[keep]) < 1e-3:
                break
            gain, offset = np.polyfit(x[keep], y[keep], 1)
            residual = np.abs(y - (gain * x + offset))
            keep = residual <= max(2.5 * np.median(residual[keep]) * 1.4826, 1.0)
        if not 0.25 <= gain <= 4.0:
            gain, offset = 1.0, float(np.median(y - x))
        fitted[..., channel] = photo[..., channel] * gain + offset
    return fitted


def _robust_spread(values: NDArray[np.float32]) -> float:
    if values.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _clean(changed: NDArray[np.bool_], overlap: NDArray[np.bool_]) -> NDArray[np.bool_]:
    mask = changed.astype(np.uint8)
    mask = _u8(cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    mask = _u8(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, disc))
    mask = _fill_holes(mask, 0.01 * max(1, int(overlap.sum())))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    floor = _MIN_REGION * max(1, int(overlap.sum()))
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= floor
    return np.asarray(keep[labels] & overlap, dtype=bool)


def _u8(array: object) -> NDArray[np.uint8]:
    """An OpenCV result as the uint8 array it is (its stubs say less)."""
    return np.asarray(array, dtype=np.uint8)


def _fill_holes(mask: NDArray[np.uint8], largest: float) -> NDArray[np.uint8]:
    """Fill holes smaller than ``largest`` pixels (speckles of a changed region that happen
    to match); a big hole is a part that matches, such as a face pasted into a new scene."""
    inverse = (1 - mask).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inverse, connectivity=4)
    height, width = mask.shape
    filled = mask.copy()
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        touches = x == 0 or y == 0 or x + w == width or y + h == height
        if area < largest and not touches:
            filled[labels == label] = 1
    return filled


def _regions(changed: NDArray[np.bool_], scale: float, full_area: int) -> tuple[Region, ...]:
    count, _, stats, _ = cv2.connectedComponentsWithStats(changed.astype(np.uint8), connectivity=8)
    regions = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        regions.append(
            Region(
                round(x / scale),
                round(y / scale),
                round(w / scale),
                round(h / scale),
                area / (scale * scale) / full_area,
            )
        )
    return tuple(sorted(regions, key=lambda r: -r.fraction))
