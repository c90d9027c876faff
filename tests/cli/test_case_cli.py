"""`leakshield case` on the command line: cases made, listed (without their titles),
shown, added to one JSON line per input in order, and a missing or wrong passphrase a
clear exit 4.

Only `case new` pays the default key-derivation cost (scrypt, 128 MiB); the other tests
make their case through the API at a low cost, which the CLI then opens as it is."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from leakshield.evidence import Vault, add_note
from tests.conftest import CliResult
from tests.evidence._cases import PASSPHRASE, check_heads, new_case, photo, read_heads

Cli = Callable[..., CliResult]
ENV = "LEAKSHIELD_CASE_PASSPHRASE"
TITLE = "Posts on example.org by xxtroll"

pytestmark = pytest.mark.timeout(120)


def _flat(text: str) -> str:
    """Terminal output with rich's line wrapping undone."""
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def case_id(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A case in the CLI's data directory, its passphrase in the environment."""
    monkeypatch.setenv(ENV, PASSPHRASE.decode())
    with new_case(data_dir / "cases", TITLE) as case:
        return case.case_id


def test_new_then_list_and_show(cli: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "a passphrase from the environment")
    made = cli("case", "new", "--json", "--actor", "Sam", TITLE)
    assert made.exit_code == 0, made.stderr
    [record] = made.json_lines()
    assert set(record) == {"id", "title", "created", "key_id"} and record["title"] == TITLE
    human = cli("case", "new", "Second case")
    assert human.exit_code == 0 and "created" in human.stdout and "passphrase" in human.stdout
    listed = cli("case", "list", "--json")
    assert listed.exit_code == 0
    rows = listed.json_lines()
    assert record["id"] in {row["id"] for row in rows} and len(rows) == 2
    assert {row["records"] for row in rows} == {1}
    table = cli("case", "list")
    assert record["id"] in table.stdout
    for output in (listed.stdout, table.stdout):
        assert "example.org" not in output and "Second case" not in output
    [shown] = cli("case", "show", "--json", record["id"][:6]).json_lines()
    assert (shown["id"], shown["title"], shown["items"]) == (record["id"], TITLE, [])
    assert shown["tree_head"]["size"] == 1 and shown["key_id"] == record["key_id"]
    with Vault(data_dir / "cases").open(record["id"], b"a passphrase from the environment") as c:
        assert c.records[0]["actor"] == "Sam"


def test_list_with_no_cases(cli: Cli) -> None:
    result = cli("case", "list")
    assert result.exit_code == 0 and "no cases yet" in result.stdout
    assert cli("case", "list", "--json").stdout == ""


def test_add_file_gives_one_line_per_input_in_order_and_goes_on(
    cli: Cli, case_id: str, tmp_path: Path
) -> None:
    first, second = photo(tmp_path / "leak.jpg"), tmp_path / "messages.txt"
    second.write_text("he said he would post them\n")
    missing = tmp_path / "gone.jpg"
    result = cli("case", "add-file", "--json", "--actor", "Sam", case_id, str(first))
    assert result.exit_code == 0, result.stderr
    result = cli("case", "add-file", "--json", case_id, str(missing), str(second), str(tmp_path))
    assert result.exit_code == 3
    lines = result.json_lines()
    assert [line.get("input") for line in lines] == [str(missing), None, str(tmp_path)]
    assert lines[0]["error"]["code"] == "not-found"
    assert lines[1]["id"] == "item-0002" and lines[1]["original_path"] == str(second)
    assert lines[1]["leaf_index"] == 2
    stderr = _flat(result.stderr)
    assert f"{missing}: not-found" in stderr and "2 of 3 files could not be added" in stderr
    [shown] = cli("case", "show", "--json", case_id).json_lines()
    items = shown["items"]
    assert [(i["id"], i["files"][0]["name"]) for i in items] == [
        ("item-0001", "leak.jpg"),
        ("item-0002", "messages.txt"),
    ]
    assert items[0]["pdq"] and items[0]["added_by"] == "Sam"
    assert shown["tree_head"]["size"] == 3


def test_add_file_takes_a_folder_with_recursive(cli: Cli, case_id: str, tmp_path: Path) -> None:
    folder = tmp_path / "screens"
    (folder / "inner").mkdir(parents=True)
    photo(folder / "b.jpg")
    photo(folder / "inner" / "a.jpg", "chelsea")
    result = cli("case", "add-file", "--json", "--recursive", case_id, str(folder))
    assert result.exit_code == 0, result.stderr
    assert [line["files"][0]["name"] for line in result.json_lines()] == ["b.jpg", "a.jpg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = cli("case", "add-file", "--recursive", case_id, str(empty))
    assert nothing.exit_code == 2 and "no files" in nothing.stderr


def test_notes_from_the_argument_and_from_stdin(
    cli: Cli, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "Reported at 10:02; ticket 4411"
    [note] = cli("case", "note", "--json", case_id, text).json_lines()
    assert (note["id"], note["kind"], note["text"]) == ("item-0001", "note", text)
    monkeypatch.setattr("sys.stdin", io.StringIO("Seen again\non a second site\n"))
    piped = cli("case", "note", case_id, "-")
    assert piped.exit_code == 0 and "item-0002" in piped.stdout
    empty = cli("case", "note", case_id, "   ")
    assert empty.exit_code == 2 and "empty" in empty.stderr
    [shown] = cli("case", "show", "--json", case_id).json_lines()
    assert [i["text"] for i in shown["items"]] == [
        text,
        "Seen again\non a second site",
    ]


def test_show_tells_the_title_and_the_signed_head(cli: Cli, case_id: str) -> None:
    result = cli("case", "show", case_id)
    assert result.exit_code == 0, result.stderr
    [shown] = cli("case", "show", "--json", case_id).json_lines()
    head = shown["tree_head"]
    assert TITLE in _flat(result.stdout), "`case show` does not show the case's title"
    assert head["root"][:16] in result.stdout, "`case show` does not show the signed head"


def test_a_missing_passphrase_outside_a_terminal_is_exit_4(
    cli: Cli, case_id: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV)
    for args in (("case", "show", case_id), ("case", "new", "a title")):
        result = cli(*args)
        assert result.exit_code == 4, args
        message = _flat(result.stderr)
        assert "passphrase" in message and "--passphrase-file" in message and ENV in message
    assert [s.id for s in Vault(data_dir / "cases").summaries()] == [case_id]  # none made


def test_a_wrong_passphrase_is_exit_4_and_changes_nothing(
    cli: Cli, case_id: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = data_dir / "cases" / case_id
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    monkeypatch.setenv(ENV, "not the passphrase")
    for args in (("show", case_id), ("note", case_id, "x"), ("add-file", case_id, __file__)):
        result = cli("case", *args)
        assert result.exit_code == 4, args
        assert "wrong passphrase" in _flat(result.stderr) and "nothing was changed" in _flat(
            result.stderr
        )
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_the_passphrase_comes_from_a_file_and_can_be_changed(
    cli: Cli, case_id: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV)
    old, new, empty = tmp_path / "old.txt", tmp_path / "new.txt", tmp_path / "empty.txt"
    old.write_bytes(PASSPHRASE + b"\nthe second line is not part of it\n")
    new.write_text("a better passphrase\n")
    empty.write_text("")
    objects_before = sorted((data_dir / "cases" / case_id).rglob("objects/*"))
    changed = cli(
        "case", "passphrase", "--json", case_id,
        "--passphrase-file", str(old), "--new-passphrase-file", str(new),
    )  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    assert changed.json_lines() == [{"id": case_id, "passphrase_changed": True}]
    assert sorted((data_dir / "cases" / case_id).rglob("objects/*")) == objects_before
    assert cli("case", "show", case_id, "--passphrase-file", str(old)).exit_code == 4
    [shown] = cli("case", "show", "--json", case_id, "--passphrase-file", str(new)).json_lines()
    assert shown["tree_head"]["size"] == 2
    unusable = cli("case", "show", case_id, "--passphrase-file", str(empty))
    assert unusable.exit_code == 2 and "empty" in unusable.stderr
    with Vault(data_dir / "cases").open(case_id, b"a better passphrase") as case:
        assert case.records[-1]["action"] == "passphrase-changed"
        check_heads(case, read_heads(case.files.folder))


def test_a_busy_or_unknown_case_is_a_clear_error(cli: Cli, case_id: str, data_dir: Path) -> None:
    with Vault(data_dir / "cases").open(case_id, PASSPHRASE) as held:
        busy = cli("case", "note", case_id, "while another process holds it")
        assert busy.exit_code == 2 and "another leakshield process" in _flat(busy.stderr)
        add_note(held, "the holder goes on")
    unknown = cli("case", "show", "ffffffffff")
    assert unknown.exit_code == 3 and "case list" in _flat(unknown.stderr)
    [shown] = cli("case", "show", "--json", case_id).json_lines()
    assert [item["text"] for item in shown["items"]] == ["the holder goes on"]
