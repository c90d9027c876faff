"""Each crash window of a commit, made to happen: the writer dies (a `BaseException` that
nothing catches, as a SIGKILL would leave things) at one exact step, and the next open
recovers."""

from __future__ import annotations

import json
import os
import secrets
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leakshield.evidence import OpenCase, Vault, add_file, add_note
from leakshield.evidence._storage import CaseFiles
from leakshield.media import MediaLimits
from tests.evidence._cases import (
    PASSPHRASE,
    check_folder,
    check_heads,
    check_items,
    fast_kdf,
    new_case,
    photo,
    read_heads,
)

LIMITS = MediaLimits()


class Died(BaseException):
    """The process ended here: nothing after this point ran."""


@pytest.fixture
def case(tmp_path: Path) -> OpenCase:
    """A case holding one photo and one note, open."""
    opened = new_case(tmp_path / "cases")
    add_file(opened, photo(tmp_path / "first.jpg"), limits=LIMITS)
    add_note(opened, "first note")
    return opened


def _die_in(monkeypatch: pytest.MonkeyPatch, name: str, partial: Callable[..., None]) -> None:
    """Make `CaseFiles.<name>` do ``partial`` (what got written) and then die."""

    def dying(self: CaseFiles, *args: Any) -> None:
        partial(self, *args)
        raise Died

    monkeypatch.setattr(CaseFiles, name, dying)


def _reopen(case: OpenCase, monkeypatch: pytest.MonkeyPatch) -> OpenCase:
    """The next process: the dead one's lock gone, the real code back."""
    case.close()
    monkeypatch.undo()
    return Vault(case.files.folder.parent).open(case.case_id, PASSPHRASE)


def _check(case: OpenCase, ids: list[str]) -> None:
    assert [item.id for item in case.items()] == ids
    check_heads(case, read_heads(case.files.folder))
    check_items(case)
    check_folder(case)


def _release_locks(root: Path) -> None:
    """Close what this process holds under ``root``, as its death would."""
    for link in Path("/proc/self/fd").iterdir():
        try:
            target = link.readlink()
        except OSError:
            continue
        if target.is_relative_to(root):
            os.close(int(link.name))


def _nothing(self: CaseFiles, *args: Any) -> None:
    pass


def test_an_object_stored_but_never_logged_is_swept(
    case: OpenCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _die_in(monkeypatch, "append_record", _nothing)
    objects = {p.name for p in case.files.objects.iterdir()}
    with pytest.raises(Died):
        add_file(case, photo(tmp_path / "second.jpg", "chelsea"), limits=LIMITS)
    [orphan] = {p.name for p in case.files.objects.iterdir()} - objects
    with _reopen(case, monkeypatch) as opened:
        assert not (opened.files.objects / orphan).exists()
        _check(opened, ["item-0001", "item-0002"])
        assert add_note(opened, "next").id == "item-0003"


@pytest.mark.parametrize("kept", [1, 4, 40, -1])
def test_a_record_cut_off_while_appended_is_truncated(
    case: OpenCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    log_before = case.files.log.read_bytes()

    def half(self: CaseFiles, sealed: bytes) -> None:
        with self.log.open("ab") as handle:
            handle.write((struct.pack(">I", len(sealed)) + sealed)[:kept])

    _die_in(monkeypatch, "append_record", half)
    with pytest.raises(Died):
        add_file(case, photo(tmp_path / "second.jpg", "chelsea"), limits=LIMITS)
    assert len(case.files.log.read_bytes()) > len(log_before)
    with _reopen(case, monkeypatch) as opened:
        assert opened.files.log.read_bytes() == log_before
        _check(opened, ["item-0001", "item-0002"])
        assert add_note(opened, "next").id == "item-0003"
        _check(opened, ["item-0001", "item-0002", "item-0003"])


def test_a_record_whose_head_was_never_signed_gets_one(
    case: OpenCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    _die_in(monkeypatch, "append_head", _nothing)
    with pytest.raises(Died):
        add_note(case, "committed, not yet signed")
    assert read_heads(case.files.folder)[-1].size == 3
    with _reopen(case, monkeypatch) as opened:
        assert read_heads(opened.files.folder)[-1].size == 4
        assert opened.items()[-1].record["text"] == "committed, not yet signed"
        _check(opened, ["item-0001", "item-0002", "item-0003"])


@pytest.mark.parametrize("kept", [0.0, 0.3, 0.99])
def test_a_tree_head_cut_off_while_appended_is_dropped_and_signed_again(
    case: OpenCase, monkeypatch: pytest.MonkeyPatch, kept: float
) -> None:
    def half(self: CaseFiles, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with self.heads.open("a") as handle:
            handle.write(line[: int(len(line) * kept)])

    _die_in(monkeypatch, "append_head", half)
    with pytest.raises(Died):
        add_note(case, "committed, head cut off")
    with _reopen(case, monkeypatch) as opened:
        assert [head.size for head in read_heads(opened.files.folder)] == [1, 2, 3, 4]
        _check(opened, ["item-0001", "item-0002", "item-0003"])


def test_what_interrupted_writes_left_is_removed(case: OpenCase, tmp_path: Path) -> None:
    folder = case.files.folder
    case.close()
    leftovers = [
        folder / "objects" / f"tmp-{secrets.token_hex(16)}",  # an object half written
        folder / "objects" / secrets.token_hex(16),  # an object whole, never logged
        folder / "tmp-header",  # case.json or heads.jsonl, before its rename
    ]
    for path in leftovers:
        path.write_bytes(os.urandom(100))
    workspace = folder / "tmp-capture"  # a capture's files, before they were sealed
    workspace.mkdir()
    (workspace / "screenshot.png").write_bytes(os.urandom(100))
    with Vault(folder.parent).open(case.case_id, PASSPHRASE) as opened:
        for path in [*leftovers, workspace]:
            assert not path.exists(), path
        _check(opened, ["item-0001", "item-0002"])


@pytest.mark.parametrize("error", [Died, OSError], ids=["killed", "disk full"])
def test_a_case_whose_creation_was_cut_off_opens_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    """A crash (or an error) between writing case.json and the case-created record must
    not leave a case without a log (`case show` and `case export` need a signed head),
    nor, in a process that lives on, one it keeps locked."""

    def fail(self: CaseFiles, sealed: bytes) -> None:
        raise error(28, "No space left on device")

    vault = Vault(tmp_path / "cases")
    monkeypatch.setattr(CaseFiles, "append_record", fail)
    with pytest.raises(error):
        vault.create("cut off", PASSPHRASE, kdf=fast_kdf())
    monkeypatch.undo()
    if error is Died:
        _release_locks(vault.root)
    for summary in vault.summaries():
        with vault.open(summary.id, PASSPHRASE) as opened:
            assert [r["action"] for r in opened.records][:1] == ["case-created"]
            check_heads(opened, read_heads(opened.files.folder))


def test_a_passphrase_change_cut_off_leaves_one_passphrase_working(
    case: OpenCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: CaseFiles, document: dict[str, Any]) -> None:
        (self.folder / "tmp-header").write_text(json.dumps(document))  # never renamed

    _die_in(monkeypatch, "write_header", interrupted)
    with pytest.raises(Died):
        case.change_passphrase(b"never took effect")
    with _reopen(case, monkeypatch) as opened:
        _check(opened, ["item-0001", "item-0002"])


def test_listing_cases_changes_nothing_while_a_head_is_half_written(
    case: OpenCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`case list` holds neither the lock nor the passphrase: it must only read, even when
    the writer is in the middle of appending a head (its line not yet whole)."""

    def half(self: CaseFiles, record: dict[str, Any]) -> None:
        with self.heads.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=True)[:50])

    _die_in(monkeypatch, "append_head", half)
    with pytest.raises(Died):
        add_note(case, "being written")
    folder = case.files.folder
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    inode = (folder / "heads.jsonl").stat().st_ino
    [summary] = Vault(folder.parent).summaries()
    assert summary.records == 3
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert (folder / "heads.jsonl").stat().st_ino == inode
