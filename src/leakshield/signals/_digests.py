"""Cryptographic digests: exact-match signals (MD5 for video hash-sharing, SHA-256 for evidence)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from leakshield.signals._base import FixedHash, register

_CHUNK = 1 << 20


@register
@dataclass(frozen=True)
class Md5Hash(FixedHash):
    """MD5 of a file's bytes, as hash-sharing programs exchange for videos."""

    type_name = "md5"
    description = "MD5 of the file's bytes (exact match only)"
    size = 16

    @classmethod
    def examples(cls) -> tuple[str, ...]:
        return ("d41d8cd98f00b204e9800998ecf8427e", "9e107d9d372bb6826bd81d3542a419d6")


@register
@dataclass(frozen=True)
class Sha256Hash(FixedHash):
    """SHA-256 of a file's bytes."""

    type_name = "sha256"
    description = "SHA-256 of the file's bytes (exact match only)"
    size = 32

    @classmethod
    def examples(cls) -> tuple[str, ...]:
        return (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592",
        )


def file_digests(path: Path) -> tuple[Md5Hash, Sha256Hash]:
    """MD5 and SHA-256 of a file, in one pass over its bytes."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
    return Md5Hash(md5.digest()), Sha256Hash(sha256.digest())
