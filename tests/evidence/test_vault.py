"""Cases: made under a passphrase, opened only with it, listed without it, one writer at a
time, and nothing about their content readable on disk."""

from __future__ import annotations

import getpass
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leakshield.evidence import (
    CaseBusyError,
    CaseNotFoundError,
    PassphraseError,
    Vault,
    add_file,
    add_note,
)
from leakshield.media import MediaLimits
from tests.evidence._cases import (
    PASSPHRASE,
    check_folder,
    check_heads,
    fast_kdf,
    new_case,
    photo,
    read_heads,
    stored_bytes,
)

LIMITS = MediaLimits()


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` with its bytes and modification time."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_new_case_opens_with_its_passphrase(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "cases")
    with new_case(vault.root, "Posts on example.org", actor="Sam") as case:
        case_id, key_id, created = case.case_id, case.key_id, case.created
        assert case.title == "Posts on example.org"
        [record] = case.records
        assert (record["seq"], record["action"], record["actor"]) == (0, "case-created", "Sam")
        assert record["case"] == case_id and record["item"] is None
    with vault.open(case_id, PASSPHRASE) as case:
        assert (case.case_id, case.key_id, case.created) == (case_id, key_id, created)
        assert case.title == "Posts on example.org"
        assert case.items() == []
        check_heads(case, read_heads(case.files.folder))


def test_a_case_is_found_by_the_start_of_its_id(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "cases")
    with new_case(vault.root) as case:
        case_id = case.case_id
    with vault.open(case_id[:4].upper(), PASSPHRASE) as case:
        assert case.case_id == case_id
    for reference in ("", "nothex", "ffffffffffff"):
        with pytest.raises(CaseNotFoundError, match="case list"):
            vault.open(reference, PASSPHRASE)


def test_list_shows_every_case_without_its_title(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "cases")
    assert vault.summaries() == []
    with new_case(vault.root, "First title") as first:
        add_note(first, "one")
        add_note(first, "two")
    with new_case(vault.root, "Second title") as second:
        pass
    summaries = {s.id: s for s in vault.summaries()}
    assert set(summaries) == {first.case_id, second.case_id}
    assert summaries[first.case_id].records == 3
    assert summaries[second.case_id].records == 1
    assert summaries[first.case_id].key_id == first.key_id
    assert summaries[first.case_id].last_activity == first.tree_heads[-1].time
    listed = repr([s.to_record() for s in summaries.values()])
    assert "title" not in listed


@pytest.mark.parametrize("given", [b"wrong horse", b"", None])
def test_a_wrong_or_missing_passphrase_is_refused_and_changes_nothing(
    tmp_path: Path, given: bytes | None
) -> None:
    vault = Vault(tmp_path / "cases")
    with new_case(vault.root) as case:
        add_note(case, "something seen")
    before = _snapshot(case.files.folder)
    with pytest.raises(PassphraseError, match="passphrase") as raised:
        vault.open(case.case_id, given)
    assert raised.value.exit_code == 4
    if given:
        assert "nothing was changed" in str(raised.value)
    assert _snapshot(case.files.folder) == before
    with vault.open(case.case_id, PASSPHRASE):  # and it did not keep the case locked
        pass


def test_a_case_needs_a_passphrase(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="needs a passphrase"):
        Vault(tmp_path / "cases").create("t", b"", kdf=fast_kdf())
    assert not (tmp_path / "cases").exists() or not any((tmp_path / "cases").iterdir())


def test_changing_the_passphrase_rewraps_the_key_and_reencrypts_nothing(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "cases")
    with new_case(vault.root) as case:
        item = add_file(case, photo(tmp_path / "leak.jpg"), limits=LIMITS)
        add_note(case, "reported")
    folder = case.files.folder
    objects = _snapshot(folder / "objects")
    log = (folder / "log.bin").read_bytes()
    with vault.open(case.case_id, PASSPHRASE) as case:
        case.change_passphrase(b"a new passphrase", actor="Sam")
        assert case.records[-1]["action"] == "passphrase-changed"
    with pytest.raises(PassphraseError):
        vault.open(case.case_id, PASSPHRASE)
    with vault.open(case.case_id, b"a new passphrase") as case:
        assert _snapshot(folder / "objects") == objects
        assert (folder / "log.bin").read_bytes().startswith(log)  # only appended to
        assert stored_bytes(case, item.id, "leak.jpg") == (tmp_path / "leak.jpg").read_bytes()
        assert [r["action"] for r in case.records][-1] == "passphrase-changed"
        assert case.records[-1]["actor"] == "Sam"
        check_heads(case, read_heads(folder))
        with pytest.raises(PassphraseError, match="empty"):
            case.change_passphrase(b"")


def test_nothing_about_the_content_is_readable_on_disk(tmp_path: Path) -> None:
    source = tmp_path / "private-folder-Mallory"
    source.mkdir()
    original = photo(source / "IMG_beach_holiday_0412.jpg")
    title, note = "Case against Mallory Example", "Saw it on forum.example at 15:02, user xxtroll"
    vault = Vault(tmp_path / "cases")
    with new_case(vault.root, title, actor="Detective Quill") as case:
        item = add_file(case, original, limits=LIMITS)
        add_note(case, note)
    needles = {
        "title": title,
        "title's last word": "Example",
        "file name": original.name,
        "file stem": "beach_holiday",
        "folder": source.name,
        "original path": str(original.resolve()),
        "note": note,
        "part of the note": "xxtroll",
        "actor": "Detective Quill",
        "sha256": item.sha256,
        "pdq": str(item.record["pdq"]),
    }
    assert item.record["pdq"]
    body = original.read_bytes()
    folder = case.files.folder
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for what, needle in needles.items():
            for form in (needle, needle.lower(), needle.upper()):
                assert form.encode() not in data, f"the {what} is readable in {path.name}"
                assert form.encode("utf-16-le") not in data, f"the {what} (UTF-16) in {path}"
            assert needle not in str(path.relative_to(folder)), f"the {what} names a file"
        for at in range(200, len(body) - 64, len(body) // 8):
            assert body[at : at + 64] not in data, f"the photo's bytes are in {path.name}"


def test_one_case_has_one_writer_at_a_time(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "cases")
    case = new_case(vault.root)
    with pytest.raises(CaseBusyError, match="another leakshield process") as raised:
        vault.open(case.case_id, PASSPHRASE)
    assert raised.value.exit_code == 2
    case.close()
    with vault.open(case.case_id, PASSPHRASE) as again:
        add_note(again, "the first handle let go")


def test_another_process_holding_the_case_makes_it_busy(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "cases")
    with new_case(vault.root) as case:
        case_id = case.case_id
    holder = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from leakshield.evidence import Vault
        case = Vault(Path({str(vault.root)!r})).open({case_id!r}, {PASSPHRASE!r})
        print("holding", flush=True)
        sys.stdin.readline()
        case.close()
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        assert process.stdout.readline().strip() == "holding"
        before = _snapshot(vault.root / case_id)
        with pytest.raises(CaseBusyError):
            vault.open(case_id, PASSPHRASE)
        assert _snapshot(vault.root / case_id) == before
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
    with vault.open(case_id, PASSPHRASE) as case:
        assert case.case_id == case_id


def test_who_acts_defaults_to_the_user_name(tmp_path: Path) -> None:
    with new_case(tmp_path / "cases") as case:
        note = add_note(case, "  seen at 10:02  ")
        assert case.records[0]["actor"] == getpass.getuser()
        assert note.added_by == getpass.getuser() == case.records[-1]["actor"]
        assert note.record["text"] == "seen at 10:02"
        check_folder(case)
