"""The matcher: what an input matches, and how it follows changes made elsewhere."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from leakshield.banks import BankNotFoundError, BankStore, Match, Matcher, parse_lookup_signal
from leakshield.signals import (
    Md5Hash,
    PdqHash,
    Sha256Hash,
    Signal,
    SignalError,
    VpdqFrame,
    VpdqHash,
)
from leakshield.store import Database


def pdq(seed: object) -> PdqHash:
    """A PDQ hash that looks random; two seeds give hashes about 128 bits apart."""
    return PdqHash(hashlib.sha256(str(seed).encode()).digest())


def flip(h: PdqHash, bits: int, start: int = 0) -> PdqHash:
    """``h`` with ``bits`` bits flipped, so ``h - flip(h, bits) == bits``."""
    value = int.from_bytes(h.digest, "big") ^ (((1 << bits) - 1) << start)
    return PdqHash(value.to_bytes(32, "big"))


def md5(seed: object) -> Md5Hash:
    return Md5Hash(hashlib.md5(str(seed).encode(), usedforsecurity=False).digest())


def video(frames: Sequence[PdqHash], quality: int = 100) -> VpdqHash:
    return VpdqHash(tuple(VpdqFrame(i, quality, h, float(i)) for i, h in enumerate(frames)))


def hits(matches: list[Match]) -> list[tuple[str, int, str, int]]:
    return [(m.bank, m.content_id, m.signal_type, m.distance) for m in matches]


def fresh(store: BankStore) -> Matcher:
    matcher = Matcher(store)
    matcher.refresh()
    return matcher


@pytest.fixture
def writer(store: BankStore, bank_database_url: str) -> Iterator[BankStore]:
    """A second store over the same database, as another process would have."""
    database = Database(bank_database_url)
    yield BankStore(database)
    database.dispose()


H = pdq("h")
G = pdq("g")


# Matching


def test_pdq_within_the_bank_threshold_matches_with_its_distance(store: BankStore) -> None:
    store.create_bank("BANK")
    item = store.add_content("BANK", [H])
    matcher = fresh(store)

    assert hits(matcher.lookup([H])) == [("BANK", item.id, "pdq", 0)]
    assert hits(matcher.lookup([flip(H, 31)])) == [("BANK", item.id, "pdq", 31)]
    assert matcher.lookup([flip(H, 32)]) == []
    assert matcher.lookup([G]) == []


def test_each_bank_matches_within_its_own_threshold(store: BankStore) -> None:
    store.create_bank("A", thresholds={"pdq": 10})
    store.create_bank("B", thresholds={"pdq": 40})
    a = store.add_content("A", [H]).id
    b = store.add_content("B", [H]).id
    matcher = fresh(store)

    assert hits(matcher.lookup([flip(H, 20)])) == [("B", b, "pdq", 20)]
    assert hits(matcher.lookup([flip(H, 10)])) == [("A", a, "pdq", 10), ("B", b, "pdq", 10)]
    assert hits(matcher.lookup([flip(H, 40)])) == [("B", b, "pdq", 40)]
    assert matcher.lookup([flip(H, 41)]) == []


def test_a_negative_bank_suppresses_the_matches_of_the_same_input(store: BankStore) -> None:
    store.create_bank("VICTIMS")
    store.create_bank("KNOWN_FALSE_POSITIVES", negative=True)
    victim = store.add_content("VICTIMS", [H]).id
    other = store.add_content("VICTIMS", [G]).id
    negative = store.add_content("KNOWN_FALSE_POSITIVES", [flip(H, 2)]).id
    matcher = fresh(store)

    found = matcher.lookup([flip(H, 1)])
    assert hits(found) == [("KNOWN_FALSE_POSITIVES", negative, "pdq", 1)]
    assert found[0].negative
    assert hits(matcher.lookup([flip(H, 1)], raw=True)) == [
        ("KNOWN_FALSE_POSITIVES", negative, "pdq", 1),
        ("VICTIMS", victim, "pdq", 1),
    ]
    assert hits(matcher.lookup([G])) == [("VICTIMS", other, "pdq", 0)], "other inputs still match"


def test_a_disabled_bank_is_ignored_unless_raw(store: BankStore) -> None:
    store.create_bank("OFF", enabled=False)
    item = store.add_content("OFF", [H]).id
    matcher = fresh(store)

    assert matcher.lookup([H]) == []
    assert matcher.lookup_many([H]) == [[]]
    assert hits(matcher.lookup([H], raw=True)) == [("OFF", item, "pdq", 0)]


def test_disabled_content_is_ignored_until_its_time(store: BankStore) -> None:
    store.create_bank("BANK")
    now = datetime.now(UTC)
    later = store.add_content("BANK", [H, md5(1)], disabled_until=now + timedelta(hours=1)).id
    earlier = store.add_content("BANK", [G], disabled_until=now - timedelta(hours=1)).id
    matcher = fresh(store)

    assert matcher.lookup([H]) == []
    assert matcher.lookup([md5(1)]) == []
    assert hits(matcher.lookup([H], raw=True)) == [("BANK", later, "pdq", 0)]
    assert hits(matcher.lookup([G])) == [("BANK", earlier, "pdq", 0)]


def test_md5_and_sha256_match_exactly(store: BankStore) -> None:
    store.create_bank("BANK")
    sha = Sha256Hash(hashlib.sha256(b"video").digest())
    item = store.add_content("BANK", [md5(1), sha]).id
    matcher = fresh(store)

    assert hits(matcher.lookup([md5(1)])) == [("BANK", item, "md5", 0)]
    assert hits(matcher.lookup([sha])) == [("BANK", item, "sha256", 0)]
    assert matcher.lookup([md5(2)]) == []
    near = Md5Hash(bytes([md5(1).digest[0] ^ 1]) + md5(1).digest[1:])
    assert matcher.lookup([near]) == [], "one bit off is no match for a digest"


def test_a_video_matches_by_the_vpdq_rule(store: BankStore) -> None:
    frames = [pdq(f"frame-{i}") for i in range(10)]
    store.create_bank("VIDEOS")
    item = store.add_content("VIDEOS", [video(frames)]).id
    matcher = fresh(store)

    # 8 of 10 frames re-encoded (a few bits off), 2 new: 80% of the query matches.
    mostly = video([flip(f, 3) for f in frames[:8]] + [pdq("new-1"), pdq("new-2")])
    found = matcher.lookup([mostly])
    assert hits(found) == [("VIDEOS", item, "vpdq", 3)]
    assert found[0].query_match_percent == pytest.approx(80.0)
    assert found[0].compared_match_percent == pytest.approx(80.0)

    # 2 of 10 frames shared: a different video that borrowed a few seconds.
    few = video(frames[:2] + [pdq(f"other-{i}") for i in range(8)])
    assert matcher.lookup([few]) == []
    assert hits(matcher.lookup([video(frames)])) == [("VIDEOS", item, "vpdq", 0)]


def test_low_quality_frames_do_not_match(store: BankStore) -> None:
    frames = [pdq(f"frame-{i}") for i in range(5)]
    store.create_bank("VIDEOS")
    store.add_content("VIDEOS", [video(frames)])
    matcher = fresh(store)
    assert matcher.lookup([video(frames, quality=10)]) == []


def test_several_pdq_hashes_of_one_input_keep_the_closest(store: BankStore) -> None:
    store.create_bank("BANK")
    item = store.add_content("BANK", [H]).id
    matcher = fresh(store)

    # The dihedral variants of one image: only the rotation that lines up counts, once.
    found = matcher.lookup([flip(H, 20), G, flip(H, 4), flip(H, 12)])
    assert hits(found) == [("BANK", item, "pdq", 4)]


def test_lookup_can_be_limited_to_some_banks(store: BankStore) -> None:
    for name in ("A", "B", "C"):
        store.create_bank(name)
        store.add_content(name, [H])
    matcher = fresh(store)

    assert [m.bank for m in matcher.lookup([H])] == ["A", "B", "C"]
    assert [m.bank for m in matcher.lookup([H], banks=["A", "C"])] == ["A", "C"]
    assert [m.bank for m in matcher.lookup_many([H], banks=["B"])[0]] == ["B"]
    with pytest.raises(BankNotFoundError, match="NOPE"):
        matcher.lookup([H], banks=["A", "NOPE"])
    with pytest.raises(BankNotFoundError, match="NOPE"):
        matcher.lookup_many([H], banks=["NOPE"])


def test_lookup_many_equals_lookup_of_each_signal_in_order(store: BankStore) -> None:
    frames = [pdq(f"frame-{i}") for i in range(5)]
    store.create_bank("A", thresholds={"pdq": 10})
    store.create_bank("B")
    store.create_bank("NEG", negative=True)
    store.add_content("A", [H, md5(1)])
    store.add_content("B", [H, video(frames)])
    store.add_content("B", [G])
    store.add_content("NEG", [flip(G, 5)])
    matcher = fresh(store)
    inputs: list[Signal] = [
        flip(H, 5),
        pdq("nothing"),
        md5(1),
        flip(H, 20),
        video(frames),
        md5(2),
        G,
        flip(H, 31),
        H,
    ]

    for options in ({}, {"raw": True}, {"banks": ["A"]}):
        expected = [matcher.lookup([s], **options) for s in inputs]  # type: ignore[arg-type]
        assert matcher.lookup_many(inputs, **options) == expected  # type: ignore[arg-type]
    assert [len(m) for m in matcher.lookup_many(inputs)] == [2, 0, 1, 1, 1, 0, 1, 1, 2]


def test_a_signal_type_that_cannot_be_matched_is_refused() -> None:
    assert parse_lookup_signal("PDQ", str(H)) == H
    with pytest.raises(SignalError):
        parse_lookup_signal("tmk", "abc")
    with pytest.raises(SignalError):
        parse_lookup_signal("pdq", "abc")


def test_status_counts_the_signals_loaded(store: BankStore) -> None:
    store.create_bank("BANK")
    store.add_content("BANK", [H, md5(1)])
    store.add_content("BANK", [G, video([H, G])])
    matcher = fresh(store)

    status = matcher.status()
    assert status.signals == {"pdq": 2, "vpdq": 1, "md5": 1, "sha256": 0}
    assert status.seq == store.current_seq()
    assert status.source == "database"


# Following changes made through another store


def test_an_added_signal_matches_after_the_next_refresh(
    store: BankStore, writer: BankStore
) -> None:
    writer.create_bank("BANK")
    matcher = fresh(store)
    assert matcher.lookup([H]) == []

    item = writer.add_content("BANK", [H, md5(1)]).id
    assert matcher.lookup([H]) == [], "nothing changes between refreshes"
    assert matcher.refresh() == 2

    assert hits(matcher.lookup([H])) == [("BANK", item, "pdq", 0)]
    assert hits(matcher.lookup([md5(1)])) == [("BANK", item, "md5", 0)]
    assert matcher.refresh() == 0


def test_removed_signals_and_deleted_content_stop_matching(
    store: BankStore, writer: BankStore
) -> None:
    writer.create_bank("BANK")
    frames = [pdq(f"frame-{i}") for i in range(4)]
    both = writer.add_content("BANK", [H, md5(1)]).id
    writer.add_content("BANK", [G, video(frames)])
    matcher = fresh(store)

    writer.remove_signals("BANK", [H])
    writer.delete_content("BANK", writer.list_content("BANK")[-1])
    matcher.refresh()

    assert matcher.lookup([H]) == []
    assert hits(matcher.lookup([md5(1)])) == [("BANK", both, "md5", 0)], "its other signal stays"
    assert matcher.lookup([G]) == []
    assert matcher.lookup([video(frames)]) == []
    assert matcher.status().signals == {"pdq": 0, "vpdq": 0, "md5": 1, "sha256": 0}

    writer.remove_signals("BANK", [md5(1)])
    matcher.refresh()
    assert matcher.lookup([md5(1)]) == []


def test_disabling_content_is_followed(store: BankStore, writer: BankStore) -> None:
    writer.create_bank("BANK")
    item = writer.add_content("BANK", [H]).id
    matcher = fresh(store)

    writer.update_content("BANK", item, disabled_until=datetime.now(UTC) + timedelta(days=1))
    matcher.refresh()
    assert matcher.lookup([H]) == []

    writer.update_content("BANK", item, disabled_until=None)
    matcher.refresh()
    assert hits(matcher.lookup([H])) == [("BANK", item, "pdq", 0)]


def test_bank_settings_are_followed(store: BankStore, writer: BankStore) -> None:
    writer.create_bank("BANK")
    item = writer.add_content("BANK", [H]).id
    matcher = fresh(store)
    query = flip(H, 20)

    writer.update_bank("BANK", enabled=False)
    matcher.refresh()
    assert matcher.lookup([query]) == []

    writer.update_bank("BANK", enabled=True, thresholds={"pdq": 10})
    matcher.refresh()
    assert matcher.lookup([query]) == []
    assert hits(matcher.lookup([flip(H, 10)])) == [("BANK", item, "pdq", 10)]

    writer.update_bank("BANK", new_name="RENAMED", thresholds={"pdq": 31})
    matcher.refresh()
    assert hits(matcher.lookup([query])) == [("RENAMED", item, "pdq", 20)]

    writer.update_bank("RENAMED", negative=True)
    writer.create_bank("OTHER")
    writer.add_content("OTHER", [H])
    matcher.refresh()
    assert [m.bank for m in matcher.lookup([H])] == ["RENAMED"]


def test_a_deleted_bank_stops_matching(store: BankStore, writer: BankStore) -> None:
    writer.create_bank("DOOMED")
    writer.create_bank("KEPT")
    writer.add_content("DOOMED", [H, md5(1), video([H, G])])
    kept = writer.add_content("KEPT", [G]).id
    matcher = fresh(store)

    writer.delete_bank("DOOMED")
    matcher.refresh()

    assert matcher.lookup([H], raw=True) == []
    assert matcher.lookup([md5(1)], raw=True) == []
    assert matcher.lookup([video([H, G])], raw=True) == []
    assert hits(matcher.lookup([G])) == [("KEPT", kept, "pdq", 0)]
    with pytest.raises(BankNotFoundError):
        matcher.lookup([H], banks=["DOOMED"])


def test_a_bank_deleted_and_another_created_between_refreshes(
    store: BankStore, writer: BankStore
) -> None:
    """The new bank must not inherit the old one's signals, whatever id it is given."""
    writer.create_bank("KEPT")
    writer.create_bank("DOOMED")
    writer.add_content("DOOMED", [H, md5(1)])
    matcher = fresh(store)

    writer.delete_bank("DOOMED")
    writer.create_bank("FRESH")
    item = writer.add_content("FRESH", [G]).id
    matcher.refresh()

    assert matcher.lookup([H], raw=True) == []
    assert matcher.lookup([md5(1)], raw=True) == []
    assert hits(matcher.lookup([G])) == [("FRESH", item, "pdq", 0)]


def test_concurrent_writers_lose_no_change(store: BankStore) -> None:
    """Writers commit in change order, so a matcher refreshing while they write never
    skips a change that commits after a later one was seen."""
    store.create_bank("BANK")
    matcher = fresh(store)
    batches = [[pdq(f"{writer}-{i}") for i in range(20)] for writer in range(4)]

    def write(batch: list[PdqHash]) -> None:
        for signal in batch:
            store.add_content("BANK", [signal])

    refreshes = 0
    with ThreadPoolExecutor(len(batches)) as pool:
        futures = [pool.submit(write, batch) for batch in batches]
        while not all(f.done() for f in futures):
            matcher.refresh()
            refreshes += 1
        for future in futures:
            future.result()
    matcher.refresh()

    everything = [signal for batch in batches for signal in batch]
    assert refreshes > 1
    assert matcher.status().signals["pdq"] == len(everything)
    assert all(len(found) == 1 for found in matcher.lookup_many(everything))
    assert sorted(store.list_content("BANK", limit=1000)) == store.list_content("BANK", limit=1000)
