"""The index file: round trips, atomic replacement, and refusal of every damaged file."""

from __future__ import annotations

import hashlib
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakshield.index import HashIndex, HashIndexError, IndexFileError, load, save
from tests.index._oracle import (
    METHODS,
    THRESHOLDS,
    Oracle,
    as_lists,
    clustered_hashes,
    queries_near,
    random_hashes,
)

HEADER = struct.Struct("<8sIIQ32s8x")
MAGIC = b"LSHIDX\r\n"


# -- helpers ------------------------------------------------------------------------------


def build(case: str, seed: int = 0) -> tuple[HashIndex, Oracle, np.ndarray]:
    """An index of one of the shapes a file can take, its oracle, and removed hashes."""
    rng = np.random.default_rng(seed)
    sizes = {"empty": 0, "tiny": 5, "tables": 301, "removed": 301, "all-removed": 50}
    n = sizes[case]
    index = HashIndex(tail_capacity=32, min_table_entries=4096 if case == "tiny" else 16)
    oracle = Oracle()
    hashes = clustered_hashes(rng, n, families=max(1, n // 6))
    ids = rng.integers(0, max(1, n // 2), n)
    for part_h, part_i in zip(np.array_split(hashes, 7), np.array_split(ids, 7), strict=True):
        index.add(part_h, part_i)
        oracle.add(part_h, part_i)
    removed = np.empty((0, 4), np.uint64)
    if case in ("removed", "all-removed"):
        targets = np.unique(ids)[:: 3 if case == "removed" else 1]
        removed = hashes[np.isin(ids, targets)]
        assert index.remove(targets) == oracle.remove(targets) > 0
    return index, oracle, removed


def assert_answers(index: HashIndex, oracle: Oracle, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    assert len(index) == len(oracle) == index.stats().entries
    queries = queries_near(rng, oracle.hashes, near=10, misses=3)
    for threshold in THRESHOLDS:
        expected = [oracle.search(q, threshold) for q in queries]
        for method in METHODS:
            found = index.search_many(queries, threshold, method=method)
            assert [as_lists(m) for m in found] == expected, (threshold, method)
    for k in (1, 4):
        assert [as_lists(m) for m in index.nearest_many(queries, k)] == [
            oracle.nearest(q, k) for q in queries
        ]


def sections(data: bytes) -> dict[str, tuple[int, int]]:
    """Where each part of a file lies, (start, length), by the documented format."""
    _magic, _version, chunks, entries, widths = HEADER.unpack_from(data)
    parts = [("hashes", entries * 32), ("ids", entries * 8)]
    if chunks:
        offsets = sum((1 << b) + 1 for b in widths[:chunks])
        parts += [("offsets", offsets * 4), ("slots", chunks * entries * 4)]
    out = {"header": (0, HEADER.size)}
    position = HEADER.size
    for name, length in parts:
        position += -position % 64
        out[name] = (position, length)
        position += length
    out["footer"] = (position, 32)
    assert position + 32 == len(data)
    return out


def with_footer(body: bytes | bytearray) -> bytes:
    """``body`` with a correct SHA-256 footer, so that only what was changed is wrong."""
    return bytes(body) + hashlib.sha256(body).digest()


def rewrite(path: Path, change: Callable[[bytearray, dict[str, tuple[int, int]]], None]) -> None:
    """Apply ``change`` to the file's body and give it a valid checksum again."""
    data = path.read_bytes()
    parts = sections(data)
    body = bytearray(data[:-32])
    change(body, parts)
    path.write_bytes(with_footer(body))


def saved(tmp_path: Path, case: str = "tables") -> tuple[Path, HashIndex, Oracle]:
    index, oracle, _ = build(case)
    path = tmp_path / f"{case}.lsh"
    index.save(path)
    return path, index, oracle


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("memory_map", [True, False], ids=["mapped", "copied"])
@pytest.mark.parametrize("case", ["empty", "tiny", "tables", "removed", "all-removed"])
def test_a_loaded_index_answers_as_the_saved_one(
    tmp_path: Path, case: str, memory_map: bool
) -> None:
    index, oracle, removed = build(case)
    path = tmp_path / "index.lsh"
    index.save(path)
    # saving compacts the index itself, which keeps its answers
    assert index.stats().segments == (1 if len(oracle) else 0)
    assert_answers(index, oracle)

    loaded = HashIndex.load(path, memory_map=memory_map)
    assert isinstance(loaded, HashIndex)
    stats = loaded.stats()
    assert (stats.entries, stats.segments, stats.tail) == (
        len(oracle),
        1 if len(oracle) else 0,
        0,
    )
    assert_answers(loaded, oracle)
    for h in removed:  # removed entries do not come back
        assert as_lists(loaded.search(h, 0)) == oracle.search(h, 0)
    if case == "removed":
        # some removed hashes have no entry left at all: the check above means something
        assert any(not oracle.search(h, 0)[0] for h in removed)


@pytest.mark.parametrize(
    ("case", "has_tables"), [("empty", False), ("tiny", False), ("tables", True)]
)
def test_the_file_follows_the_documented_format(
    tmp_path: Path, case: str, has_tables: bool
) -> None:
    index, oracle, _ = build(case)
    path = tmp_path / f"{case}.lsh"
    index.save(path)
    data = path.read_bytes()
    magic, version, chunks, entries, widths = HEADER.unpack_from(data)
    assert (magic, version, entries) == (MAGIC, 1, len(oracle))
    assert (chunks > 0) == has_tables
    assert sum(widths[:chunks]) == (256 if has_tables else 0)
    assert not any(widths[chunks:])
    assert data[-32:] == hashlib.sha256(data[:-32]).digest()
    parts = sections(data)
    assert all(start % 64 == 0 for name, (start, _) in parts.items() if name != "footer")
    start, length = parts["hashes"]
    words = np.frombuffer(data[start : start + length], "<u8").reshape(-1, 4)
    start, length = parts["ids"]
    ids = np.frombuffer(data[start : start + length], "<i8")
    stored = sorted(zip(map(tuple, words.tolist()), ids.tolist(), strict=True))
    expected = sorted(zip(map(tuple, oracle.hashes.tolist()), oracle.ids.tolist(), strict=True))
    assert stored == expected


@pytest.mark.parametrize("memory_map", [True, False], ids=["mapped", "copied"])
def test_a_file_written_by_the_documented_format_loads(tmp_path: Path, memory_map: bool) -> None:
    """An empty index is a header and a footer; one entry adds a hash and an id section."""
    path = tmp_path / "index.lsh"
    path.write_bytes(with_footer(HEADER.pack(MAGIC, 1, 0, 0, b"")))
    empty = HashIndex.load(path, memory_map=memory_map)
    assert (len(empty), empty.stats().segments) == (0, 0)
    assert as_lists(empty.search(b"\x00" * 32, 256)) == ([], [])

    raw = bytes(range(32))
    words = np.frombuffer(raw, ">u8").astype("<u8").tobytes()
    ids = np.array([-42], "<i8").tobytes()
    body = HEADER.pack(MAGIC, 1, 0, 1, b"") + words + b"\x00" * 32 + ids
    path.write_bytes(with_footer(body))
    one = HashIndex.load(path, memory_map=memory_map)
    assert list(one.search(raw, 0)) == [(-42, 0)]
    assert list(one.search(raw.hex(), 0)) == [(-42, 0)]


@pytest.mark.parametrize("memory_map", [True, False], ids=["mapped", "copied"])
def test_module_functions_and_str_paths(tmp_path: Path, memory_map: bool) -> None:
    index, oracle, _ = build("tables")
    path = str(tmp_path / "index.lsh")
    save(index, path)
    assert_answers(load(path, memory_map=memory_map), oracle)
    assert_answers(load(Path(path)), oracle)


@pytest.mark.parametrize("memory_map", [True, False], ids=["mapped", "copied"])
def test_a_loaded_index_can_be_changed_and_saved_again(tmp_path: Path, memory_map: bool) -> None:
    path, _, oracle = saved(tmp_path, "removed")
    loaded = HashIndex.load(path, memory_map=memory_map)
    rng = np.random.default_rng(5)
    gone = np.unique(oracle.ids)[:10]
    assert loaded.remove(gone) == oracle.remove(gone) > 0
    more = clustered_hashes(rng, 100, families=10)
    loaded.add(more, np.arange(5000, 5100))
    oracle.add(more, np.arange(5000, 5100))
    assert_answers(loaded, oracle)
    loaded.compact()
    assert_answers(loaded, oracle)
    again = tmp_path / "again.lsh"
    loaded.save(again)
    assert_answers(HashIndex.load(again, memory_map=memory_map), oracle)
    assert_answers(HashIndex.load(path), build("removed")[1])  # the first file is untouched


def test_saving_over_a_file_leaves_indexes_loaded_from_it_answering(tmp_path: Path) -> None:
    path = tmp_path / "index.lsh"
    first, first_oracle, _ = build("tables", seed=1)
    first.save(path)
    mapped = HashIndex.load(path)
    copied = HashIndex.load(path, memory_map=False)

    second, second_oracle, _ = build("removed", seed=2)
    second.save(path)
    assert_answers(HashIndex.load(path), second_oracle)
    assert_answers(mapped, first_oracle)
    assert_answers(copied, first_oracle)

    # An index mapped from the file can be saved over that very file.
    mapped_second = HashIndex.load(path)
    mapped_second.save(path)
    assert_answers(mapped_second, second_oracle)
    assert_answers(HashIndex.load(path), second_oracle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.lsh"]


def test_a_mapped_index_outlives_its_file(tmp_path: Path) -> None:
    path, _, oracle = saved(tmp_path)
    mapped = HashIndex.load(path)
    path.unlink()
    assert_answers(mapped, oracle)


def test_a_copied_index_does_not_read_its_file_again(tmp_path: Path) -> None:
    path, _, oracle = saved(tmp_path)
    copied = HashIndex.load(path, memory_map=False)
    size = path.stat().st_size
    with path.open("r+b") as f:  # overwrite in place: same inode, other bytes
        f.write(b"\xff" * size)
    assert_answers(copied, oracle)


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    index, _, _ = build("tables")
    for name in ("a.lsh", "b.lsh", "a.lsh"):
        index.save(tmp_path / name)
        index.add(random_hashes(np.random.default_rng(len(name)), 3), [1, 2, 3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.lsh", "b.lsh"]


def test_a_failed_save_leaves_no_temporary_file_and_no_target(tmp_path: Path) -> None:
    index, oracle, _ = build("tables")
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises((OSError, HashIndexError)):
        index.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (target / "keep").read_text() == "x"
    assert_answers(index, oracle)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 600),
    removed=st.integers(0, 50),
    min_table=st.integers(1, 64),
)
def test_any_index_survives_a_round_trip(seed: int, n: int, removed: int, min_table: int) -> None:
    rng = np.random.default_rng(seed)
    index = HashIndex(tail_capacity=40, min_table_entries=min_table)
    oracle = Oracle()
    hashes, ids = clustered_hashes(rng, n, families=max(1, n // 5)), rng.integers(0, 200, n)
    index.add(hashes, ids)
    oracle.add(hashes, ids)
    targets = rng.integers(0, 200, removed)
    assert index.remove(targets) == oracle.remove(targets)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "index.lsh"
        index.save(path)
        assert_answers(HashIndex.load(path), oracle, seed)


# -- refusals -----------------------------------------------------------------------------


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nothing.lsh"
    with pytest.raises(IndexFileError, match=r"nothing\.lsh"):
        HashIndex.load(path)
    with pytest.raises(IndexFileError):
        load(path, memory_map=False)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError):
        HashIndex.load(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\x00", MAGIC, b"\x00" * 95, b"\x00" * 4096])
def test_an_empty_or_meaningless_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "index.lsh"
    path.write_bytes(content)
    with pytest.raises(IndexFileError):
        HashIndex.load(path)


@pytest.mark.parametrize("case", ["empty", "tiny", "tables"])
def test_a_truncated_or_extended_file_is_refused(tmp_path: Path, case: str) -> None:
    path, _, _ = saved(tmp_path, case)
    data = path.read_bytes()
    footer = sections(data)["footer"][0]
    cuts = {1, 32, 63, 64, 65, 95, 96, len(data) // 2, footer, footer + 1, len(data) - 1}
    damaged = tmp_path / "damaged.lsh"
    for cut in sorted(c for c in cuts if 0 < c < len(data)):
        damaged.write_bytes(data[:cut])
        for memory_map in (True, False):
            with pytest.raises(IndexFileError):
                HashIndex.load(damaged, memory_map=memory_map)
    # cutting just the footer, or adding a byte, with or without a checksum that fits
    for content in (data[:-32], data + b"\x00", data[:-32] + b"\x00" + data[-32:]):
        damaged.write_bytes(content)
        with pytest.raises(IndexFileError):
            HashIndex.load(damaged)
    damaged.write_bytes(with_footer(data[:-32] + b"\x00" * 64))
    with pytest.raises(IndexFileError):
        HashIndex.load(damaged)


def test_every_flipped_byte_of_a_small_file_is_refused(tmp_path: Path) -> None:
    path, _, _ = saved(tmp_path, "tiny")
    data = path.read_bytes()
    assert len(data) < 1024
    damaged = tmp_path / "damaged.lsh"
    for position in range(len(data)):
        for mask in (0x01, 0x80):
            changed = bytearray(data)
            changed[position] ^= mask
            damaged.write_bytes(changed)
            with pytest.raises(IndexFileError):
                HashIndex.load(damaged)


@pytest.mark.parametrize(
    "where",
    [
        "magic",
        "version",
        "chunks",
        "entries",
        "widths",
        "header-padding",
        "hashes-first",
        "hashes-last",
        "gap-after-hashes",
        "ids-first",
        "ids-last",
        "offsets-first",
        "offsets-middle",
        "slots-first",
        "slots-last",
        "footer-first",
        "footer-last",
    ],
)
@pytest.mark.parametrize("memory_map", [True, False], ids=["mapped", "copied"])
def test_a_flipped_byte_anywhere_is_refused(tmp_path: Path, where: str, memory_map: bool) -> None:
    path, _, _ = saved(tmp_path, "tables")
    data = path.read_bytes()
    parts = sections(data)
    fixed = {"magic": 3, "version": 8, "chunks": 12, "entries": 16, "widths": 24}
    fixed["header-padding"] = 60
    if where in fixed:
        position = fixed[where]
    elif where == "gap-after-hashes":
        position = sum(parts["hashes"])  # 301 hashes: the ids start 32 bytes later
        assert position < parts["ids"][0]
    else:
        name, which = where.rsplit("-", 1)
        start, length = parts[name]
        position = {"first": start, "last": start + length - 1, "middle": start + length // 2}[
            which
        ]
    for mask in (0x01, 0xFF):
        changed = bytearray(data)
        changed[position] ^= mask
        path.write_bytes(changed)
        with pytest.raises(IndexFileError):
            HashIndex.load(path, memory_map=memory_map)


def test_bytes_flipped_throughout_a_file_with_tables_are_refused(tmp_path: Path) -> None:
    path, _, _ = saved(tmp_path, "tables")
    data = path.read_bytes()
    damaged = tmp_path / "damaged.lsh"
    for position in range(0, len(data), 211):
        changed = bytearray(data)
        changed[position] ^= 0x10
        damaged.write_bytes(changed)
        with pytest.raises(IndexFileError):
            HashIndex.load(damaged)


@pytest.mark.parametrize(
    "magic", [b"LSHIDX\n\n", b"LSHIDX\r\r", b"\x89PNG\r\n\x1a\n", b"\x00" * 8, b"lshidx\r\n"]
)
def test_a_wrong_magic_is_refused_even_with_a_valid_checksum(tmp_path: Path, magic: bytes) -> None:
    path, _, _ = saved(tmp_path)

    def change(body: bytearray, _parts: dict[str, tuple[int, int]]) -> None:
        body[:8] = magic

    rewrite(path, change)
    with pytest.raises(IndexFileError, match="not a leakshield index"):
        HashIndex.load(path)


@pytest.mark.parametrize("version", [0, 2, 7, 2**32 - 1])
@pytest.mark.parametrize("case", ["empty", "tables"])
def test_another_format_version_is_refused(tmp_path: Path, version: int, case: str) -> None:
    path, _, _ = saved(tmp_path, case)

    def change(body: bytearray, _parts: dict[str, tuple[int, int]]) -> None:
        struct.pack_into("<I", body, 8, version)

    rewrite(path, change)
    with pytest.raises(IndexFileError, match=f"format {version}") as caught:
        HashIndex.load(path)
    assert "format 1" in str(caught.value)


def _table_offsets(body: bytearray, parts: dict[str, tuple[int, int]]) -> list[np.ndarray]:
    """Each chunk table's offsets, as writable views into ``body``."""
    _magic, _version, chunks, _entries, widths = HEADER.unpack_from(body)
    start, length = parts["offsets"]
    offsets = np.frombuffer(memoryview(body)[start : start + length], "<u4")
    tables, base = [], 0
    for bits in widths[:chunks]:
        tables.append(offsets[base : base + (1 << bits) + 1])
        base += (1 << bits) + 1
    return tables


def _slots(body: bytearray, parts: dict[str, tuple[int, int]]) -> np.ndarray:
    _magic, _version, chunks, entries, _widths = HEADER.unpack_from(body)
    start, length = parts["slots"]
    return np.frombuffer(memoryview(body)[start : start + length], "<u4").reshape(chunks, entries)


def _offsets_decreasing(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    table = _table_offsets(body, parts)[1]
    k = int(np.flatnonzero(np.diff(table.astype(np.int64)) > 0)[0])
    table[k], table[k + 1] = table[k + 1], table[k]  # now table[k] > table[k + 1]


def _offsets_first_not_zero(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    _table_offsets(body, parts)[0][0] = 1


def _offsets_last_not_entries(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    table = _table_offsets(body, parts)[-1]
    table[-1] += 1


def _slot_equal_to_entries(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    slots = _slots(body, parts)
    slots[0, 5] = slots.shape[1]


def _slot_huge(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    _slots(body, parts)[-1, -1] = 2**32 - 1


def _slots_repeated(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    slots = _slots(body, parts)
    slots[0, :] = slots[0, 0]  # every bucket of table 0 names one entry


def _slots_in_the_wrong_buckets(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    slots = _slots(body, parts)
    slots[:] = slots[:, ::-1].copy()  # each table a permutation still, bucket contents wrong


def _widths_not_256(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    body[24] -= 1


def _too_many_chunks(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    struct.pack_into("<I", body, 12, 33)


def _more_entries(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    struct.pack_into("<Q", body, 16, HEADER.unpack_from(body)[3] + 1)


def _huge_entry_count(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    struct.pack_into("<Q", body, 16, 2**40)


def _no_chunks(body: bytearray, parts: dict[str, tuple[int, int]]) -> None:
    struct.pack_into("<I", body, 12, 0)


@pytest.mark.parametrize(
    "change",
    [
        _offsets_decreasing,
        _offsets_first_not_zero,
        _offsets_last_not_entries,
        _slot_equal_to_entries,
        _slot_huge,
        _widths_not_256,
        _too_many_chunks,
        _more_entries,
        _huge_entry_count,
        _no_chunks,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
@pytest.mark.parametrize("memory_map", [True, False], ids=["mapped", "copied"])
def test_an_inconsistent_file_with_a_valid_checksum_is_refused(
    tmp_path: Path,
    change: Callable[[bytearray, dict[str, tuple[int, int]]], None],
    memory_map: bool,
) -> None:
    # Whatever the checksum says, nothing that would read out of bounds is loaded.
    path, _, _ = saved(tmp_path, "tables")
    rewrite(path, change)
    data = path.read_bytes()
    assert data[-32:] == hashlib.sha256(data[:-32]).digest()  # only the change is wrong
    with pytest.raises(IndexFileError):
        HashIndex.load(path, memory_map=memory_map)


@pytest.mark.parametrize(
    "change", [_slots_repeated, _slots_in_the_wrong_buckets], ids=lambda f: f.__name__.strip("_")
)
def test_verify_refuses_tables_that_stay_in_bounds_but_lie(
    tmp_path: Path, change: Callable[[bytearray, dict[str, tuple[int, int]]], None]
) -> None:
    path, _, _ = saved(tmp_path, "tables")
    HashIndex.load(path, verify=True)  # the honest file passes
    rewrite(path, change)
    with pytest.raises(IndexFileError, match="inconsistent tables"):
        HashIndex.load(path, verify=True)
