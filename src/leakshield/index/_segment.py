"""A segment: an immutable run of entries with its chunk tables.

Entries never move inside a segment, and its hashes and tables never change once
built, so any number of readers can search it while a writer marks entries dead
(each with the version from which it is gone) or builds the segments that will
replace it. A segment with no tables is searched by a scan; the index's tail is
one that is still being appended to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from leakshield.index import _kernels
from leakshield.index._kernels import ALIVE
from leakshield.index._layout import Layout, probe, use_tables

Method = str  # "auto", "tables" or "scan"


@dataclass(frozen=True)
class Tables:
    """The chunk tables of a segment: keys sorted per chunk, in CSR form."""

    layout: Layout
    offsets: np.ndarray
    slots: np.ndarray

    @classmethod
    def build(cls, hashes: np.ndarray, layout: Layout) -> Tables:
        """Tables over ``hashes`` cut by ``layout``."""
        offsets = np.empty(layout.offsets_size, np.uint32)
        slots = np.empty((len(layout.bits), len(hashes)), np.uint32)
        _kernels.build_tables(hashes, layout.starts, layout.widths, layout.bases, offsets, slots)
        return cls(layout, offsets, slots)

    @property
    def nbytes(self) -> int:
        """Memory the tables take."""
        return int(self.offsets.nbytes + self.slots.nbytes)


@dataclass
class Hits:
    """Raw search results of one segment: which query, which slot, how far."""

    query: np.ndarray
    slot: np.ndarray
    distance: np.ndarray


@dataclass(eq=False)
class Segment:
    """Entries ``hashes[i]`` (four uint64 words) with ``ids[i]``, and maybe tables.

    ``dead`` is empty until something in the segment is removed.
    """

    hashes: np.ndarray
    ids: np.ndarray
    tables: Tables | None
    dead: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    removed: int = 0  # entries marked dead; the writer's count
    _id_order: np.ndarray | None = None

    @classmethod
    def build(cls, hashes: np.ndarray, ids: np.ndarray, *, min_table_entries: int) -> Segment:
        """A segment over ``hashes`` and ``ids``, with tables when it is large enough."""
        if len(hashes) < max(min_table_entries, 2):
            return cls(hashes, ids, None)
        return cls(hashes, ids, Tables.build(hashes, Layout.for_entries(len(hashes))))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def live_count(self) -> int:
        """Entries not removed, for the writer deciding what to merge."""
        return len(self) - self.removed

    @property
    def nbytes(self) -> int:
        """Memory the segment takes, tables included."""
        size = self.hashes.nbytes + self.ids.nbytes + self.dead.nbytes
        if self._id_order is not None:
            size += self._id_order.nbytes
        return int(size + (self.tables.nbytes if self.tables else 0))

    def live(self, version: int, count: int | None = None) -> np.ndarray:
        """Which of the first ``count`` entries are live at ``version``."""
        count = len(self) if count is None else count
        if len(self.dead) == 0:
            return np.ones(count, bool)
        return self.dead[:count] > np.uint64(version)

    def search(
        self,
        queries: np.ndarray,
        threshold: int,
        version: int,
        *,
        count: int | None = None,
        method: Method = "auto",
    ) -> Hits:
        """Every entry live at ``version`` within ``threshold`` of each query."""
        count = len(self) if count is None else count
        tables = self.tables
        if (
            method == "scan"
            or tables is None
            or (method == "auto" and not use_tables(tables.layout, count, threshold))
        ):
            tables = None
        cap = max(64, 4 * len(queries))
        while True:
            hits = Hits(np.empty(cap, np.int64), np.empty(cap, np.uint32), np.empty(cap, np.int64))
            args = (queries, threshold, np.uint64(version), self.hashes, self.dead)
            if tables is None:
                found = _kernels.search_scan(*args, count, hits.query, hits.slot, hits.distance)
            else:
                layout = tables.layout
                plan = probe(layout.bits, threshold)
                found = _kernels.search_tables(
                    *args,
                    layout.starts,
                    layout.widths,
                    layout.bases,
                    tables.offsets,
                    tables.slots,
                    plan.radii,
                    plan.masks,
                    plan.mask_starts,
                    hits.query,
                    hits.slot,
                    hits.distance,
                )
            if found <= cap:
                return Hits(hits.query[:found], hits.slot[:found], hits.distance[:found])
            cap = found

    def remove(self, targets: np.ndarray, version: int, count: int | None = None) -> int:
        """Mark live entries whose id is in sorted ``targets`` dead from ``version``.

        Returns how many were marked. Only the writer calls this.
        """
        count = len(self) if count is None else count
        dead = self.dead if len(self.dead) else np.full(len(self), ALIVE, np.uint64)
        if count < len(self):
            # A tail's order changes as it grows; it is small, so sort it each time.
            order = np.argsort(self.ids[:count], kind="stable").astype(np.uint32)
        else:
            if self._id_order is None:
                self._id_order = np.argsort(self.ids, kind="stable").astype(np.uint32)
            order = self._id_order
        marked = int(_kernels.mark_dead(self.ids, order, targets, dead, np.uint64(version)))
        if marked:
            # Readers pick up a new array only once it is complete.
            self.dead = dead
            self.removed += marked
        return marked

    def rows(self, version: int, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The hashes and ids of the entries live at ``version``."""
        count = len(self) if count is None else count
        keep = self.live(version, count)
        return self.hashes[:count][keep], self.ids[:count][keep]
