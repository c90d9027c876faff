"""JPEG files for the JPEG-history tests, made from scikit-image's samples and generated
textures: single and double compressions, and files with an EXIF preview (thumbnail)."""

from __future__ import annotations

import io
import struct
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import skimage.data
from numpy.typing import NDArray
from PIL import Image

from leakshield.forensics import AnalysisContext, Finding, load_subject
from leakshield.forensics._analyzers.jpeg import jpeg_history
from leakshield.media import MediaLimits

Pixels = NDArray[np.uint8]


@cache
def photo(name: str) -> Pixels:
    """A sample resized a little, so that no JPEG grid it may once have had survives."""
    if name == "motorcycle":
        pixels = skimage.data.stereo_motorcycle()[0]
    else:
        pixels = getattr(skimage.data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    height, width = pixels.shape[:2]
    size = (int(width * 0.97) + 1, int(height * 0.97) + 1)
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


@cache
def texture(kind: str, seed: int = 0) -> Pixels:
    """A generated texture: blurred colour noise, or a colour ramp with sensor-like noise."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        noise = cv2.GaussianBlur(rng.normal(0, 1, (560, 720, 3)).astype(np.float32), (0, 0), 1.5)
        scaled = (noise - noise.min()) / (noise.max() - noise.min()) * 255
        return scaled.astype(np.uint8)
    rows, cols = np.mgrid[0:560, 0:720]
    ramp = np.stack([cols / 720 * 255, rows / 560 * 255, (rows + cols) / 1280 * 255], axis=-1)
    return np.clip(ramp + rng.normal(0, 4, ramp.shape), 0, 255).astype(np.uint8)


def encode(pixels: Pixels, **options: Any) -> bytes:
    """``pixels`` as a JPEG written by Pillow (libjpeg-turbo) with ``options``."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def decode(data: bytes) -> Pixels:
    """The RGB pixels of a JPEG, as an editor or a platform would read them."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def twice(pixels: Pixels, first: int, second: int) -> bytes:
    """``pixels`` saved at quality ``first``, opened, and saved again at ``second``."""
    return encode(decode(encode(pixels, quality=first)), quality=second)


def exif_with_preview(preview: bytes, *, orientation: int = 1) -> bytes:
    """EXIF (APP1 payload) whose IFD1 holds ``preview`` as its JPEG thumbnail, built by hand
    as cameras write it: IFD0 with the orientation, IFD1 with the thumbnail pointer."""
    ifd1_at = 8 + 2 + 12 + 4
    data_at = ifd1_at + 2 + 3 * 12 + 4
    ifd0 = struct.pack("<H", 1) + struct.pack(
        "<HHI4s", 0x0112, 3, 1, struct.pack("<H", orientation) + b"\0\0"
    )
    ifd0 += struct.pack("<I", ifd1_at)
    ifd1 = struct.pack("<H", 3)
    ifd1 += struct.pack("<HHII", 0x0103, 3, 1, 6)  # compression: JPEG
    ifd1 += struct.pack("<HHII", 0x0201, 4, 1, data_at)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(preview))
    ifd1 += struct.pack("<I", 0)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + preview


def preview_of(pixels: Pixels, size: tuple[int, int] = (160, 120)) -> bytes:
    """A camera-style preview of ``pixels``: scaled down, saved at quality 75."""
    small = Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def with_preview(pixels: Pixels, preview: bytes, **options: Any) -> bytes:
    """``pixels`` saved as JPEG with an EXIF block that carries ``preview``."""
    return encode(pixels, exif=exif_with_preview(preview), **options)


def run(tmp_path: Path, data: bytes, name: str = "suspect.jpg") -> list[Finding]:
    """The JPEG-history findings on ``data``, written to a file and loaded as `analyze` does."""
    path = tmp_path / name
    path.write_bytes(data)
    return jpeg_history(load_subject(path, MediaLimits()), AnalysisContext())


def by_examined(findings: list[Finding], words: str) -> Finding:
    """The one finding whose ``examined`` starts with ``words``."""
    matching = [f for f in findings if f.examined.startswith(words)]
    assert len(matching) == 1, [f.examined for f in findings]
    return matching[0]
