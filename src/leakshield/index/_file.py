"""The index file: one compacted segment, tables included, with a SHA-256 footer.

Layout (little-endian), each section starting on a 64-byte boundary:

    header   64 bytes: magic, format version, chunk count, entry count, chunk widths
    hashes   entries x 4 uint64
    ids      entries x int64
    offsets  sum(2**bits + 1) uint32      (absent when the segment has no tables)
    slots    chunks x entries uint32
    footer   SHA-256 of every byte before it

Loading maps the file read-only, so processes that load the same file share one
copy in memory, and refuses a file whose size, checksum or tables are not what
the header says. Saving writes a temporary file beside the target and renames it
over the target, so a crash never leaves a half-written index under its name.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from leakshield.index import _kernels
from leakshield.index._layout import HASH_BITS, Layout
from leakshield.index._segment import Segment, Tables
from leakshield.index._words import HashIndexError

if TYPE_CHECKING:
    from leakshield.index._index import HashIndex

MAGIC = b"LSHIDX\r\n"  # the CR LF shows a text-mode transfer that mangled the file
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIIQ32s8x")
_ALIGN = 64
_DIGEST = 32
_MAX_CHUNKS = 32


class IndexFileError(HashIndexError):
    """An index file that cannot be read as one: missing, truncated, corrupted or too new."""

    slug = "bad-index-file"
    title = "Bad index file"


def _pad(offset: int) -> int:
    return -offset % _ALIGN


def _sections(entries: int, layout: Layout | None) -> list[tuple[str, np.dtype[Any], int]]:
    sections: list[tuple[str, np.dtype[Any], int]] = [
        ("hashes", np.dtype("<u8"), entries * 4),
        ("ids", np.dtype("<i8"), entries),
    ]
    if layout is not None:
        sections += [
            ("offsets", np.dtype("<u4"), layout.offsets_size),
            ("slots", np.dtype("<u4"), len(layout.bits) * entries),
        ]
    return sections


def _write(out: IO[bytes], digest: hashlib._Hash, data: bytes | memoryview) -> int:
    out.write(data)
    digest.update(data)
    return len(data)


def save(index: HashIndex, path: str | os.PathLike[str]) -> None:
    """Write ``index`` to ``path``, compacting it first; replaces ``path`` atomically."""
    target = Path(path)
    with index._writing() as snap:
        segment = snap.segments[0] if snap.segments else None
        entries = len(segment) if segment else 0
        tables = segment.tables if segment else None
        layout = tables.layout if tables else None
        bits = bytes(layout.bits) if layout else b""
        header = _HEADER.pack(MAGIC, FORMAT_VERSION, len(bits), entries, bits.ljust(32, b"\0"))
        arrays = {}
        if segment is not None:
            arrays = {"hashes": segment.hashes, "ids": segment.ids}
            if tables is not None:
                arrays |= {"offsets": tables.offsets, "slots": tables.slots}
        digest = hashlib.sha256()
        # A unique name, so that two writers never share a temporary file.
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                written = _write(out, digest, header)
                for name, dtype, _count in _sections(entries, layout):
                    written += _write(out, digest, b"\0" * _pad(written))
                    data = np.ascontiguousarray(arrays.get(name, np.empty(0)), dtype=dtype)
                    written += _write(
                        out, digest, data.tobytes() if not data.size else data.data.cast("B")
                    )
                out.write(digest.digest())
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _read_header(data: mmap.mmap | bytes, path: Path) -> tuple[int, Layout | None]:
    magic, version, chunks, entries, bits = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise IndexFileError(f"{path} is not a leakshield index file")
    if version != FORMAT_VERSION:
        raise IndexFileError(
            f"{path} is index format {version}; this leakshield reads format "
            f"{FORMAT_VERSION}. Rebuild the index, or use the leakshield that wrote it"
        )
    if chunks > _MAX_CHUNKS or entries >= 2**32:
        raise IndexFileError(f"{path} has a corrupted header; rebuild the index")
    if chunks == 0:
        return entries, None
    widths = tuple(bits[:chunks])
    if sum(widths) != HASH_BITS or not all(1 <= b <= 30 for b in widths):
        raise IndexFileError(f"{path} has a corrupted header; rebuild the index")
    return entries, Layout(widths)


def load(
    path: str | os.PathLike[str], *, memory_map: bool = True, verify: bool = False
) -> HashIndex:
    """Read an index written by `save`; the file is mapped, not copied, unless told.

    The size, the SHA-256 and the bounds of the tables are always checked. With
    ``verify``, also that every table lists each entry once under its own key: the
    checksum already catches damage, this catches a file made to pass it, and takes
    about as long as building the tables (seconds for 10M entries).
    """
    from leakshield.index._index import HashIndex

    source = Path(path)
    try:
        with source.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < _HEADER.size + _DIGEST:
                raise IndexFileError(f"{source} is truncated ({size} bytes); rebuild the index")
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise IndexFileError(f"cannot read the index file {source}: {exc.strerror}") from exc
    entries, layout = _read_header(data, source)
    spans = []
    offset = _HEADER.size
    for name, dtype, count in _sections(entries, layout):
        offset += _pad(offset)
        spans.append((name, dtype, count, offset))
        offset += count * dtype.itemsize
    if size != offset + _DIGEST:
        raise IndexFileError(
            f"{source} is {size} bytes where its header says {offset + _DIGEST}: it is "
            f"truncated or damaged; rebuild the index"
        )
    _check_digest(data, offset, source)
    arrays = {
        name: np.frombuffer(data, dtype, count, start).astype(dtype.newbyteorder("="), copy=False)
        for name, dtype, count, start in spans
    }
    if not memory_map:
        arrays = {name: a.copy() for name, a in arrays.items()}
    hashes = arrays["hashes"].reshape(entries, 4)
    tables = None
    if layout is not None:
        tables = Tables(layout, arrays["offsets"], arrays["slots"].reshape(len(layout.bits), -1))
        _check_tables(tables, entries, source)
        if verify and not _kernels.tables_agree(
            hashes, layout.starts, layout.widths, layout.bases, tables.offsets, tables.slots
        ):
            raise IndexFileError(f"{source} has inconsistent tables; rebuild the index")
    index = HashIndex()
    if entries:
        index._restore(Segment(hashes, arrays["ids"], tables))
    return index


def _check_digest(data: mmap.mmap, end: int, path: Path) -> None:
    digest = hashlib.sha256()
    view = memoryview(data)
    step = 1 << 24
    for start in range(0, end, step):
        digest.update(view[start : min(start + step, end)])
    view.release()
    if digest.digest() != data[end : end + _DIGEST]:
        raise IndexFileError(f"{path} fails its checksum: it is corrupted; rebuild the index")


def _check_tables(tables: Tables, entries: int, path: Path) -> None:
    # The checksum catches damage; these catch a file made to look valid, since
    # the search kernels trust offsets and slots to stay in bounds.
    offsets = tables.offsets
    for base, bits in zip(tables.layout.bases, tables.layout.bits, strict=True):
        table = offsets[base : base + (1 << bits) + 1]
        if table[0] != 0 or table[-1] != entries or np.any(table[1:] < table[:-1]):
            raise IndexFileError(f"{path} has inconsistent tables; rebuild the index")
    if entries and tables.slots.max() >= entries:
        raise IndexFileError(f"{path} has inconsistent tables; rebuild the index")
