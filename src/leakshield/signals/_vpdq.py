"""vPDQ: a video as the PDQ hashes of its frames, and the rule for matching two videos."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
from numpy.typing import NDArray

from leakshield.media import MediaLimits, iter_video_luma
from leakshield.signals._base import Signal, SignalError, register
from leakshield.signals._pdq import MATCH_DISTANCE, MIN_QUALITY, PdqHash, pdq_from_plane

QUERY_MATCH_PERCENT = 80.0
"""Default share of the query's frames that must find a match for videos to match."""
COMPARED_MATCH_PERCENT = 0.0
"""Default share of the compared video's frames that must find a match."""

_FRAME_SEPARATOR = re.compile(r"[;\n]+")


@dataclass(frozen=True)
class VpdqFrame:
    """One hashed frame: its number, PDQ quality and hash, and its time in seconds."""

    frame: int
    quality: int
    hash: PdqHash
    timestamp: float

    def __str__(self) -> str:
        return f"{self.frame},{self.quality},{self.hash},{self.timestamp:.3f}"


@register
@dataclass(frozen=True)
class VpdqHash(Signal):
    """The frame hashes of a video. The string form is the reference's lines,
    ``frame,quality,pdq_hex,seconds``, joined by ``;`` (newlines are accepted too)."""

    frames: tuple[VpdqFrame, ...]
    type_name = "vpdq"
    description = "vPDQ video hash: PDQ of sampled frames (match: share of frames within 31)"

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``frame,quality,hex,seconds`` records separated by ``;`` or newlines."""
        records = [r.strip() for r in _FRAME_SEPARATOR.split(text.strip()) if r.strip()]
        if not records:
            raise SignalError("a vpdq hash needs at least one frame: frame,quality,hex,seconds")
        return cls(tuple(_parse_frame(record) for record in records))

    @classmethod
    def examples(cls) -> tuple[str, ...]:
        return (
            "0,100,34ada6b96d18d2491a79f80f07f2c9936fe6083dfb6983d8a4a36db40034df54,0.000;"
            "30,100,a5ad66b96d58d2491a79f80f07f2c1936fe6083dfb4983d8a4a36db40034df54,1.000",
        )

    def __str__(self) -> str:
        return ";".join(str(frame) for frame in self.frames)


def _parse_frame(record: str) -> VpdqFrame:
    parts = record.split(",")
    if len(parts) != 4:
        raise SignalError(f"vpdq frame {record[:80]!r} is not frame,quality,pdq_hex,seconds")
    try:
        frame, quality, seconds = int(parts[0]), int(parts[1]), float(parts[3])
    except ValueError:
        raise SignalError(f"vpdq frame {record[:80]!r} has a non-numeric field") from None
    if frame < 0 or not 0 <= quality <= 100 or not seconds >= 0:
        raise SignalError(f"vpdq frame {record[:80]!r} is out of range")
    return VpdqFrame(frame, quality, PdqHash.parse(parts[2]), seconds)


def vpdq_from_file(path: Path, limits: MediaLimits, *, every: float | None = 1.0) -> VpdqHash:
    """vPDQ of a video: one frame per ``every`` seconds, or every frame when None."""
    frames = []
    for decoded in iter_video_luma(path, limits, every=every):
        result = pdq_from_plane(decoded.plane)
        frames.append(VpdqFrame(decoded.index, result.quality, result.hash, decoded.timestamp))
    return VpdqHash(tuple(frames))


@dataclass(frozen=True)
class VpdqMatch:
    """How much of each video found a match in the other, in percent, and the verdict."""

    query_match_percent: float
    compared_match_percent: float
    match: bool


def vpdq_match(
    query: VpdqHash,
    compared: VpdqHash,
    *,
    distance: int = MATCH_DISTANCE,
    min_quality: int = MIN_QUALITY,
    query_percent: float = QUERY_MATCH_PERCENT,
    compared_percent: float = COMPARED_MATCH_PERCENT,
) -> VpdqMatch:
    """The vPDQ rule: frames of quality >= ``min_quality`` match within ``distance``;
    the videos match when at least ``query_percent`` of the query's frames and
    ``compared_percent`` of the compared video's frames found a match."""
    ours = _usable(query.frames, min_quality)
    theirs = _usable(compared.frames, min_quality)
    if not len(ours) or not len(theirs):
        return VpdqMatch(0.0, 0.0, False)
    query_share = 100.0 * _matched(ours, theirs, distance) / len(ours)
    compared_share = 100.0 * _matched(theirs, ours, distance) / len(theirs)
    verdict = query_share >= query_percent and compared_share >= compared_percent
    return VpdqMatch(query_share, compared_share, verdict)


def _usable(frames: Iterable[VpdqFrame], min_quality: int) -> NDArray[np.uint64]:
    """The hashes of the frames good enough to match, as rows of four 64-bit words."""
    digests = b"".join(f.hash.digest for f in frames if f.quality >= min_quality)
    return np.frombuffer(digests, dtype=np.uint64).reshape(-1, 4)


def _matched(hashes: NDArray[np.uint64], others: NDArray[np.uint64], distance: int) -> int:
    """How many of ``hashes`` lie within ``distance`` of at least one of ``others``."""
    others = np.unique(others, axis=0)
    # Bound the (rows x others x 4) working array to about 32 MiB.
    step = max(1, (1 << 20) // len(others))
    found = 0
    for start in range(0, len(hashes), step):
        block = hashes[start : start + step, None, :] ^ others[None, :, :]
        distances = np.bitwise_count(block).sum(axis=2, dtype=np.int32)
        found += int((distances <= distance).any(axis=1).sum())
    return found
