"""The matcher: every bank's signals in memory, kept current by following the change
sequence, and matched against inputs with per-bank thresholds and negative banks."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from leakshield.banks._model import Bank, BankInputError, BankNotFoundError, Match
from leakshield.banks._store import BankStore, bank_from_row, utc
from leakshield.index import HashIndex
from leakshield.signals import (
    MIN_QUALITY,
    PdqHash,
    Signal,
    SignalError,
    VpdqHash,
    signal_type,
    vpdq_match,
)
from leakshield.store import BankRow, ChangeRow, ContentRow, SignalRow

EXACT_TYPES = ("md5", "sha256")
MATCHABLE_TYPES = ("pdq", "vpdq", *EXACT_TYPES)
_READ_CHUNK = 100_000


@dataclass(frozen=True)
class MatcherStatus:
    """How current a matcher is."""

    seq: int
    signals: Mapping[str, int]
    built_at: float
    refreshed_at: float
    source: str  # "database" or "snapshot+database"


class Matcher:
    """Every signal of every bank, in memory. `refresh` applies the changes committed since
    the last one; lookups read without locking, writers never block them."""

    def __init__(self, store: BankStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.pdq = HashIndex()
        self._vpdq_index = HashIndex()
        self._vpdq: dict[int, VpdqHash] = {}
        self._exact: dict[str, dict[str, list[int]]] = {kind: {} for kind in EXACT_TYPES}
        self._exact_of: dict[int, tuple[str, str]] = {}
        self._content_of = np.zeros(0, dtype=np.int64)
        self._bank_of = np.zeros(0, dtype=np.int32)
        self._used = 0  # signal ids below this have been seen; the arrays may be longer
        self._banks: dict[int, Bank] = {}
        self._disabled: dict[int, datetime] = {}
        self.seq = 0
        self.source = "database"
        self.built_at = self.refreshed_at = time.time()

    # Following the database

    def refresh(self) -> int:
        """Apply every change committed since the last refresh; returns how many signals
        were added or removed."""
        with self.lock:
            latest = self.store.current_seq()
            if latest == self.seq:
                self.refreshed_at = time.time()
                return 0
            if latest < self.seq:
                raise BankInputError(
                    "The database is older than this matcher's snapshot; delete the "
                    "snapshot (in the data directory's cache) and start again."
                )
            changed = self._apply(self.seq, latest)
            self.seq = latest
            self.refreshed_at = time.time()
            return changed

    def restore(self, pdq: HashIndex, seq: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Start from a snapshot: its PDQ index, change number and signal arrays."""
        from leakshield.banks._snapshot import disabled_from_arrays

        with self.lock:
            self.pdq = pdq
            self.seq = seq
            self._content_of = np.array(arrays["content_of"], dtype=np.int64)
            self._bank_of = np.array(arrays["bank_of"], dtype=np.int32)
            # Room to grow now, at start-up: growing later copies both arrays and would
            # delay the refresh that applies the next add.
            self._used = len(self._content_of)
            self._reserve(self._used + self._used // 2 + 1024)
            self._disabled = disabled_from_arrays(arrays["disabled_ids"], arrays["disabled_until"])
            with self.store.database.engine.connect() as connection:
                self._load_banks(connection)
            self.source = "snapshot+database"

    @property
    def content_of(self) -> np.ndarray:
        """Content id by signal id."""
        return self._content_of[: self._used]

    @property
    def bank_of(self) -> np.ndarray:
        """Bank id by signal id."""
        return self._bank_of[: self._used]

    def disabled_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Disabled content as two arrays: ids, and POSIX seconds until which each is."""
        items = list(self._disabled.items())
        ids = np.array([i for i, _ in items], dtype=np.int64)
        until = np.array([t.timestamp() for _, t in items], dtype=np.float64)
        return ids, until

    def _load_banks(self, connection: Connection) -> None:
        self._banks = {row.id: bank_from_row(row) for row in connection.execute(select(BankRow))}

    def _apply(self, after: int, upto: int) -> int:
        engine = self.store.database.engine
        with engine.connect() as connection:
            self._load_banks(connection)
            changes = connection.execute(
                select(ChangeRow.kind, ChangeRow.object_id)
                .where(ChangeRow.seq > after, ChangeRow.seq <= upto)
                .order_by(ChangeRow.id)
            ).all()
            removed = [int(i) for kind, i in changes if kind == "signal-removed"]
            self._remove(removed)
            content = {int(i) for kind, i in changes if kind == "content"}
            self._update_content(connection, content)
            gone = {int(i) for kind, i in changes if kind == "bank"} - self._banks.keys()
            removed_by_bank = self._remove_banks(gone)
            added = 0
            for rows in _signal_rows(connection, after, upto, pdq=True):
                added += self.add_pdq_rows(rows)
            for rows in _signal_rows(connection, after, upto, pdq=False):
                added += self.add_rows([(*row, None) for row in rows])
            self._update_content(connection, _new_disabled(connection, after, upto))
        return added + len(removed) + removed_by_bank

    def add_pdq_rows(self, rows: Sequence[Sequence[Any]]) -> int:
        """Add PDQ signal rows (id, content id, bank id, hex value), vectorised."""
        if not rows:
            return 0
        count = len(rows)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=count)
        self._grow(int(ids.max()) + 1)
        self._content_of[ids] = np.fromiter((r[1] for r in rows), np.int64, count)
        self._bank_of[ids] = np.fromiter((r[2] for r in rows), np.int32, count)
        digests = np.frombuffer(bytes.fromhex("".join(r[3] for r in rows)), dtype=np.uint8)
        self.pdq.add(digests.reshape(-1, 32), ids)
        return count

    def add_rows(self, rows: Sequence[tuple[int, int, int, str, str, datetime | None]]) -> int:
        """Add signal rows (id, content id, bank id, type, value, disabled until)."""
        if not rows:
            return 0
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        self._grow(int(ids.max()) + 1)
        self._content_of[ids] = np.fromiter((r[1] for r in rows), np.int64, len(rows))
        self._bank_of[ids] = np.fromiter((r[2] for r in rows), np.int32, len(rows))
        pdq_ids, pdq_hex = [], []
        for signal_id, content_id, _bank, kind, value, disabled_until in rows:
            if disabled_until is not None:
                self._disabled[content_id] = utc(disabled_until)  # type: ignore[assignment]
            if kind == "pdq":
                pdq_ids.append(signal_id)
                pdq_hex.append(value)
            elif kind == "vpdq":
                self._add_vpdq(signal_id, VpdqHash.parse(value))
            elif kind in EXACT_TYPES:
                self._exact[kind].setdefault(value, []).append(signal_id)
                self._exact_of[signal_id] = (kind, value)
        if pdq_ids:
            digests = np.frombuffer(bytes.fromhex("".join(pdq_hex)), dtype=np.uint8)
            self.pdq.add(digests.reshape(-1, 32), np.asarray(pdq_ids, dtype=np.int64))
        return len(rows)

    def _add_vpdq(self, signal_id: int, video: VpdqHash) -> None:
        frames = [f.hash.digest for f in video.frames if f.quality >= MIN_QUALITY]
        self._vpdq[signal_id] = video
        if frames:
            digests = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(-1, 32)
            self._vpdq_index.add(digests, np.full(len(frames), signal_id, dtype=np.int64))

    def _remove(self, signal_ids: Iterable[int]) -> None:
        ids = list(signal_ids)
        if not ids:
            return
        self.pdq.remove(ids)
        for signal_id in ids:
            if self._vpdq.pop(signal_id, None) is not None:
                self._vpdq_index.remove(signal_id)
            exact = self._exact_of.pop(signal_id, None)
            if exact is not None:
                holders = self._exact[exact[0]].get(exact[1], [])
                if signal_id in holders:
                    holders.remove(signal_id)
                if not holders:
                    self._exact[exact[0]].pop(exact[1], None)

    def _remove_banks(self, bank_ids: set[int]) -> int:
        if not bank_ids or not len(self._bank_of):
            return 0
        doomed = np.flatnonzero(np.isin(self._bank_of, list(bank_ids)))
        self._remove(int(i) for i in doomed)
        self._bank_of[doomed] = 0
        return len(doomed)

    def _update_content(self, connection: Connection, content_ids: set[int]) -> None:
        if not content_ids:
            return
        for content_id in content_ids:
            self._disabled.pop(content_id, None)
        rows = connection.execute(
            select(ContentRow.id, ContentRow.disabled_until).where(
                ContentRow.id.in_(content_ids), ContentRow.disabled_until.is_not(None)
            )
        )
        for content_id, until in rows:
            self._disabled[int(content_id)] = utc(until)  # type: ignore[assignment]

    def _grow(self, size: int) -> None:
        """Make room for signal ids below ``size``, with headroom for later adds."""
        self._used = max(self._used, size)
        if size > len(self._content_of):
            self._reserve(max(size, int(len(self._content_of) * 1.5), 1024))

    def _reserve(self, capacity: int) -> None:
        for name, dtype in (("_content_of", np.int64), ("_bank_of", np.int32)):
            grown = np.zeros(capacity, dtype=dtype)
            old = getattr(self, name)
            grown[: len(old)] = old
            setattr(self, name, grown)

    # Matching

    def banks(self) -> dict[int, Bank]:
        """The banks as of the last refresh, by id."""
        return dict(self._banks)

    def lookup(
        self,
        signals: Sequence[Signal],
        *,
        banks: Collection[str] | None = None,
        raw: bool = False,
    ) -> list[Match]:
        """The bank content that one input matches. ``signals`` are that input's signals
        (several PDQ hashes: dihedral variants, the closest counts). ``banks`` limits the
        banks searched; ``raw`` also searches disabled banks and content and skips
        negative-bank suppression."""
        chosen = self._chosen(banks, raw)
        found: dict[tuple[int, int, str], Match] = {}
        pdq = [s for s in signals if isinstance(s, PdqHash)]
        if pdq:
            self._match_pdq(pdq, chosen, raw, found)
        for signal in signals:
            if isinstance(signal, VpdqHash):
                self._match_vpdq(signal, chosen, raw, found)
            elif signal.type_name in EXACT_TYPES:
                self._match_exact(signal, chosen, raw, found)
            elif not isinstance(signal, PdqHash):
                raise SignalError(f"{signal.type_name} signals cannot be looked up")
        matches = sorted(found.values(), key=_order)
        return matches if raw else suppress_negative(matches)

    def lookup_many(
        self,
        inputs: Sequence[Signal],
        *,
        banks: Collection[str] | None = None,
        raw: bool = False,
    ) -> list[list[Match]]:
        """`lookup` of many one-signal inputs, PDQ ones searched in one batch."""
        chosen = self._chosen(banks, raw)
        pdq_at = [i for i, s in enumerate(inputs) if isinstance(s, PdqHash)]
        results: list[list[Match]] = [[] for _ in inputs]
        if pdq_at and chosen:
            threshold = max(b.threshold("pdq") for b in chosen.values())
            words = b"".join(inputs[i].digest for i in pdq_at)  # type: ignore[attr-defined]
            queries = np.frombuffer(words, dtype=np.uint8).reshape(-1, 32)
            for at, hits in zip(pdq_at, self.pdq.search_many(queries, threshold), strict=True):
                found: dict[tuple[int, int, str], Match] = {}
                for signal_id, distance in zip(
                    hits.ids.tolist(), hits.distances.tolist(), strict=True
                ):
                    self._record(signal_id, "pdq", distance, chosen, raw, found)
                matches = sorted(found.values(), key=_order)
                results[at] = matches if raw else suppress_negative(matches)
        for i, signal in enumerate(inputs):
            if not isinstance(signal, PdqHash):
                results[i] = self.lookup([signal], banks=banks, raw=raw)
        return results

    def _chosen(self, names: Collection[str] | None, raw: bool) -> dict[int, Bank]:
        banks = self._banks
        if names is not None:
            wanted = set(names)
            unknown = wanted - {b.name for b in banks.values()}
            if unknown:
                raise BankNotFoundError(f"No bank named {', '.join(sorted(unknown))}.")
            banks = {i: b for i, b in banks.items() if b.name in wanted}
        return {i: b for i, b in banks.items() if raw or b.enabled}

    def _match_pdq(
        self,
        hashes: Sequence[PdqHash],
        chosen: Mapping[int, Bank],
        raw: bool,
        found: dict[tuple[int, int, str], Match],
    ) -> None:
        if not chosen:
            return
        threshold = max(b.threshold("pdq") for b in chosen.values())
        snapshot = self.pdq.snapshot()
        for query in hashes:
            matches = snapshot.search(query.digest, threshold)
            for signal_id, distance in zip(
                matches.ids.tolist(), matches.distances.tolist(), strict=True
            ):
                self._record(signal_id, "pdq", distance, chosen, raw, found)

    def _match_vpdq(
        self,
        video: VpdqHash,
        chosen: Mapping[int, Bank],
        raw: bool,
        found: dict[tuple[int, int, str], Match],
    ) -> None:
        frames = [f.hash.digest for f in video.frames if f.quality >= MIN_QUALITY]
        if not chosen or not frames:
            return
        threshold = max(b.threshold("vpdq") for b in chosen.values())
        digests = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(-1, 32)
        nearest: dict[int, int] = {}
        for hits in self._vpdq_index.search_many(digests, threshold):
            for signal_id, distance in zip(hits.ids.tolist(), hits.distances.tolist(), strict=True):
                nearest[signal_id] = min(distance, nearest.get(signal_id, distance))
        for signal_id, distance in nearest.items():
            bank = chosen.get(int(self._bank_of[signal_id]))
            compared = self._vpdq.get(signal_id)
            if bank is None or compared is None:
                continue
            verdict = vpdq_match(video, compared, distance=bank.threshold("vpdq"))
            if verdict.match:
                self._record(
                    signal_id,
                    "vpdq",
                    distance,
                    chosen,
                    raw,
                    found,
                    (verdict.query_match_percent, verdict.compared_match_percent),
                )

    def _match_exact(
        self,
        signal: Signal,
        chosen: Mapping[int, Bank],
        raw: bool,
        found: dict[tuple[int, int, str], Match],
    ) -> None:
        for signal_id in self._exact[signal.type_name].get(str(signal), ()):
            self._record(signal_id, signal.type_name, 0, chosen, raw, found)

    def _record(
        self,
        signal_id: int,
        kind: str,
        distance: int,
        chosen: Mapping[int, Bank],
        raw: bool,
        found: dict[tuple[int, int, str], Match],
        shares: tuple[float, float] | None = None,
    ) -> None:
        bank = chosen.get(int(self._bank_of[signal_id]))
        if bank is None or distance > bank.threshold(kind):
            return
        content_id = int(self._content_of[signal_id])
        if not raw and not self._enabled(content_id):
            return
        key = (bank.id, content_id, kind)
        if key in found and found[key].distance <= distance:
            return
        found[key] = Match(
            bank=bank.name,
            content_id=content_id,
            signal_type=kind,
            distance=distance,
            negative=bank.negative,
            query_match_percent=shares[0] if shares else None,
            compared_match_percent=shares[1] if shares else None,
        )

    def _enabled(self, content_id: int) -> bool:
        until = self._disabled.get(content_id)
        return until is None or until <= datetime.now(UTC)

    def status(self) -> MatcherStatus:
        """How many signals of each type are loaded and how current they are."""
        counts = {"pdq": len(self.pdq), "vpdq": len(self._vpdq)}
        counts.update({kind: sum(map(len, d.values())) for kind, d in self._exact.items()})
        return MatcherStatus(self.seq, counts, self.built_at, self.refreshed_at, self.source)


def suppress_negative(matches: list[Match]) -> list[Match]:
    """If any match is in a negative bank (a known false positive), drop the matches in
    positive banks: they are that same false positive."""
    if any(m.negative for m in matches):
        return [m for m in matches if m.negative]
    return matches


def _signal_rows(
    connection: Connection, after: int, upto: int, *, pdq: bool
) -> Iterator[list[Any]]:
    """Signal rows (id, content id, bank id[, type], value) added in changes (after, upto],
    a chunk at a time, straight from the driver: SQLAlchemy rows cost too much at 10M."""
    columns = (
        "id, content_id, bank_id, value" if pdq else "id, content_id, bank_id, signal_type, value"
    )
    kind = "signal_type = 'pdq'" if pdq else "signal_type <> 'pdq'"
    sql = f"SELECT {columns} FROM bank_signals WHERE seq > ? AND seq <= ? AND {kind}"  # noqa: S608 (constants)
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        # A server-side cursor: 10M rows are not pulled into memory at once.
        cursor = raw.cursor(name=f"matcher_{threading.get_ident()}")
        sql = sql.replace("?", "%s")
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(sql, (after, upto))
        while rows := cursor.fetchmany(_READ_CHUNK):
            yield rows
    finally:
        cursor.close()


def _new_disabled(connection: Connection, after: int, upto: int) -> set[int]:
    """Content that signals added in (after, upto] belong to and that is disabled."""
    # Driven from the signals' change index: scanning all content would cost seconds at 10M.
    query = (
        select(ContentRow.id)
        .select_from(SignalRow)
        .join(ContentRow, ContentRow.id == SignalRow.content_id)
        .where(
            SignalRow.seq > after,
            SignalRow.seq <= upto,
            ContentRow.disabled_until.is_not(None),
        )
    )
    return {int(i) for i in connection.execute(query).scalars()}


def _order(match: Match) -> tuple[str, int, int, str]:
    return (match.bank, match.distance, match.content_id, match.signal_type)


def parse_lookup_signal(kind: str, value: str) -> Signal:
    """A signal to look up; raises `SignalError` for a type that cannot be matched."""
    signal = signal_type(kind).parse(value)
    if signal.type_name not in MATCHABLE_TYPES:
        raise SignalError(f"{signal.type_name} signals cannot be looked up")
    return signal
