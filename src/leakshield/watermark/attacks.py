"""The attack suite: what a leaked copy goes through on its way from the victim's phone to a site.

Each attack is a pure function of an HxWx3 uint8 RGB array and, where it draws at random, a
NumPy generator, so a run with the same seed attacks every image the same way. Attacks are
named (``ATTACKS``, in a fixed order), pairs of them make the realistic chains in ``PAIRS``,
and ``attack("crop70+jpeg50", rgb, rng)`` runs any chain by name. The watermark's tests and
``bench/watermark_bench.py`` both measure against this suite.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from leakshield.errors import UsageError
from leakshield.watermark._model import WatermarkError

__all__ = [
    "ATTACKS",
    "PAIRS",
    "Attack",
    "UnknownAttackError",
    "attack",
    "blur",
    "compose",
    "contrast",
    "crop_center",
    "crop_random",
    "gain",
    "jpeg",
    "lookup",
    "noise",
    "resize",
    "rotate",
    "screenshot",
    "social",
]

RGB = NDArray[np.uint8]
AttackFunction = Callable[[RGB, np.random.Generator], RGB]

CROP_AREA = 0.7
SOCIAL_LONG_SIDE = 1080


class UnknownAttackError(UsageError):
    """An attack name that is not in the suite."""

    slug = "unknown-attack"
    title = "Unknown attack"


@dataclass(frozen=True)
class Attack:
    """A named attack: ``attack(rgb, rng)`` returns the attacked copy and leaves ``rgb`` alone."""

    name: str
    description: str
    function: AttackFunction

    def __call__(self, rgb: RGB, rng: np.random.Generator | None = None) -> RGB:
        """The attacked copy; without ``rng``, a generator seeded with 0 (still reproducible)."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3:
            raise WatermarkError("attacks take an HxWx3 uint8 RGB array")
        if rgb.shape[2] != 3:
            raise WatermarkError(f"attacks take RGB images, not {rgb.shape[2]} channels")
        return self.function(rgb, np.random.default_rng(0) if rng is None else rng)


# ---------------------------------------------------------------- the building blocks


def jpeg(rgb: RGB, quality: int) -> RGB:
    """A JPEG round trip through Pillow at ``quality``, chroma subsampled 4:2:0."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality, subsampling=2)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB")).copy()


def _png(rgb: RGB) -> RGB:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG", compress_level=1)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB")).copy()


def resize(rgb: RGB, factor: float) -> RGB:
    """Scaled by ``factor`` with area averaging (what good downscalers do); not scaled back."""
    height, width = rgb.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), np.uint8)


def _crop_size(rgb: RGB, area: float) -> tuple[int, int]:
    side = area**0.5  # the same share of each side keeps the aspect ratio
    height, width = rgb.shape[:2]
    return max(1, round(height * side)), max(1, round(width * side))


def crop_center(rgb: RGB, area: float = CROP_AREA) -> RGB:
    """The centre of the image, keeping ``area`` of its pixels."""
    rows, cols = _crop_size(rgb, area)
    top, left = (rgb.shape[0] - rows) // 2, (rgb.shape[1] - cols) // 2
    return rgb[top : top + rows, left : left + cols].copy()


def crop_random(rgb: RGB, rng: np.random.Generator, area: float = CROP_AREA) -> RGB:
    """A window keeping ``area`` of the pixels at an offset drawn from ``rng``."""
    rows, cols = _crop_size(rgb, area)
    top = int(rng.integers(0, rgb.shape[0] - rows + 1))
    left = int(rng.integers(0, rgb.shape[1] - cols + 1))
    return rgb[top : top + rows, left : left + cols].copy()


def _affine(rgb: RGB, scale: float, offset: float) -> RGB:
    table = np.clip(np.rint(np.arange(256) * scale + offset), 0, 255).astype(np.uint8)
    return np.asarray(cv2.LUT(rgb, table), np.uint8)  # a uint8 image maps by table


def gain(rgb: RGB, factor: float) -> RGB:
    """Brightness: every value multiplied by ``factor``, clipped to 0..255."""
    return _affine(rgb, factor, 0.0)


def contrast(rgb: RGB, factor: float) -> RGB:
    """Contrast: values moved away from (``factor`` > 1) or towards the image's mean."""
    mean = float(rgb.mean())
    return _affine(rgb, factor, mean * (1.0 - factor))


def blur(rgb: RGB, sigma: float) -> RGB:
    """A gaussian blur of standard deviation ``sigma`` pixels."""
    return np.asarray(cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma), np.uint8)


def noise(rgb: RGB, rng: np.random.Generator, sigma: float) -> RGB:
    """Gaussian noise of standard deviation ``sigma`` added to every value (sensor grain)."""
    values = rgb + rng.standard_normal(rgb.shape, dtype=np.float32) * np.float32(sigma)
    return np.asarray(np.clip(np.rint(values), 0, 255), np.uint8)


def rotate(rgb: RGB, degrees: float) -> RGB:
    """Turned ``degrees`` counter-clockwise about the centre on a canvas of the same size.

    The uncovered corners are black, as most editors and galleries fill them (or crop them
    away, which the crop pairs cover); their hard edges are also the harder case for a
    detector than replicated borders.
    """
    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    turned = cv2.warpAffine(
        rgb,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.asarray(turned, np.uint8)


_GAMMA_09 = np.rint(255.0 * (np.arange(256) / 255.0) ** 0.9).astype(np.uint8)


def screenshot(rgb: RGB) -> RGB:
    """A screenshot of the image shown at 80%, then shared: display gamma 0.9, PNG, JPEG q85.

    Gamma 0.9 means out = 255 * (in / 255) ** 0.9, a slight lift of the mid-tones as a
    display and capture pipeline that do not quite agree give.
    """
    shown = np.asarray(cv2.LUT(resize(rgb, 0.8), _GAMMA_09), np.uint8)
    return jpeg(_png(shown), 85)


def social(rgb: RGB) -> RGB:
    """What photo-sharing sites do: long side down to 1080 px (never up), then JPEG q70."""
    long_side = max(rgb.shape[:2])
    if long_side > SOCIAL_LONG_SIDE:
        rgb = resize(rgb, SOCIAL_LONG_SIDE / long_side)
    return jpeg(rgb, 70)


# ---------------------------------------------------------------- the registry


def _single(name: str, description: str, function: Callable[[RGB], RGB]) -> Attack:
    return Attack(name, description, lambda rgb, _rng: function(rgb))


def compose(first: Attack, second: Attack) -> Attack:
    """``second`` applied to what ``first`` returns, named ``first+second``; one rng for both."""
    return Attack(
        f"{first.name}+{second.name}",
        f"{first.description}, then {second.description}",
        lambda rgb, rng: second.function(first.function(rgb, rng), rng),
    )


_SINGLES = [
    _single("none", "unchanged", lambda rgb: rgb.copy()),
    _single("jpeg50", "JPEG quality 50", lambda rgb: jpeg(rgb, 50)),
    _single("resize50", "resized to 50%", lambda rgb: resize(rgb, 0.5)),
    _single("crop70", "centre crop keeping 70% of the area", crop_center),
    Attack("crop_random", "crop keeping 70% of the area at a random offset", crop_random),
    _single("brighten20", "brightness x1.2", lambda rgb: gain(rgb, 1.2)),
    _single("darken20", "brightness x0.8", lambda rgb: gain(rgb, 0.8)),
    _single("contrast_up20", "contrast x1.2", lambda rgb: contrast(rgb, 1.2)),
    _single("contrast_down20", "contrast x0.8", lambda rgb: contrast(rgb, 0.8)),
    _single("blur1", "gaussian blur, sigma 1", lambda rgb: blur(rgb, 1.0)),
    Attack("noise5", "gaussian noise, sigma 5", lambda rgb, rng: noise(rgb, rng, 5.0)),
    _single("rotate2", "rotated 2 degrees", lambda rgb: rotate(rgb, 2.0)),
    _single("rotate_minus2", "rotated -2 degrees", lambda rgb: rotate(rgb, -2.0)),
    _single("screenshot", "screenshot at 80%, gamma 0.9, PNG, JPEG q85", screenshot),
    _single("social", "long side to 1080 px, JPEG q70", social),
]

ATTACKS: dict[str, Attack] = {a.name: a for a in _SINGLES}
"""Every single attack by name, ``none`` first."""

PAIRS: tuple[Attack, ...] = tuple(
    compose(ATTACKS[first], ATTACKS[second])
    for first, second in [
        ("crop70", "jpeg50"),
        ("crop_random", "social"),
        ("resize50", "jpeg50"),
        ("rotate2", "jpeg50"),
        ("brighten20", "social"),
        ("contrast_down20", "jpeg50"),
        ("blur1", "social"),
        ("noise5", "jpeg50"),
        ("screenshot", "crop_random"),
        ("rotate_minus2", "crop70"),
        ("social", "screenshot"),
    ]
)
"""Realistic chains of two attacks, e.g. ``crop70+jpeg50``."""


def lookup(name: str) -> Attack:
    """The attack called ``name``: a single attack or a chain such as ``crop70+jpeg50``."""
    parts = name.split("+")
    unknown = [part for part in parts if part not in ATTACKS]
    if unknown:
        raise UnknownAttackError(
            f"unknown attack {unknown[0]!r}; the attacks are {', '.join(ATTACKS)}, "
            "and 'a+b' applies b to what a gives"
        )
    chain = ATTACKS[parts[0]]
    for part in parts[1:]:
        chain = compose(chain, ATTACKS[part])
    return chain


def attack(name: str, rgb: RGB, rng: np.random.Generator | None = None) -> RGB:
    """``rgb`` after the attack or chain called ``name`` (e.g. ``"crop70+jpeg50"``)."""
    return lookup(name)(rgb, rng)
