"""Safe decoding of still images to a luma plane, at reduced scale where the caller allows it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pillow_heif
from numpy.typing import NDArray
from PIL import Image

from leakshield.media._errors import MediaError, image_decoding
from leakshield.media._limits import MediaLimits

pillow_heif.register_heif_opener()
# MediaLimits.max_pixels is checked before any decode; Pillow's own bomb check would
# refuse large images that the user allowed, with a less helpful message.
Image.MAX_IMAGE_PIXELS = None

# The ITU-R BT.601 luma weights that PDQ and Pillow's "L" conversion use.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_EXIF_ORIENTATION = 0x0112
# libjpeg decodes at 1/2, 1/4 or 1/8 scale almost for free (it drops DCT coefficients).
_JPEG_SCALES = (8, 4, 2)


@dataclass(frozen=True)
class LumaImage:
    """An image's luma (0..255 floats), as stored in the file, maybe decoded at reduced scale.

    ``plane`` is ``full_height / scale`` by ``full_width / scale`` (rounded up): each
    of its pixels stands for a ``scale`` x ``scale`` block of the full image.
    ``orientation`` is the EXIF orientation (1..8) still to be applied to see the
    image upright; it is left to the caller because applying it exactly at reduced
    scale needs the full-resolution geometry.
    """

    plane: NDArray[np.float32]
    full_height: int
    full_width: int
    orientation: int
    format: str
    mode: str
    scale: int = 1


def is_image(path: Path) -> bool:
    """Whether Pillow recognises the file as an image (reads the header only)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path):
                return True
    except Exception:  # any failure to identify means "not an image we read"
        return False


def decode_luma(
    path: Path, limits: MediaLimits, *, max_reduction: Callable[[int, int], int] | None = None
) -> LumaImage:
    """Decode the first frame of an image file to luma, within ``limits``.

    ``max_reduction(width, height)`` says how far the caller allows the image to be
    scaled down; a JPEG is then decoded at 1/2, 1/4 or 1/8 scale within that bound.
    Raises `MediaError` for a file that is refused or cannot be decoded.
    """
    limits.check_file(path)
    with image_decoding(), Image.open(path) as image:
        return _decode(image, limits, max_reduction)


def _decode(
    image: Image.Image, limits: MediaLimits, max_reduction: Callable[[int, int], int] | None
) -> LumaImage:
    full_width, full_height = image.size
    limits.check_pixels(full_width, full_height)
    orientation = _orientation(image)
    fmt, mode = image.format or "unknown", image.mode
    bound = max_reduction(full_width, full_height) if max_reduction else 1
    reduction = next((s for s in _JPEG_SCALES if s <= bound), 1)
    scale = 1
    if reduction > 1 and fmt == "JPEG" and mode in ("RGB", "L", "YCbCr"):
        # JPEG stores luma as its Y channel: decoding only Y skips the colour conversion.
        # Pillow picks the largest scale whose output is at least the size asked for.
        image.draft("L", (full_width // reduction, full_height // reduction))
        scale = next(
            (s for s in (1, *_JPEG_SCALES) if image.size == _reduced(full_width, full_height, s)),
            0,
        )
        if not scale or scale > reduction:
            raise MediaError("corrupt", "the JPEG decoder chose an unexpected scale")
    image.load()
    if image.size != _reduced(full_width, full_height, scale):
        raise MediaError("corrupt", "the decoder returned an image of unexpected size")
    plane = _to_luma(image)
    return LumaImage(plane, full_height, full_width, orientation, fmt, mode, scale)


def _reduced(width: int, height: int, scale: int) -> tuple[int, int]:
    return math.ceil(width / scale), math.ceil(height / scale)


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block must not lose the image
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_luma(image: Image.Image) -> NDArray[np.float32]:
    mode = image.mode
    if mode == "L":
        return np.asarray(image, dtype=np.float32)
    if mode in ("LA", "La"):
        return np.asarray(image.getchannel(0), dtype=np.float32)
    if mode == "1":
        return np.asarray(image.convert("L"), dtype=np.float32)
    if mode.startswith("I;16"):
        return np.asarray(image, dtype=np.float32) / np.float32(257.0)
    if mode in ("I", "F"):
        return np.clip(np.asarray(image, dtype=np.float32), 0, 255)
    if mode not in ("RGB", "RGBA", "RGBX", "RGBa"):
        # P, PA, CMYK, YCbCr, LAB, HSV: Pillow knows how to turn each into RGB.
        image = image.convert("RGB")
    rgb = np.asarray(image)[..., :3]
    return rgb_to_luma(rgb)


def rgb_to_luma(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """BT.601 luma of an ``H x W x 3`` RGB array, as float32."""
    luma: NDArray[np.float32] = rgb.astype(np.float32) @ LUMA_WEIGHTS
    return luma
