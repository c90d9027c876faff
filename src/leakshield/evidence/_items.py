"""Adding evidence to an open case: files (copied in, never moved or changed), notes, and
web captures; each one item, committed by one log record."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakshield.errors import LeakshieldError
from leakshield.evidence._model import EvidenceItem
from leakshield.evidence._vault import OpenCase, item_of, now, who
from leakshield.media import MediaLimits

if TYPE_CHECKING:
    from leakshield.evidence._capture import Capture

__all__ = ["MAX_NOTE", "add_capture", "add_file", "add_files", "add_note"]

MAX_NOTE = 100_000


def add_file(
    case: OpenCase, path: Path, *, limits: MediaLimits, actor: str | None = None
) -> EvidenceItem:
    """Copy ``path`` into the case (sealed) and record it, with its digests and PDQ or
    vPDQ, size, type, where it was and when it last changed."""
    (result,) = add_files(case, [path], limits=limits, actor=actor)
    if isinstance(result, LeakshieldError):
        raise result
    return result


def add_files(
    case: OpenCase, paths: Sequence[Path], *, limits: MediaLimits, actor: str | None = None
) -> list[EvidenceItem | LeakshieldError]:
    """`add_file` for several files, committed together: each is sealed and synced, then
    one sync of the folder and one log write commit them all. A file that cannot be added
    gives its error in its place; the others go in."""
    slots: list[LeakshieldError | int] = []  # an error, or the entry that commits it
    entries: list[tuple[str, dict[str, Any] | None, dict[str, Any], str | None]] = []
    first = int(case.next_item_id().split("-")[1])
    for path in paths:
        try:
            item, objects = _seal_file(case, path, limits, first + len(entries), actor)
        except LeakshieldError as exc:
            slots.append(exc)
            continue
        slots.append(len(entries))
        entries.append(("file-added", item, {"objects": objects}, actor))
    records: list[dict[str, Any]] = []
    if entries:
        case.files.sync_objects()
        records = case.append_many(entries)
    return [slot if isinstance(slot, LeakshieldError) else item_of(records[slot]) for slot in slots]


def _seal_file(
    case: OpenCase, path: Path, limits: MediaLimits, number: int, actor: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    size = limits.check_file(path)  # a regular, bounded file, before anything reads it
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)
    digest = hashlib.sha256()
    with path.open("rb") as source:
        object_id, stored = case.store(source, digest.update, sync_folder=False)
    if stored != size:
        raise_changed(path)
    media_type, pdq, vpdq = _signals(path, limits)
    files = [
        {"name": path.name, "sha256": digest.hexdigest(), "size": stored, "media_type": media_type}
    ]
    item = _item(case, "file", files, digest.hexdigest(), actor)
    item.update(
        id=f"item-{number:04d}",
        pdq=pdq,
        vpdq=vpdq,
        original_path=str(path.resolve()),
        mtime=modified.isoformat(),
    )
    return item, {path.name: object_id}


def add_note(case: OpenCase, text: str, *, actor: str | None = None) -> EvidenceItem:
    """Record a note (its text is sealed in the log, like everything else)."""
    from leakshield.errors import UsageError

    text = text.strip()
    if not text:
        raise UsageError("the note is empty")
    if len(text) > MAX_NOTE:
        raise UsageError(f"a note is at most {MAX_NOTE:,} characters")
    item = _item(case, "note", [], hashlib.sha256(text.encode()).hexdigest(), actor)
    item["text"] = text
    return item_of(case.append("note-added", item, {}, actor))


def add_capture(case: OpenCase, capture: Capture, *, actor: str | None = None) -> EvidenceItem:
    """Record a web capture and seal its files; a failed capture is recorded too, with
    its reason."""
    objects: dict[str, str] = {}
    files: list[dict[str, object]] = []
    for path in capture.files:
        digest = hashlib.sha256()
        with path.open("rb") as source:
            object_id, size = case.store(source, digest.update)
        objects[path.name] = object_id
        media_type = mimetypes.guess_type(path.name)[0]
        files.append(
            {
                "name": path.name,
                "sha256": digest.hexdigest(),
                "size": size,
                "media_type": media_type,
            }
        )
    details = capture.to_record()
    main = next((f for f in files if f["name"] == "screenshot.png"), files[0] if files else None)
    sha256 = str(main["sha256"]) if main else hashlib.sha256(_canonical(details)).hexdigest()
    item = _item(case, "capture", files, sha256, actor)
    item["capture"] = details
    action = "capture-failed" if capture.error else "capture-added"
    return item_of(case.append(action, item, {"objects": objects}, actor))


def raise_changed(path: Path) -> None:
    from leakshield.errors import InputError

    raise InputError(
        f"{path} changed while it was being copied; add it again when it is not in use"
    )


def _item(
    case: OpenCase, kind: str, files: list[dict[str, Any]], sha256: str, actor: str | None
) -> dict[str, Any]:
    return {
        "id": case.next_item_id(),
        "kind": kind,
        "added_at": now(),
        "added_by": actor or who(),
        "files": files,
        "sha256": sha256,
        "pdq": None,
        "vpdq": None,
        "original_path": None,
        "mtime": None,
        "text": None,
        "capture": None,
    }


def _signals(path: Path, limits: MediaLimits) -> tuple[str | None, str | None, str | None]:
    """Media type (MIME), PDQ and vPDQ; a file that is not media still goes in, without."""
    from leakshield.errors import LeakshieldError
    from leakshield.signals import HashOptions, hash_file

    mime = mimetypes.guess_type(path.name)[0]
    try:
        hashes = hash_file(path, HashOptions(limits))
    except LeakshieldError:
        return mime, None, None
    pdq = str(hashes.pdq.hash) if hashes.pdq is not None and hashes.pdq.usable else None
    vpdq = str(hashes.vpdq) if hashes.vpdq is not None else None
    return mime or hashes.media_type, pdq, vpdq


def _canonical(record: dict[str, Any]) -> bytes:
    from leakshield.evidence._model import canonical_json

    return canonical_json(record)
