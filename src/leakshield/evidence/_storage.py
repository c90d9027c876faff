"""A case's files on disk, written so that a crash at any point loses nothing committed
and leaves no half item: objects are written whole then renamed, the log is appended and
synced (the commit point), and what an interrupted write left behind is cleaned up on
the next open."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from leakshield._files import sync_folder as _sync_folder
from leakshield.evidence._model import CaseBusyError, DamagedCaseError

__all__ = ["CaseFiles"]

_LENGTH = struct.Struct(">I")
_MAX_RECORD = 16 << 20
_TEMP = "tmp-"


class CaseFiles:
    """The folder of one case: ``case.json`` (keys, wrapped), ``log.bin`` (sealed records,
    length-prefixed), ``heads.jsonl`` (signed tree heads) and ``objects/`` (sealed files,
    named at random so that no file name shows)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.header = folder / "case.json"
        self.log = folder / "log.bin"
        self.heads = folder / "heads.jsonl"
        self.objects = folder / "objects"
        self._lock: int | None = None

    # The header

    def write_header(self, document: dict[str, Any]) -> None:
        """Replace ``case.json`` atomically."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(prefix=_TEMP, dir=self.folder)
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        Path(name).replace(self.header)
        _sync_folder(self.folder)

    def read_header(self) -> dict[str, Any]:
        try:
            document = json.loads(self.header.read_text())
        except FileNotFoundError:
            raise DamagedCaseError(f"{self.folder} has no case.json") from None
        except ValueError:
            raise DamagedCaseError(f"{self.header} is damaged") from None
        if not isinstance(document, dict) or document.get("format") != "leakshield-case/1":
            raise DamagedCaseError(f"{self.header} is not a leakshield case")
        return document

    # The lock: one writer a case

    def lock(self) -> None:
        """Hold the case for this process; another one writing it is an error."""
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CaseBusyError(
                "another leakshield process is using this case; try again"
            ) from None
        self._lock = fd

    def moved_to(self, folder: Path) -> CaseFiles:
        """Rename the case's folder to ``folder`` (atomically), keeping the lock held."""
        self.folder.rename(folder)
        _sync_folder(folder.parent)
        moved = CaseFiles(folder)
        moved._lock, self._lock = self._lock, None
        return moved

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    # The log

    def append_record(self, *sealed: bytes) -> None:
        """Append sealed records and sync: once this returns, they are committed."""
        with self.log.open("ab") as handle:
            handle.write(b"".join(_LENGTH.pack(len(one)) + one for one in sealed))
            handle.flush()
            os.fsync(handle.fileno())

    def read_records(self, committed: int = 0) -> list[bytes]:
        """Every complete sealed record; an incomplete one at the end (a crash while
        appending, never committed) is cut off, unless that would lose one of the first
        ``committed`` records (those a signed tree head covers): then the log is damaged,
        and is left as it is."""
        try:
            data = self.log.read_bytes()
        except FileNotFoundError:
            return []
        records, at = [], 0
        while at + _LENGTH.size <= len(data):
            (length,) = _LENGTH.unpack_from(data, at)
            if length > _MAX_RECORD:
                raise DamagedCaseError(f"the case log is damaged at byte {at}")
            end = at + _LENGTH.size + length
            if end > len(data):
                break
            records.append(data[at + _LENGTH.size : end])
            at = end
        if at != len(data) and len(records) < committed:
            raise DamagedCaseError(
                f"the case log is damaged at record {len(records)} (byte {at}); "
                "it was left as it is"
            )
        if at != len(data):
            with self.log.open("r+b") as handle:
                handle.truncate(at)
                os.fsync(handle.fileno())
        return records

    # Tree heads

    def append_head(self, record: dict[str, Any]) -> None:
        """Append a signed tree head. Not synced: a head lost to a power cut is signed again
        from the log (the commit point) on the next open."""
        with self.heads.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def read_heads(self, *, repair: bool = True) -> list[dict[str, Any]]:
        """Every complete head; a line cut off by a crash is dropped (and, with ``repair``,
        removed from the file; a reader that holds no lock must not write)."""
        try:
            text = self.heads.read_text()
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        complete, heads = lines[:-1], []
        for number, line in enumerate(complete, 1):
            try:
                head = json.loads(line)
            except ValueError:
                head = None
            if not isinstance(head, dict):
                raise DamagedCaseError(f"tree head {number} of the case is damaged")
            heads.append(head)
        if lines[-1] and repair:
            fd, name = tempfile.mkstemp(prefix=_TEMP, dir=self.folder)
            with os.fdopen(fd, "w") as handle:
                handle.write("".join(line + "\n" for line in complete))
                handle.flush()
                os.fsync(handle.fileno())
            Path(name).replace(self.heads)
        return heads

    # Objects

    @contextlib.contextmanager
    def new_object(self, *, sync_folder: bool = True) -> Iterator[tuple[str, BinaryIO]]:
        """A new object to write: synced and renamed into place when the block ends well.
        Without ``sync_folder`` the caller syncs the folder (`sync_objects`) before any
        record names the object: once for a batch instead of once a file."""
        self.objects.mkdir(exist_ok=True, mode=0o700)
        object_id = secrets.token_hex(16)
        temporary = self.objects / f"{_TEMP}{object_id}"
        try:
            with temporary.open("xb") as handle:
                yield object_id, handle
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(self.objects / object_id)
            if sync_folder:
                _sync_folder(self.objects)
        finally:
            temporary.unlink(missing_ok=True)

    def sync_objects(self) -> None:
        """Make the objects written so far survive a power cut (their names too)."""
        if self.objects.is_dir():
            _sync_folder(self.objects)

    def workspace(self) -> Path:
        """A scratch folder inside the case (a capture's files before they are sealed);
        removed by the caller, or by `sweep` after a crash."""
        return Path(tempfile.mkdtemp(prefix=_TEMP, dir=self.folder))

    def open_object(self, object_id: str) -> BinaryIO:
        if len(object_id) != 32 or not all(c in "0123456789abcdef" for c in object_id):
            raise DamagedCaseError(f"the case log names a bad object {object_id!r}")
        try:
            return (self.objects / object_id).open("rb")
        except FileNotFoundError:
            raise DamagedCaseError(f"a stored file of the case is missing ({object_id})") from None

    def sweep(self, referenced: set[str]) -> int:
        """Remove what interrupted writes left: temporary files, and objects no committed
        record refers to. Returns how many were removed."""
        removed = 0
        for folder in (self.folder, self.objects):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                stale = path.name.startswith(_TEMP) or (
                    folder == self.objects and path.name not in referenced
                )
                if stale and path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
                elif stale and path.is_file():
                    path.unlink()
                    removed += 1
        return removed
