"""Starting a matcher from a snapshot plus the changes since, and following changes live."""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leakshield.banks import (
    BankInputError,
    BankStore,
    Follower,
    Match,
    Matcher,
    _snapshot,
    matcher_cache_dir,
    open_matcher,
    save_snapshot,
)
from leakshield.signals import Md5Hash, PdqHash, Signal, VpdqFrame, VpdqHash


def pdq(seed: object) -> PdqHash:
    return PdqHash(hashlib.sha256(str(seed).encode()).digest())


def md5(seed: object) -> Md5Hash:
    return Md5Hash(hashlib.md5(str(seed).encode(), usedforsecurity=False).digest())


def video(frames: Sequence[PdqHash]) -> VpdqHash:
    return VpdqHash(tuple(VpdqFrame(i, 100, h, float(i)) for i, h in enumerate(frames)))


FRAMES = [pdq(f"frame-{i}") for i in range(6)]
QUERIES: list[Signal] = [
    *(pdq(i) for i in range(8)),
    *(md5(i) for i in range(4)),
    video(FRAMES),
    video(FRAMES[:3]),
]


def results(matcher: Matcher, **options: Any) -> list[list[tuple[str, int, str, int]]]:
    """What every test query matches, as (bank, content id, type, distance)."""
    return [[_hit(m) for m in matcher.lookup([q], **options)] for q in QUERIES]


def _hit(match: Match) -> tuple[str, int, str, int]:
    return (match.bank, match.content_id, match.signal_type, match.distance)


def rebuilt(store: BankStore) -> Matcher:
    matcher = Matcher(store)
    matcher.refresh()
    return matcher


def content_id(store: BankStore, signal: Signal) -> int:
    [match] = rebuilt(store).lookup([signal], raw=True)
    return match.content_id


def manifest(cache: Path) -> dict[str, Any]:
    return dict(json.loads((cache / "snapshot.json").read_text()))


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "matcher"


@pytest.fixture
def filled(store: BankStore) -> BankStore:
    """Two banks with images, videos, digests and disabled content."""
    store.create_bank("A", thresholds={"pdq": 20})
    store.create_bank("B")
    store.add_content("A", [pdq(0), md5(0)])
    store.add_content("A", [video(FRAMES)])
    store.add_content("B", [pdq(1)])
    store.add_content("B", [pdq(2), md5(1)])
    store.add_content("B", [pdq(3)], disabled_until=datetime.now(UTC) + timedelta(days=1))
    return store


def test_a_matcher_built_from_the_database_writes_a_snapshot(
    filled: BankStore, cache: Path
) -> None:
    matcher = open_matcher(filled, cache)

    assert matcher.status().source == "database"
    written = manifest(cache)
    assert written["seq"] == filled.current_seq()
    assert (cache / written["pdq"]).is_file()
    assert (cache / written["state"]).is_file()


def test_a_second_matcher_starts_from_the_snapshot_and_matches_the_same(
    filled: BankStore, cache: Path
) -> None:
    first = open_matcher(filled, cache)

    second = open_matcher(filled, cache)

    assert second.status().source == "snapshot+database"
    assert second.status().signals == first.status().signals
    assert results(second) == results(first)
    assert results(second, raw=True) == results(first, raw=True)
    assert results(second)[3] == [], "content disabled at snapshot time stays disabled"
    assert results(second, raw=True)[3] != []


def test_restarting_from_snapshots_does_not_grow_the_saved_state(
    filled: BankStore, cache: Path
) -> None:
    sizes = []
    for _ in range(3):
        matcher = open_matcher(filled, cache)
        save_snapshot(matcher, cache)
        sizes.append(len(matcher.content_of))

    assert sizes[0] == sizes[1] == sizes[2]
    assert sizes[0] == max(s.id for s in _signal_rows(filled)) + 1


def test_changes_after_the_snapshot_are_applied(filled: BankStore, cache: Path) -> None:
    open_matcher(filled, cache)
    filled.add_content("A", [pdq(4)])
    filled.add_content("B", [md5(2), video(FRAMES[:3])])
    filled.remove_signals("B", [pdq(1)])
    filled.delete_content("A", content_id(filled, video(FRAMES)))
    filled.update_content("B", content_id(filled, pdq(3)), disabled_until=None)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    filled.update_content("B", content_id(filled, pdq(2)), disabled_until=tomorrow)
    filled.create_bank("C", negative=True)
    filled.add_content("C", [pdq(5)])
    filled.update_bank("A", thresholds={"pdq": 0})

    restored = open_matcher(filled, cache)

    assert restored.status().source == "snapshot+database"
    assert results(restored) == results(rebuilt(filled))
    assert results(restored, raw=True) == results(rebuilt(filled), raw=True)
    found = results(restored)
    assert [h[0] for h in found[4]] == ["A"], "added after the snapshot"
    assert found[1] == [], "removed after the snapshot"
    assert found[2] == [], "disabled after the snapshot"
    assert [h[0] for h in found[3]] == ["B"], "enabled after the snapshot"
    assert found[12] == [], "the video was deleted"


def test_a_deleted_bank_is_dropped_from_a_restored_matcher(filled: BankStore, cache: Path) -> None:
    open_matcher(filled, cache)
    filled.delete_bank("B")
    filled.create_bank("D")

    restored = open_matcher(filled, cache)

    assert restored.status().source == "snapshot+database"
    assert results(restored, raw=True) == results(rebuilt(filled), raw=True)
    assert all(h[0] == "A" for hits in results(restored, raw=True) for h in hits)


def test_a_snapshot_of_another_database_is_ignored(
    filled: BankStore, other_store: BankStore, cache: Path
) -> None:
    open_matcher(filled, cache)
    # Same bank names and as many changes, different hashes: only the URL tells them apart.
    other_store.create_bank("A")
    other_store.create_bank("B")
    for i in range(5):
        other_store.add_content("B", [pdq(f"other-{i}")])
    assert other_store.current_seq() == filled.current_seq()

    matcher = open_matcher(other_store, cache)

    assert matcher.status().source == "database"
    assert results(matcher) == [[] for _ in QUERIES]
    assert [m.bank for m in matcher.lookup([pdq("other-1")])] == ["B"]
    assert manifest(cache)["database"] == other_store.database.display_url


def test_snapshots_of_different_databases_live_apart(tmp_path: Path) -> None:
    one = matcher_cache_dir(tmp_path, "sqlite:///a.db")
    assert one == matcher_cache_dir(tmp_path, "sqlite:///a.db")
    assert one != matcher_cache_dir(tmp_path, "sqlite:///b.db")
    assert one.is_relative_to(tmp_path)


def flip_middle_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


@pytest.mark.parametrize("part", ["snapshot.json", "pdq", "state"])
def test_a_damaged_snapshot_is_rebuilt_from_the_database(
    filled: BankStore, cache: Path, part: str
) -> None:
    expected = results(open_matcher(filled, cache))
    damages = {
        "truncated": lambda data: data[: len(data) // 2],
        "a byte changed": flip_middle_byte,
        "empty": lambda _data: b"",
        "not ours": lambda _data: b"PK\x03\x04 garbage" * 10,
    }

    for damage, change in damages.items():
        name = part if part == "snapshot.json" else manifest(cache)[part]
        path = cache / name
        path.write_bytes(change(path.read_bytes()))

        matcher = open_matcher(filled, cache)

        assert matcher.status().source == "database", damage
        assert results(matcher) == expected, damage


def test_a_missing_snapshot_file_is_rebuilt(filled: BankStore, cache: Path) -> None:
    expected = results(open_matcher(filled, cache))
    (cache / manifest(cache)["pdq"]).unlink()

    matcher = open_matcher(filled, cache)

    assert matcher.status().source == "database"
    assert results(matcher) == expected


def test_a_snapshot_newer_than_the_database_is_ignored(filled: BankStore, cache: Path) -> None:
    expected = results(open_matcher(filled, cache))
    written = manifest(cache)
    (cache / "snapshot.json").write_text(json.dumps({**written, "seq": written["seq"] + 100}))

    matcher = open_matcher(filled, cache)

    assert matcher.status().source == "database"
    assert results(matcher) == expected
    assert manifest(cache)["seq"] == filled.current_seq(), "and replaced"


def test_a_database_restored_from_an_older_backup_is_rebuilt(
    filled: BankStore, cache: Path
) -> None:
    stale = open_matcher(filled, cache)
    # The database restored from an older backup: fewer changes than the snapshot saw.
    filled.database.downgrade("base")
    filled.database.upgrade()
    filled.create_bank("A")
    filled.add_content("A", [pdq(7)])
    assert filled.current_seq() < manifest(cache)["seq"]

    matcher = open_matcher(filled, cache)

    assert matcher.status().source == "database"
    assert results(matcher) == results(rebuilt(filled))
    assert [m.bank for m in matcher.lookup([pdq(7)])] == ["A"]
    assert matcher.lookup([pdq(0)], raw=True) == []
    with pytest.raises(BankInputError, match="older"):
        stale.refresh()


def test_a_snapshot_is_rewritten_after_many_changes(
    filled: BankStore, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_matcher(filled, cache)
    monkeypatch.setattr(_snapshot, "SNAPSHOT_AFTER", 3)
    for i in range(3):
        filled.add_content("A", [pdq(f"more-{i}")])

    open_matcher(filled, cache)

    assert manifest(cache)["seq"] == filled.current_seq()
    assert len(list(cache.glob("pdq-*.idx"))) == 1, "the old snapshot is removed"
    assert len(list(cache.glob("state-*.npz"))) == 1
    restored = open_matcher(filled, cache)
    assert restored.status().source == "snapshot+database"
    assert [m.bank for m in restored.lookup([pdq("more-2")])] == ["A"]


def test_a_snapshot_is_not_written_while_another_process_writes_one(
    filled: BankStore, cache: Path
) -> None:
    matcher = open_matcher(filled, cache)
    before = manifest(cache)
    filled.add_content("A", [pdq("late")])
    matcher.refresh()

    with (cache / "snapshot.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert save_snapshot(matcher, cache) is False
    assert manifest(cache) == before

    assert save_snapshot(matcher, cache) is True
    assert manifest(cache)["seq"] == filled.current_seq()


def test_without_a_cache_directory_nothing_is_written(filled: BankStore, tmp_path: Path) -> None:
    matcher = open_matcher(filled, None)
    assert matcher.status().source == "database"
    assert results(matcher) == results(rebuilt(filled))
    assert not (tmp_path / "cache").exists()


def test_a_copied_cache_directory_still_fits_its_database(
    filled: BankStore, cache: Path, tmp_path: Path
) -> None:
    open_matcher(filled, cache)
    moved = tmp_path / "moved"
    shutil.copytree(cache, moved)
    assert open_matcher(filled, moved).status().source == "snapshot+database"


# Following live


@pytest.fixture
def follower(store: BankStore) -> Iterator[Follower]:
    following = Follower(open_matcher(store, None), interval=0.02)
    following.start()
    yield following
    following.stop()


def wait_for(condition: Any, within: float) -> float:
    """Seconds until ``condition()`` held; fails after ``within`` seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"not within {within} s"
        time.sleep(0.01)
    return time.monotonic() - started


def test_a_follower_makes_changes_match_within_a_second(
    store: BankStore, follower: Follower
) -> None:
    store.create_bank("BANK")
    item = store.add_content("BANK", [pdq(1)])
    wait_for(lambda: follower.matcher.lookup([pdq(1)]) != [], within=1.0)

    store.delete_content("BANK", item.id)
    wait_for(lambda: follower.matcher.lookup([pdq(1)]) == [], within=1.0)

    assert follower.last_error is None
    assert follower.lag_seconds < 1.0


def test_a_follower_keeps_serving_while_the_database_is_away(
    store: BankStore, follower: Follower, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create_bank("BANK")
    store.add_content("BANK", [pdq(1)])
    wait_for(lambda: follower.matcher.lookup([pdq(1)]) != [], within=1.0)

    def away() -> int:
        raise ConnectionError("the database is restarting")

    monkeypatch.setattr(follower.matcher.store, "current_seq", away)
    wait_for(lambda: follower.last_error is not None, within=1.0)
    assert "restarting" in str(follower.last_error)
    assert follower.matcher.lookup([pdq(1)]) != [], "lookups go on from memory"

    monkeypatch.undo()
    store.add_content("BANK", [pdq(2)])
    wait_for(
        lambda: follower.matcher.lookup([pdq(2)]) != [] and follower.last_error is None,
        within=1.0,
    )


def _signal_rows(store: BankStore) -> list[Any]:
    from sqlalchemy import select

    from leakshield.store import SignalRow

    with store.database.engine.connect() as connection:
        return list(connection.execute(select(SignalRow.id)).all())
