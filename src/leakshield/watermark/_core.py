"""Embedding and detection: the payload coded, spread over a keyed tile, the tile repeated
over the image's luma at a strength that follows the image; detection finds the tile
(`_sync`), folds the copy onto it and decodes. docs/watermark.md has the design."""

from __future__ import annotations

import math
from typing import Any, TypeVar

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
from leakshield.watermark._pattern import TILE, layout
from leakshield.watermark._sync import (
    CANON_CELL,
    PERIOD_RANGE,
    PREVIEW,
    SHIFT_CANDIDATES,
    as_float32,
    fold,
    lattice_candidates,
    pilot_correlation,
    polish,
    shifts,
    whiten,
)

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
MAX_ATTEMPTS = 16  # decoding attempts per image; the false-positive bound counts them
LATTICE_CANDIDATES = 6
DECODE_CANDIDATES = 3
# A candidate is decoded only if the quick look's pilot peak reaches this z-score. Noise
# alone reaches it in a few percent of looks; this is for speed, the check decides.
PREVIEW_GATE = 4.3


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


def _u8(array: Any) -> NDArray[np.uint8]:
    """OpenCV's results as uint8 arrays (its stubs type them loosely)."""
    return np.asarray(array, dtype=np.uint8)


def _luma(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """BT.601 luma as float32."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return as_float32(cv2.transform(rgb.astype(np.float32), weights[None, :]))


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
    return as_float32(pattern[:height, :width])


def _envelope(luma: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """How much change each region hides, from ``luma`` at about two pixels per cell: the
    local activity relative to the image's median (the mask), and the absolute cap in
    levels (flat regions get at most ``FLAT_LIMIT``, busier ones more)."""
    detail = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
    activity = np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), 3.0))
    median = float(np.median(activity)) + 1e-3
    mask = np.clip(activity / median, *MASK_RANGE).astype(np.float32)
    cap = np.minimum(FLAT_LIMIT + activity, DELTA_MAX).astype(np.float32)
    return as_float32(cv2.GaussianBlur(mask, (0, 0), 1.0)), as_float32(
        cv2.GaussianBlur(cap, (0, 0), 1.0)
    )


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
    out = _u8(cv2.subtract(cv2.add(rgb, cv2.merge([up, up, up])), cv2.merge([down, down, down])))
    if isinstance(image, Image.Image):
        return _like(image, out)
    array = np.asarray(image)
    if array.ndim == 2:
        return out[:, :, 0]
    if array.shape[2] == 4:
        return _u8(np.dstack([out, array[:, :, 3]]))
    return out


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
    mask, cap = _envelope(_luma(_u8(small)))
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
    return np.asarray(np.rint(shaped), dtype=np.int16)


# ---- detection ----------------------------------------------------------------------------


def detect(image: Image.Image | NDArray[np.uint8], key: WatermarkKey) -> Detection:
    """Looks for a mark made with ``key``; ``present`` only if its payload's check matches."""
    rgb = _rgb_of(image)
    height, width = rgb.shape[:2]
    scale0 = min(1.0, DETECT_SHORT / min(height, width))
    if scale0 < 1.0:
        size = (round(width * scale0), round(height * scale0))
        rgb = _u8(cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA))
    luma = _luma(rgb)
    if min(luma.shape) < 2 * PERIOD_RANGE[0]:
        return Detection(present=False, payload=None, confidence=0.0)
    tiles = layout(key)
    attempts = 0
    candidates = lattice_candidates(whiten(luma, 8.0 * scale0))[:LATTICE_CANDIDATES]
    # A quick look at the image's centre ranks the candidates by the pilot's peak.
    strength = [float(pilot_correlation(fold(luma, v, PREVIEW), tiles).max()) for v in candidates]
    ranked = [
        candidates[i]
        for i in np.argsort(strength)[::-1][:DECODE_CANDIDATES]
        if strength[i] >= PREVIEW_GATE
    ]
    for candidate in ranked:
        v1, folded = polish(luma, candidate, tiles)
        angle = math.degrees(math.atan2(v1[1], v1[0]))
        for shift in shifts(folded, tiles)[:SHIFT_CANDIDATES]:
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
                return Detection(
                    present=True,
                    payload=payload,
                    confidence=round(confidence, 4),
                    rotation=round(angle, 2),
                    bit_errors=int(np.sum(np.sign(soft) != codeword)),
                    attempts=attempts,
                )
    return Detection(present=False, payload=None, confidence=0.0, attempts=attempts)
