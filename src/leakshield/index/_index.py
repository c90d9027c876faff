"""The index: segments, a tail being appended to, and snapshots that readers hold.

Writers (add, remove, compact) take a lock and publish a new `Snapshot`; readers
take the current snapshot and search it without a lock. A snapshot never
changes what it answers: segments are immutable, the tail only grows past the
count a snapshot recorded, and a removal marks entries dead from a version
newer than every snapshot already handed out.

Adds go to the tail, which is scanned; a full tail becomes a segment with
tables, and the newest two segments are merged while the newer one holds as
many entries as the older, like a binary counter: there are at most about
log2(n / tail) segments, and each entry is rebuilt at most that many times.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np

from leakshield.index._kernels import ALIVE
from leakshield.index._layout import HASH_BITS, MIN_TABLE_ENTRIES
from leakshield.index._segment import Segment
from leakshield.index._words import HashIndexError, HashLike, as_ids, as_words

DEFAULT_THRESHOLD = 31
DEFAULT_TAIL_CAPACITY = 16384

Method = Literal["auto", "tables", "scan"]
METHODS = ("auto", "tables", "scan")
Hashes = HashLike | Iterable[HashLike] | np.ndarray


@dataclass(frozen=True)
class Matches:
    """The entries found for one query, nearest first, ties in id order."""

    ids: np.ndarray
    distances: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.ids.tolist(), self.distances.tolist(), strict=True)

    def first(self, k: int) -> Matches:
        """The ``k`` nearest of these."""
        return Matches(self.ids[:k], self.distances[:k])


_NOTHING = Matches(np.empty(0, np.int64), np.empty(0, np.int32))


@dataclass(frozen=True)
class IndexStats:
    """What an index holds and what it costs."""

    entries: int
    segments: int
    tail: int
    version: int
    nbytes: int


def _threshold(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise HashIndexError(f"a threshold is a whole number of bits, not {value!r}")
    if not 0 <= value <= HASH_BITS:
        raise HashIndexError(f"a threshold is 0 to {HASH_BITS} bits, not {value}")
    return int(value)


@dataclass(frozen=True)
class Snapshot:
    """What the index held at one moment; searches of it always agree with each other."""

    version: int
    segments: tuple[Segment, ...]
    tail: Segment
    tail_count: int
    entries: int

    def __len__(self) -> int:
        return self.entries

    def search(
        self, query: HashLike, threshold: int = DEFAULT_THRESHOLD, *, method: Method = "auto"
    ) -> Matches:
        """Every entry within ``threshold`` bits of ``query``, with its distance."""
        words = as_words(query)
        if len(words) != 1:
            raise HashIndexError(f"search takes one hash, not {len(words)}; use search_many")
        return self._search(words, threshold, method)[0]

    def search_many(
        self, queries: Hashes, threshold: int = DEFAULT_THRESHOLD, *, method: Method = "auto"
    ) -> list[Matches]:
        """`search` for each query, in the order given."""
        return self._search(as_words(queries), threshold, method)

    def nearest(self, query: HashLike, k: int = 1, *, max_distance: int = HASH_BITS) -> Matches:
        """The ``k`` entries nearest to ``query`` (ties in id order), within ``max_distance``."""
        words = as_words(query)
        if len(words) != 1:
            raise HashIndexError(f"nearest takes one hash, not {len(words)}; use nearest_many")
        return self.nearest_many(words, k, max_distance=max_distance)[0]

    def nearest_many(
        self, queries: Hashes, k: int = 1, *, max_distance: int = HASH_BITS
    ) -> list[Matches]:
        """`nearest` for each query, in the order given."""
        words = as_words(queries)
        max_distance = _threshold(max_distance)
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise HashIndexError(f"k is a whole number, at least 1, not {k!r}")
        results: list[Matches | None] = [None] * len(words)
        pending = np.arange(len(words))
        # Everything within r of a query is found, so once k are within r, the k
        # nearest are among them. Widen r until that holds.
        for radius in (15, 31, 63, 127, HASH_BITS):
            radius = min(radius, max_distance)
            found = self.search_many(words[pending], radius)
            still = []
            for i, matches in zip(pending.tolist(), found, strict=True):
                if len(matches) >= k or radius == max_distance:
                    results[i] = matches.first(k)
                else:
                    still.append(i)
            pending = np.array(still, np.int64)
            if not still:
                break
        return [m for m in results if m is not None]

    def _search(self, words: np.ndarray, threshold: int, method: Method) -> list[Matches]:
        threshold = _threshold(threshold)
        if method not in METHODS:
            raise HashIndexError(f"method is one of {', '.join(METHODS)}, not {method!r}")
        parts = []
        for segment, count in self._parts():
            if count:
                hits = segment.search(words, threshold, self.version, count=count, method=method)
                if len(hits.slot):
                    parts.append((hits.query, segment.ids[hits.slot], hits.distance))
        if not parts:
            return [_NOTHING] * len(words)
        query = np.concatenate([p[0] for p in parts])
        ids = np.concatenate([p[1] for p in parts])
        distance = np.concatenate([p[2] for p in parts]).astype(np.int32)
        order = np.lexsort((ids, distance, query))
        ids, distance = ids[order], distance[order]
        if len(words) == 1:
            return [Matches(ids, distance)]
        counts = np.bincount(query, minlength=len(words))
        ends = np.cumsum(counts)
        return [
            Matches(ids[e - c : e], distance[e - c : e])
            for c, e in zip(counts.tolist(), ends.tolist(), strict=True)
        ]

    def _parts(self) -> Iterator[tuple[Segment, int]]:
        for segment in self.segments:
            yield segment, len(segment)
        yield self.tail, self.tail_count

    def stats(self) -> IndexStats:
        """Entries, segments and memory of this snapshot."""
        return IndexStats(
            entries=self.entries,
            segments=len(self.segments),
            tail=self.tail_count,
            version=self.version,
            nbytes=sum(s.nbytes for s in self.segments) + self.tail.nbytes,
        )


class HashIndex:
    """An exact Hamming-radius index over 256-bit hashes (PDQ, vPDQ frames).

    Entries are (hash, id) pairs; duplicates are allowed, and one id may carry
    many hashes (a video's frames). Searches give the same answer as comparing
    the query with every entry. Thread-safe: any number of readers, one writer
    at a time.
    """

    def __init__(
        self,
        *,
        tail_capacity: int = DEFAULT_TAIL_CAPACITY,
        min_table_entries: int = MIN_TABLE_ENTRIES,
    ) -> None:
        if tail_capacity < 1:
            raise HashIndexError(f"tail_capacity is at least 1, not {tail_capacity}")
        self._tail_capacity = tail_capacity
        self._min_table_entries = min_table_entries
        self._lock = threading.Lock()
        self._snapshot = Snapshot(0, (), self._new_tail(), 0, 0)

    def __len__(self) -> int:
        return self._snapshot.entries

    def snapshot(self) -> Snapshot:
        """The index as it is now, to search consistently while writers go on."""
        return self._snapshot

    def search(
        self, query: HashLike, threshold: int = DEFAULT_THRESHOLD, *, method: Method = "auto"
    ) -> Matches:
        """Every entry within ``threshold`` bits of ``query`` (0 to 256), nearest first."""
        return self._snapshot.search(query, threshold, method=method)

    def search_many(
        self, queries: Hashes, threshold: int = DEFAULT_THRESHOLD, *, method: Method = "auto"
    ) -> list[Matches]:
        """`search` for each query, in the order given."""
        return self._snapshot.search_many(queries, threshold, method=method)

    def nearest(self, query: HashLike, k: int = 1, *, max_distance: int = HASH_BITS) -> Matches:
        """The ``k`` entries nearest to ``query``, ties in id order."""
        return self._snapshot.nearest(query, k, max_distance=max_distance)

    def nearest_many(
        self, queries: Hashes, k: int = 1, *, max_distance: int = HASH_BITS
    ) -> list[Matches]:
        """`nearest` for each query, in the order given."""
        return self._snapshot.nearest_many(queries, k, max_distance=max_distance)

    def stats(self) -> IndexStats:
        """Entries, segments and memory now."""
        return self._snapshot.stats()

    def add(self, hashes: Hashes, ids: int | Iterable[int] | np.ndarray) -> None:
        """Add one entry per hash; the next search finds them."""
        words = as_words(hashes)
        if isinstance(hashes, np.ndarray) and np.may_share_memory(words, hashes):
            words = words.copy()  # the caller may reuse the array; segments never change
        id_array = as_ids(ids, len(words))
        with self._lock:
            snap = self._snapshot
            segments, tail, count = snap.segments, snap.tail, snap.tail_count
            if len(words) >= self._tail_capacity:
                segments = self._merge_newest((*segments, self._build(words, id_array)), snap)
            else:
                room = self._tail_capacity - count
                take = min(room, len(words))
                tail.hashes[count : count + take] = words[:take]
                tail.ids[count : count + take] = id_array[:take]
                count += take
                if count == self._tail_capacity:
                    frozen = Snapshot(snap.version, segments, tail, count, snap.entries)
                    segments = self._merge_newest(self._freeze(frozen), snap)
                    tail, count = self._new_tail(), len(words) - take
                    tail.hashes[:count] = words[take:]
                    tail.ids[:count] = id_array[take:]
            self._publish(snap.version, segments, tail, count, snap.entries + len(words))

    def remove(self, ids: int | Iterable[int] | np.ndarray) -> int:
        """Remove every entry with one of ``ids``; returns how many were removed."""
        targets = np.unique(as_ids(ids))
        with self._lock:
            snap = self._snapshot
            version = snap.version + 1
            removed = 0
            for segment, count in snap._parts():
                removed += segment.remove(targets, version, count)
            if removed:
                self._publish(
                    version, snap.segments, snap.tail, snap.tail_count, snap.entries - removed
                )
        return removed

    def compact(self) -> None:
        """Merge everything into one segment, dropping removed entries."""
        with self._lock:
            self._compact()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` (compacting it first), replacing any file there."""
        from leakshield.index._file import save

        save(self, path)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, memory_map: bool = True, verify: bool = False
    ) -> HashIndex:
        """Read an index that `save` wrote; a damaged file raises `IndexFileError`."""
        from leakshield.index._file import load

        return load(path, memory_map=memory_map, verify=verify)

    @contextmanager
    def _writing(self) -> Iterator[Snapshot]:
        """Hold off writers while the compacted index is read (for `save`)."""
        with self._lock:
            self._compact()
            yield self._snapshot

    def _restore(self, segment: Segment) -> None:
        with self._lock:
            self._publish(0, (segment,), self._new_tail(), 0, len(segment))

    def _compact(self) -> None:
        snap = self._snapshot
        if (
            len(snap.segments) <= 1
            and snap.tail_count == 0
            and not any(s.removed for s in snap.segments)
        ):
            return
        rows = [segment.rows(snap.version, count) for segment, count in snap._parts()]
        hashes = np.concatenate([r[0] for r in rows])
        ids = np.concatenate([r[1] for r in rows])
        segments = (self._build(hashes, ids),) if len(ids) else ()
        self._publish(snap.version, segments, self._new_tail(), 0, len(ids))

    def _publish(
        self, version: int, segments: tuple[Segment, ...], tail: Segment, count: int, n: int
    ) -> None:
        self._snapshot = Snapshot(version, segments, tail, count, n)

    def _new_tail(self) -> Segment:
        capacity = self._tail_capacity
        return Segment(
            np.zeros((capacity, 4), np.uint64),
            np.zeros(capacity, np.int64),
            None,
            np.full(capacity, ALIVE, np.uint64),
        )

    def _build(self, hashes: np.ndarray, ids: np.ndarray) -> Segment:
        return Segment.build(
            np.ascontiguousarray(hashes),
            np.ascontiguousarray(ids),
            min_table_entries=self._min_table_entries,
        )

    def _freeze(self, snap: Snapshot) -> tuple[Segment, ...]:
        hashes, ids = snap.tail.rows(snap.version, snap.tail_count)
        return snap.segments + ((self._build(hashes, ids),) if len(ids) else ())

    def _merge_newest(self, segments: tuple[Segment, ...], snap: Snapshot) -> tuple[Segment, ...]:
        segs = list(segments)
        while len(segs) >= 2 and segs[-1].live_count >= segs[-2].live_count:
            older, newer = segs[-2].rows(snap.version), segs[-1].rows(snap.version)
            merged = self._build(
                np.concatenate([older[0], newer[0]]), np.concatenate([older[1], newer[1]])
            )
            segs[-2:] = [merged]
        return tuple(segs)
