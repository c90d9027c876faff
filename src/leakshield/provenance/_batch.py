"""Protecting a folder: plan, skip what earlier runs did, protect the rest, and record each
result in the user's bank, the manifest repository, the journal and the report."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakshield.banks import BankNotFoundError, BankStore
from leakshield.media import MediaLimits
from leakshield.provenance._identity import Identity
from leakshield.provenance._protect import (
    DEFAULT_BANK,
    ProtectItem,
    ProtectJob,
    append_journal,
    done_entry,
    is_done,
    plan,
    read_journal,
    run_jobs,
    started_entry,
)
from leakshield.provenance._repository import ManifestRepository, StoredManifest
from leakshield.provenance._sign import SignOptions
from leakshield.watermark import WatermarkKey

if TYPE_CHECKING:
    from leakshield.forensics import Reference

__all__ = ["REPORT_NAME", "ProtectPlan", "ProtectSummary", "protect"]

REPORT_NAME = "protect-report.json"


@dataclass(frozen=True)
class ProtectPlan:
    """What to do to each photo. Without an identity nothing is signed; without a key,
    nothing is watermarked."""

    identity: Identity | None
    key_pem: bytes | None
    watermark_key: WatermarkKey | None
    sign_options: SignOptions = field(default_factory=SignOptions)
    bank: str = DEFAULT_BANK
    workers: int = 1
    limits: MediaLimits = field(default_factory=MediaLimits)


@dataclass(frozen=True)
class ProtectSummary:
    source: str
    output: str
    report: str
    items: tuple[ProtectItem, ...]

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(item.status for item in self.items)
        return {s: counted.get(s, 0) for s in ("protected", "done-before", "failed")}


def protect(
    src: Path,
    out: Path,
    how: ProtectPlan,
    *,
    banks: BankStore,
    repository: ManifestRepository,
    on_start: Callable[[int], None] | None = None,
    on_item: Callable[[ProtectItem], None] | None = None,
) -> ProtectSummary:
    """Protect every file under ``src`` into ``out``; see the module's docstring."""
    started = datetime.now(UTC)
    files = plan(src, out)
    out.mkdir(parents=True, exist_ok=True)
    _ensure_bank(banks, how.bank)
    journal = read_journal(out)
    items: dict[str, ProtectItem] = {}
    todo: list[ProtectJob] = []
    for source, relative, output in files:
        entry = journal.get(relative)
        if is_done(entry, source, output):
            assert entry is not None
            items[relative] = _done_before(entry["item"])
            continue
        if entry is None and output.exists():
            message = (
                f"{output} exists and was not written by protect; move it away or choose "
                "another OUT (nothing was replaced)"
            )
            items[relative] = ProtectItem(
                relative, "failed", error={"code": "output-exists", "message": message}
            )
            continue
        todo.append(
            ProtectJob(
                source,
                relative,
                output,
                how.identity if how.key_pem else None,
                how.key_pem,
                how.watermark_key.secret if how.watermark_key else None,
                how.sign_options,
                how.limits,
            )
        )
    append_journal(out, (started_entry(job) for job in todo))
    if on_start is not None:
        on_start(len(files))
    for item in items.values():
        if on_item is not None:
            on_item(item)
    for job, item, stored, reference in run_jobs(iter(todo), how.workers):
        if item.status == "protected":
            item = _record(job, item, stored, reference, banks, repository, how.bank)
            append_journal(out, [done_entry(job, item)])
        items[job.relative] = item
        if on_item is not None:
            on_item(item)
    ordered = tuple(items[relative] for _, relative, _ in files)
    report = _write_report(out, src, started, how, ordered)
    return ProtectSummary(str(src), str(out), str(report), ordered)


def _ensure_bank(banks: BankStore, name: str) -> None:
    try:
        banks.bank(name)
    except BankNotFoundError:
        banks.create_bank(
            name, description="Your own photos and videos, registered by `leakshield protect`."
        )


def _record(
    job: ProtectJob,
    item: ProtectItem,
    stored: StoredManifest | None,
    reference: Reference | None,
    banks: BankStore,
    repository: ManifestRepository,
    bank: str,
) -> ProtectItem:
    from leakshield.forensics import ReferenceStore
    from leakshield.signals import parse_signal

    signals = [parse_signal(text) for text in item.signals]
    metadata = {"file": job.relative, "protected_copy": item.output}
    if item.manifest:
        metadata["manifest"] = item.manifest
    banks.add_content(bank, signals, metadata=metadata, note="registered by leakshield protect")
    if stored is not None and repository.by_label(stored.label) is None:
        repository.add(stored)
    if reference is not None:
        ReferenceStore(banks.database).add(bank, [reference])
    return item


def _done_before(record: dict[str, Any]) -> ProtectItem:
    return ProtectItem(
        source=record["path"],
        status="done-before",
        output=record.get("output"),
        media_type=record.get("media_type"),
        watermark_payload=record.get("watermark_payload"),
        manifest=record.get("manifest"),
        pdq=record.get("pdq"),
        source_pdq=record.get("source_pdq"),
        signals=tuple(record.get("signals", ())),
        output_sha256=record.get("output_sha256"),
        notes=tuple(record.get("notes", ())),
    )


def _write_report(
    out: Path, src: Path, started: datetime, how: ProtectPlan, items: tuple[ProtectItem, ...]
) -> Path:
    counts = Counter(item.status for item in items)
    document = {
        "source": str(src.resolve()),
        "output": str(out.resolve()),
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "bank": how.bank,
        "watermark_key_id": how.watermark_key.key_id if how.watermark_key else None,
        "signed": how.key_pem is not None,
        "counts": {s: counts.get(s, 0) for s in ("protected", "done-before", "failed")},
        "items": [item.to_record() for item in items],
    }
    path = out / REPORT_NAME
    fd, temporary = tempfile.mkstemp(prefix=".report-", dir=out)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    Path(temporary).replace(path)
    return path
