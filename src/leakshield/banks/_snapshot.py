"""Starting a matcher fast: a persisted snapshot of its PDQ index plus the changes since,
and a thread that follows the change sequence so new signals match within a second."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from leakshield.banks._matcher import Matcher
from leakshield.banks._store import BankStore
from leakshield.index import HashIndex, IndexFileError
from leakshield.store import ContentRow, SignalRow

logger = logging.getLogger("leakshield.banks")

FORMAT = 1
SNAPSHOT_AFTER = 100_000
"""Changes applied on top of a snapshot before a new one is written."""
_MANIFEST = "snapshot.json"


def matcher_cache_dir(cache_root: Path, database_url: str) -> Path:
    """Where the snapshot of the matcher of one database lives under ``cache_root``."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return cache_root / "matcher" / digest


def open_matcher(store: BankStore, cache_dir: Path | None) -> Matcher:
    """A matcher holding every bank's signals: from the snapshot in ``cache_dir`` plus the
    changes since when one fits this database, else from the database; then it writes a
    fresh snapshot if many changes were applied."""
    matcher = None
    if cache_dir is not None:
        matcher = _load(store, cache_dir)
    if matcher is None:
        matcher = Matcher(store)
    applied = matcher.refresh()
    if applied >= SNAPSHOT_AFTER:
        # Read in chunks, the index holds many segments; one searches several times faster.
        matcher.pdq.compact()
    if cache_dir is not None and (matcher.source == "database" or applied >= SNAPSHOT_AFTER):
        save_snapshot(matcher, cache_dir)
    return matcher


def save_snapshot(matcher: Matcher, cache_dir: Path) -> bool:
    """Write the matcher's state to ``cache_dir``; False if another process is at it."""
    cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _exclusive(cache_dir) as locked:
        if not locked:
            return False
        with matcher.lock:
            seq = matcher.seq
            index_name, state_name = f"pdq-{seq}.idx", f"state-{seq}.npz"
            matcher.pdq.save(cache_dir / index_name)
            ids, until = matcher.disabled_arrays()
            temporary = cache_dir / f".{state_name}.tmp"
            with temporary.open("wb") as out:
                np.savez(
                    out,
                    content_of=matcher.content_of,
                    bank_of=matcher.bank_of,
                    disabled_ids=ids,
                    disabled_until=until,
                )
            temporary.replace(cache_dir / state_name)
        manifest = {
            "format": FORMAT,
            "seq": seq,
            "database": matcher.store.database.display_url,
            "database_id": matcher.store.database_id(),
            "pdq": index_name,
            "state": state_name,
        }
        _write_atomic(cache_dir / _MANIFEST, json.dumps(manifest).encode())
        for old in cache_dir.iterdir():
            if old.name.startswith(("pdq-", "state-")) and old.name not in (index_name, state_name):
                old.unlink(missing_ok=True)
    return True


def _load(store: BankStore, cache_dir: Path) -> Matcher | None:
    try:
        manifest = json.loads((cache_dir / _MANIFEST).read_bytes())
        if manifest.get("format") != FORMAT:
            return None
        if manifest.get("database") != store.database.display_url:
            return None
        if manifest.get("database_id") != store.database_id():
            logger.warning("matcher snapshot is of another database; rebuilding")
            return None
        seq = int(manifest["seq"])
        if seq > store.current_seq():
            logger.warning("matcher snapshot is newer than the database; rebuilding")
            return None
        pdq = HashIndex.load(cache_dir / Path(manifest["pdq"]).name)
        with np.load(cache_dir / Path(manifest["state"]).name) as state:
            arrays = {name: state[name] for name in state.files}
    except FileNotFoundError:
        return None
    # np.load raises EOFError for an empty file and BadZipFile for a damaged one.
    except (OSError, ValueError, KeyError, EOFError, IndexFileError, zipfile.BadZipFile) as exc:
        logger.warning("matcher snapshot unusable; rebuilding", extra={"error": str(exc)})
        return None
    matcher = Matcher(store)
    matcher.restore(pdq, seq, arrays)
    _load_other_types(matcher, seq)
    return matcher


def _load_other_types(matcher: Matcher, seq: int) -> None:
    """vPDQ and exact signals are few; they are read from the database, not snapshotted."""
    query = (
        select(
            SignalRow.id,
            SignalRow.content_id,
            SignalRow.bank_id,
            SignalRow.signal_type,
            SignalRow.value,
            ContentRow.disabled_until,
        )
        .join(ContentRow, ContentRow.id == SignalRow.content_id)
        .where(SignalRow.signal_type != "pdq", SignalRow.seq <= seq)
    )
    with matcher.store.database.engine.connect() as connection:
        result = connection.execution_options(yield_per=10_000).execute(query)
        for rows in result.partitions():
            matcher.add_rows(rows)


class Follower:
    """A daemon thread that refreshes a matcher every ``interval`` seconds."""

    def __init__(self, matcher: Matcher, interval: float = 0.2) -> None:
        self.matcher = matcher
        self.interval = interval
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="matcher-follower", daemon=True)

    def start(self) -> None:
        """Start following."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.matcher.refresh()
                self.last_error = None
            except Exception as exc:  # the database may be briefly away; keep serving
                if self.last_error is None:
                    logger.error("matcher refresh failed", extra={"error": str(exc)})
                self.last_error = f"{type(exc).__name__}: {exc}"

    @property
    def lag_seconds(self) -> float:
        """Seconds since the last successful refresh."""
        return max(0.0, time.time() - self.matcher.refreshed_at)


@contextlib.contextmanager
def _exclusive(cache_dir: Path) -> Iterator[bool]:
    with (cache_dir / "snapshot.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)


def disabled_from_arrays(ids: Any, until: Any) -> dict[int, datetime]:
    """The disabled-until map from its two snapshot arrays (ids, POSIX seconds)."""
    return {
        int(i): datetime.fromtimestamp(float(t), UTC)
        for i, t in zip(ids.tolist(), until.tolist(), strict=True)
    }
