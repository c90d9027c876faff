"""Finding the tile in a copy: its size and angle, then where it starts.

The mark is one tile repeated, so a copy's autocorrelation has peaks on a square lattice
whatever was done to it: resizing scales the lattice, rotation turns it, cropping leaves it
as it was. The lattice gives the tile's size and angle; the copy is resampled to the tile's
own grid and folded (every tile summed into one), and the keyed pilot's correlation with the
folded tile gives where the tile starts.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from leakshield.watermark._pattern import TILE, Layout

__all__ = [
    "CANON_CELL",
    "PREVIEW",
    "as_float32",
    "fold",
    "lattice_candidates",
    "pilot_correlation",
    "polish",
    "shifts",
    "whiten",
]

PERIOD_RANGE = (36.0, 240.0)  # tile periods searched, in detection pixels
SHIFT_CANDIDATES = 2
REFINE_CANDIDATES = 6
CANON_CELL = 3  # detection resamples the copy so that a cell is this many pixels
PREVIEW = 4 * CANON_CELL * TILE  # canonical pixels a side of the quick look: 4 x 4 tiles
DETAIL_SIGMA = 2.0  # detail = image minus its blur at this scale (canonical pixels)
NORM_SIGMA = 3.0  # and divided by its local strength at this scale


def as_float32(array: Any) -> NDArray[np.float32]:
    """OpenCV's results as float32 arrays (its stubs type them loosely)."""
    return np.asarray(array, dtype=np.float32)


def whiten(luma: NDArray[np.float32], block: float) -> NDArray[np.float32]:
    """The image's detail, its border faded, and JPEG's ``block``-pixel grid notched out."""
    height, width = luma.shape
    spectrum = np.fft.rfft2(_detail(luma) * _taper(height, width))
    # JPEG's block grid puts lines at multiples of 1/block cycles per pixel.
    rows = np.rint(np.arange(0, height, height / block)).astype(int)
    cols = np.rint(np.arange(0, width // 2 + 1, width / block)).astype(int)
    near = np.array([-1, 0, 1])
    for row in rows:
        for dr in near:
            spectrum[(row + dr) % height, np.clip(cols[:, None] + near, 0, width // 2)] = 0
    return np.fft.irfft2(spectrum, s=luma.shape).astype(np.float32)


def _taper(height: int, width: int) -> NDArray[np.float32]:
    """A window that fades the image's border, so the FFT does not see its edges as a cross."""

    def ramp(n: int) -> NDArray[np.float32]:
        edge = max(1, n // 16)
        window = np.ones(n, dtype=np.float32)
        fade = 0.5 - 0.5 * np.cos(np.pi * (np.arange(edge) + 0.5) / edge)
        window[:edge] = fade
        window[n - edge :] = fade[::-1]
        return window

    return np.outer(ramp(height), ramp(width))


def _prominence(acf: NDArray[np.float32]) -> NDArray[np.float32]:
    """How much each point of the autocorrelation stands above its surroundings along both
    axes: a lattice peak does, a ridge along a row or a column (edges, borders) does not."""
    along_x = np.zeros_like(acf)
    along_y = np.zeros_like(acf)
    offsets = (4, 5, 6, 7)
    for o in offsets:
        along_x += np.roll(acf, o, axis=1) + np.roll(acf, -o, axis=1)
        along_y += np.roll(acf, o, axis=0) + np.roll(acf, -o, axis=0)
    background = np.maximum(along_x, along_y) / (2 * len(offsets))
    return as_float32(acf - background)


def _detail(luma: NDArray[np.float32]) -> NDArray[np.float32]:
    """Detail at the canonical cell's scale, each region scaled to unit strength."""
    detail = luma - cv2.GaussianBlur(luma, (0, 0), DETAIL_SIGMA)
    energy = cv2.GaussianBlur(detail * detail, (0, 0), NORM_SIGMA)
    return detail / np.sqrt(energy + 1.0)  # type: ignore[no-any-return]


def lattice_candidates(white: NDArray[np.float32]) -> list[NDArray[np.float64]]:
    """Tile vectors the autocorrelation suggests, best first (x-ish vector, in pixels)."""
    height, width = white.shape
    spectrum = np.fft.rfft2(white)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    acf = np.fft.irfft2(power, s=white.shape).astype(np.float32)
    acf /= acf[0, 0] + 1e-12
    acf = _prominence(np.fft.fftshift(acf))
    cy, cx = height // 2, width // 2
    low, high = PERIOD_RANGE
    high = min(high, min(height, width) / 2.0)
    ys, xs = np.mgrid[-cy : height - cy, -cx : width - cx]
    radius = np.hypot(xs, ys)
    region = (radius >= low) & (radius <= high) & (xs > 0) & (np.abs(ys) <= xs)
    # A lattice has peaks at every multiple of its vectors, and its two vectors are a
    # quarter turn apart: summing the autocorrelation over both finds weak lattices.
    comb = _comb(acf, cx, cy, high)
    dilated = cv2.dilate(comb, np.ones((5, 5), np.uint8))
    peaks = region & (comb >= dilated)
    py, px = np.nonzero(peaks)
    if len(py) == 0:
        return []
    order = np.argsort(comb[py, px])[::-1][:40]
    vectors = np.stack([px[order] - cx, py[order] - cy], axis=1).astype(np.float64)
    scores = _lattice_scores(acf, vectors, cx, cy)
    best = vectors[np.argsort(scores)[::-1][:REFINE_CANDIDATES]]
    refined = [_refine(acf, v, cx, cy) for v in best]
    final = _lattice_scores(acf, np.array(refined), cx, cy)
    return [refined[i] for i in np.argsort(final)[::-1]]


def _lattice_scores(
    acf: NDArray[np.float32], vectors: NDArray[np.float64], cx: int, cy: int
) -> NDArray[np.float64]:
    """For each candidate tile vector, the autocorrelation summed over every point of its
    lattice that fits in the image (more points, more evidence)."""
    reach = 0.8 * min(cx, cy)
    scores = np.empty(len(vectors))
    for i, v1 in enumerate(vectors):
        k = int(np.clip(reach // max(float(np.hypot(*v1)), 1.0), 2, 12))
        scores[i] = float(_points_sum(acf, v1[None, :], k, cx, cy)[0])
    return scores


@lru_cache(maxsize=16)
def _lattice_points(k: int) -> NDArray[np.float64]:
    return np.array(
        [(a, b) for a in range(-k, k + 1) for b in range(-k, k + 1) if (a, b) != (0, 0)],
        dtype=np.float64,
    )


def _points_sum(
    acf: NDArray[np.float32], vectors: NDArray[np.float64], k: int, cx: int, cy: int
) -> NDArray[np.float64]:
    lattice = _lattice_points(k)
    v1 = vectors[:, None, :]
    v2 = np.stack([-vectors[:, 1], vectors[:, 0]], axis=1)[:, None, :]
    points = lattice[None, :, :1] * v1 + lattice[None, :, 1:] * v2
    values = _sample(acf, points[..., 0] + cx, points[..., 1] + cy)
    return values.sum(axis=1)  # type: ignore[no-any-return]


def _sample(
    image: NDArray[np.float32], x: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.float64]:
    height, width = image.shape
    inside = (x >= 0) & (x <= width - 2) & (y >= 0) & (y <= height - 2)
    x = np.clip(x, 0, width - 2)
    y = np.clip(y, 0, height - 2)
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    value = (
        image[y0, x0] * (1 - fx) * (1 - fy)
        + image[y0, x0 + 1] * fx * (1 - fy)
        + image[y0 + 1, x0] * (1 - fx) * fy
        + image[y0 + 1, x0 + 1] * fx * fy
    )
    return np.where(inside, value, 0.0)


def _comb(acf: NDArray[np.float32], cx: int, cy: int, high: float) -> NDArray[np.float32]:
    """At each lag v: the autocorrelation at v, 2v, 3v... plus the same a quarter turn on."""
    reach = 0.8 * min(cx, cy)
    comb = acf.copy()
    for k in range(2, max(2, int(reach // PERIOD_RANGE[0])) + 1):
        zoom = np.array([[k, 0, cx - k * cx], [0, k, cy - k * cy]], dtype=np.float64)
        comb += cv2.warpAffine(
            acf, zoom, acf.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        )
    turn = np.array([[0, -1, cx + cy], [1, 0, cy - cx]], dtype=np.float64)
    comb += cv2.warpAffine(
        comb, turn, acf.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    return comb


_OFFSETS = np.array([(a, b) for a in (-2, -1, 0, 1, 2) for b in (-2, -1, 0, 1, 2)], dtype=float)


def _refine(
    acf: NDArray[np.float32], v1: NDArray[np.float64], cx: int, cy: int
) -> NDArray[np.float64]:
    """Sub-pixel tile vector: the lattice score's maximum near ``v1``."""
    reach = 0.8 * min(cx, cy)
    k = int(np.clip(reach // max(float(np.hypot(*v1)), 1.0), 2, 12))
    best = v1
    for step in (0.5, 0.25, 0.1, 0.05):
        trials = best + _OFFSETS * step
        best = trials[int(np.argmax(_points_sum(acf, trials, k, cx, cy)))]
    return best


def fold(
    luma: NDArray[np.float32], v1: NDArray[np.float64], window: int | None = None
) -> NDArray[np.float32]:
    """The image resampled so each cell is ``CANON_CELL`` pixels, its detail summed over tiles.

    With ``window``, only a ``window``-pixel square (canonical pixels) about the image's
    centre is used: a quick look to rank candidate tile vectors.
    """
    period = TILE * CANON_CELL
    v2 = np.array([-v1[1], v1[0]])
    # canonical (u, v) -> image (x, y) = (u * v1 + v * v2) / period
    forward = np.array([[v1[0], v2[0]], [v1[1], v2[1]]]) / period
    inverse = np.linalg.inv(forward)
    height, width = luma.shape
    if window is None:
        corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=float)
        canon = corners @ inverse.T
        low = np.floor(canon.min(axis=0))
        size = (np.ceil(canon.max(axis=0) - low).astype(int) // period + 1) * period
    else:
        size = np.array([window, window])
        low = np.floor(inverse @ np.array([width / 2, height / 2]) - window / 2)
    # Only the part of the image the canonical window maps from is resampled.
    box = np.array([[0, 0], [size[0], 0], [0, size[1]], [size[0], size[1]]], dtype=float) + low
    mapped = box @ forward.T
    x0, y0 = np.maximum(np.floor(mapped.min(axis=0)).astype(int) - 4, 0)
    x1 = min(width, int(np.ceil(mapped[:, 0].max())) + 4)
    y1 = min(height, int(np.ceil(mapped[:, 1].max())) + 4)
    part = luma[y0:y1, x0:x1]
    shrink = float(np.hypot(*v1)) / period  # image pixels per canonical pixel
    if shrink > 1.2:
        part = as_float32(cv2.GaussianBlur(part, (0, 0), 0.5 * shrink))
    offset = forward @ low - np.array([x0, y0])
    matrix = np.hstack([forward, offset[:, None]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    dsize = (int(size[0]), int(size[1]))
    canvas = cv2.warpAffine(part, matrix, dsize, flags=flags, borderMode=cv2.BORDER_REFLECT)
    ones = np.full(part.shape, 255, dtype=np.uint8)
    valid = cv2.warpAffine(ones, matrix, dsize, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    valid = cv2.erode(valid, np.ones((5, 5), np.uint8)).astype(np.float32) / 255.0
    detail = _detail(as_float32(canvas)) * valid
    rows, cols = canvas.shape[0] // period, canvas.shape[1] // period
    sums = detail.reshape(rows, period, cols, period).sum(axis=(0, 2))
    counts = valid.reshape(rows, period, cols, period).sum(axis=(0, 2))
    return as_float32(sums / np.maximum(counts, 1.0))


def polish(
    luma: NDArray[np.float32], v1: NDArray[np.float64], tiles: Layout
) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
    """The tile vector adjusted in size and angle to sharpen the pilot's peak over the whole
    image (a 0.5% error in size already blurs the far tiles), and the image folded with it."""

    def turned(v: NDArray[np.float64], scale: float, degrees: float) -> NDArray[np.float64]:
        c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        return scale * np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])

    def peak(v: NDArray[np.float64]) -> tuple[float, NDArray[np.float32]]:
        folded = fold(luma, v)
        return float(pilot_correlation(folded, tiles).max()), folded

    best_z, best_fold = peak(v1)
    for step_scale, step_angle in ((0.003, 0.25), (0.001, 0.08)):
        for axis in ("scale", "angle"):
            step = step_scale if axis == "scale" else step_angle
            trials = []
            for sign in (-1.0, 1.0):
                v = (
                    turned(v1, 1 + sign * step, 0.0)
                    if axis == "scale"
                    else turned(v1, 1.0, sign * step)
                )
                trials.append((v, *peak(v)))
            (_, z_lo, _), (_, z_hi, _) = trials
            curve = z_lo - 2 * best_z + z_hi
            if curve < 0:  # a peak between the trials: move to the parabola's top
                offset = float(np.clip(0.5 * (z_lo - z_hi) / curve, -1.0, 1.0)) * step
                v = turned(v1, 1 + offset, 0.0) if axis == "scale" else turned(v1, 1.0, offset)
                z, folded = peak(v)
                if z > best_z:
                    v1, best_z, best_fold = v, z, folded
            else:
                for v, z, folded in trials:
                    if z > best_z:
                        v1, best_z, best_fold = v, z, folded
    return v1, best_fold


def _template(tiles: Layout) -> NDArray[np.float32]:
    k = CANON_CELL
    pilot = np.pad(tiles.pilot_tile(), 1, mode="wrap")
    big = cv2.resize(
        pilot, (pilot.shape[1] * k, pilot.shape[0] * k), interpolation=cv2.INTER_LINEAR
    )
    return as_float32(big[k : k + TILE * k, k : k + TILE * k])


def pilot_correlation(folded: NDArray[np.float32], tiles: Layout) -> NDArray[np.float64]:
    """The pilot's correlation with the folded tile at every cyclic shift, as z-scores."""
    template = _template(tiles)
    corr = np.fft.irfft2(np.fft.rfft2(folded) * np.conj(np.fft.rfft2(template)), s=folded.shape)
    return (corr - corr.mean()) / (corr.std() + 1e-12)  # type: ignore[no-any-return]


def shifts(folded: NDArray[np.float32], tiles: Layout) -> list[tuple[int, int]]:
    """Where the tile starts in the folded image, best first."""
    corr = pilot_correlation(folded, tiles)
    height, width = corr.shape
    picks: list[tuple[int, int]] = []
    for index in np.argsort(corr.reshape(-1))[::-1][: 8 * SHIFT_CANDIDATES]:
        y, x = divmod(int(index), width)
        apart = all(
            min(abs(y - py), height - abs(y - py)) > 2 or min(abs(x - px), width - abs(x - px)) > 2
            for py, px in picks
        )
        if apart:
            picks.append((y, x))
        if len(picks) >= SHIFT_CANDIDATES:
            break
    return picks
