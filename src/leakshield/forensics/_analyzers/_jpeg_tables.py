"""Quantization tables against the IJG (libjpeg) standard: quality estimate and exact match."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["IJG_CHROMA", "IJG_LUMA", "TableFit", "fingerprint", "fit_table", "ijg_table"]

# The example tables of ITU-T T.81 annex K (K.1 luminance, K.2 chrominance), natural
# order, which libjpeg's jcparam.c scales by quality; libjpeg-turbo, Pillow, OpenCV and
# ImageMagick use them as they are. Other encoders' tables (cameras, Photoshop, mozjpeg's
# default) are not listed: we only name what we can compute or verify.
IJG_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
IJG_CHROMA = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)  # fmt: skip

_QUALITIES = np.arange(1, 101)


def ijg_table(
    quality: int, base: tuple[int, ...] = IJG_LUMA, *, baseline: bool = True
) -> NDArray[np.int64]:
    """The table libjpeg's ``jpeg_set_quality`` writes for ``quality`` (1-100), natural order.

    ``baseline`` caps steps at 255 as libjpeg does when asked for baseline-compatible
    tables (Pillow and most tools do); without it steps go up to 32767."""
    table: NDArray[np.int64] = _FAMILIES[(base, baseline)][min(max(int(quality), 1), 100) - 1]
    return table


def _scaled(base: tuple[int, ...], baseline: bool) -> NDArray[np.int64]:
    # jcparam.c: jpeg_quality_scaling, then jpeg_add_quant_table's rounding and clamping.
    scale = np.where(_QUALITIES < 50, 5000 // _QUALITIES, 200 - 2 * _QUALITIES)
    steps = (np.asarray(base, dtype=np.int64)[None, :] * scale[:, None] + 50) // 100
    return np.clip(steps, 1, 255 if baseline else 32767)


_FAMILIES: dict[tuple[tuple[int, ...], bool], NDArray[np.int64]] = {
    (base, baseline): _scaled(base, baseline)
    for base in (IJG_LUMA, IJG_CHROMA)
    for baseline in (True, False)
}


@dataclass(frozen=True)
class TableFit:
    """How one table compares with the IJG tables: the closest quality, and whether the
    table is exactly the IJG table at that quality."""

    quality: int
    exact: bool
    mean_error: float  # mean |log(step / IJG step)| at ``quality``: 0 for an exact match


def fit_table(table: tuple[int, ...], base: tuple[int, ...]) -> TableFit:
    """The IJG quality whose ``base``-derived table is closest to ``table``."""
    steps = np.maximum(np.asarray(table, dtype=np.int64), 1)
    for baseline in (True, False):
        family = _FAMILIES[(base, baseline)]
        exact = np.flatnonzero((family == steps[None, :]).all(axis=1))
        if exact.size:
            return TableFit(int(_QUALITIES[exact[-1]]), True, 0.0)
    # Compare on a log scale so that a custom table is matched by its shape across all
    # frequencies, not only by its largest (high-frequency) steps.
    family = _FAMILIES[(base, False)]
    errors = np.abs(np.log(family) - np.log(steps)[None, :]).mean(axis=1)
    best = int(np.argmin(errors))
    return TableFit(int(_QUALITIES[best]), False, round(float(errors[best]), 4))


def fingerprint(tables: dict[int, tuple[int, ...]]) -> str:
    """A short SHA-256 of the tables (slot and 64 steps each, natural order), for comparing
    files: the same encoder at the same setting gives the same fingerprint."""
    digest = hashlib.sha256()
    for slot in sorted(tables):
        digest.update(bytes([slot]))
        digest.update(np.asarray(tables[slot], dtype=">u2").tobytes())
    return digest.hexdigest()[:16]
