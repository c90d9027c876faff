"""The EXIF preview (IFD1 thumbnail) against the image: cropped, rotated, changed, or not.

A camera or editor writes a small preview of the picture into EXIF when it saves the file.
Editors that change the picture but copy the metadata keep the old preview. Both are
stored unrotated, so we compare the preview with the image as stored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from enum import StrEnum

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from leakshield.forensics._images import to_png
from leakshield.media import MediaError, image_decoding

__all__ = ["Outcome", "PreviewComparison", "compare_preview", "read_preview"]

MAX_PREVIEW_SIDE = 1024  # EXIF previews are ~160 x 120; anything bigger is not one
ASPECT_TOLERANCE = 0.03  # |log ratio|: rounding a 160 x 107 preview is ~0.01
# A cell differs when its mean difference (0-255, after a slight blur) is above both
# CELL_FLOOR and CELL_SPREAD times the median cell: re-compression and resizing alone
# stayed under ~6 on matching previews in our tests; a pasted patch gives 30 and more.
CELL_FLOOR = 16.0
CELL_SPREAD = 3.0
WHOLE_IMAGE = 0.5  # this share of cells differing means the picture itself differs
# A crop is recognised when the image, scaled down, is found in the preview with this
# correlation (blurred gray); a crop keeps at least MIN_KEPT of each side.
CROP_MATCH = 0.9
CROP_MARGIN = 0.05
FLAT = 2.0  # gray-level spread below which a picture has nothing to correlate
MIN_KEPT = 0.4
PICTURE_HEIGHT = 240


class Outcome(StrEnum):
    """What the comparison found."""

    MATCHES = "matches"
    DIFFERS = "differs"  # some places differ
    REPLACED = "replaced"  # most of the picture differs
    CROPPED = "cropped"  # the proportions differ
    ROTATED = "rotated"  # the preview is the image turned by 90 degrees, otherwise the same


@dataclass(frozen=True)
class PreviewComparison:
    """The outcome with its measurements (sizes as width x height)."""

    outcome: Outcome
    preview_size: tuple[int, int]
    image_size: tuple[int, int]
    aspect_difference: float  # |log(preview ratio / image ratio)|
    median_difference: float | None = None
    cells: int = 0
    differing: tuple[tuple[int, int, int, int], ...] = ()  # cells: x, y, w, h in preview pixels
    regions: tuple[tuple[int, int, int, int], ...] = ()  # touching cells merged
    kept: tuple[int, int, int, int] | None = None  # the part of the preview still in the image
    kept_match: float | None = None
    picture: bytes | None = field(default=None, repr=False)


def read_preview(data: bytes) -> NDArray[np.uint8]:
    """Decode EXIF preview bytes to RGB; raises `MediaError` if they are not a small JPEG."""
    with image_decoding():
        preview = Image.open(io.BytesIO(data))
        if preview.format != "JPEG" or max(preview.size) > MAX_PREVIEW_SIDE:
            raise MediaError("corrupt", "the EXIF preview is not a small JPEG")
        return np.asarray(preview.convert("RGB"), dtype=np.uint8)


def compare_preview(
    preview: NDArray[np.uint8], image: Image.Image, *, picture: bool
) -> PreviewComparison:
    """Compare ``preview`` with ``image`` (as stored), scaled to the preview's size."""
    preview = _without_bars(preview, image.size)
    height, width = preview.shape[:2]
    sizes = ((width, height), image.size)
    aspect = round(_aspect_difference(width / height, image.size[0] / image.size[1]), 4)
    if aspect <= ASPECT_TOLERANCE:
        found = _compare_content(preview, _scaled(image, (width, height)), sizes, aspect, picture)
        if found.outcome is Outcome.MATCHES:
            return found
        return _cropped(preview, image, sizes, aspect, picture) or found
    if _aspect_difference(width / height, image.size[1] / image.size[0]) <= ASPECT_TOLERANCE:
        current = _scaled(image, (height, width))
        for turned in (np.rot90(current, 1), np.rot90(current, -1)):
            found = _compare_content(preview, np.ascontiguousarray(turned), sizes, aspect, False)
            if found.outcome is Outcome.MATCHES:
                return replace(found, outcome=Outcome.ROTATED)
    cropped = _cropped(preview, image, sizes, aspect, picture)
    if cropped is not None:
        return cropped
    shown = _side_by_side(preview, _scaled_to_height(image, height), ()) if picture else None
    return PreviewComparison(Outcome.CROPPED, *sizes, aspect, picture=shown)


def _cropped(
    preview: NDArray[np.uint8],
    image: Image.Image,
    sizes: tuple[tuple[int, int], tuple[int, int]],
    aspect: float,
    picture: bool,
) -> PreviewComparison | None:
    """The image found inside the preview at a smaller scale (it was cropped), or None."""
    height, width = preview.shape[:2]
    fit = min(width / image.size[0], height / image.size[1])
    # One downscale of the image, then cheap resizes of that for each trial scale.
    base = _gray(_scaled(image, _size(image.size, 2 * fit)))
    target = _gray(preview)
    if float(target.std()) < FLAT or float(base.std()) < FLAT:
        return None  # correlation means nothing on a flat picture
    whole, best = -1.0, (-1.0, 0.0, (0, 0, 0, 0))
    coarse = fit * np.geomspace(1.0, MIN_KEPT, 16)
    for scales in (coarse, None):
        if scales is None:  # then finer steps around the best coarse scale
            scales = best[1] * np.geomspace(0.97, 1.03, 9)
        for scale in scales:
            size = _size(image.size, min(float(scale), fit))
            if min(size) < 16:
                break
            template = cv2.resize(base, size, interpolation=cv2.INTER_AREA)
            if float(template.std()) < FLAT:
                continue
            scores = cv2.matchTemplate(target, template, cv2.TM_CCOEFF_NORMED)
            _, score, _, (x, y) = cv2.minMaxLoc(scores)
            if abs(size[0] - width) <= 1 and abs(size[1] - height) <= 1:
                whole = float(score)  # the whole preview: the no-crop alignment
            elif score > best[0]:
                best = (float(score), float(scale), (int(x), int(y), *size))
    score, _, kept = best
    # A smooth picture correlates well at many scales: a crop must match clearly better
    # than the image laid over the whole preview.
    if score < CROP_MATCH or score < whole + CROP_MARGIN:
        return None
    shown = None
    if picture:
        shown = _side_by_side(preview, _scaled_to_height(image, height), (kept,), on_image=False)
    return PreviewComparison(
        Outcome.CROPPED, *sizes, aspect, kept=kept, kept_match=round(score, 3), picture=shown
    )


def _size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _gray(pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.asarray(cv2.GaussianBlur(gray, (0, 0), 1.0), dtype=np.float32)


def _aspect_difference(first: float, second: float) -> float:
    return abs(float(np.log(first / second)))


def _without_bars(preview: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """Drop the black bars some cameras put around a preview of another shape (a 3:2 photo
    in a 160 x 120 preview), when that brings the preview's shape closer to the image's."""
    dark = preview.max(axis=2) < 24
    rows, cols = dark.all(axis=1), dark.all(axis=0)
    top = int(np.argmin(rows)) if not rows.all() else 0
    bottom = len(rows) - int(np.argmin(rows[::-1])) if not rows.all() else len(rows)
    left = int(np.argmin(cols)) if not cols.all() else 0
    right = len(cols) - int(np.argmin(cols[::-1])) if not cols.all() else len(cols)
    trimmed = preview[top:bottom, left:right]
    if trimmed.shape[0] < preview.shape[0] // 2 or trimmed.shape[1] < preview.shape[1] // 2:
        return preview
    ratio = size[0] / size[1]
    before = _aspect_difference(preview.shape[1] / preview.shape[0], ratio)
    after = _aspect_difference(trimmed.shape[1] / trimmed.shape[0], ratio)
    return np.ascontiguousarray(trimmed) if after < before else preview


def _scaled(image: Image.Image, size: tuple[int, int]) -> NDArray[np.uint8]:
    source = image if image.mode in ("RGB", "L") else image.convert("RGB")
    # reducing_gap shrinks by whole factors in C first: a 12 MP image takes milliseconds.
    small = source.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
    return np.asarray(small.convert("RGB"), dtype=np.uint8)


def _scaled_to_height(image: Image.Image, height: int) -> NDArray[np.uint8]:
    width = max(1, round(image.size[0] * height / image.size[1]))
    return _scaled(image, (width, height))


def _compare_content(
    preview: NDArray[np.uint8],
    current: NDArray[np.uint8],
    sizes: tuple[tuple[int, int], tuple[int, int]],
    aspect: float,
    picture: bool,
) -> PreviewComparison:
    # A slight blur on both: resampling filters and JPEG noise differ pixel by pixel.
    first = cv2.GaussianBlur(preview.astype(np.float32), (0, 0), 1.0)
    second = cv2.GaussianBlur(current.astype(np.float32), (0, 0), 1.0)
    difference = np.abs(first - second).mean(axis=2)
    height, width = difference.shape
    side = max(6, min(height, width) // 10)
    rows, cols = max(1, height // side), max(1, width // side)
    cell_h, cell_w = height // rows, width // cols
    cells = difference[: rows * cell_h, : cols * cell_w].reshape(rows, cell_h, cols, cell_w)
    means = cells.mean(axis=(1, 3))
    median = float(np.median(means))
    limit = max(CELL_FLOOR, CELL_SPREAD * median)
    rows_hit, cols_hit = np.nonzero(means > limit)
    marked = [
        (c * cell_w, r * cell_h, cell_w, cell_h) for r, c in zip(rows_hit, cols_hit, strict=True)
    ]
    if not marked and median <= CELL_FLOOR:
        outcome = Outcome.MATCHES
    elif median > CELL_FLOOR or len(marked) >= WHOLE_IMAGE * means.size:
        outcome = Outcome.REPLACED
    else:
        outcome = Outcome.DIFFERS
    regions = _regions(means > limit, cell_w, cell_h)
    shown = None
    if picture and outcome is not Outcome.MATCHES:
        shown = _side_by_side(preview, current, regions)
    return PreviewComparison(
        outcome,
        *sizes,
        aspect,
        median_difference=round(median, 2),
        cells=int(means.size),
        differing=tuple((int(x), int(y), int(w), int(h)) for x, y, w, h in marked),
        regions=regions,
        picture=shown,
    )


def _regions(
    mask: NDArray[np.bool_], cell_w: int, cell_h: int
) -> tuple[tuple[int, int, int, int], ...]:
    """Touching differing cells merged into one box each (x, y, w, h in preview pixels)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return tuple(
        (int(x) * cell_w, int(y) * cell_h, int(w) * cell_w, int(h) * cell_h)
        for x, y, w, h, _ in stats[1:count]
    )


def _side_by_side(
    preview: NDArray[np.uint8],
    current: NDArray[np.uint8],
    marked: tuple[tuple[int, int, int, int], ...],
    *,
    on_image: bool = True,
) -> bytes:
    """The preview (left) and the image now (right) at a readable size, the places that
    differ outlined in red on both."""
    scale = PICTURE_HEIGHT / preview.shape[0]
    panels = []
    for pixels, outlined in ((preview, marked), (current, marked if on_image else ())):
        size = (max(1, round(pixels.shape[1] * scale)), PICTURE_HEIGHT)
        panel = cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)
        for x, y, w, h in outlined:
            corner = (round(x * scale), round(y * scale))
            far = (round((x + w) * scale) - 1, round((y + h) * scale) - 1)
            cv2.rectangle(panel, corner, far, (255, 0, 0), 2)
        panels.append(panel)
    gap = np.full((PICTURE_HEIGHT, 12, 3), 255, dtype=np.uint8)
    return to_png(np.concatenate([panels[0], gap, panels[1]], axis=1))
