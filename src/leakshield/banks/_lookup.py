"""What to look up for one input: the signals of a file, or one signal given as text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leakshield.signals import (
    HashOptions,
    Md5Hash,
    PdqHash,
    Signal,
    hash_file,
    pdq_dihedral_from_file,
)


@dataclass(frozen=True)
class FileSignals:
    """The signals of one file that can be looked up, and the PDQ quality if an image.
    ``signals`` holds several PDQ hashes when dihedral variants were asked for."""

    media_type: str
    signals: tuple[Signal, ...]
    md5: Md5Hash
    pdq: PdqHash | None = None
    pdq_quality: int | None = None


def file_signals(path: Path, options: HashOptions, *, dihedral: bool = False) -> FileSignals:
    """Hash a file for lookup: PDQ (and its 7 rotations and flips when ``dihedral``) for
    an image, vPDQ for a video, MD5 for both. A PDQ hash of quality below 50 is left out,
    as it would match unrelated flat images. Raises `MediaError` for a refused file."""
    hashes = hash_file(path, options)
    signals: list[Signal] = []
    if hashes.pdq is not None and hashes.pdq.usable:
        signals.append(hashes.pdq.hash)
        if dihedral:
            variants, _quality = pdq_dihedral_from_file(path, options.limits)
            signals.extend(h for h in variants.values() if h != hashes.pdq.hash)
    if hashes.vpdq is not None:
        signals.append(hashes.vpdq)
    signals.append(hashes.md5)
    return FileSignals(
        media_type=hashes.media_type,
        signals=tuple(signals),
        md5=hashes.md5,
        pdq=hashes.pdq.hash if hashes.pdq else None,
        pdq_quality=hashes.pdq.quality if hashes.pdq else None,
    )
