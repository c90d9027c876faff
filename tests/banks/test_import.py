"""Importing hash lists into a bank: idempotent, withdrawals honoured, all or nothing."""

from __future__ import annotations

import hashlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leakshield.banks import (
    BankNotFoundError,
    BankStore,
    ImportFormatError,
    ImportReport,
    Matcher,
    _import,
    import_hash_list,
)
from leakshield.signals import Md5Hash, PdqHash, Signal, VpdqHash


def pdq(seed: object) -> PdqHash:
    return PdqHash(hashlib.sha256(str(seed).encode()).digest())


def md5(seed: object) -> Md5Hash:
    return Md5Hash(hashlib.md5(str(seed).encode(), usedforsecurity=False).digest())


def stopncii(signal: Signal, status: str = "Active") -> str:
    kind = "ImagePDQ" if signal.type_name == "pdq" else "VideoMD5"
    return json.dumps({"signalType": kind, "hashValue": str(signal), "hashStatus": status})


def run(store: BankStore, *lines: str, **options: Any) -> ImportReport:
    data = "".join(f"{line}\n" for line in lines).encode()
    return import_hash_list(store, "BANK", io.BytesIO(data), **options)


def held(store: BankStore) -> set[Signal]:
    return {signal for signal, _ in store.export("BANK")}


@pytest.fixture
def bank(store: BankStore) -> BankStore:
    store.create_bank("BANK")
    return store


@pytest.fixture(params=[20_000, 1], ids=["one-batch", "batch-per-line"])
def batch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Imports are applied in batches; what a user sees must not depend on where they fall."""
    monkeypatch.setattr(_import, "_BATCH", request.param)
    return int(request.param)


def test_reimporting_a_list_changes_nothing(bank: BankStore) -> None:
    video = VpdqHash.parse(VpdqHash.examples()[0])
    lines = (
        "signal_type,signal,metadata",
        f'pdq,{pdq(1)},"{{""case"": ""c-1""}}"',
        f"md5,{md5(1)},",
        f'vpdq,"{video}",',
    )

    first = run(bank, *lines)
    content = bank.list_content("BANK")
    second = run(bank, *lines)

    assert first.to_record() == {"added": 3, "existing": 0, "removed": 0, "skipped": []}
    assert second.to_record() == {"added": 0, "existing": 3, "removed": 0, "skipped": []}
    assert bank.list_content("BANK") == content
    assert list(bank.export("BANK")) == [(pdq(1), {"case": "c-1"}), (md5(1), {}), (video, {})]


def test_imported_content_reads_back_like_added_content(bank: BankStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    run(bank, json.dumps({"signal_type": "pdq", "signal": str(pdq(1)), "metadata": {"é": [1]}}))

    [content_id] = bank.list_content("BANK")
    item = bank.content("BANK", content_id)

    assert item.signals == (pdq(1),)
    assert item.metadata == {"é": [1]}
    assert (item.note, item.disabled_until) == ("", None)
    assert item.created_at is not None
    assert before <= item.created_at <= datetime.now(UTC) + timedelta(seconds=5)


def test_stopncii_withdrawn_and_deleted_hashes_are_removed(bank: BankStore) -> None:
    run(bank, stopncii(pdq(1)), stopncii(pdq(2)), stopncii(md5(3)))
    matcher = Matcher(bank)
    matcher.refresh()
    assert matcher.lookup([pdq(1)]) != []

    report = run(
        bank,
        stopncii(pdq(1), "Withdrawn"),
        stopncii(md5(3), "Deleted"),
        stopncii(pdq(9), "Withdrawn"),
    )

    assert (report.added, report.existing, report.removed) == (0, 0, 2)
    assert held(bank) == {pdq(2)}
    matcher.refresh()
    assert matcher.lookup([pdq(1)]) == []
    assert matcher.lookup([md5(3)]) == []
    assert [m.bank for m in matcher.lookup([pdq(2)])] == ["BANK"]


def test_the_last_line_for_a_hash_wins(bank: BankStore, batch: int) -> None:
    report = run(
        bank,
        stopncii(pdq(1)),
        stopncii(pdq(2)),
        stopncii(pdq(1), "Withdrawn"),
        stopncii(pdq(3), "Withdrawn"),
        stopncii(pdq(3), "Active"),
    )

    assert held(bank) == {pdq(2), pdq(3)}, "added then withdrawn in one file: absent"
    assert report.added - report.removed == 2


def test_a_bad_line_fails_the_import_and_changes_nothing(bank: BankStore, batch: int) -> None:
    bank.add_content("BANK", [pdq(1)])
    before, seq = list(bank.export("BANK")), bank.current_seq()

    with pytest.raises(ImportFormatError, match="line 4") as caught:
        run(
            bank,
            stopncii(pdq(2)),
            stopncii(pdq(1), "Withdrawn"),
            stopncii(md5(3)),
            '{"signalType": "ImagePDQ", "hashValue": "not hex", "hashStatus": "Active"}',
            stopncii(pdq(4)),
        )

    assert caught.value.line == 4
    assert list(bank.export("BANK")) == before
    assert bank.current_seq() == seq


def test_skip_invalid_imports_the_rest_and_reports_every_skipped_line(bank: BankStore) -> None:
    report = run(
        bank,
        f"pdq,{pdq(1)}",
        "pdq,0123",
        f"md5,{md5(2)}",
        "nonsense",
        f"pdq,{pdq(3)}",
        skip_invalid=True,
    )

    assert report.added == 3
    assert [line for line, _ in report.skipped] == [2, 4]
    assert all(reason for _, reason in report.skipped)
    assert held(bank) == {pdq(1), md5(2), pdq(3)}
    assert report.to_record()["skipped"][0]["line"] == 2


def test_an_empty_list_imports_nothing(bank: BankStore) -> None:
    assert run(bank) == ImportReport()
    assert held(bank) == set()


def test_importing_into_an_unknown_bank_is_refused(store: BankStore) -> None:
    with pytest.raises(BankNotFoundError):
        import_hash_list(store, "NOPE", io.BytesIO(f"pdq,{pdq(1)}\n".encode()))


def test_progress_reports_the_lines_done(bank: BankStore, batch: int) -> None:
    seen: list[int] = []
    run(bank, *(f"pdq,{pdq(i)}" for i in range(5)), progress=seen.append)
    assert seen[-1] == 5
    assert seen == sorted(seen)


def test_a_large_list_imports_in_bounded_time(bank: BankStore) -> None:
    count = 50_000
    hashes = [pdq(i) for i in range(count)]
    data = "".join(f"pdq,{h}\n" for h in hashes).encode()

    started = time.perf_counter()
    report = import_hash_list(bank, "BANK", io.BytesIO(data))
    again = import_hash_list(bank, "BANK", io.BytesIO(data))
    matcher = Matcher(bank)
    matcher.refresh()
    elapsed = time.perf_counter() - started

    assert (report.added, again.added, again.existing) == (count, 0, count)
    assert matcher.status().signals["pdq"] == count
    sample = hashes[:: count // 100]
    assert all(len(found) == 1 for found in matcher.lookup_many(sample))
    assert elapsed < 30, f"importing {count} hashes twice took {elapsed:.1f} s"
