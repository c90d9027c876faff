"""Visual aids for a person to look at: error level analysis and the noise residual.

Neither is evidence by itself. Each gives one finding of strength "none" with a map and the
caveats that say why a bright or a uniform region proves nothing on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import ExifTags, Image

from leakshield.errors import InternalError
from leakshield.forensics._images import REPORT_SIDE, heat_map, to_png
from leakshield.forensics._model import Direction, Finding, FindingImage, Strength, failed
from leakshield.forensics._registry import AnalysisContext, analyzer
from leakshield.forensics._subject import Subject

__all__ = ["error_level", "noise_residual"]

# Above this many pixels the maps are made from a part (ELA) or a smaller copy (noise), so
# that a 12 MP photo takes a fraction of a second and a 150 MP one no longer than 16 MP.
MAX_MAP_PIXELS = 16_000_000

ELA_QUALITY = 90
ELA_SUBSAMPLING = "4:2:0"  # what most cameras and sites use; pinned so maps stay comparable
ELA_SCALE = 20  # a difference of 255 / 20 ~ 13 levels is full brightness
NOISE_KERNEL = 3  # median filter size: removes the finest detail, which is mostly noise
NOISE_SCALE = 10

# JPEG compresses in 16 x 16 macroblocks (8 x 8 blocks, chroma halved): a crop that starts
# on this grid keeps every block where the file's encoder put it.
_JPEG_GRID = 16
_JPEG_MAX_SIDE = 65_500  # what libjpeg, and so OpenCV's encoder, can write

_DESCRIPTIVE = (
    "descriptive only: these numbers depend on the image's content and history and are not a score"
)

_ELA_TITLE = "Error level analysis"
_NOISE_TITLE = "Noise residual"

_ELA_EXPLANATION = (
    "Error level analysis saves the picture again as JPEG at quality {quality} and shows how "
    "much each pixel changed, amplified {scale} times. Its own authors describe it as "
    'measuring "JPEG error level potential": it does not identify the cause of a difference. '
    "Edges, fine texture, text and areas saved a different number of times all light up, so "
    "a bright region is something to look at closely, not proof of editing. A region pasted "
    "from a picture with a different compression history can stand out, but a uniform map "
    "does not show that an image is unedited: re-saving, resizing or a screenshot evens out "
    "the levels of any earlier edit. This map is shown for a person to judge and carries no "
    "weight in this report."
)

_NOISE_EXPLANATION = (
    "The noise residual is the picture minus a median-filtered ({kernel} x {kernel}) copy "
    "of itself, amplified {scale} times: what remains is mostly sensor noise and the finest "
    "detail. Regions whose noise differs from the rest of the picture (smoother, grainier or "
    "patterned) may have been pasted in, retouched or generated, but resizing, sharpening, "
    "filters, denoising, beauty modes and compression change noise too, and edges and "
    "texture always stand out. A map without such regions does not show that an image is "
    "unedited. This map is shown for a person to judge and carries no weight in this report."
)


@analyzer("error-level", _ELA_TITLE)
def error_level(subject: Subject, context: AnalysisContext) -> list[Finding]:
    """A map of how much each pixel changes when re-saved as JPEG: a visual aid, never proof."""
    if subject.upright is None or subject.image is None:
        return [_no_pixels("error-level", _ELA_TITLE, subject)]
    if max(subject.upright.size) > _JPEG_MAX_SIDE:
        width, height = subject.upright.size
        message = (
            f"the picture is {width} x {height} pixels and error level analysis re-saves it "
            f"as JPEG, which holds at most {_JPEG_MAX_SIDE:,} pixels a side"
        )
        return [failed("error-level", _ELA_TITLE, "too-large-for-jpeg", message)]
    orientation = _orientation(subject.image)
    # Work on the pixels as stored, not rotated, so the re-save lines up with the file's
    # own JPEG block grid.
    stored, region = _ela_pixels(_UNDO[orientation](subject.rgb()))
    bgr = cv2.cvtColor(stored, cv2.COLOR_RGB2BGR)  # OpenCV's JPEG codec takes BGR
    flags = [cv2.IMWRITE_JPEG_QUALITY, ELA_QUALITY]
    flags += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    encoded, jpeg = cv2.imencode(".jpg", bgr, flags)
    resaved = cv2.imdecode(jpeg, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if not encoded or resaved is None:
        raise InternalError("OpenCV could not re-save a JPEG for error level analysis")
    channels = cv2.split(cv2.absdiff(bgr, resaved))
    difference = _u8(cv2.max(cv2.max(channels[0], channels[1]), channels[2]))

    evidence: dict[str, Any] = {
        "jpeg_quality": ELA_QUALITY,
        "chroma_subsampling": ELA_SUBSAMPLING,
        "scale": ELA_SCALE,
        "difference": "largest change over the three colour channels, in levels of 0-255",
        **_extent(difference.shape, orientation, region),
        "descriptive": {**_levels(difference), "note": _DESCRIPTIVE},
    }
    images: tuple[FindingImage, ...] = ()
    if context.images:
        shown = _UPRIGHT[orientation](_shrink(difference, ELA_SCALE))
        images = (
            FindingImage(
                name="error-level",
                caption=f"Error levels after a JPEG re-save at quality {ELA_QUALITY}, "
                f"amplified {ELA_SCALE} times (brighter: more change).",
                png=to_png(heat_map(np.ascontiguousarray(shown), high=255.0)),
                caveat="Edges, texture and earlier re-saves light up; a bright region is not "
                "proof of editing and a uniform map is not proof of none.",
            ),
        )
    summary = "Error level map made for visual inspection; it is not evidence by itself."
    return [_aid("error-level", _ELA_TITLE, summary, _ELA_EXPLANATION, evidence, images, region)]


@analyzer("noise-residual", _NOISE_TITLE)
def noise_residual(subject: Subject, context: AnalysisContext) -> list[Finding]:
    """A map of the picture's noise (itself minus a median-filtered copy): a visual aid."""
    if subject.upright is None:
        return [_no_pixels("noise-residual", _NOISE_TITLE, subject)]
    pixels = subject.rgb()
    height, width = pixels.shape[:2]
    region = None
    if height * width > MAX_MAP_PIXELS:
        factor = math.sqrt(MAX_MAP_PIXELS / (height * width))
        size = (max(1, int(width * factor)), max(1, int(height * factor)))
        pixels = _u8(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))
        region = (
            f"a copy scaled down to {size[0]} x {size[1]} pixels (from {width} x {height}), "
            "which averages away some of the noise"
        )
    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    residual = _u8(cv2.absdiff(gray, cv2.medianBlur(gray, NOISE_KERNEL)))

    evidence: dict[str, Any] = {
        "median_kernel": NOISE_KERNEL,
        "scale": NOISE_SCALE,
        "residual": "brightness (luma) minus its median-filtered copy, in levels of 0-255",
        "width": int(residual.shape[1]),
        "height": int(residual.shape[0]),
        "examined": region or "the whole image at its own resolution",
        "descriptive": {**_levels(residual), "note": _DESCRIPTIVE},
    }
    images: tuple[FindingImage, ...] = ()
    if context.images:
        shown = np.clip(_shrink(residual, NOISE_SCALE), 0, 255).astype(np.uint8)
        images = (
            FindingImage(
                name="noise-residual",
                caption=f"Noise residual, amplified {NOISE_SCALE} times (brighter: more noise "
                "or fine detail).",
                png=to_png(shown),
                caveat="Edges and texture always show; resizing, filters, denoising and "
                "compression change noise too.",
            ),
        )
    summary = "Noise residual map made for visual inspection; it is not evidence by itself."
    return [
        _aid("noise-residual", _NOISE_TITLE, summary, _NOISE_EXPLANATION, evidence, images, region)
    ]


def _aid(
    name: str,
    title: str,
    summary: str,
    explanation: str,
    evidence: dict[str, Any],
    images: tuple[FindingImage, ...],
    region: str | None,
) -> Finding:
    text = explanation.format(
        quality=ELA_QUALITY, scale=evidence["scale"], kernel=evidence.get("median_kernel")
    )
    if region is not None:
        text += f" The image is large, so the map shows {region}."
    return Finding(
        analyzer=name,
        examined=title,
        strength=Strength.NONE,  # a visual aid is never scored as evidence
        direction=Direction.INFORMATIONAL,
        summary=summary,
        explanation=text,
        evidence=evidence,
        images=images,
    )


def _no_pixels(name: str, title: str, subject: Subject) -> Finding:
    reason = subject.problem.message if subject.problem is not None else "no pixels decoded"
    return failed(name, title, "no-pixels", f"the pixels could not be read ({reason})")


def _ela_pixels(stored: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], str | None]:
    """``stored`` whole, or above `MAX_MAP_PIXELS` a centred crop that starts on the JPEG
    grid (scaling down instead would destroy the grid that error levels depend on)."""
    height, width = stored.shape[:2]
    if width * height <= MAX_MAP_PIXELS:
        return stored, None
    factor = math.sqrt(MAX_MAP_PIXELS / (width * height))
    # At least one grid block, at most the whole side (a very thin picture keeps its width).
    crop_w = min(width, max(_JPEG_GRID, int(width * factor) // _JPEG_GRID * _JPEG_GRID))
    crop_h = min(height, max(_JPEG_GRID, int(height * factor) // _JPEG_GRID * _JPEG_GRID))
    left = (width - crop_w) // 2 // _JPEG_GRID * _JPEG_GRID
    top = (height - crop_h) // 2 // _JPEG_GRID * _JPEG_GRID
    region = (
        f"only a centred part of {crop_w * crop_h / 1e6:.1f} MP (of {width * height / 1e6:.1f} "
        "MP), cut on the JPEG block grid, because scaling the image down would destroy the "
        "grid that error levels depend on"
    )
    return stored[top : top + crop_h, left : left + crop_w], region


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation that Pillow's ``exif_transpose`` applied to make the upright
    picture (1: none)."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # hostile EXIF: decoding already survived it, so treat as upright
        return 1
    return value if isinstance(value, int) and value in _UPRIGHT else 1


_Turn = Callable[[NDArray[Any]], NDArray[Any]]

# What ``exif_transpose`` does for each orientation, as numpy views (checked against Pillow
# in the tests), and its inverse: from the stored pixels to the upright ones and back.
_UPRIGHT: dict[int, _Turn] = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}
_UNDO: dict[int, _Turn] = {**_UPRIGHT, 6: _UPRIGHT[8], 8: _UPRIGHT[6]}


def _extent(shape: tuple[int, ...], orientation: int, region: str | None) -> dict[str, Any]:
    height, width = shape[:2]
    if orientation >= 5:  # turned a quarter: the picture as shown is the other way round
        height, width = width, height
    return {
        "width": int(width),
        "height": int(height),
        "examined": region or "the whole image at its own resolution",
    }


def _levels(values: NDArray[np.uint8]) -> dict[str, float]:
    """Mean and 99th percentile of per-pixel levels (from a histogram: cheap on 16 MP)."""
    counts = cv2.calcHist([values], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    total = float(counts.sum())
    mean = float(np.dot(counts, np.arange(counts.size))) / total
    p99 = int(np.searchsorted(np.cumsum(counts), 0.99 * total))
    return {"mean": round(mean, 3), "p99": float(p99)}


def _shrink(values: NDArray[np.uint8], scale: int) -> NDArray[np.float32]:
    """``values`` amplified ``scale`` times and averaged down to the report's size: the
    average keeps the fractions a faint difference would lose at 8 bits."""
    amplified = values.astype(np.uint16)
    amplified *= scale  # 255 * scale fits in 16 bits
    height, width = values.shape[:2]
    factor = REPORT_SIDE / max(height, width)
    if factor < 1:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        return np.asarray(cv2.resize(amplified, size, interpolation=cv2.INTER_AREA), np.float32)
    return amplified.astype(np.float32)


def _u8(values: object) -> NDArray[np.uint8]:
    """An OpenCV result as the uint8 array it is (no copy)."""
    return np.asarray(values, dtype=np.uint8)
