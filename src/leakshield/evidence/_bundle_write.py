"""Writing a bundle's zip: entries stored or deflated as suits them, and the whole file
made atomically, so that a failed export leaves nothing behind."""

from __future__ import annotations

import contextlib
import hashlib
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from leakshield._files import atomic_output
from leakshield.evidence._bundle_format import CHUNK, BundleLimits, is_compressed

__all__ = ["atomic_zip", "put", "put_file"]

# Compressible files up to this size are deflated (in memory, to check they deflate
# safely); larger ones, and media compressed already, are stored as they are.
_DEFLATE_AT_MOST = 64 << 20
_LEVEL = 1


def put_file(
    archive: zipfile.ZipFile,
    path: str,
    open_stream: Callable[[], BinaryIO],
    entry: Mapping[str, Any],
    stamp: tuple[int, ...],
) -> tuple[str, int]:
    """Add an evidence file to ``archive``; the SHA-256 (hex) and size of what was read.

    ``entry`` is its record (name, size, media type). Media is stored as it is; other
    files are deflated unless they would deflate so well that verification would take
    them for a zip bomb.
    """
    name, expected = str(entry["name"]), int(entry["size"])
    if is_compressed(name, entry.get("media_type")) or expected > _DEFLATE_AT_MOST:
        info = _info(path, stamp, stored=True)
        info.file_size = expected  # lets zipfile choose ZIP64 up front for large files
        with open_stream() as stream, archive.open(info, "w") as target:
            return _copy(stream, target.write, expected)
    parts: list[bytes] = []
    with open_stream() as stream:
        digest, size = _copy(stream, parts.append, expected)
    data = b"".join(parts)
    # Level 1: evidence is written once and read often, and deflate's higher levels gain
    # little on such files for several times the time.
    info = _info(path, stamp, stored=not _deflates_safely(data))
    archive.writestr(info, data, compresslevel=_LEVEL)
    return digest, size


def _copy(stream: BinaryIO, write: Callable[[bytes], object], expected: int) -> tuple[str, int]:
    """Copy ``stream`` to ``write``; the SHA-256 (hex) and size of what was read.

    Reading stops one chunk past ``expected`` bytes: a longer stream is wrong anyway.
    """
    digest, size = hashlib.sha256(), 0
    while block := stream.read(CHUNK):
        size += len(block)
        digest.update(block)
        if size > expected:
            break
        write(block)
    return digest.hexdigest(), size


def _deflates_safely(data: bytes) -> bool:
    # Verification refuses an entry that inflates too much (a zip bomb), so a file that
    # deflates far too well (zeros, a repeated line) is stored as it is instead.
    limits = BundleLimits()
    if len(data) <= limits.ratio_floor:
        return True
    return len(data) <= limits.max_ratio / 2 * len(zlib.compress(data, _LEVEL))


def put(
    archive: zipfile.ZipFile,
    name: str,
    data: bytes,
    stamp: tuple[int, ...],
    *,
    stored: bool = False,
) -> None:
    """Add ``data`` to ``archive`` as ``name``, deflated unless ``stored``."""
    archive.writestr(_info(name, stamp, stored=stored), data)


def _info(name: str, stamp: tuple[int, ...], *, stored: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, (stamp[0], stamp[1], stamp[2], stamp[3], stamp[4], stamp[5]))
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the mode below reads as a regular file
    info.external_attr = 0o100600 << 16
    return info


@contextlib.contextmanager
def atomic_zip(out: Path) -> Iterator[zipfile.ZipFile]:
    """A zip that becomes ``out`` only once it is whole and synced.

    It is written to a temporary file beside ``out``, readable by its owner only (it holds
    intimate evidence), then renamed over ``out``.
    """
    with atomic_output(out) as handle, zipfile.ZipFile(handle, "w", allowZip64=True) as archive:
        yield archive
