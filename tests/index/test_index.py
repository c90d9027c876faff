"""`HashIndex` behaviour: input forms, refusals, removal, duplicates, snapshots, threads."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from leakshield.errors import InputError
from leakshield.index import (
    DEFAULT_THRESHOLD,
    HashIndex,
    HashIndexError,
    IndexFileError,
    IndexStats,
    Matches,
    Snapshot,
    as_words,
    to_hex,
)
from leakshield.signals import PdqHash
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

EXAMPLES = PdqHash.examples()


def raw_hashes(seed: int, n: int) -> list[bytes]:
    """``n`` random 32-byte hashes; the first three are PDQ's examples."""
    rng = np.random.default_rng(seed)
    out = [bytes.fromhex(h) for h in EXAMPLES]
    out += [rng.bytes(32) for _ in range(n - len(out))]
    return out[:n]


def words_of(raw: bytes) -> list[int]:
    """The four words of a hash by the documented rule: word i = bytes 8i..8i+8, big-endian."""
    return [int.from_bytes(raw[8 * i : 8 * i + 8], "big") for i in range(4)]


def bit_distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def flip(raw: bytes, *bits: int) -> bytes:
    value = int.from_bytes(raw, "big")
    for bit in bits:
        value ^= 1 << bit
    return value.to_bytes(32, "big")


# -- input forms --------------------------------------------------------------------------

FORMS = {
    "hex": lambda raws: [r.hex() for r in raws],
    "hex-upper-spaced": lambda raws: [f"  {r.hex().upper()}\n" for r in raws],
    "bytes": lambda raws: list(raws),
    "bytearray": lambda raws: [bytearray(r) for r in raws],
    "memoryview": lambda raws: [memoryview(r) for r in raws],
    "pdq": lambda raws: [PdqHash(r) for r in raws],
    "uint8": lambda raws: np.frombuffer(b"".join(raws), np.uint8).reshape(-1, 32),
    "uint64": lambda raws: np.array([words_of(r) for r in raws], np.uint64).reshape(-1, 4),
    "generator": lambda raws: (r.hex() for r in raws),
}

ONE_FORMS = {
    "hex": lambda r: r.hex(),
    "bytes": lambda r: r,
    "pdq": lambda r: PdqHash(r),
    "uint8": lambda r: np.frombuffer(r, np.uint8),
    "uint8-row": lambda r: np.frombuffer(r, np.uint8).reshape(1, 32),
    "uint64": lambda r: np.array(words_of(r), np.uint64),
    "uint64-row": lambda r: np.array([words_of(r)], np.uint64),
}


def test_as_words_follows_the_documented_word_order() -> None:
    raws = raw_hashes(1, 5)
    words = as_words([r.hex() for r in raws])
    assert words.dtype == np.uint64
    assert words.shape == (5, 4)
    assert words.flags.c_contiguous
    assert words.tolist() == [words_of(r) for r in raws]
    assert to_hex(words) == [r.hex() for r in raws]


@pytest.mark.parametrize("form", FORMS)
def test_every_form_of_many_hashes_gives_the_same_entries(form: str) -> None:
    raws = raw_hashes(2, 40)
    ids = list(range(100, 140))
    reference = HashIndex(tail_capacity=8, min_table_entries=4)
    reference.add([r.hex() for r in raws], ids)
    index = HashIndex(tail_capacity=8, min_table_entries=4)
    index.add(FORMS[form](raws), ids)
    assert len(index) == 40
    assert as_words(FORMS[form](raws)).tolist() == [words_of(r) for r in raws]
    for i, raw in enumerate(raws):
        query = flip(raw, 0, 100, 255)
        assert as_lists(index.search(query.hex(), 31)) == as_lists(reference.search(query, 31))
        assert as_lists(index.search(raw.hex(), 0)) == ([ids[i]], [0])
    queries = FORMS[form](raws[:7])
    assert [as_lists(m) for m in index.search_many(queries, 0)] == [([i], [0]) for i in ids[:7]]


@pytest.mark.parametrize("form", ONE_FORMS)
def test_every_form_of_one_query_gives_the_same_answer(form: str) -> None:
    raws = raw_hashes(3, 30)
    index = HashIndex(tail_capacity=8, min_table_entries=4)
    index.add(raws, range(30))
    for raw in raws[:5]:
        query = flip(raw, 3, 77)
        expected = as_lists(index.search(query.hex(), 31))
        assert expected[0][:1] == [raws.index(raw)]
        assert as_lists(index.search(ONE_FORMS[form](query), 31)) == expected
        assert as_lists(index.nearest(ONE_FORMS[form](query), 2, max_distance=31)) == (
            expected[0][:2],
            expected[1][:2],
        )
        assert as_lists(index.snapshot().search(ONE_FORMS[form](query), 31)) == expected


def test_distances_are_hamming_distances_of_the_bytes() -> None:
    raws = raw_hashes(4, 50)
    index = HashIndex(tail_capacity=16, min_table_entries=8)
    index.add(raws, range(50))
    query = raws[0]
    matches = index.search(query, 256)
    assert len(matches) == 50
    expected = sorted((bit_distance(query, r), i) for i, r in enumerate(raws))
    assert [(i, d) for d, i in expected] == list(matches)
    # the three PDQ examples are far apart, as unrelated images' hashes are
    assert bit_distance(raws[0], raws[1]) > 64


# -- refusals -----------------------------------------------------------------------------


def test_errors_are_input_errors() -> None:
    assert issubclass(HashIndexError, InputError)
    assert issubclass(IndexFileError, HashIndexError)


@pytest.mark.parametrize(
    ("hashes", "message"),
    [
        (["ab" * 31 + "a"], "64 hex digits"),  # 63 digits
        (["ab" * 31], "64 hex digits"),  # 62 digits: 31 bytes
        (["ab" * 33], "64 hex digits"),  # 66 digits
        ([""], "64 hex digits"),
        (["zz" * 32], "not a hex hash"),
        (["0x" + "ab" * 31], "not a hex hash"),
        ([b"\x00" * 31], "not 31"),
        ([b"\x00" * 33], "not 33"),
        ([12345], "int"),
        ([None], "NoneType"),
        ([["ab" * 32]], "list"),
    ],
)
def test_bad_hashes_are_refused(hashes: list[object], message: str) -> None:
    index = HashIndex()
    with pytest.raises(HashIndexError, match=message):
        index.add(hashes, [1])
    with pytest.raises(HashIndexError, match=message):
        index.search_many(["ab" * 32, hashes[0]])
    with pytest.raises(HashIndexError, match=message):
        index.nearest_many(hashes)
    assert len(index) == 0


@pytest.mark.parametrize("query", ["ab" * 31, "zz" * 32, b"\x00" * 31, np.zeros(31, np.uint8)])
def test_a_bad_single_query_is_refused(query: object) -> None:
    index = HashIndex()
    index.add(EXAMPLES, [1, 2, 3])
    with pytest.raises(HashIndexError):
        index.search(query)
    with pytest.raises(HashIndexError):
        index.nearest(query)
    with pytest.raises(HashIndexError):
        index.snapshot().search(query)


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((2, 4), np.int64),
        np.zeros((2, 4), np.float64),
        np.zeros((2, 4), np.uint32),
        np.zeros((2, 3), np.uint64),
        np.zeros((2, 5), np.uint64),
        np.zeros((2, 31), np.uint8),
        np.zeros((2, 32), np.int8),
        np.zeros((2, 2, 4), np.uint64),
        np.zeros((2, 2, 32), np.uint8),
        np.zeros((), np.uint64),
    ],
    ids=lambda a: f"{a.dtype.str}{a.shape}",
)
def test_arrays_of_the_wrong_dtype_or_shape_are_refused(array: np.ndarray) -> None:
    index = HashIndex()
    with pytest.raises(HashIndexError, match=r"uint64 \(n, 4\) or uint8 \(n, 32\)"):
        index.add(array, [1, 2])
    with pytest.raises(HashIndexError, match=r"uint64 \(n, 4\) or uint8 \(n, 32\)"):
        index.search_many(array)
    assert len(index) == 0


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([1], "2 hashes but 1 ids"),
        ([1, 2, 3], "2 hashes but 3 ids"),
        ([], "2 hashes but 0 ids"),
        ([1.0, 2.0], "integers"),
        (np.array([1.5, 2.5]), "integers"),
        (["1", "2"], "integers"),
        ([True, False], "integers"),
        ([[1, 2]], "one-dimensional"),
        (np.array([2**64 - 1, 1], np.uint64), "64-bit"),
        ([2**64 - 1, 1], "integers|64-bit"),
        ([2**70, 1], "integers|64-bit"),
    ],
)
def test_bad_ids_are_refused(ids: object, message: str) -> None:
    index = HashIndex()
    with pytest.raises(HashIndexError, match=message):
        index.add(EXAMPLES[:2], ids)
    assert len(index) == 0


def test_a_refused_add_adds_nothing() -> None:
    index = HashIndex(tail_capacity=4)
    index.add(EXAMPLES[:1], [1])
    with pytest.raises(HashIndexError):
        index.add([EXAMPLES[1], "not hex"], [2, 3])
    with pytest.raises(HashIndexError):
        index.add(EXAMPLES[1:3], [2])
    assert len(index) == 1
    assert as_lists(index.search(EXAMPLES[1], 256)) == ([1], [bit_distance(*raw_hashes(0, 2))])


def test_one_id_may_be_a_scalar_and_ids_any_integer_kind() -> None:
    index = HashIndex()
    index.add(EXAMPLES[0], 7)
    index.add(EXAMPLES[1], np.array([8], np.uint8))
    index.add(EXAMPLES[2], np.int64(-9))
    assert as_lists(index.search(EXAMPLES[0], 0)) == ([7], [0])
    assert as_lists(index.search(EXAMPLES[1], 0)) == ([8], [0])
    assert as_lists(index.search(EXAMPLES[2], 0)) == ([-9], [0])
    big = np.iinfo(np.int64).max
    index.add(EXAMPLES[0], np.array([big], np.uint64))
    assert as_lists(index.search(EXAMPLES[0], 0)) == ([7, big], [0, 0])


@pytest.mark.parametrize("threshold", [-1, 257, 1000, 3.5, 31.0, True, False, "31", None])
def test_bad_thresholds_are_refused(threshold: object) -> None:
    index = HashIndex()
    index.add(EXAMPLES, [1, 2, 3])
    calls = [
        lambda: index.search(EXAMPLES[0], threshold),
        lambda: index.search_many(EXAMPLES, threshold),
        lambda: index.snapshot().search(EXAMPLES[0], threshold),
        lambda: index.nearest(EXAMPLES[0], 1, max_distance=threshold),
        lambda: index.nearest_many(EXAMPLES, 1, max_distance=threshold),
    ]
    for call in calls:
        with pytest.raises(HashIndexError, match="threshold"):
            call()


@pytest.mark.parametrize("threshold", [0, 256, np.int64(31), np.uint8(5)])
def test_thresholds_at_the_limits_and_numpy_integers_are_taken(threshold: int) -> None:
    index = HashIndex()
    index.add(EXAMPLES, [1, 2, 3])
    assert 1 in index.search(EXAMPLES[0], threshold).ids.tolist()


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_is_refused(k: int) -> None:
    index = HashIndex()
    index.add(EXAMPLES, [1, 2, 3])
    with pytest.raises(HashIndexError, match="at least 1"):
        index.nearest(EXAMPLES[0], k)
    with pytest.raises(HashIndexError, match="at least 1"):
        index.nearest_many(EXAMPLES, k)


@pytest.mark.parametrize("k", [1.5, "2"])
def test_k_that_is_not_a_whole_number_is_refused(k: object) -> None:
    """Like a threshold, k is a whole number; anything else is a HashIndexError."""
    index = HashIndex()
    index.add(EXAMPLES, [1, 2, 3])
    with pytest.raises(HashIndexError):
        index.nearest(EXAMPLES[0], k)


def test_an_unknown_search_method_is_refused() -> None:
    index = HashIndex(tail_capacity=4, min_table_entries=2)
    index.add(raw_hashes(5, 20), range(20))
    with pytest.raises(HashIndexError):
        index.search(EXAMPLES[0], 31, method="table")  # not "tables"


def test_search_takes_exactly_one_hash() -> None:
    index = HashIndex()
    index.add(EXAMPLES, [1, 2, 3])
    two = np.zeros((2, 4), np.uint64)
    with pytest.raises(HashIndexError, match="search_many"):
        index.search(two)
    with pytest.raises(HashIndexError):
        index.search(np.zeros((0, 4), np.uint64))


@pytest.mark.parametrize("value", [12345, None, 1.5])
def test_a_value_that_is_no_hash_at_all_is_refused(value: object) -> None:
    """Not a hash and not a collection of hashes: a HashIndexError like any bad hash."""
    index = HashIndex()
    with pytest.raises(HashIndexError, match="hash"):
        index.add(value, [1])
    with pytest.raises(HashIndexError, match="hash"):
        index.search_many(value)
    with pytest.raises(HashIndexError, match="hash"):
        index.search(value)


def test_capacity_below_one_is_refused() -> None:
    with pytest.raises(HashIndexError, match="tail_capacity"):
        HashIndex(tail_capacity=0)


# -- adding, searching, removing ----------------------------------------------------------


def test_an_empty_index_answers_nothing() -> None:
    index = HashIndex()
    assert len(index) == 0
    for method in METHODS:
        assert as_lists(index.search(EXAMPLES[0], 256, method=method)) == ([], [])
    assert as_lists(index.nearest(EXAMPLES[0], 5)) == ([], [])
    assert index.search_many([], 31) == []
    assert index.nearest_many([], 3) == []
    assert index.remove([1, 2]) == 0
    index.add([], [])
    assert len(index) == 0
    assert index.stats().entries == 0


@pytest.mark.parametrize("tail", [1, 3, 16, 1000])
def test_an_added_hash_is_found_by_the_very_next_search(tail: int) -> None:
    rng = np.random.default_rng(tail)
    index = HashIndex(tail_capacity=tail, min_table_entries=2)
    hashes = clustered_hashes(rng, 120, families=10)
    for i, h in enumerate(hashes):
        index.add(h.reshape(1, 4), [i])
        for method in METHODS:
            assert i in index.search(h, 0, method=method).ids.tolist()
        assert index.nearest(h).distances.tolist() == [0]
        assert len(index) == i + 1


def test_search_many_answers_in_query_order() -> None:
    rng = np.random.default_rng(11)
    hashes = random_hashes(rng, 200)
    index = HashIndex(tail_capacity=32, min_table_entries=16)
    index.add(hashes, np.arange(200) * 10)
    order = rng.permutation(200)[:50]
    found = index.search_many(hashes[order], 0)
    assert [as_lists(m) for m in found] == [([int(i) * 10], [0]) for i in order]
    near = index.nearest_many(hashes[order], 1)
    assert [m.ids.tolist() for m in near] == [[int(i) * 10] for i in order]


def test_matches_iterate_as_pairs_and_first_takes_the_nearest() -> None:
    raw = raw_hashes(6, 1)[0]
    index = HashIndex()
    index.add([flip(raw, *range(d)) for d in (5, 0, 3, 3, 9)], [50, 10, 40, 30, 20])
    matches = index.search(raw, 31)
    assert isinstance(matches, Matches)
    assert list(matches) == [(10, 0), (30, 3), (40, 3), (50, 5), (20, 9)]
    assert all(type(i) is int and type(d) is int for i, d in matches)
    assert list(matches.first(3)) == [(10, 0), (30, 3), (40, 3)]
    assert list(matches.first(10)) == list(matches)
    assert len(matches.first(0)) == 0
    assert list(index.search(raw, 3)) == [(10, 0), (30, 3), (40, 3)]
    assert list(index.nearest(raw, 2)) == [(10, 0), (30, 3)]
    assert list(index.nearest(raw, 4, max_distance=4)) == [(10, 0), (30, 3), (40, 3)]
    assert list(index.nearest(raw, 9, max_distance=2)) == [(10, 0)]
    assert DEFAULT_THRESHOLD == 31
    assert list(index.search(flip(raw, *range(100, 131)))) == [(10, 31)]


@pytest.mark.parametrize("tail", [2, 8, 10_000])
def test_remove_returns_how_many_entries_went(tail: int) -> None:
    raws = raw_hashes(7, 60)
    index = HashIndex(tail_capacity=tail, min_table_entries=4)
    ids = [i % 20 for i in range(60)]  # three hashes per id
    index.add(raws, ids)
    assert index.remove([3]) == 3
    assert index.remove([3]) == 0
    assert index.remove([999]) == 0
    assert index.remove([]) == 0
    assert index.remove(4) == 3
    assert index.remove([5, 5, 6, 999]) == 6
    assert index.remove(np.array([7, 8], np.int32)) == 6
    assert len(index) == 60 - 18
    for i, raw in enumerate(raws):
        found = index.search(raw, 0).ids.tolist()
        assert found == ([] if ids[i] in (3, 4, 5, 6, 7, 8) else [ids[i]])
    with pytest.raises(HashIndexError):
        index.remove([1.5])
    assert len(index) == 42


@pytest.mark.parametrize("n", [3, 40])  # into the tail, and a segment of its own
@pytest.mark.parametrize("dtype", [np.uint64, np.uint8])
def test_the_callers_array_can_be_reused_after_add(n: int, dtype: type) -> None:
    rng = np.random.default_rng(n)
    index = HashIndex(tail_capacity=8, min_table_entries=4)
    original = random_hashes(rng, n)
    if dtype is np.uint64:
        buffer = original.copy()
    else:
        buffer = np.frombuffer(b"".join(bytes.fromhex(h) for h in to_hex(original)), np.uint8)
        buffer = buffer.reshape(n, 32).copy()
    index.add(buffer, np.arange(n))
    buffer[:] = 0  # the caller reuses its buffer
    for i in range(n):
        assert as_lists(index.search(original[i], 0)) == ([i], [0])
    assert as_lists(index.search(np.zeros(4, np.uint64), 0)) == ([], [])


def test_a_removed_id_can_be_added_again() -> None:
    raws = raw_hashes(8, 30)
    index = HashIndex(tail_capacity=4, min_table_entries=2)
    index.add(raws, range(30))
    assert index.remove([5]) == 1
    assert as_lists(index.search(raws[5], 0)) == ([], [])
    index.add(raws[5:6], [5])
    assert as_lists(index.search(raws[5], 0)) == ([5], [0])
    index.add(raws[6:7], [5])
    assert as_lists(index.search(raws[6], 0)) == ([5, 6], [0, 0])
    assert index.remove([5]) == 2
    assert as_lists(index.search(raws[6], 0)) == ([6], [0])


def test_duplicate_hashes_and_ids_are_separate_entries() -> None:
    raw = raw_hashes(9, 1)[0]
    near = flip(raw, 10)
    index = HashIndex(tail_capacity=3, min_table_entries=2)
    index.add([raw, raw, raw], [3, 1, 2])  # one hash, three ids
    index.add([raw, near], [7, 7])  # one id, two hashes
    index.add([raw], [1])  # the very same entry again
    assert len(index) == 6
    for method in METHODS:
        found = index.search(raw, 31, method=method)
        assert list(found) == [(1, 0), (1, 0), (2, 0), (3, 0), (7, 0), (7, 1)]
    assert list(index.search(near, 0)) == [(7, 0)]
    assert list(index.nearest(raw, 5)) == [(1, 0), (1, 0), (2, 0), (3, 0), (7, 0)]
    assert index.remove([1]) == 2
    assert index.remove([7]) == 2
    assert list(index.search(raw, 31)) == [(2, 0), (3, 0)]
    assert as_lists(index.search(near, 0)) == ([], [])


def test_len_and_stats_follow_the_entries() -> None:
    rng = np.random.default_rng(12)
    index = HashIndex(tail_capacity=10, min_table_entries=4)
    stats = index.stats()
    assert isinstance(stats, IndexStats)
    assert (stats.entries, stats.segments, stats.tail) == (0, 0, 0)
    index.add(random_hashes(rng, 3), [1, 2, 3])
    stats = index.stats()
    assert (len(index), stats.entries, stats.segments, stats.tail) == (3, 3, 0, 3)
    index.add(random_hashes(rng, 7), range(4, 11))  # fills the tail: it becomes a segment
    stats = index.stats()
    assert (len(index), stats.entries, stats.segments, stats.tail) == (10, 10, 1, 0)
    index.add(random_hashes(rng, 25), range(11, 36))  # more than a tail: a segment of its own
    stats = index.stats()
    assert (stats.entries, stats.tail) == (35, 0)
    assert stats.segments >= 1
    small = stats.nbytes
    assert small >= 35 * (32 + 8)
    index.add(random_hashes(rng, 4), range(36, 40))
    assert index.stats().tail == 4
    before = index.stats().version
    assert index.remove([1, 2, 36]) == 3
    stats = index.stats()
    assert (len(index), stats.entries) == (36, 36)
    assert stats.version > before
    assert index.stats() == index.snapshot().stats()
    assert len(index.snapshot()) == len(index)


def test_compact_keeps_answers_in_one_segment() -> None:
    rng = np.random.default_rng(13)
    index = HashIndex(tail_capacity=16, min_table_entries=8)
    oracle = Oracle()
    for _ in range(40):
        n = int(rng.integers(1, 20))
        hashes, ids = clustered_hashes(rng, n, families=4), rng.integers(0, 100, n)
        index.add(hashes, ids)
        oracle.add(hashes, ids)
    index.remove(range(0, 100, 4))
    oracle.remove(np.arange(0, 100, 4))
    assert index.stats().segments > 1 or index.stats().tail > 0
    queries = queries_near(rng, oracle.hashes, near=10, misses=2)
    before = [as_lists(m) for m in index.search_many(queries, 48)]
    index.compact()
    stats = index.stats()
    assert (stats.segments, stats.tail, stats.entries) == (1, 0, len(oracle))
    assert [as_lists(m) for m in index.search_many(queries, 48)] == before
    for t in THRESHOLDS:
        for method in METHODS:
            found = index.search_many(queries, t, method=method)
            assert [as_lists(m) for m in found] == [oracle.search(q, t) for q in queries]
    index.compact()  # nothing to do
    assert index.stats().segments == 1
    index.remove(np.unique(oracle.ids))
    index.compact()
    assert (index.stats().segments, index.stats().entries, len(index)) == (0, 0, 0)
    HashIndex().compact()


# -- snapshots ----------------------------------------------------------------------------


def test_a_snapshot_keeps_answering_as_before() -> None:
    rng = np.random.default_rng(14)
    index = HashIndex(tail_capacity=8, min_table_entries=4)
    oracle = Oracle()
    hashes = clustered_hashes(rng, 100, families=10)
    for start in range(0, 100, 7):  # in batches smaller than the tail
        index.add(hashes[start : start + 7], np.arange(start, min(start + 7, 100)))
    oracle.add(hashes, np.arange(100))
    snap = index.snapshot()
    assert isinstance(snap, Snapshot)
    assert snap.stats().tail > 0
    at_snap = oracle.copy()
    queries = np.concatenate([hashes[95:], queries_near(rng, hashes, near=12, misses=2)])
    before = [as_lists(m) for m in snap.search_many(queries, 40)]
    before_stats = snap.stats()

    # Everything that changes the index: adds into the very tail the snapshot holds, then
    # new tails, merges, removals (in that tail too), compaction.
    index.add(hashes[95:97], [2000, 2001])
    oracle.add(hashes[95:97], np.array([2000, 2001]))
    index.remove([99, 2000])
    oracle.remove(np.array([99, 2000]))
    for start in range(0, 30, 3):
        index.add(hashes[start : start + 3], np.arange(3000 + start, 3003 + start))
        oracle.add(hashes[start : start + 3], np.arange(3000 + start, 3003 + start))
    index.remove(range(0, 100, 3))
    oracle.remove(np.arange(0, 100, 3))
    more = flip_bits(rng, hashes, rng.integers(0, 10, 100))
    index.add(more, np.arange(1000, 1100))
    oracle.add(more, np.arange(1000, 1100))
    index.remove([1001, 5])
    oracle.remove(np.array([1001, 5]))
    index.compact()
    index.remove([2, 1002])
    oracle.remove(np.array([2, 1002]))
    index.add(hashes[:3], [7, 8, 9])
    oracle.add(hashes[:3], np.array([7, 8, 9]))

    assert len(snap) == 100
    stats = snap.stats()
    assert (stats.entries, stats.segments, stats.tail, stats.version) == (
        before_stats.entries,
        before_stats.segments,
        before_stats.tail,
        before_stats.version,
    )
    assert [as_lists(m) for m in snap.search_many(queries, 40)] == before
    for method in METHODS:
        for t in (0, 31, 64):
            assert [as_lists(snap.search(q, t, method=method)) for q in queries] == [
                at_snap.search(q, t) for q in queries
            ]
            assert [as_lists(index.search(q, t, method=method)) for q in queries] == [
                oracle.search(q, t) for q in queries
            ]
    assert [as_lists(m) for m in snap.nearest_many(queries, 3)] == [
        at_snap.nearest(q, 3) for q in queries
    ]
    assert as_lists(snap.nearest(queries[0], 2)) == at_snap.nearest(queries[0], 2)
    assert len(index) == len(oracle)
    assert index.snapshot().stats().entries == len(oracle)


def test_an_empty_snapshot_stays_empty() -> None:
    index = HashIndex()
    snap = index.snapshot()
    index.add(EXAMPLES, [1, 2, 3])
    assert len(snap) == 0
    assert as_lists(snap.search(EXAMPLES[0], 256)) == ([], [])
    assert as_lists(index.search(EXAMPLES[0], 0)) == ([1], [0])


# -- threads ------------------------------------------------------------------------------


def test_readers_see_consistent_snapshots_while_a_writer_works() -> None:
    rng = np.random.default_rng(15)
    index = HashIndex(tail_capacity=24, min_table_entries=8)
    state_lock = threading.Lock()
    families = clustered_hashes(rng, 40, families=40, max_flips=0)
    # Entries no one removes: every reader must always find them.
    permanent = flip_bits(rng, families, rng.integers(0, 4, 40))
    index.add(permanent, np.arange(40))
    state = {"hashes": permanent.copy(), "ids": np.arange(40, dtype=np.int64)}
    stop = threading.Event()
    checked = {"snapshots": 0, "unlocked": 0}

    def writer() -> int:
        wrng = np.random.default_rng(16)
        next_id = 1000
        steps = 0
        deadline = time.monotonic() + 20
        # Go on until the readers have checked many snapshots taken between writes.
        while not stop.is_set() and time.monotonic() < deadline:
            if steps >= 400 and checked["snapshots"] >= 60 and checked["unlocked"] >= 30:
                break
            steps += 1
            with state_lock:
                if wrng.random() < 0.6 or len(state["ids"]) < 80:
                    n = int(wrng.integers(1, 30))
                    picked = families[wrng.integers(0, 40, n)]
                    hashes = flip_bits(wrng, picked, wrng.integers(0, 30, n))
                    ids = np.arange(next_id, next_id + n)
                    next_id += n
                    index.add(hashes, ids)
                    state["hashes"] = np.concatenate([state["hashes"], hashes])
                    state["ids"] = np.concatenate([state["ids"], ids])
                else:
                    removable = state["ids"][state["ids"] >= 1000]
                    targets = wrng.choice(removable, min(len(removable), 15), replace=False)
                    gone = np.isin(state["ids"], targets)
                    assert index.remove(targets) == int(gone.sum())
                    state["hashes"], state["ids"] = state["hashes"][~gone], state["ids"][~gone]
                if steps % 50 == 0:
                    index.compact()
        stop.set()
        return steps

    def reader(seed: int) -> None:
        rrng = np.random.default_rng(seed)
        while not stop.is_set():
            with state_lock:
                snap = index.snapshot()
                oracle = Oracle(state["hashes"], state["ids"])
            queries = queries_near(rrng, families, near=6, misses=1, max_flips=20)
            t = int(rrng.choice([0, 15, 31, 48]))
            first = [as_lists(m) for m in snap.search_many(queries, t)]
            assert len(snap) == len(oracle)
            assert first == [oracle.search(q, t) for q in queries]
            for method in ("tables", "scan"):
                assert [as_lists(m) for m in snap.search_many(queries, t, method=method)] == first
            checked["snapshots"] += 1

    def unlocked_reader(seed: int) -> None:
        rrng = np.random.default_rng(seed)
        while not stop.is_set():
            i = int(rrng.integers(0, 40))
            found = index.search(permanent[i], 0)
            assert i in found.ids.tolist()
            near = index.nearest(permanent[i], 1)
            assert near.distances.tolist() == [0]
            many = index.search_many(permanent, 31)
            for j, matches in enumerate(many):
                pairs = list(matches)
                assert j in matches.ids.tolist()
                assert pairs == sorted(pairs, key=lambda p: (p[1], p[0]))
                assert (j, 0) in pairs
            checked["unlocked"] += 1

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(writer),
            pool.submit(reader, 1),
            pool.submit(reader, 2),
            pool.submit(unlocked_reader, 3),
        ]
        try:
            steps = futures[0].result(timeout=120)
            for future in futures[1:]:
                future.result(timeout=120)
        finally:
            stop.set()
    assert steps > 0
    assert checked["snapshots"] >= 60
    assert checked["unlocked"] >= 30
    final = Oracle(state["hashes"], state["ids"])
    assert len(index) == len(final)
    for q in queries_near(rng, families, near=10, misses=0):
        assert as_lists(index.search(q, 31)) == final.search(q, 31)
