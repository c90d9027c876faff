"""Embedding and detection."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from leakshield.watermark._ecc import decode_payload, encode_payload
from leakshield.watermark._key import WatermarkKey
from leakshield.watermark._model import (
    PAYLOAD_BITS,
    PAYLOAD_BYTES,
    Detection,
    ImageTooSmallError,
    WatermarkError,
)
from leakshield.watermark._pattern import TILE, Layout, layout

__all__ = ["MIN_SHORT_SIDE", "detect", "embed"]

MIN_SHORT_SIDE = 512
ImageT = TypeVar("ImageT", Image.Image, NDArray[np.uint8])

# ---- parameters ---------------------------------------------------------------------------
CELL_MIN = 3.0  # smallest cell, in pixels of the marked image
CELLS_SHORT = 200.0  # cells across the short side, for images large enough
TARGET_PSNR = 42.6  # dB, before rounding to 8 bits
DELTA_MAX = 10.0  # no pixel changes by more than this
FLAT_LIMIT = 1.5  # in flat regions no pixel changes by more than about this
MASK_RANGE = (0.5, 2.0)  # local strength relative to the image median, flat to busy
DETECT_SHORT = 640  # detection works at most at this short side (cells of about 3 pixels)
PERIOD_RANGE = (36.0, 240.0)  # tile periods searched, in detection pixels
MAX_ATTEMPTS = 16  # decoding attempts per image; the false-positive bound counts them
LATTICE_CANDIDATES = 6
DECODE_CANDIDATES = 3
SHIFT_CANDIDATES = 2
REFINE_CANDIDATES = 6
CANON_CELL = 3  # detection resamples the copy so that a cell is this many pixels
PREVIEW = 4 * CANON_CELL * TILE  # canonical pixels a side of the quick look: 4 x 4 tiles
# A candidate is decoded only if the quick look's pilot peak reaches this z-score. Noise
# alone reaches it in a few percent of looks; this is for speed, the check decides.
PREVIEW_GATE = 4.3
DETAIL_SIGMA = 2.0  # detail = image minus its blur at this scale (canonical pixels)
NORM_SIGMA = 3.0  # and divided by its local strength at this scale


# ---- image plumbing -----------------------------------------------------------------------


def _rgb_of(image: Image.Image | NDArray[np.uint8]) -> NDArray[np.uint8]:
    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image, dtype=np.uint8)
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise WatermarkError("images are 8-bit: give a uint8 array")
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise WatermarkError("give an RGB (H, W, 3) or grayscale (H, W) uint8 array")
    return array[:, :, :3]


def _luma(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """BT.601 luma as float32."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return cv2.transform(rgb.astype(np.float32), weights[None, :])  # type: ignore[no-any-return]


def _cell_size(height: int, width: int) -> float:
    return max(CELL_MIN, min(height, width) / CELLS_SHORT)


def _render(tile: NDArray[np.float32], height: int, width: int, cell: float) -> NDArray[np.float32]:
    """The tile repeated over a ``height`` x ``width`` grid whose cells are ``cell`` pixels,
    smoothly interpolated."""
    rows = math.ceil(height / cell) + 1
    cols = math.ceil(width / cell) + 1
    grid = np.tile(tile, (math.ceil(rows / TILE), math.ceil(cols / TILE)))[:rows, :cols]
    out_w, out_h = round(cols * cell), round(rows * cell)
    pattern = cv2.resize(grid, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    return pattern[:height, :width]  # type: ignore[no-any-return]


def _envelope(luma: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """How much change each region hides, from ``luma`` at about two pixels per cell: the
    local activity relative to the image's median (the mask), and the absolute cap in
    levels (flat regions get at most ``FLAT_LIMIT``, busier ones more)."""
    detail = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
    activity = np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), 3.0))
    median = float(np.median(activity)) + 1e-3
    mask = np.clip(activity / median, *MASK_RANGE).astype(np.float32)
    cap = np.minimum(FLAT_LIMIT + activity, DELTA_MAX).astype(np.float32)
    return cv2.GaussianBlur(mask, (0, 0), 1.0), cv2.GaussianBlur(cap, (0, 0), 1.0)


def _payload_bytes(payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        if not 0 <= payload < 1 << PAYLOAD_BITS:
            raise WatermarkError(f"a payload is a number from 0 to 2**{PAYLOAD_BITS} - 1")
        return payload.to_bytes(PAYLOAD_BYTES, "big")
    if len(payload) != PAYLOAD_BYTES:
        raise WatermarkError(f"a payload is {PAYLOAD_BYTES} bytes ({PAYLOAD_BITS} bits)")
    return bytes(payload)


# ---- embedding ----------------------------------------------------------------------------


def embed(
    image: ImageT, key: WatermarkKey, payload: bytes | int, *, strength: float = 1.0
) -> ImageT:
    """``image`` with ``payload`` marked in it under ``key``; the same type as given.

    The change is the same in R, G and B (a change of luma only), at most ``DELTA_MAX`` per
    pixel, and sized so that PSNR is about ``TARGET_PSNR`` dB at ``strength`` 1.
    """
    data = _payload_bytes(payload)
    if not 0.0 < strength <= 4.0:
        raise WatermarkError("strength is a number above 0 and at most 4 (1 is the default)")
    rgb = _rgb_of(image)
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_SHORT_SIDE:
        raise ImageTooSmallError(
            f"the image is {width}x{height} pixels; a watermark needs at least "
            f"{MIN_SHORT_SIDE} pixels on the short side to carry its full payload"
        )
    delta = _delta(rgb, key, data, strength)
    # Saturating 8-bit adds: the same as clip(rgb + delta) without a float copy of the image.
    up = np.clip(delta, 0, 255).astype(np.uint8)
    down = np.clip(-delta, 0, 255).astype(np.uint8)
    out = cv2.subtract(cv2.add(rgb, cv2.merge([up, up, up])), cv2.merge([down, down, down]))
    if isinstance(image, Image.Image):
        return _like(image, out)  # type: ignore[return-value]
    array = np.asarray(image)
    if array.ndim == 2:
        return out[:, :, 0]  # type: ignore[return-value]
    if array.shape[2] == 4:
        return np.dstack([out, array[:, :, 3]])  # type: ignore[return-value]
    return out  # type: ignore[return-value]


def _like(original: Image.Image, rgb: NDArray[np.uint8]) -> Image.Image:
    marked = Image.fromarray(rgb, "RGB")
    if original.mode == "L":
        return marked.getchannel(0)
    if original.mode == "RGBA":
        marked.putalpha(original.getchannel("A"))
    return marked


def _delta(
    rgb: NDArray[np.uint8], key: WatermarkKey, payload: bytes, strength: float
) -> NDArray[np.int16]:
    """The change to each pixel's luma, rounded, worked out at about two pixels per cell."""
    height, width = rgb.shape[:2]
    cell = _cell_size(height, width)
    factor = min(1.0, 2.0 / cell)
    size = (max(8, round(width * factor)), max(8, round(height * factor)))
    small = rgb if factor == 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    mask, cap = _envelope(_luma(small))
    tile = layout(key).tile(encode_payload(key, payload))
    shaped = _render(tile, size[1], size[0], cell * factor) * mask
    target_mse = 255.0**2 / 10 ** (TARGET_PSNR / 10)
    alpha = math.sqrt(target_mse / max(float(np.mean(shaped * shaped)), 1e-12)) * strength
    shaped = np.clip(shaped * alpha, -cap, cap)
    if factor < 1.0:
        shaped = cv2.resize(shaped, (width, height), interpolation=cv2.INTER_LINEAR)
    # Interpolation and the caps leave the change a little weaker than aimed: make up for it,
    # but by no more than 15%, so the caps still hold to within that.
    mse = max(float(np.mean(shaped * shaped)), 1e-12)
    shaped *= min(math.sqrt(target_mse * strength**2 / mse), 1.15)
    return np.rint(shaped).astype(np.int16)


# ---- detection ----------------------------------------------------------------------------


def detect(image: Image.Image | NDArray[np.uint8], key: WatermarkKey) -> Detection:
    """Looks for a mark made with ``key``; ``present`` only if its payload's check matches."""
    rgb = _rgb_of(image)
    height, width = rgb.shape[:2]
    scale0 = min(1.0, DETECT_SHORT / min(height, width))
    if scale0 < 1.0:
        size = (round(width * scale0), round(height * scale0))
        rgb = cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA)
    luma = _luma(rgb)
    if min(luma.shape) < 2 * PERIOD_RANGE[0]:
        return Detection(present=False, payload=None, confidence=0.0)
    tiles = layout(key)
    attempts = 0
    best = 0.0
    candidates = _lattice_candidates(_whiten(luma, 8.0 * scale0))[:LATTICE_CANDIDATES]
    # A quick look at the image's centre ranks the candidates by the pilot's peak.
    strength = [float(_pilot_correlation(_fold(luma, v, PREVIEW), tiles).max()) for v in candidates]
    ranked = [
        candidates[i]
        for i in np.argsort(strength)[::-1][:DECODE_CANDIDATES]
        if strength[i] >= PREVIEW_GATE
    ]
    for candidate in ranked:
        v1, folded = _polish(luma, candidate, tiles)
        period = float(np.hypot(*v1))
        angle = math.degrees(math.atan2(v1[1], v1[0]))
        for shift in _shifts(folded, tiles)[:SHIFT_CANDIDATES]:
            if attempts >= MAX_ATTEMPTS:
                break
            attempts += 1
            aligned = np.roll(folded, (-shift[0], -shift[1]), axis=(0, 1))
            cells = aligned.reshape(TILE, CANON_CELL, TILE, CANON_CELL).sum(axis=(1, 3))
            soft = tiles.soft_bits(cells)
            payload, codeword = decode_payload(key, soft)
            agreement = float(np.mean(np.sign(soft) == codeword))
            confidence = max(0.0, 2.0 * agreement - 1.0)
            if payload is not None:
                scale = period / scale0 / (TILE * _cell_size(height, width))
                return Detection(
                    present=True,
                    payload=payload,
                    confidence=round(confidence, 4),
                    scale=round(scale, 4),
                    rotation=round(angle, 2),
                    bit_errors=int(np.sum(np.sign(soft) != codeword)),
                    attempts=attempts,
                )
            best = max(best, confidence)
    return Detection(present=False, payload=None, confidence=0.0, attempts=attempts)


def _whiten(luma: NDArray[np.float32], block: float) -> NDArray[np.float32]:
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
    return acf - background  # type: ignore[no-any-return]


def _detail(luma: NDArray[np.float32]) -> NDArray[np.float32]:
    """Detail at the canonical cell's scale, each region scaled to unit strength."""
    detail = luma - cv2.GaussianBlur(luma, (0, 0), DETAIL_SIGMA)
    energy = cv2.GaussianBlur(detail * detail, (0, 0), NORM_SIGMA)
    return detail / np.sqrt(energy + 1.0)  # type: ignore[no-any-return]


def _lattice_candidates(white: NDArray[np.float32]) -> list[NDArray[np.float64]]:
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


def _sample(image: NDArray[np.float32], x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
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
        comb += cv2.warpAffine(acf, zoom, acf.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    turn = np.array([[0, -1, cx + cy], [1, 0, cy - cx]], dtype=np.float64)
    comb += cv2.warpAffine(comb, turn, acf.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
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


def _fold(
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
        part = cv2.GaussianBlur(part, (0, 0), 0.5 * shrink)
    offset = forward @ low - np.array([x0, y0])
    matrix = np.hstack([forward, offset[:, None]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    dsize = (int(size[0]), int(size[1]))
    canvas = cv2.warpAffine(part, matrix, dsize, flags=flags, borderMode=cv2.BORDER_REFLECT)
    ones = np.full(part.shape, 255, dtype=np.uint8)
    valid = cv2.warpAffine(ones, matrix, dsize, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    valid = cv2.erode(valid, np.ones((5, 5), np.uint8)).astype(np.float32) / 255.0
    detail = _detail(canvas) * valid
    rows, cols = canvas.shape[0] // period, canvas.shape[1] // period
    sums = detail.reshape(rows, period, cols, period).sum(axis=(0, 2))
    counts = valid.reshape(rows, period, cols, period).sum(axis=(0, 2))
    return (sums / np.maximum(counts, 1.0)).astype(np.float32)


def _polish(
    luma: NDArray[np.float32], v1: NDArray[np.float64], tiles: Layout
) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
    """The tile vector adjusted in size and angle to sharpen the pilot's peak over the whole
    image (a 0.5% error in size already blurs the far tiles), and the image folded with it."""

    def turned(v: NDArray[np.float64], scale: float, degrees: float) -> NDArray[np.float64]:
        c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        return scale * np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])

    def peak(v: NDArray[np.float64]) -> tuple[float, NDArray[np.float32]]:
        folded = _fold(luma, v)
        return float(_pilot_correlation(folded, tiles).max()), folded

    best_z, best_fold = peak(v1)
    for step_scale, step_angle in ((0.003, 0.25), (0.001, 0.08)):
        for axis in ("scale", "angle"):
            step = step_scale if axis == "scale" else step_angle
            trials = []
            for sign in (-1.0, 1.0):
                v = turned(v1, 1 + sign * step, 0.0) if axis == "scale" else turned(v1, 1.0, sign * step)
                trials.append((v, *peak(v)))
            (v_lo, z_lo, f_lo), (v_hi, z_hi, f_hi) = trials
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
    big = cv2.resize(pilot, (pilot.shape[1] * k, pilot.shape[0] * k), interpolation=cv2.INTER_LINEAR)
    return big[k : k + TILE * k, k : k + TILE * k]  # type: ignore[no-any-return]


def _pilot_correlation(folded: NDArray[np.float32], tiles: Layout) -> NDArray[np.float64]:
    """The pilot's correlation with the folded tile at every cyclic shift, as z-scores."""
    template = _template(tiles)
    corr = np.fft.irfft2(np.fft.rfft2(folded) * np.conj(np.fft.rfft2(template)), s=folded.shape)
    return (corr - corr.mean()) / (corr.std() + 1e-12)  # type: ignore[no-any-return]


def _shifts(folded: NDArray[np.float32], tiles: Layout) -> list[tuple[int, int]]:
    """Where the tile starts in the folded image, best first."""
    corr = _pilot_correlation(folded, tiles)
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
