"""Reading a bundle's zip without trusting it: the end record and the central directory are
screened before anything is decompressed, and entries are streamed, never extracted.

A hostile zip may name entries outside any folder (``../``, ``/etc``, ``C:``, ``\\``), hold
symlinks, declare a small file that inflates to terabytes, point many entries at the same
bytes, or hold millions of entries; each is a named problem here, never an exception.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from leakshield.errors import InputError
from leakshield.evidence._bundle_format import (
    CHUNK,
    BundleLimits,
    Problems,
    shown,
    zip_name_problem,
)

__all__ = ["ZIP_ERRORS", "BundleZip", "open_bundle"]

# What zipfile and zlib raise on damaged input; RuntimeError is an encrypted entry.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    zlib.error,
)

_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END_SIGNATURE = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")  # ZIP64 end of central directory locator
_END64 = struct.Struct("<4sQ2H2L4Q")  # ZIP64 end of central directory record
_LOCAL_HEADER = 30
_ALLOWED_TYPES = {0, stat.S_IFREG, stat.S_IFDIR}  # 0: made where file modes are not kept


class BundleZip:
    """A bundle's zip whose directory passed the safety checks: its safe file entries."""

    def __init__(self, archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo]) -> None:
        self.archive = archive
        self.entries = entries  # name -> entry, in the order their bytes lie in the file

    def read(self, name: str, limit: int, problems: Problems) -> bytes | None:
        """The whole of entry ``name`` if it is there, at most ``limit`` bytes, and readable."""
        info = self.entries.get(name)
        if info is None:
            problems.add("missing-entry", f"the bundle has no {name}", path=name)
            return None
        if info.file_size > limit:
            problems.add(
                "too-large",
                f"{name} is {info.file_size:,} bytes, over the {limit:,} a bundle's "
                "metadata may have; it was not read",
                path=name,
            )
            return None
        try:
            with self.archive.open(info) as handle:
                return handle.read(limit)
        except ZIP_ERRORS as exc:
            problems.add("corrupt-entry", f"{name} cannot be read: {_why(exc)}", path=name)
            return None

    def digest(self, info: zipfile.ZipInfo) -> tuple[str, int]:
        """SHA-256 (hex) and size of an entry, streamed; raises one of ``ZIP_ERRORS``."""
        digest, size = hashlib.sha256(), 0
        with self.archive.open(info) as handle:
            while block := handle.read(CHUNK):
                size += len(block)
                if size > info.file_size:  # zipfile stops at the declared size; be sure
                    raise zipfile.BadZipFile("more data than its declared size")
                digest.update(block)
        return digest.hexdigest(), size


@contextlib.contextmanager
def open_bundle(path: Path, limits: BundleLimits, problems: Problems) -> Iterator[BundleZip | None]:
    """The zip at ``path`` screened for safety, or None when it must not be read further.

    Why not is noted in ``problems``. Raises `InputError` only when ``path`` cannot be
    opened (missing, not a regular file, unreadable).
    """
    try:
        # A pipe or a device would block or never end: only a regular file is opened.
        if path.exists() and not path.is_file():
            raise InputError(f"cannot read {path}: it is not a file. Give the bundle's zip.")
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}. Check the path.") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        archive = _open_zip(handle, size, path.name, limits, problems)
        if archive is None:
            yield None
            return
        with archive:
            yield _screen(archive, size, limits, problems)


def _open_zip(
    handle: BinaryIO, size: int, label: str, limits: BundleLimits, problems: Problems
) -> zipfile.ZipFile | None:
    start = handle.read(4)
    try:
        directory = _directory_size(handle, size)
    except OSError as exc:
        raise InputError(f"cannot read {label}: {exc.strerror}") from None
    if directory is None:
        if start.startswith(b"PK"):
            problems.add(
                "corrupt-zip",
                f"{label} is a damaged or cut-short zip: its end "
                "record is missing. Ask for a complete copy.",
            )
        else:
            problems.add("not-a-zip", f"{label} is not a zip file, so not a leakshield bundle.")
        return None
    entries, directory_bytes = directory
    if entries > limits.max_entries:
        problems.add(
            "too-many-entries",
            f"{label} declares {entries:,} entries, more than "
            f"the {limits.max_entries:,} a bundle may hold; it was not read.",
        )
        return None
    if directory_bytes > limits.max_directory_bytes:
        problems.add(
            "zip-bomb",
            f"{label} declares a directory of {directory_bytes:,} bytes, "
            "far more than a bundle needs; it was not read.",
        )
        return None
    handle.seek(0)
    try:
        return zipfile.ZipFile(handle)
    except ZIP_ERRORS as exc:
        problems.add("corrupt-zip", f"{label} cannot be read as a zip: {_why(exc)}.")
        return None


def _directory_size(handle: BinaryIO, size: int) -> tuple[int, int] | None:
    """(entries, central directory bytes) as the end record declares; None without one.

    Read before zipfile parses the directory, so a huge one is refused unparsed.
    """
    tail_size = min(size, _END.size + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or len(tail) - at < _END.size:
        return None
    fields = _END.unpack_from(tail, at)
    entries, directory_bytes = fields[4], fields[5]
    locator = at - _LOCATOR.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        offset = _LOCATOR.unpack_from(tail, locator)[2]
        if offset < size:
            handle.seek(offset)
            record = handle.read(_END64.size)
            if len(record) == _END64.size and record.startswith(b"PK\x06\x06"):
                fields64 = _END64.unpack(record)
                entries, directory_bytes = fields64[7], fields64[8]
    return entries, directory_bytes


def _screen(
    archive: zipfile.ZipFile, size: int, limits: BundleLimits, problems: Problems
) -> BundleZip | None:
    infos = sorted(archive.infolist(), key=lambda info: info.header_offset)
    if len(infos) > limits.max_entries:
        problems.add(
            "too-many-entries",
            f"the bundle holds {len(infos):,} entries, more than "
            f"the {limits.max_entries:,} allowed; it was not read.",
        )
        return None
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if _safe_file(info, entries, problems):
            entries[info.orig_filename] = info
    if _bomb(infos, entries, size, limits, problems):
        return None
    return BundleZip(archive, entries)


def _safe_file(
    info: zipfile.ZipInfo, entries: dict[str, zipfile.ZipInfo], problems: Problems
) -> bool:
    """Whether ``info`` is a regular file entry that may be read; notes why not."""
    name = info.orig_filename
    why = zip_name_problem(name)
    kind = stat.S_IFMT(info.external_attr >> 16)
    if why is not None:
        message = f"zip entry {shown(name)} {why}; it could write outside a folder when "
        problems.add("unsafe-name", message + "unzipped, and was not read", path=name)
    elif kind == stat.S_IFLNK:
        problems.add(
            "symlink",
            f"zip entry {shown(name)} is a symbolic link, which a bundle "
            "never holds (unzipped, it could point anywhere); it was not read",
            path=name,
        )
    elif kind not in _ALLOWED_TYPES:
        problems.add(
            "special-file",
            f"zip entry {shown(name)} is not a regular file (mode {oct(kind)}); it was not read",
            path=name,
        )
    elif name.endswith("/"):
        return False  # a folder entry, as `zip -r` makes: nothing to check
    elif name in entries:
        problems.add(
            "duplicate-entry",
            f"the zip holds {shown(name)} twice; tools differ in "
            "which copy they show, so neither can be trusted",
            path=name,
        )
    elif info.flag_bits & 0x1:
        problems.add(
            "encrypted-entry",
            f"zip entry {shown(name)} is encrypted; a bundle never is, and it could not be checked",
            path=name,
        )
    elif info.compress_type not in {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}:
        problems.add(
            "unsupported-compression",
            f"zip entry {shown(name)} uses compression "
            f"method {info.compress_type}, which bundles never use",
            path=name,
        )
    else:
        return True
    return False


def _bomb(
    infos: list[zipfile.ZipInfo],
    entries: dict[str, zipfile.ZipInfo],
    size: int,
    limits: BundleLimits,
    problems: Problems,
) -> bool:
    """Whether the entries would inflate to far more than the file holds (noted if so)."""
    for info in entries.values():
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            problems.add(
                "zip-bomb",
                f"zip entry {shown(info.orig_filename)} would inflate "
                f"{info.compress_size:,} bytes to {info.file_size:,}; nothing was "
                "read (a zip bomb)",
                path=info.orig_filename,
            )
            return True
    for before, after in itertools.pairwise(infos):
        encoding = "utf-8" if before.flag_bits & 0x800 else "cp437"  # as zipfile decoded it
        name_bytes = len(before.orig_filename.encode(encoding, "replace"))
        if before.header_offset + _LOCAL_HEADER + name_bytes + before.compress_size > (
            after.header_offset
        ):
            problems.add(
                "zip-bomb",
                f"zip entries {shown(before.orig_filename)} and "
                f"{shown(after.orig_filename)} overlap in the file (a zip bomb "
                "trick); nothing was read",
            )
            return True
    total = sum(info.file_size for info in entries.values())
    if total > limits.max_total_bytes:
        problems.add(
            "too-large",
            f"the bundle would inflate to {total:,} bytes, over the "
            f"{limits.max_total_bytes:,} allowed; nothing was read",
        )
        return True
    if total > limits.max_ratio * size + limits.ratio_floor:
        problems.add(
            "zip-bomb",
            f"the bundle's {size:,} bytes would inflate to {total:,}; "
            "nothing was read (a zip bomb)",
        )
        return True
    return False


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]
