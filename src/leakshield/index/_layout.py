"""How a segment cuts 256-bit hashes into chunks, and how a query probes them.

Multi-index hashing (Norouzi, Punjani and Fleet, 2012) with chunks of about
log2(n) bits, so that a table bucket holds about one entry. A threshold ``t`` is
split into per-chunk radii whose ``radius + 1`` sum to ``t + 1``: every hash
within ``t`` then lies within its radius of the query in at least one chunk.
When the probes would cost more than reading every hash, the segment is scanned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache

import numpy as np

from leakshield.index import _kernels

HASH_BITS = 256

# A segment of fewer entries is scanned: tables would not pay for themselves.
MIN_TABLE_ENTRIES = 4096

# Chunks wider than this make tables too large (2**bits offsets each).
MAX_CHUNK_BITS = 26

# Measured costs on one core (bench/index_bench.py): a probe or a candidate is
# about one cache miss; a scan streams 32 bytes an entry.
_PROBE_NS = 50.0
_CANDIDATE_NS = 50.0
_SCAN_NS = 1.5


@dataclass(frozen=True)
class Layout:
    """The chunks of a segment's tables: chunk j is ``bits[j]`` bits from ``starts[j]``."""

    bits: tuple[int, ...]

    @classmethod
    def for_entries(cls, n: int) -> Layout:
        """The layout of tables over ``n`` entries: about one entry in two buckets.

        One bit wider than a bucket per entry measured fastest at 1M and 10M
        entries (bench/index_bench.py); wider still costs memory for little gain.
        """
        chunks = round(HASH_BITS / (math.log2(max(n, 2)) + 1))
        return cls.split(max(math.ceil(HASH_BITS / MAX_CHUNK_BITS), min(chunks, 32)))

    @classmethod
    def split(cls, chunks: int) -> Layout:
        """``chunks`` chunks as equal as can be, wider ones first."""
        width, extra = divmod(HASH_BITS, chunks)
        return cls(tuple(width + (1 if j < extra else 0) for j in range(chunks)))

    def __post_init__(self) -> None:
        if sum(self.bits) != HASH_BITS or not all(1 <= b <= 32 for b in self.bits):
            raise ValueError(f"chunks must be 1 to 32 bits and cover {HASH_BITS}: {self.bits}")

    @cached_property
    def widths(self) -> np.ndarray:
        """``bits`` as an array, for the kernels."""
        return np.array(self.bits, np.int64)

    @cached_property
    def starts(self) -> np.ndarray:
        """The first bit of each chunk."""
        return np.concatenate([[0], np.cumsum(self.bits[:-1])]).astype(np.int64)

    @cached_property
    def bases(self) -> np.ndarray:
        """Where each chunk's offsets begin in the shared offsets array."""
        sizes = [(1 << b) + 1 for b in self.bits]
        return np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.int64)

    @property
    def offsets_size(self) -> int:
        """Length of the offsets array of all chunks."""
        return sum((1 << b) + 1 for b in self.bits)


@dataclass(frozen=True)
class Probe:
    """The keys a query probes in each chunk table for one threshold."""

    radii: np.ndarray
    masks: np.ndarray
    mask_starts: np.ndarray

    def cost_ns(self, layout: Layout, entries: int) -> float:
        """Estimated time of one query through the tables."""
        cost = 0.0
        for j, b in enumerate(layout.bits):
            count = int(self.mask_starts[j + 1] - self.mask_starts[j])
            cost += count * (_PROBE_NS + _CANDIDATE_NS * entries / (1 << b))
        return cost


def scan_cost_ns(entries: int) -> float:
    """Estimated time of one query by reading every entry."""
    return entries * _SCAN_NS


def radii(bits: tuple[int, ...], threshold: int) -> tuple[int, ...]:
    """Per-chunk radii, ``-1`` for a chunk not probed, whose ``radius + 1`` sum to t + 1."""
    m = len(bits)
    if threshold + 1 <= m:
        return tuple(0 if j <= threshold else -1 for j in range(m))
    spare = threshold + 1 - m
    base = spare // m
    # The chunks where one more bit of radius adds the fewest probes and candidates
    # (with tables sized for their chunks, about one entry a bucket) take the rest.
    mean_bits = HASH_BITS / m

    def added_cost(j: int) -> float:
        return math.comb(bits[j], base + 1) * (1 + 2 ** (mean_bits - bits[j]))

    out = [base] * m
    for j in sorted(range(m), key=added_cost)[: spare % m]:
        out[j] += 1
    return tuple(out)


def probe_count(bits: tuple[int, ...], threshold: int) -> int:
    """How many keys a query probes, before building them."""
    return sum(
        sum(math.comb(b, k) for k in range(r + 1))
        for b, r in zip(bits, radii(bits, threshold), strict=True)
    )


@cache
def probe(bits: tuple[int, ...], threshold: int) -> Probe:
    """The probe of ``threshold`` over chunks of ``bits`` (cached: it is the same every time)."""
    rs = radii(bits, threshold)
    parts = [
        _kernels.flip_masks(b, r) if r >= 0 else np.empty(0, np.uint64)
        for b, r in zip(bits, rs, strict=True)
    ]
    starts = np.zeros(len(bits) + 1, np.int64)
    starts[1:] = np.cumsum([len(p) for p in parts])
    return Probe(np.array(rs, np.int64), np.concatenate(parts), starts)


@lru_cache(maxsize=4096)
def use_tables(layout: Layout, entries: int, threshold: int) -> bool:
    """Whether the tables answer ``threshold`` faster than a scan of ``entries``."""
    probes = probe_count(layout.bits, threshold)
    if probes * _PROBE_NS > scan_cost_ns(entries):
        return False  # also spares building a huge probe list
    return probe(layout.bits, threshold).cost_ns(layout, entries) < scan_cost_ns(entries)
