"""PDQ: Meta's 256-bit perceptual image hash, with its quality score and dihedral variants.

The algorithm follows the reference (pdq/cpp in facebook/ThreatExchange): luma, a
tent filter of two box passes per axis with windows of ceil(side / 128), decimation
to 64x64, the 16x16 low-frequency block of a DCT, and one bit per coefficient above
the median. The filter and decimation are linear, so they are computed here as one
64 x side weight matrix per axis. The same matrices, summed over 2x2, 4x4 or 8x8
blocks, apply to a JPEG decoded at reduced scale: that is why hashing a 12-megapixel
photo costs little more than decoding an eighth of it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from leakshield.media import LumaImage, MediaLimits, decode_luma
from leakshield.signals._base import FixedHash, register

MATCH_DISTANCE = 31
"""Hashes at Hamming distance <= 31 are a match (the threshold hash-sharing programs use)."""
MIN_QUALITY = 50
"""Hashes of quality below 50 are reported but not used for matching."""

# The reference returns an all-zero hash of quality 0 for images this small.
_MIN_SIDE = 5
# A reduced-scale decode stays within a few bits of full resolution while each JPEG
# block is at most a third of the filter window (measured on the conformance set).
_WINDOW_PER_BLOCK = 3

Transform = Literal[
    "original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flip_plus1", "flip_minus1"
]
TRANSFORMS: tuple[Transform, ...] = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flip_plus1",
    "flip_minus1",
)


@register
@dataclass(frozen=True)
class PdqHash(FixedHash):
    """A 256-bit PDQ hash, as 64 hex digits."""

    type_name = "pdq"
    description = "PDQ perceptual image hash (match: Hamming distance <= 31)"
    size = 32

    @classmethod
    def examples(cls) -> tuple[str, ...]:
        return (
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
            "30a10efd71cc3d429013d48d0ffffc52e34e0e17ada952a9d29685211ea9e5af",
            "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d",
        )


@dataclass(frozen=True)
class PdqResult:
    """A PDQ hash and its quality (0..100). Below `MIN_QUALITY` it is not used for matching."""

    hash: PdqHash
    quality: int

    @property
    def usable(self) -> bool:
        """Whether the image had enough detail for the hash to be matched."""
        return self.quality >= MIN_QUALITY


def pdq_from_file(path: Path, limits: MediaLimits) -> PdqResult:
    """PDQ of an image file, upright (EXIF orientation applied), first frame if animated."""
    return pdq_from_luma(decode_pdq_luma(path, limits))


def pdq_dihedral_from_file(path: Path, limits: MediaLimits) -> tuple[dict[Transform, PdqHash], int]:
    """The 8 dihedral PDQ hashes of an image file and its quality."""
    return pdq_dihedral_from_luma(decode_pdq_luma(path, limits))


def decode_pdq_luma(path: Path, limits: MediaLimits) -> LumaImage:
    """Decode an image at the smallest scale that leaves its PDQ hash where it was."""
    return decode_luma(path, limits, max_reduction=_max_reduction)


def _max_reduction(width: int, height: int) -> int:
    window = min((width + 127) // 128, (height + 127) // 128)
    return max(1, window // _WINDOW_PER_BLOCK)


def pdq_from_luma(luma: LumaImage) -> PdqResult:
    """PDQ of a decoded image, applying its orientation exactly."""
    coefficients, quality = _dct16(luma)
    if coefficients is None:
        return PdqResult(PdqHash(bytes(32)), 0)
    return PdqResult(_to_hash(coefficients), quality)


def pdq_from_plane(plane: NDArray[np.float32]) -> PdqResult:
    """PDQ of an upright luma plane at full resolution (a video frame, say)."""
    height, width = plane.shape
    return pdq_from_luma(LumaImage(plane, height, width, 1, "raw", "L"))


def pdq_dihedral_from_luma(luma: LumaImage) -> tuple[dict[Transform, PdqHash], int]:
    """The hashes of the image as if rotated and flipped 8 ways, and its quality.

    ``rotate90`` is the hash the image would have after that rotation, computed from
    the same DCT by the reference's sign and transpose rules, so a rotated or
    mirrored copy matches one of these.
    """
    coefficients, quality = _dct16(luma)
    if coefficients is None:
        return dict.fromkeys(TRANSFORMS, PdqHash(bytes(32))), 0
    return {name: _to_hash(_dihedral(coefficients, name)) for name in TRANSFORMS}, quality


# Sign patterns over the 16x16 DCT: row index i, column index j, counted from 0 for
# frequency 1. Mirroring an axis negates the odd frequencies, i.e. the even indices.
_I, _J = np.indices((16, 16))
_NEG_EVEN_ROW = np.where(_I % 2 == 0, -1.0, 1.0).astype(np.float32)
_NEG_EVEN_COL = np.where(_J % 2 == 0, -1.0, 1.0).astype(np.float32)
_NEG_ODD_SUM = np.where((_I + _J) % 2 == 1, -1.0, 1.0).astype(np.float32)


def _dihedral(b: NDArray[np.float32], name: Transform) -> NDArray[np.float32]:
    match name:
        case "original":
            return b
        case "rotate90":
            return (b * _NEG_EVEN_COL).T
        case "rotate180":
            return b * _NEG_ODD_SUM
        case "rotate270":
            return (b * _NEG_EVEN_ROW).T
        case "flipx":
            return b * _NEG_EVEN_ROW
        case "flipy":
            return b * _NEG_EVEN_COL
        case "flip_plus1":
            return b.T
        case "flip_minus1":
            return (b * _NEG_ODD_SUM).T


# EXIF orientation -> (transpose, flip rows, flip columns): the upright image is the
# stored one, transposed if asked, then reversed along the axes named.
_ORIENTATIONS: dict[int, tuple[bool, bool, bool]] = {
    1: (False, False, False),
    2: (False, False, True),
    3: (False, True, True),
    4: (False, True, False),
    5: (True, False, False),
    6: (True, False, True),
    7: (True, True, True),
    8: (True, True, False),
}


def _dct16(luma: LumaImage) -> tuple[NDArray[np.float32] | None, int]:
    """The 16x16 DCT block and quality of the upright image, or None if it is too small."""
    height, width = luma.full_height, luma.full_width
    if min(height, width) < _MIN_SIDE:
        return None, 0
    transpose, flip_rows, flip_cols = _ORIENTATIONS[luma.orientation]
    plane = luma.plane
    if transpose:
        # Upright rows are stored columns: build the weights in upright geometry,
        # apply them along the stored axes, and transpose the 64x64 result.
        rows = _weights(height, luma.scale, flip_cols)
        cols = _weights(width, luma.scale, flip_rows)
        buffer = np.asarray((rows @ plane @ cols.T).T, dtype=np.float32)
    else:
        rows = _weights(height, luma.scale, flip_rows)
        cols = _weights(width, luma.scale, flip_cols)
        buffer = np.asarray(rows @ plane @ cols.T, dtype=np.float32)
    coefficients = np.asarray(_DCT @ buffer @ _DCT.T, dtype=np.float32)
    return coefficients, _quality(buffer)


@functools.lru_cache(maxsize=256)
def _weights(length: int, scale: int, reverse: bool) -> NDArray[np.float32]:
    """64 x ceil(length / scale): the reference's tent filter and decimation along one axis.

    Built for the upright axis; ``reverse`` maps it onto a stored axis that runs the
    other way; ``scale`` sums it over the blocks a reduced-scale decode averaged.
    """
    window = (length + 127) // 128
    centres = ((np.arange(64) + 0.5) * length / 64).astype(np.int64)
    weights = np.zeros((64, length))
    weights[np.arange(64), centres] = 1.0
    # Two box passes; the weights of out = B @ x on x are B's rows, and a row vector
    # pushed back through B is B transposed applied to it.
    weights = _box_transposed(_box_transposed(weights, window), window)
    if reverse:
        weights = weights[:, ::-1]
    if scale > 1:
        weights = np.add.reduceat(weights, np.arange(0, length, scale), axis=1)
    return np.ascontiguousarray(weights, dtype=np.float32)


def _box_transposed(rows: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """``rows @ B`` for the reference's box filter B (clipped at the edges, mean of what is in)."""
    length = rows.shape[1]
    half = (window + 2) // 2
    index = np.arange(length)
    low = np.maximum(index + half - window, 0)
    high = np.minimum(index + half - 1, length - 1)
    scaled = rows / (high - low + 1)
    # Output k spreads scaled[:, k] over [low[k], high[k]]: difference array, then cumsum.
    spread = np.zeros((rows.shape[0], length + 1))
    np.add.at(spread.T, low, scaled.T)
    np.subtract.at(spread.T, high + 1, scaled.T)
    return np.cumsum(spread[:, :length], axis=1)


def _dct_matrix() -> NDArray[np.float32]:
    i = np.arange(1, 17)[:, None]
    j = np.arange(64)[None, :]
    matrix = np.sqrt(2.0 / 64.0) * np.cos(np.pi / 128.0 * i * (2 * j + 1))
    return np.asarray(matrix, dtype=np.float32)


_DCT = _dct_matrix()


def _quality(buffer: NDArray[np.float32]) -> int:
    """The reference's gradient-sum quality score, 0..100."""
    vertical = np.trunc((buffer[:-1, :] - buffer[1:, :]) * 100 / 255)
    horizontal = np.trunc((buffer[:, :-1] - buffer[:, 1:]) * 100 / 255)
    total = int(np.abs(vertical).sum() + np.abs(horizontal).sum())
    return min(total // 90, 100)


def _to_hash(coefficients: NDArray[np.float32]) -> PdqHash:
    flat = coefficients.reshape(256)
    # The reference's median (Torben's) is the lower of the two middle values.
    median = np.partition(flat, 127)[127]
    # Bit i*16+j is coefficient (i, j); the hex form starts from bit 255.
    return PdqHash(np.packbits(flat[::-1] > median).tobytes())
