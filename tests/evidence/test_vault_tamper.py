"""Tampering: any change to a stored file, a log record or a signed head is caught, named,
and never "repaired" by throwing committed data away."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from leakshield.evidence import DamagedCaseError, OpenCase, Vault, add_file, add_note
from leakshield.media import MediaLimits
from tests.evidence._cases import PASSPHRASE, log_spans, new_case, photo, stored_bytes

LIMITS = MediaLimits()


@pytest.fixture
def case(tmp_path: Path) -> OpenCase:
    """A closed case of a photo, a note and a 2.5 MiB file (three sealed chunks)."""
    (tmp_path / "big.bin").write_bytes(os.urandom(5 << 19))
    with new_case(tmp_path / "cases") as opened:
        add_file(opened, photo(tmp_path / "leak.jpg"), limits=LIMITS)
        add_note(opened, "seen on a forum")
        add_file(opened, tmp_path / "big.bin", limits=LIMITS)
    return opened


def _reopen(case: OpenCase) -> OpenCase:
    return Vault(case.files.folder.parent).open(case.case_id, PASSPHRASE)


def _object_of(case: OpenCase, item_id: str) -> Path:
    [record] = [r for r in case.records if (r["item"] or {}).get("id") == item_id]
    [object_id] = record["details"]["objects"].values()
    return case.files.objects / object_id


def _flip(at: int) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[at] ^= 0x01
        return bytes(changed)

    return change


CHUNK = 4 + 8 + 4 + (1 << 20) + 16  # magic, nonce prefix, length, a full chunk and its tag
OBJECT_CHANGES = {
    "magic": _flip(0),
    "nonce prefix": _flip(6),
    "first chunk's length": _flip(12 + 3),
    "first chunk": _flip(5000),
    "second chunk": _flip(CHUNK + 5000),
    "last byte (a tag)": _flip(-1),
    "cut after the first chunk": lambda data: data[:CHUNK],
    "cut by one byte": lambda data: data[:-1],
    "a byte added": lambda data: data + b"\x00",
    "emptied": lambda data: b"",
    "last chunk dropped": lambda data: data[: 2 * CHUNK],
}


@pytest.mark.parametrize("change", OBJECT_CHANGES.values(), ids=OBJECT_CHANGES.keys())
def test_a_changed_stored_file_fails_when_read(
    case: OpenCase, change: Callable[[bytes], bytes]
) -> None:
    path = _object_of(case, "item-0003")
    path.write_bytes(change(path.read_bytes()))
    with _reopen(case) as opened:  # objects are checked when read, not on open
        assert stored_bytes(opened, "item-0001", "leak.jpg")
        with pytest.raises(DamagedCaseError, match="stored file"):
            stored_bytes(opened, "item-0003", "big.bin")


def test_stored_files_swapped_between_items_fail(case: OpenCase) -> None:
    first, third = _object_of(case, "item-0001"), _object_of(case, "item-0003")
    one, three = first.read_bytes(), third.read_bytes()
    first.write_bytes(three)
    third.write_bytes(one)
    with _reopen(case) as opened:
        for item_id, name in (("item-0001", "leak.jpg"), ("item-0003", "big.bin")):
            with pytest.raises(DamagedCaseError):
                stored_bytes(opened, item_id, name)


def test_a_missing_stored_file_is_named(case: OpenCase) -> None:
    path = _object_of(case, "item-0001")
    path.unlink()
    with _reopen(case) as opened, pytest.raises(DamagedCaseError, match=path.name):
        stored_bytes(opened, "item-0001", "leak.jpg")


@pytest.mark.parametrize("number", [0, 1, 2, 3])
def test_a_changed_log_record_stops_the_case_opening_and_names_it(
    case: OpenCase, number: int
) -> None:
    log = case.files.log
    start, end = log_spans(case.files.folder)[number]
    changed = bytearray(log.read_bytes())
    changed[(start + end) // 2] ^= 0x01
    log.write_bytes(bytes(changed))
    with pytest.raises(DamagedCaseError, match=f"record {number} of the case log"):
        _reopen(case)
    assert log.read_bytes() == changed  # left as found, for whoever looks into it


@pytest.mark.parametrize(
    "order, first_wrong", [([0, 2, 1, 3], 1), ([0, 1, 3], 2), ([1, 2, 3], 0)], ids=str
)
def test_log_records_cannot_be_reordered_or_dropped(
    case: OpenCase, order: list[int], first_wrong: int
) -> None:
    log, data = case.files.log, case.files.log.read_bytes()
    pieces = [data[start - 4 : end] for start, end in log_spans(case.files.folder)]
    log.write_bytes(b"".join(pieces[i] for i in order))
    with pytest.raises(DamagedCaseError, match=f"record {first_wrong} of the case log"):
        _reopen(case)


def test_a_log_cut_short_of_its_signed_head_is_refused(case: OpenCase) -> None:
    log = case.files.log
    start, _ = log_spans(case.files.folder)[-1]
    log.write_bytes(log.read_bytes()[: start - 4])  # the last record removed whole
    with pytest.raises(DamagedCaseError, match="shorter than its last signed tree head"):
        _reopen(case)


def test_a_damaged_record_length_is_not_cut_off_as_a_crash(case: OpenCase) -> None:
    """A changed length prefix in the middle of the log looks like a record running past
    the end of the file; open must refuse the case, not truncate committed records."""
    log = case.files.log
    start, _ = log_spans(case.files.folder)[1]
    changed = bytearray(log.read_bytes())
    changed[start - 4 + 2] ^= 0x10  # record 1's length grows by 4 KiB: past the end
    log.write_bytes(bytes(changed))
    with pytest.raises(DamagedCaseError):
        _reopen(case)
    assert log.read_bytes() == changed, "open threw committed records away"


HEAD_CHANGES = {
    "last head's signature": (-1, "signature", "00" * 64),
    "last head's time": (-1, "time", "2020-01-01T00:00:00Z"),
    "earlier head's root": (1, "root", "ab" * 32),
    "earlier head's size": (1, "size", 3),
}


@pytest.mark.parametrize("line, field, value", HEAD_CHANGES.values(), ids=HEAD_CHANGES.keys())
def test_a_changed_tree_head_stops_the_case_opening(
    case: OpenCase, line: int, field: str, value: object
) -> None:
    heads = case.files.heads
    lines = heads.read_text().splitlines()
    head = json.loads(lines[line])
    head[field] = value
    lines[line] = json.dumps(head, sort_keys=True)
    heads.write_text("\n".join(lines) + "\n")
    with pytest.raises(DamagedCaseError):
        _reopen(case)


def test_a_changed_title_stops_the_case_opening(case: OpenCase) -> None:
    text = case.files.header.read_text()
    header = json.loads(text)
    title = bytearray.fromhex(header["title"])
    title[-1] ^= 0x01
    case.files.header.write_text(json.dumps({**header, "title": title.hex()}))
    with pytest.raises(DamagedCaseError):
        _reopen(case)
    case.files.header.write_text(text)
    with _reopen(case):  # the failed open let go of the case
        pass


@pytest.mark.parametrize("line", ["not json", '"a string"', "[1, 2]", '{"size": "many"}'])
def test_a_damaged_case_does_not_stop_the_others_being_listed(
    case: OpenCase, tmp_path: Path, line: str
) -> None:
    with new_case(case.files.folder.parent) as healthy:
        pass
    with case.files.heads.open("a") as handle:
        handle.write(line + "\n")
    listed = {summary.id for summary in Vault(case.files.folder.parent).summaries()}
    assert healthy.case_id in listed
    with pytest.raises(DamagedCaseError):
        _reopen(case)
