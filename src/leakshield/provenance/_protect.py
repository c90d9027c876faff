"""`protect`: for each photo in a folder, register its fingerprints in the user's private
bank, embed her watermark, sign, and write the protected copy to another folder.

Originals are never modified. Work on each file runs in worker processes; the database is
written by the calling process only, so SQLite never sees two writers. A journal in the
output folder makes a re-run skip what is done.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakshield.errors import InputError, LeakshieldError
from leakshield.media import MediaLimits
from leakshield.provenance._identity import Identity
from leakshield.provenance._model import ProvenanceError
from leakshield.provenance._repository import StoredManifest
from leakshield.provenance._sign import Fingerprint, SignOptions, fingerprint_file, sign_file
from leakshield.watermark import WatermarkKey

if TYPE_CHECKING:
    from leakshield.forensics import Reference

__all__ = ["DEFAULT_BANK", "JOURNAL_NAME", "ProtectItem", "ProtectJob", "plan", "run_jobs"]

DEFAULT_BANK = "MY_PHOTOS"
JOURNAL_NAME = ".leakshield-protect.jsonl"


@dataclass(frozen=True)
class ProtectItem:
    """What happened to one file: "protected", "done-before" (a re-run), or "failed"."""

    source: str  # relative to SRC
    status: str
    output: str | None = None
    media_type: str | None = None
    watermark_payload: str | None = None
    manifest: str | None = None
    pdq: str | None = None
    source_pdq: str | None = None
    signals: tuple[str, ...] = ()  # TYPE:VALUE registered in the bank
    output_sha256: str | None = None
    notes: tuple[str, ...] = ()
    error: dict[str, str] | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "status": self.status,
            "output": self.output,
            "media_type": self.media_type,
            "watermark_payload": self.watermark_payload,
            "manifest": self.manifest,
            "pdq": self.pdq,
            "source_pdq": self.source_pdq,
            "signals": list(self.signals),
            "output_sha256": self.output_sha256,
            "notes": list(self.notes),
            "error": self.error,
        }


@dataclass(frozen=True)
class ProtectJob:
    """Everything a worker needs for one file (picklable: keys travel as bytes)."""

    source: Path
    relative: str
    output: Path
    identity: Identity | None
    key_pem: bytes | None
    watermark_secret: bytes | None
    sign_options: SignOptions
    limits: MediaLimits = field(default_factory=MediaLimits)


def plan(src: Path, out: Path) -> list[tuple[Path, str, Path]]:
    """(source, path relative to SRC, output) for every file to protect, sorted. OUT may not
    be SRC; when OUT lies inside SRC, its files are left out."""
    src, out = src.resolve(), out.resolve()
    if not src.exists():
        raise ProvenanceError("not-found", f"{src} does not exist")
    if out == src or (src.is_file() and out == src.parent):
        raise ProvenanceError("same-folder", "OUT must be another folder than SRC")
    if src.is_file():
        return [(src, src.name, out / src.name)]
    found = []
    for root, dirs, names in os.walk(src):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() != out and not d.startswith("."))
        for name in names:
            path = here / name
            if name.startswith(".") or not path.is_file():
                continue
            relative = path.relative_to(src).as_posix()
            found.append((path, relative, out / relative))
    return sorted(found, key=lambda item: item[1])


def read_journal(out: Path) -> dict[str, dict[str, Any]]:
    """What earlier runs finished, by source path; damaged lines are ignored."""
    done: dict[str, dict[str, Any]] = {}
    try:
        lines = (out / JOURNAL_NAME).read_text().splitlines()
    except FileNotFoundError:
        return done
    for line in lines:
        try:
            entry = json.loads(line)
            done[str(entry["source"])] = entry
        except (ValueError, KeyError, TypeError):
            continue
    return done


def is_done(entry: dict[str, Any] | None, source: Path, output: Path) -> bool:
    """Whether ``source`` was protected by an earlier run, unchanged since, and its copy is
    still there as written."""
    from leakshield.signals import file_digests

    if entry is None:
        return False
    try:
        stat = source.stat()
        if (stat.st_size, stat.st_mtime_ns) != (entry["size"], entry["mtime_ns"]):
            return False
        return bool(str(file_digests(output)[1]) == entry["item"]["output_sha256"])
    except (OSError, KeyError, TypeError):
        return False


def append_journal(out: Path, entries: Iterable[dict[str, Any]]) -> None:
    with (out / JOURNAL_NAME).open("a") as journal:
        journal.writelines(json.dumps(entry) + "\n" for entry in entries)
        journal.flush()
        os.fsync(journal.fileno())


def started_entry(job: ProtectJob) -> dict[str, Any]:
    """Written before a file is worked on: its output may then be replaced by a re-run,
    while a file in OUT that protect never started on is never overwritten."""
    return {"source": job.relative, "started": True}


def done_entry(job: ProtectJob, item: ProtectItem) -> dict[str, Any]:
    stat = job.source.stat()
    return {
        "source": job.relative,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "item": item.to_record(),
    }


Outcome = tuple[ProtectItem, StoredManifest | None, "Reference | None"]


def run_jobs(
    jobs: Iterable[ProtectJob], workers: int
) -> Iterator[tuple[ProtectJob, ProtectItem, StoredManifest | None, Reference | None]]:
    """Protect each job's file, in input order, with ``workers`` processes."""
    if workers <= 1:
        for job in jobs:
            yield job, *protect_one(job)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[tuple[ProtectJob, Future[Outcome]]]
        pending = deque()
        try:
            for job in jobs:
                pending.append((job, pool.submit(protect_one, job)))
                # In input order (the output promises it), with a window wide enough that
                # one slow file at its head does not leave the other workers idle.
                if len(pending) >= workers * 8:
                    done, future = pending.popleft()
                    yield done, *future.result()
            while pending:
                done, future = pending.popleft()
                yield done, *future.result()
        finally:
            for _, future in pending:
                future.cancel()


def protect_one(job: ProtectJob) -> Outcome:
    """Protect one file; a failure is an item with its error, never an exception."""
    try:
        return _protect(job)
    except LeakshieldError as exc:
        code = getattr(exc, "code", exc.slug)
        error = {"code": str(code), "message": exc.message}
    except Exception as exc:  # one bad file must not stop a batch
        error = {"code": "internal-error", "message": f"{type(exc).__name__}: {exc}"}
    return ProtectItem(job.relative, "failed", error=error), None, None


def _protect(job: ProtectJob) -> Outcome:
    from leakshield.signals import file_digests

    original = fingerprint_file(job.source, job.limits)  # refuses what is not media
    media_type = original.media_type
    job.output.parent.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    source_md5, source_sha256 = file_digests(job.source)
    signals = [f"md5:{source_md5}"]
    signals += [f"pdq:{original.pdq}"] if original.pdq else []
    signals += [f"vpdq:{original.vpdq}"] if original.vpdq else []
    with tempfile.TemporaryDirectory(prefix=".protect-", dir=job.output.parent) as scratch:
        current, marked = job.source, original
        payload: str | None = None
        if job.watermark_secret is not None and media_type == "image":
            key = WatermarkKey(job.watermark_secret)
            try:
                current, marked = _watermark(job, key, bytes.fromhex(str(source_sha256)), scratch)
                payload = marked.watermark_payload
            except InputError as exc:
                notes.append(f"not watermarked: {exc.message}")
        elif job.watermark_secret is not None:
            notes.append("not watermarked: video watermarks are not supported yet")
        if marked.pdq and marked.pdq != original.pdq:
            signals.append(f"pdq:{marked.pdq}")
        stored = None
        if job.identity is not None and job.key_pem is not None:
            options = replace(job.sign_options, overwrite=True)
            try:
                _, stored = sign_file(
                    current,
                    job.output,
                    job.identity,
                    job.key_pem,
                    marked,
                    options,
                    source_pdq=original.pdq,
                    title=job.source.name,
                )
            except ProvenanceError as exc:
                if exc.code != "unsupported-format":
                    raise
                notes.append(f"not signed: {exc.message}")
        if stored is None:
            _copy_into(current, job.output)
    reference = _reference(job, str(source_sha256), original.pdq) if media_type == "image" else None
    output_md5, output_sha256 = file_digests(job.output)
    if f"md5:{output_md5}" not in signals:
        signals.append(f"md5:{output_md5}")
    item = ProtectItem(
        job.relative,
        "protected",
        str(job.output),
        media_type,
        payload,
        stored.label if stored else None,
        marked.pdq,
        original.pdq,
        tuple(signals),
        str(output_sha256),
        tuple(notes),
    )
    return item, stored, reference


def _reference(job: ProtectJob, sha256: str, pdq: str | None) -> Reference:
    """The photo's local features, so that `analyze` can find it in an image made from it."""
    from leakshield.forensics import reference_from_file

    return reference_from_file(job.source, job.limits, title=job.relative, sha256=sha256, pdq=pdq)


def _watermark(
    job: ProtectJob, key: WatermarkKey, source_sha256: bytes, scratch: str
) -> tuple[Path, Fingerprint]:
    import hashlib

    from leakshield.watermark import embed_file

    # The same photo always gets the same payload under one key: a re-run changes nothing.
    payload = hashlib.blake2b(
        source_sha256, key=key.secret, person=b"ls-protect", digest_size=8
    ).digest()
    marked_path = Path(scratch) / f"marked{job.source.suffix.lower()}"
    embed_file(job.source, marked_path, key, payload, limits=job.limits)
    return marked_path, fingerprint_file(
        marked_path, job.limits, watermark_key=key, watermark_payload=payload
    )


def _copy_into(source: Path, output: Path) -> None:
    fd, temporary = tempfile.mkstemp(prefix=".copy-", dir=output.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, temporary)
        Path(temporary).replace(output)
    finally:
        Path(temporary).unlink(missing_ok=True)
