"""Items: a file is copied in (the original only read) and recorded with its digests, PDQ
or vPDQ, size, type, path, time and who; a note is recorded as typed; each is one leaf of
the signed log."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leakshield.errors import UsageError
from leakshield.evidence import CaseNotFoundError, Vault, add_file, add_note
from leakshield.media import MediaError, MediaLimits
from leakshield.signals import HashOptions, hash_file
from tests.evidence._cases import (
    PASSPHRASE,
    check_folder,
    check_heads,
    check_items,
    clip,
    new_case,
    photo,
    read_heads,
    sha256,
    stored_bytes,
)

LIMITS = MediaLimits()
MTIME = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def leak(tmp_path: Path) -> Path:
    """A photo with a known modification time."""
    path = photo(tmp_path / "IMG_0412.jpg")
    os.utime(path, (MTIME.timestamp(), MTIME.timestamp() + 0.25))
    return path


def test_add_file_copies_in_and_leaves_the_original_alone(tmp_path: Path, leak: Path) -> None:
    data, stat = leak.read_bytes(), leak.stat()
    with new_case(tmp_path / "cases") as case:
        item = add_file(case, leak, limits=LIMITS)
        assert leak.read_bytes() == data
        assert (leak.stat().st_mtime_ns, leak.stat().st_size) == (stat.st_mtime_ns, len(data))
        stored = stored_bytes(case, item.id, leak.name)
        assert stored == data and sha256(stored) == sha256(data) == item.sha256
        leak.unlink()  # the case keeps its own copy
        assert stored_bytes(case, item.id, leak.name) == data


def test_add_file_records_what_the_file_is_and_where_it_came_from(
    tmp_path: Path, leak: Path
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    with new_case(tmp_path / "cases") as case:
        item = add_file(case, leak, limits=LIMITS, actor="Sam")
    after = datetime.now(UTC)
    data = leak.read_bytes()
    expected_pdq = hash_file(leak, HashOptions(LIMITS)).pdq
    assert expected_pdq is not None
    record = item.record
    assert (item.id, item.kind, item.leaf_index) == ("item-0001", "file", 1)
    assert record["files"] == [
        {
            "name": "IMG_0412.jpg",
            "sha256": sha256(data),
            "size": len(data),
            "media_type": "image/jpeg",
        }
    ]
    assert record["sha256"] == sha256(data)
    assert record["pdq"] == str(expected_pdq.hash) and record["vpdq"] is None
    assert record["original_path"] == str(leak.resolve())
    assert _utc(record["mtime"]) == MTIME
    assert record["added_by"] == item.added_by == "Sam"
    assert before <= _utc(record["added_at"]) <= after
    assert record["text"] is None and record["capture"] is None
    [added] = [r for r in case.records if r["action"] == "file-added"]
    assert added["item"] == record and added["actor"] == "Sam"
    assert item.to_record() == {**record, "leaf_index": 1}


def test_a_video_gets_its_vpdq(tmp_path: Path) -> None:
    video = clip(tmp_path / "clip.mp4")
    with new_case(tmp_path / "cases") as case:
        item = add_file(case, video, limits=LIMITS)
        assert stored_bytes(case, item.id, "clip.mp4") == video.read_bytes()
    expected = hash_file(video, HashOptions(LIMITS)).vpdq
    assert item.record["vpdq"] == str(expected) and expected is not None
    assert item.record["files"][0]["media_type"] == "video/mp4"


def test_a_file_that_is_not_media_goes_in_without_a_perceptual_hash(tmp_path: Path) -> None:
    # 2.5 MiB: three sealed chunks, the last one short.
    data = os.urandom(5 << 19)
    chat = tmp_path / "chat-export.bin"
    chat.write_bytes(data)
    notes = tmp_path / "messages.txt"
    notes.write_text("he said he would post them\n")
    with new_case(tmp_path / "cases") as case:
        first = add_file(case, chat, limits=LIMITS)
        second = add_file(case, notes, limits=LIMITS)
        assert (first.record["pdq"], first.record["vpdq"]) == (None, None)
        assert first.record["files"][0]["size"] == len(data)
        assert stored_bytes(case, first.id, chat.name) == data
        assert second.record["files"][0]["media_type"] == "text/plain"
        assert [i.id for i in case.items()] == ["item-0001", "item-0002"]
        check_items(case)


def test_a_file_that_cannot_be_added_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with new_case(tmp_path / "cases") as case:
        for bad in (tmp_path / "missing.jpg", tmp_path, tmp_path / "empty.jpg"):
            with pytest.raises(MediaError):
                add_file(case, bad, limits=LIMITS)
        assert case.items() == [] and len(case.records) == 1
        check_folder(case)


def test_notes_are_recorded_as_typed(tmp_path: Path) -> None:
    text = "Reported to the site at 10:02; ticket 4411. Ünïcödé 🙂"
    with new_case(tmp_path / "cases") as case:
        note = add_note(case, text)
        assert (note.kind, note.sha256, note.record["text"]) == (
            "note",
            sha256(text.encode()),
            text,
        )
        assert note.record["files"] == [] and note.added_by == getpass.getuser()
        assert note.label == text
        long = add_note(case, "x" * 100)
        assert long.label == "x" * 57 + "..."
        for empty in ("", "   \n"):
            with pytest.raises(UsageError, match="empty"):
                add_note(case, empty)
        with pytest.raises(UsageError, match="at most"):
            add_note(case, "x" * 100_001)
        assert len(case.items()) == 2
        with pytest.raises(CaseNotFoundError):
            case.item_file(note.id, "anything")


def test_items_and_heads_survive_reopening(tmp_path: Path, leak: Path) -> None:
    vault = Vault(tmp_path / "cases")
    with new_case(vault.root) as case:
        added = [add_file(case, leak, limits=LIMITS), add_note(case, "one")]
        added.append(add_file(case, photo(tmp_path / "b.jpg", "chelsea"), limits=LIMITS))
    with vault.open(case.case_id, PASSPHRASE) as case:
        assert [i.to_record() for i in case.items()] == [i.to_record() for i in added]
        assert [i.leaf_index for i in case.items()] == [1, 2, 3]
        heads = read_heads(case.files.folder)
        assert [h.size for h in heads] == [1, 2, 3, 4]  # a head after every record
        assert heads == case.tree_heads
        check_heads(case, heads)
        check_items(case)
        check_folder(case)
        add_note(case, "after reopening")
        assert case.items()[-1].id == "item-0004"
        check_heads(case, read_heads(case.files.folder))
