"""`HashIndex` answers exactly what comparing the query with every entry answers.

Small ``tail_capacity`` and ``min_table_entries`` make a few hundred entries take
every path that millions would: tail scans, tails frozen into segments, merges,
chunk tables, and removals marked in all of them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from leakshield.index import HashIndex
from tests.index._oracle import (
    METHODS,
    THRESHOLDS,
    Oracle,
    as_lists,
    clustered_hashes,
    flip_bits,
    queries_near,
    random_hashes,
)

KINDS = ("random", "clustered")

seeds = st.integers(0, 2**32 - 1)
tail_capacities = st.integers(1, 64)
min_table_entries = st.integers(1, 32)


def make_hashes(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "random":
        return random_hashes(rng, n)
    return clustered_hashes(rng, n, families=max(1, n // 8))


def filled(
    kind: str, seed: int, n: int, tail: int, min_table: int, batches: int
) -> tuple[HashIndex, Oracle, np.random.Generator]:
    """An index and its oracle with ``n`` entries added in ``batches`` uneven batches."""
    rng = np.random.default_rng(seed)
    index = HashIndex(tail_capacity=tail, min_table_entries=min_table)
    oracle = Oracle()
    hashes = make_hashes(kind, rng, n)
    # Few distinct ids, so some ids carry several hashes; some hashes repeat.
    ids = rng.integers(0, max(1, n // 2), n)
    if n >= 4:
        hashes[-2:] = hashes[:2]
    cuts = np.sort(rng.integers(0, n + 1, max(batches - 1, 0)))
    for part_h, part_i in zip(np.split(hashes, cuts), np.split(ids, cuts), strict=True):
        index.add(part_h, part_i)
        oracle.add(part_h, part_i)
    return index, oracle, rng


def check_searches(
    searcher: object, oracle: Oracle, queries: np.ndarray, thresholds=THRESHOLDS
) -> None:
    """Every method, at every threshold, gives the oracle's answer for every query."""
    for threshold in thresholds:
        expected = [oracle.search(q, threshold) for q in queries]
        for method in METHODS:
            found = searcher.search_many(queries, threshold, method=method)  # type: ignore[attr-defined]
            assert len(found) == len(queries)
            for i, matches in enumerate(found):
                assert as_lists(matches) == expected[i], (
                    f"query {i}, threshold {threshold}, method {method}"
                )


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=seeds,
    n=st.integers(0, 1500),
    tail=tail_capacities,
    min_table=min_table_entries,
    batches=st.integers(1, 12),
)
def test_search_equals_brute_force(
    kind: str, seed: int, n: int, tail: int, min_table: int, batches: int
) -> None:
    index, oracle, rng = filled(kind, seed, n, tail, min_table, batches)
    assert len(index) == n
    queries = queries_near(rng, oracle.hashes, near=8, misses=3)
    check_searches(index, oracle, queries)
    # One query at a time gives the same as the batch.
    for query in queries[:3]:
        for method in METHODS:
            assert as_lists(index.search(query, 31, method=method)) == oracle.search(query, 31)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=seeds,
    n=st.integers(0, 800),
    tail=tail_capacities,
    min_table=min_table_entries,
    k=st.integers(1, 25),
    max_distance=st.sampled_from([0, 1, 15, 31, 40, 64, 100, 256]),
)
def test_nearest_equals_brute_force(
    kind: str, seed: int, n: int, tail: int, min_table: int, k: int, max_distance: int
) -> None:
    index, oracle, rng = filled(kind, seed, n, tail, min_table, batches=4)
    # Queries far from everything too, where the search has to widen to 256 bits.
    queries = queries_near(rng, oracle.hashes, near=6, misses=2, max_flips=120)
    found = index.nearest_many(queries, k, max_distance=max_distance)
    assert len(found) == len(queries)
    for query, matches in zip(queries, found, strict=True):
        expected = oracle.nearest(query, k, max_distance)
        assert as_lists(matches) == expected
        assert as_lists(index.nearest(query, k, max_distance=max_distance)) == expected
    if len(oracle):
        # Without a bound, k nearest always gives min(k, entries) of them.
        for matches in index.nearest_many(queries, k):
            assert len(matches) == min(k, len(oracle))


@pytest.mark.parametrize("threshold", [65, 96, 128, 200, 255, 256])
def test_large_thresholds_equal_brute_force(threshold: int) -> None:
    index, oracle, rng = filled("clustered", threshold, 600, tail=20, min_table=8, batches=9)
    queries = queries_near(rng, oracle.hashes, near=4, misses=2, max_flips=100)
    check_searches(index, oracle, queries, thresholds=[threshold])
    if threshold == 256:
        for matches in index.search_many(queries, 256):
            assert len(matches) == len(oracle)


def test_small_settings_exercise_every_path() -> None:
    """The settings the properties use do build tables, freeze tails and merge segments."""
    rng = np.random.default_rng(7)
    index = HashIndex(tail_capacity=16, min_table_entries=8)
    oracle = Oracle()
    seen_segments = set()
    for _ in range(60):
        n = int(rng.integers(1, 12))
        hashes, ids = clustered_hashes(rng, n, families=3), rng.integers(0, 50, n)
        index.add(hashes, ids)
        oracle.add(hashes, ids)
        seen_segments.add(index.stats().segments)
    # A batch as large as the tail becomes a segment of its own.
    big = random_hashes(rng, 40)
    index.add(big, np.arange(1000, 1040))
    oracle.add(big, np.arange(1000, 1040))
    snap = index.snapshot()
    assert max(seen_segments) >= 2
    assert any(s.tables is not None for s in snap.segments)
    assert 0 < snap.tail_count < 16
    removed = index.remove(np.arange(0, 50, 3))
    assert removed == oracle.remove(np.arange(0, 50, 3)) > 0
    check_searches(index, oracle, queries_near(rng, oracle.hashes, near=10, misses=2))


class IndexOperations(RuleBasedStateMachine):
    """Adds, removals, compactions and snapshots in any order; every answer stays exact."""

    def __init__(self) -> None:
        super().__init__()
        self.oracle = Oracle()
        self.history = np.empty((0, 4), np.uint64)  # every hash ever added, removed or not
        self.snapshots: list[tuple[object, Oracle]] = []

    @initialize(
        seed=seeds, tail=tail_capacities, min_table=min_table_entries, n=st.integers(0, 1500)
    )
    def start(self, seed: int, tail: int, min_table: int, n: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.index = HashIndex(tail_capacity=tail, min_table_entries=min_table)
        self._add(
            clustered_hashes(self.rng, n, families=max(1, n // 10)), self.rng.integers(0, 500, n)
        )

    @rule(n=st.integers(0, 300), clustered=st.booleans(), id_range=st.sampled_from([10, 300]))
    def add_batch(self, n: int, clustered: bool, id_range: int) -> None:
        if clustered:
            hashes = clustered_hashes(self.rng, n, families=max(1, n // 10))
        else:
            hashes = random_hashes(self.rng, n)
        ids = self.rng.integers(0, id_range, n)
        self._add(hashes, ids)

    @precondition(lambda self: len(self.history) > 0)
    @rule(n=st.integers(1, 40), max_flips=st.sampled_from([0, 3, 40]))
    def add_near_existing(self, n: int, max_flips: int) -> None:
        """Near-duplicates (or exact ones) of hashes already added, maybe removed since."""
        picked = self.history[self.rng.integers(0, len(self.history), n)]
        hashes = flip_bits(self.rng, picked, self.rng.integers(0, max_flips + 1, n))
        self._add(hashes, self.rng.integers(0, 300, n))

    def _add(self, hashes: np.ndarray, ids: np.ndarray) -> None:
        self.index.add(hashes, ids)
        self.oracle.add(hashes, ids)
        self.history = np.concatenate([self.history, hashes])
        if len(hashes):
            # The very next search finds what was just added.
            found = self.index.search(hashes[-1], 0)
            assert int(ids[-1]) in found.ids.tolist()

    @rule(known=st.integers(0, 20), unknown=st.integers(0, 3))
    def remove_ids(self, known: int, unknown: int) -> None:
        present = np.unique(self.oracle.ids)
        targets = [int(x) for x in self.rng.choice(present, min(known, len(present)), False)]
        targets += [10_000 + int(x) for x in self.rng.integers(0, 100, unknown)]
        expected = self.oracle.remove(np.array(targets, np.int64))
        assert self.index.remove(targets) == expected

    @rule()
    def compact(self) -> None:
        self.index.compact()
        stats = self.index.stats()
        assert stats.segments == (1 if len(self.oracle) else 0)
        assert stats.tail == 0

    @rule()
    def take_snapshot(self) -> None:
        self.snapshots = [*self.snapshots[-2:], (self.index.snapshot(), self.oracle.copy())]

    @invariant()
    def answers_are_exact(self) -> None:
        if not hasattr(self, "index"):
            return
        assert len(self.index) == len(self.oracle) == self.index.stats().entries
        queries = queries_near(self.rng, self.history, near=6, misses=2)
        check_searches(self.index, self.oracle, queries)
        for query in queries[:3]:
            k = int(self.rng.integers(1, 8))
            assert as_lists(self.index.nearest(query, k)) == self.oracle.nearest(query, k)

    @invariant()
    def snapshots_do_not_change(self) -> None:
        for snapshot, oracle in self.snapshots:
            assert len(snapshot) == len(oracle)  # type: ignore[arg-type]
            queries = queries_near(self.rng, oracle.hashes, near=3, misses=1)
            check_searches(snapshot, oracle, queries, thresholds=(0, 31, 64))


IndexOperations.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestIndexOperations = IndexOperations.TestCase
