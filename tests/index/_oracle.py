"""A brute-force model of `HashIndex` and generators of hashes that look like real banks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from leakshield.index import Matches

HASH_BITS = 256
THRESHOLDS = (0, 1, 15, 31, 32, 48, 64)
METHODS = ("auto", "tables", "scan")


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniformly random hashes as ``(n, 4)`` uint64 words."""
    return rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64, endpoint=False)


def flip_bits(rng: np.random.Generator, hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Copies of ``hashes`` with ``counts[i]`` distinct random bits of row ``i`` flipped."""
    out = np.array(hashes, dtype=np.uint64, copy=True).reshape(-1, 4)
    for row, count in enumerate(np.asarray(counts).tolist()):
        for bit in rng.choice(HASH_BITS, size=count, replace=False).tolist():
            out[row, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def clustered_hashes(
    rng: np.random.Generator, n: int, *, families: int, max_flips: int = 40
) -> np.ndarray:
    """``n`` hashes in ``families`` families: a random base and near-duplicates of it.

    A member differs from its family's base by 0 to ``max_flips`` bits, so members
    of one family lie within ``2 * max_flips`` of each other, as in a real bank.
    """
    bases = random_hashes(rng, max(families, 1))
    members = bases[rng.integers(0, len(bases), n)]
    return flip_bits(rng, members, rng.integers(0, max_flips + 1, n))


def distances(hashes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance of ``query`` (4 words) to each row of ``hashes``."""
    return np.bitwise_count(hashes ^ query.reshape(1, 4)).sum(axis=1).astype(np.int64)


@dataclass
class Oracle:
    """The entries an index should hold, searched by comparing with every one."""

    hashes: np.ndarray = field(default_factory=lambda: np.empty((0, 4), np.uint64))
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, hashes: np.ndarray, ids: np.ndarray) -> None:
        self.hashes = np.concatenate([self.hashes, np.asarray(hashes, np.uint64).reshape(-1, 4)])
        self.ids = np.concatenate([self.ids, np.asarray(ids, np.int64).reshape(-1)])

    def remove(self, ids: np.ndarray) -> int:
        gone = np.isin(self.ids, np.asarray(ids, np.int64))
        self.hashes, self.ids = self.hashes[~gone], self.ids[~gone]
        return int(gone.sum())

    def copy(self) -> Oracle:
        return Oracle(self.hashes.copy(), self.ids.copy())

    def search(self, query: np.ndarray, threshold: int) -> tuple[list[int], list[int]]:
        """(ids, distances) of every entry within ``threshold``, by (distance, id)."""
        d = distances(self.hashes, query)
        keep = d <= threshold
        order = np.lexsort((self.ids[keep], d[keep]))
        return self.ids[keep][order].tolist(), d[keep][order].tolist()

    def nearest(
        self, query: np.ndarray, k: int, max_distance: int = HASH_BITS
    ) -> tuple[list[int], list[int]]:
        ids, dist = self.search(query, max_distance)
        return ids[:k], dist[:k]


def as_lists(matches: Matches) -> tuple[list[int], list[int]]:
    """A result in the oracle's form, after checking its types."""
    assert matches.ids.dtype == np.int64
    assert matches.distances.dtype == np.int32
    assert len(matches.ids) == len(matches.distances) == len(matches)
    return matches.ids.tolist(), matches.distances.tolist()


def queries_near(
    rng: np.random.Generator, stored: np.ndarray, near: int, misses: int, max_flips: int = 40
) -> np.ndarray:
    """``near`` queries 0 to ``max_flips`` bits from stored hashes, then ``misses`` random ones."""
    parts = [random_hashes(rng, misses)]
    if len(stored) and near:
        picked = stored[rng.integers(0, len(stored), near)]
        parts.insert(0, flip_bits(rng, picked, rng.integers(0, max_flips + 1, near)))
    return np.concatenate(parts)
