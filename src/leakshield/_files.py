"""Writing files the user names: whole or not at all, and sizes in words."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from leakshield.errors import InputError

__all__ = ["atomic_output", "human_size", "sync_folder"]


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A file that becomes ``path`` only once it is whole and synced.

    It is written to a temporary file beside ``path`` (readable by its owner only), then
    renamed over it, so a reader never sees half a file and a failure leaves none behind.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}. Check the folder exists.") from None
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (POSIX; ignored where it cannot)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def human_size(size: object) -> str:
    """``size`` bytes in words: "1,536 bytes (1.5 KiB)"; "unknown" when not a number."""
    if not isinstance(size, int) or isinstance(size, bool):
        return "unknown"
    if size < 1024:
        return f"{size:,} bytes"
    scaled, unit = size / 1024, "KiB"
    for larger in ("MiB", "GiB", "TiB"):
        if scaled < 1024:
            break
        scaled, unit = scaled / 1024, larger
    return f"{size:,} bytes ({scaled:.1f} {unit})"
