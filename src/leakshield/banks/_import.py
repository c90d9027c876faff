"""Importing a hash list into a bank: idempotent, withdrawals honoured, all or nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any, BinaryIO

from leakshield.banks._formats import HashRecord, ImportFormat, SkippedLine, read_records
from leakshield.banks._model import ImportReport
from leakshield.banks._store import (
    BankStore,
    Writing,
    bulk_insert,
    check_metadata,
    existing_keys,
    insert_signals,
    remove_signals,
    value_key,
)
from leakshield.store import ContentRow

_BATCH = 20_000
_ANALYZE_AFTER = 100_000


def import_hash_list(
    store: BankStore,
    bank_name: str,
    source: BinaryIO,
    fmt: ImportFormat = "auto",
    *,
    name: str = "",
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a hash list into a bank in one transaction.

    Entries the bank holds already are left as they are, so importing twice changes
    nothing; withdrawn entries (StopNCII Withdrawn or Deleted) are removed. A bad line
    raises `ImportFormatError` and nothing is imported, unless ``skip_invalid``, in which
    case it is reported in `ImportReport.skipped`. ``progress`` gets the lines done so far.
    """
    bank = store.bank(bank_name)
    added = existing = removed = 0
    skipped: list[tuple[int, str]] = []
    items = read_records(source, fmt, name=name, skip_invalid=skip_invalid)
    with store.writing() as w:
        if w.connection.dialect.name == "postgresql":
            # Statistics lag a bulk load: without this the planner scans the whole table
            # for each batch's existence check instead of using the unique index.
            w.connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for batch in _batches(items):
            records = []
            for item in batch:
                if isinstance(item, SkippedLine):
                    skipped.append((item.line, item.reason))
                else:
                    records.append(item)
            a, e, r = _apply(w, bank.id, records)
            added, existing, removed = added + a, existing + e, removed + r
            if progress is not None and batch:
                progress(batch[-1].line)
    if added >= _ANALYZE_AFTER and store.database.backend == "postgresql":
        # Fresh statistics, so that matchers' range queries on the change number use its
        # index at once rather than after autovacuum gets round to the table.
        with store.database.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE bank_signals, bank_content")
    return ImportReport(added, existing, removed, tuple(skipped))


_CONTENT_COLUMNS = ("id", "bank_id", "metadata", "note", "created_at")


def _metadata_json(metadata: dict[str, Any]) -> str:
    if not metadata:
        return "{}"
    return json.dumps(check_metadata(metadata), ensure_ascii=False, separators=(",", ":"))


def _database_time(w: Writing, when: datetime) -> datetime | str:
    # SQLAlchemy stores SQLite times as ISO text without an offset; match it.
    if w.connection.dialect.name == "sqlite":
        return when.replace(tzinfo=None).isoformat(sep=" ")
    return when


def _batches(
    items: Iterator[HashRecord | SkippedLine],
) -> Iterable[list[HashRecord | SkippedLine]]:
    while batch := list(islice(items, _BATCH)):
        yield batch


def _apply(w: Writing, bank_id: int, records: list[HashRecord]) -> tuple[int, int, int]:
    """Apply one batch; the last record for a signal wins (added, then withdrawn: gone)."""
    latest: dict[tuple[str, str], HashRecord] = {}
    for record in records:
        key = (record.signal.type_name, value_key(str(record.signal)))
        latest.pop(key, None)  # keep file order for the survivors
        latest[key] = record
    withdrawn = [r.signal for r in latest.values() if r.withdrawn]
    removed = remove_signals(w, bank_id, withdrawn) if withdrawn else 0
    wanted = [(key, r) for key, r in latest.items() if not r.withdrawn]
    present: set[tuple[str, str]] = set()
    for kind in {kind for (kind, _), _ in wanted}:
        keys = [k for (t, k), _ in wanted if t == kind]
        present.update((kind, k) for k in existing_keys(w.connection, bank_id, kind, keys))
    new = [r for key, r in wanted if key not in present]
    if new:
        first = w.allocate(ContentRow, len(new))
        now = _database_time(w, datetime.now(UTC))
        rows = [
            (first + i, bank_id, _metadata_json(r.metadata), "", now) for i, r in enumerate(new)
        ]
        bulk_insert(w.connection, "bank_content", _CONTENT_COLUMNS, rows)
        insert_signals(w, bank_id, [(first + i, r.signal) for i, r in enumerate(new)])
    return len(new), len(wanted) - len(new), removed
