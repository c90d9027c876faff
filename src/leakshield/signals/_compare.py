"""Comparing two pieces of media, or their signals: distance and the match verdict."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from leakshield.errors import UsageError
from leakshield.media import detect_media_type
from leakshield.signals._base import FixedHash, Signal, parse_signal, signal_types
from leakshield.signals._digests import Md5Hash, Sha256Hash, file_digests
from leakshield.signals._files import HashOptions
from leakshield.signals._pdq import (
    MATCH_DISTANCE,
    MIN_QUALITY,
    PdqHash,
    Transform,
    pdq_dihedral_from_file,
)
from leakshield.signals._vpdq import (
    COMPARED_MATCH_PERCENT,
    QUERY_MATCH_PERCENT,
    VpdqHash,
    vpdq_from_file,
    vpdq_match,
)

Operand = Signal | Path


@dataclass(frozen=True)
class CompareOptions:
    """Thresholds of the PDQ and vPDQ rules, and how to hash files given as operands."""

    hashing: HashOptions = field(default_factory=HashOptions)
    distance: int = MATCH_DISTANCE
    min_quality: int = MIN_QUALITY
    query_percent: float = QUERY_MATCH_PERCENT
    compared_percent: float = COMPARED_MATCH_PERCENT


@dataclass(frozen=True)
class Comparison:
    """The verdict on two operands under their signal type's rule, with the figures behind it."""

    a: str
    b: str
    signal_type: str
    match: bool
    distance: int | None = None
    threshold: int | None = None
    transform: Transform | None = None
    quality: tuple[int | None, int | None] | None = None
    query_match_percent: float | None = None
    compared_match_percent: float | None = None
    reason: str = ""

    def to_record(self) -> dict[str, Any]:
        """The JSON form of ``leakshield compare --json``; absent figures are left out."""
        record: dict[str, Any] = {"a": self.a, "b": self.b, "signal_type": self.signal_type}
        for name in ("distance", "threshold", "transform", "query_match_percent"):
            if getattr(self, name) is not None:
                record[name] = getattr(self, name)
        if self.compared_match_percent is not None:
            record["compared_match_percent"] = self.compared_match_percent
        if self.quality is not None:
            record["quality"] = {"a": self.quality[0], "b": self.quality[1]}
        record["match"] = self.match
        record["reason"] = self.reason
        return record


def parse_operand(text: str) -> Operand:
    """A ``TYPE:VALUE`` signal when ``text`` starts with a known type, else a file path."""
    kind, sep, _ = text.partition(":")
    if sep and kind.strip().lower() in signal_types():
        return parse_signal(text)
    path = Path(text)
    if not path.exists():
        raise UsageError(
            f"{text[:80]!r} is neither a file nor a signal; give a path or TYPE:VALUE "
            "(e.g. pdq:<64 hex digits>)"
        )
    return path


def compare(a: Operand, b: Operand, options: CompareOptions | None = None) -> Comparison:
    """Compare two files or signals under the rule of their signal type."""
    options = options or CompareOptions()
    kind = _signal_type(a, b, options)
    if kind in (Md5Hash, Sha256Hash):
        return _compare_exact(a, b, kind)
    # Small matrices: BLAS threads would cost more than they give (see hash_files).
    with threadpool_limits(limits=1, user_api="blas"):
        if kind is PdqHash:
            return _compare_pdq(a, b, options)
        return _compare_vpdq(a, b, options)


def _label(operand: Operand) -> str:
    return str(operand) if isinstance(operand, Path) else operand.typed()


def _signal_type(a: Operand, b: Operand, options: CompareOptions) -> type[Signal]:
    kinds = {type(x) for x in (a, b) if isinstance(x, Signal)}
    if len(kinds) > 1:
        names = " and ".join(sorted(k.type_name for k in kinds))
        raise UsageError(f"cannot compare {names} signals; give two signals of one type")
    if kinds:
        return kinds.pop()
    media = {detect_media_type(x, options.hashing.limits) for x in (a, b) if isinstance(x, Path)}
    if media == {"image"}:
        return PdqHash
    if media == {"video"}:
        return VpdqHash
    raise UsageError("cannot compare an image with a video; give two images or two videos")


def _compare_exact(a: Operand, b: Operand, kind: type[Signal]) -> Comparison:
    def value(operand: Operand) -> FixedHash:
        if isinstance(operand, Signal):
            assert isinstance(operand, FixedHash)
            return operand
        md5, sha256 = file_digests(operand)
        return md5 if kind is Md5Hash else sha256

    distance = value(a) - value(b)
    same = distance == 0
    reason = "identical bytes" if same else "the files' bytes differ"
    return Comparison(_label(a), _label(b), kind.type_name, same, distance, 0, reason=reason)


def _compare_pdq(a: Operand, b: Operand, options: CompareOptions) -> Comparison:
    # The dihedral variants come from the DCT, so they need a file: use the first one.
    if isinstance(a, Signal) and isinstance(b, Path):
        swapped = _compare_pdq(b, a, options)
        quality = None if swapped.quality is None else swapped.quality[::-1]
        return replace(swapped, a=swapped.b, b=swapped.a, quality=quality)
    limits = options.hashing.limits
    quality_a: int | None = None
    quality_b: int | None = None
    if isinstance(a, Path):
        variants, quality_a = pdq_dihedral_from_file(a, limits)
    else:
        assert isinstance(a, PdqHash)
        variants = {"original": a}
    if isinstance(b, Path):
        b_variants, quality_b = pdq_dihedral_from_file(b, limits)
        other = b_variants["original"]
    else:
        assert isinstance(b, PdqHash)
        other = b
    # A rotation or mirror image counts when it brings the distance within the
    # threshold; otherwise the plain distance is the one reported.
    best_name, best = min(variants.items(), key=lambda item: item[1] - other)
    distance, transform = variants["original"] - other, None
    if best_name != "original" and best - other <= options.distance < distance:
        distance, transform = best - other, best_name
    low = [q for q in (quality_a, quality_b) if q is not None and q < options.min_quality]
    within = distance <= options.distance
    how = f" with {transform} applied" if transform else ""
    if low:
        reason = f"quality {min(low)} is below {options.min_quality}: too little detail to match"
    elif within:
        reason = f"distance {distance}{how} <= {options.distance}"
    else:
        reason = f"distance {distance}{how} > {options.distance}"
    return Comparison(
        _label(a),
        _label(b),
        "pdq",
        within and not low,
        distance,
        options.distance,
        transform,
        (quality_a, quality_b) if isinstance(a, Path) or isinstance(b, Path) else None,
        reason=reason,
    )


def _compare_vpdq(a: Operand, b: Operand, options: CompareOptions) -> Comparison:
    def value(operand: Operand) -> VpdqHash:
        if isinstance(operand, Signal):
            assert isinstance(operand, VpdqHash)
            return operand
        hashing = options.hashing
        return vpdq_from_file(operand, hashing.limits, every=hashing.every)

    result = vpdq_match(
        value(a),
        value(b),
        distance=options.distance,
        min_quality=options.min_quality,
        query_percent=options.query_percent,
        compared_percent=options.compared_percent,
    )
    reason = (
        f"{result.query_match_percent:.1f}% of A's frames and "
        f"{result.compared_match_percent:.1f}% of B's found a frame within {options.distance}; "
        f"a match needs {options.query_percent:g}% and {options.compared_percent:g}%"
    )
    return Comparison(
        _label(a),
        _label(b),
        "vpdq",
        result.match,
        None,
        options.distance,
        query_match_percent=round(result.query_match_percent, 2),
        compared_match_percent=round(result.compared_match_percent, 2),
        reason=reason,
    )
