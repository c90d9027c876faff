"""`leakshield bank ...`: banks, their content, and hash lists in and out, as a user sees them."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from leakshield.signals import Md5Hash, PdqHash
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.timeout(60)

PDQ = PdqHash.examples()
MD5 = Md5Hash.examples()


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bank-cli") / "photo.png"
    Image.fromarray(skimage.data.astronaut()).resize((256, 256)).save(path)
    return path


def exported(cli: Cli, bank: str) -> list[tuple[str, str, dict[str, object]]]:
    """A bank's (signal_type, signal, metadata), sorted, through `bank export --format jsonl`."""
    result = cli("bank", "export", bank, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    rows = result.json_lines()
    return sorted((str(r["signal_type"]), str(r["signal"]), r["metadata"]) for r in rows)  # type: ignore[misc]


def signals(cli: Cli, bank: str) -> list[str]:
    return [f"{kind}:{value}" for kind, value, _ in exported(cli, bank)]


def said(result: CliResult) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


# --- banks -----------------------------------------------------------------------------


def test_create_list_show_update_and_delete(cli: Cli) -> None:
    created = cli(
        "bank", "create", "VICTIMS", "--description", "hashes from the hotline",
        "--threshold", "pdq=20", "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    [record] = created.json_lines()
    assert record["name"] == "VICTIMS"
    assert record["thresholds"] == {"pdq": 20, "vpdq": 31, "md5": 0, "sha256": 0}
    assert (record["enabled"], record["negative"]) == (True, False)
    assert cli("bank", "create", "KNOWN_OK", "--negative", "--disabled").exit_code == 0
    assert cli("bank", "add", "VICTIMS", f"pdq:{PDQ[0]}", f"md5:{MD5[0]}").exit_code == 0

    listed = cli("bank", "list", "--json").json_lines()
    assert [(b["name"], b["content_count"], b["enabled"], b["negative"]) for b in listed] == [
        ("KNOWN_OK", 0, False, True),
        ("VICTIMS", 2, True, False),
    ]
    table = cli("bank", "list").stdout
    assert "VICTIMS" in table and "hotline" in table and "negative" in table

    shown = cli("bank", "show", "VICTIMS")
    assert "VICTIMS" in shown.stdout and "pdq 20" in shown.stdout and "2 items" in shown.stdout

    changed = cli(
        "bank", "update", "VICTIMS", "--disable", "--threshold", "vpdq=10", "--rename", "HOTLINE",
        "--json",
    )  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    [record] = changed.json_lines()
    assert record["name"] == "HOTLINE"
    assert record["enabled"] is False
    assert record["thresholds"]["pdq"] == 20  # type: ignore[index]  (kept)
    assert record["thresholds"]["vpdq"] == 10  # type: ignore[index]
    assert cli("bank", "show", "VICTIMS").exit_code == 3

    refused = cli("bank", "delete", "HOTLINE")
    assert refused.exit_code == 2
    assert "2 content items" in said(refused) and "--yes" in said(refused)
    assert cli("bank", "show", "HOTLINE").exit_code == 0
    deleted = cli("bank", "delete", "HOTLINE", "--yes", "--json")
    assert deleted.json_lines() == [{"deleted": "HOTLINE", "content_count": 2}]
    assert [b["name"] for b in cli("bank", "list", "--json").json_lines()] == ["KNOWN_OK"]


def test_empty_list_says_how_to_start(cli: Cli) -> None:
    assert "bank create" in cli("bank", "list").stdout
    assert cli("bank", "list", "--json").stdout == ""


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("bank", "create", "lower_case"), 3, "capital letters"),
        (("bank", "create", "B", "--threshold", "pdq"), 2, "TYPE=N"),
        (("bank", "create", "B", "--threshold", "pdq=300"), 3, "0 to 128"),
        (("bank", "create", "B", "--threshold", "md5=3"), 3, "exactly"),
        (("bank", "create", "TAKEN"), 2, "exists"),
        (("bank", "update", "TAKEN"), 2, "nothing to change"),
        (("bank", "show", "MISSING"), 3, "bank list"),
        (("bank", "add", "MISSING", f"pdq:{PDQ[0]}"), 3, "MISSING"),
        (("bank", "add", "TAKEN", f"pdq:{PDQ[0]}", "--metadata", "[1]"), 2, "JSON object"),
        (("bank", "remove", "TAKEN", "pdq:nothex"), 3, "pdq"),
    ],
)
def test_mistakes_are_explained_with_their_exit_code(
    cli: Cli, args: tuple[str, ...], code: int, says: str
) -> None:
    assert cli("bank", "create", "TAKEN").exit_code == 0
    result = cli(*args)
    assert result.exit_code == code, result.stderr
    assert says in said(result)
    assert result.stdout == ""


# --- content ---------------------------------------------------------------------------


def test_add_prints_one_line_per_input_in_order(cli: Cli, photo: Path, tmp_path: Path) -> None:
    cli("bank", "create", "MINE")
    inputs = [str(photo), f"pdq:{PDQ[0]}", str(tmp_path / "gone.jpg"), "md5:xyz"]
    result = cli(
        "bank", "add", "MINE", *inputs, "--metadata", '{"case": "c-1"}', "--note", "n", "--json"
    )
    assert result.exit_code == 3
    records = result.json_lines()
    assert [r["input"] for r in records] == inputs
    image, signal, missing, bad = records
    assert [s.split(":")[0] for s in image["signals"]] == ["pdq", "md5"]  # type: ignore[attr-defined]
    assert signal["signals"] == [f"pdq:{PDQ[0]}"]
    assert image["content_id"] != signal["content_id"]
    assert image["existing"] is False
    assert missing["error"] == {"code": "not-found", "message": missing["error"]["message"]}  # type: ignore[index]
    assert bad["error"]["code"] == "bad-signal"  # type: ignore[index]
    assert "2 of 4 inputs" in said(result)

    again = cli("bank", "add", "MINE", str(photo), "--json")
    assert again.exit_code == 0
    [record] = again.json_lines()
    assert (record["content_id"], record["existing"]) == (image["content_id"], True)
    assert {meta["case"] for _, _, meta in exported(cli, "MINE")} == {"c-1"}  # type: ignore[index]

    human = cli("bank", "add", "MINE", f"md5:{MD5[0]}")
    assert "added as content" in human.stdout


def test_add_recursive_takes_every_file_under_a_directory(
    cli: Cli, photo: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "photos" / "2026"
    folder.mkdir(parents=True)
    Image.open(photo).save(folder / "a.png")
    Image.open(photo).rotate(90).save(folder / "b.png")
    cli("bank", "create", "MINE")
    result = cli("bank", "add", "MINE", "--recursive", str(tmp_path / "photos"), "--json")
    assert result.exit_code == 0, result.stderr
    assert [r["input"] for r in result.json_lines()] == [
        str(folder / "a.png"),
        str(folder / "b.png"),
    ]
    assert len(signals(cli, "MINE")) == 4


def test_remove_takes_out_signals_and_says_what_was_not_there(cli: Cli) -> None:
    cli("bank", "create", "MINE")
    cli("bank", "add", "MINE", f"pdq:{PDQ[0]}", f"md5:{MD5[0]}")
    result = cli("bank", "remove", "MINE", f"pdq:{PDQ[0]}", f"pdq:{PDQ[1]}", "--json")
    assert result.json_lines() == [{"bank": "MINE", "removed": 1, "not_in_bank": 1}]
    assert signals(cli, "MINE") == [f"md5:{MD5[0]}"]
    assert "1 not in the bank" in cli("bank", "remove", "MINE", f"pdq:{PDQ[0]}").stdout


# --- import and export -----------------------------------------------------------------

ENTRIES = [f"pdq:{PDQ[0]}", f"pdq:{PDQ[1]}", f"md5:{MD5[0]}"]


def hash_list(fmt: str) -> list[str]:
    kinds = [entry.split(":", 1) for entry in ENTRIES]
    if fmt == "csv":
        return ["signal_type,signal,metadata", *(f'{k},{v},"{{""src"": ""x""}}"' for k, v in kinds)]
    if fmt == "jsonl":
        return [
            json.dumps({"signal_type": k, "signal": v, "metadata": {"src": "x"}}) for k, v in kinds
        ]
    if fmt == "threatexchange":
        return ["# from ThreatExchange", *(f"{k},{v}" for k, v in kinds)]
    names = {"pdq": "ImagePDQ", "md5": "VideoMD5"}
    return [
        json.dumps({"signalType": names[k], "hashValue": v, "hashStatus": "Active"})
        for k, v in kinds
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "threatexchange", "stopncii"])
def test_import_each_format_then_again_adds_nothing(cli: Cli, tmp_path: Path, fmt: str) -> None:
    source = write(tmp_path / "list.txt", *hash_list(fmt))
    result = cli("bank", "import", "LIST", str(source), "--create", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json_lines() == [
        {"bank": "LIST", "created": True, "added": 3, "existing": 0, "removed": 0, "skipped": []}
    ]
    assert signals(cli, "LIST") == sorted(ENTRIES)
    again = cli("bank", "import", "LIST", str(source), "--format", fmt, "--json")
    [record] = again.json_lines()
    assert (record["created"], record["added"], record["existing"]) == (False, 0, 3)
    human = cli("bank", "import", "LIST", str(source))
    assert human.stdout == ""
    assert "0 added, 3 already there" in said(human)


def test_stopncii_withdrawals_remove_the_hash(cli: Cli, tmp_path: Path) -> None:
    def record(value: str, status: str) -> str:
        return json.dumps({"signalType": "ImagePDQ", "hashValue": value, "hashStatus": status})

    active = write(tmp_path / "a.json", record(PDQ[0], "Active"), record(PDQ[1], "Active"))
    cli("bank", "import", "STOPNCII", str(active), "--create")
    withdrawn = {"hashRecords": [json.loads(record(PDQ[0], "Withdrawn"))]}
    (tmp_path / "w.json").write_text(json.dumps(withdrawn))
    result = cli("bank", "import", "STOPNCII", str(tmp_path / "w.json"), "--json")
    assert result.exit_code == 0, result.stderr
    [report] = result.json_lines()
    assert (report["added"], report["removed"]) == (0, 1)
    assert signals(cli, "STOPNCII") == [f"pdq:{PDQ[1]}"]
    lookup = cli("lookup", f"pdq:{PDQ[0]}", "--json").json_lines()
    assert lookup == [{"input": f"pdq:{PDQ[0]}", "matches": []}]


def test_skip_invalid_imports_the_rest_and_reports_every_line(cli: Cli, tmp_path: Path) -> None:
    source = write(
        tmp_path / "list.csv",
        "signal_type,signal,metadata",
        f"pdq,{PDQ[0]},",
        "pdq,not-a-hash,",
        f"md5,{MD5[0]},",
        "colour,red,",
    )
    result = cli("bank", "import", "LIST", str(source), "--create", "--skip-invalid", "--json")
    assert result.exit_code == 0, result.stderr
    [report] = result.json_lines()
    assert report["added"] == 2
    assert [s["line"] for s in report["skipped"]] == [3, 5]  # type: ignore[attr-defined]
    human = cli("bank", "import", "LIST", str(source), "--skip-invalid")
    assert "2 lines skipped" in said(human)
    assert "line 3:" in said(human) and "line 5:" in said(human)


def test_a_bad_line_fails_the_whole_import(cli: Cli, tmp_path: Path) -> None:
    cli("bank", "create", "LIST")
    cli("bank", "add", "LIST", f"md5:{MD5[1]}")
    source = write(tmp_path / "list.txt", f"pdq,{PDQ[0]}", f"pdq,{PDQ[1]}", "pdq,zzzz")
    result = cli("bank", "import", "LIST", str(source), "--json")
    assert result.exit_code == 3
    assert "line 3" in said(result) and "--skip-invalid" in said(result)
    assert result.stdout == ""
    assert signals(cli, "LIST") == [f"md5:{MD5[1]}"]
    # With --create, not even an empty bank is left behind.
    assert cli("bank", "import", "NEW", str(source), "--create").exit_code == 3
    assert cli("bank", "show", "NEW").exit_code == 3


def test_import_needs_the_bank_or_create_and_a_readable_file(cli: Cli, tmp_path: Path) -> None:
    source = write(tmp_path / "list.txt", f"pdq,{PDQ[0]}")
    missing_bank = cli("bank", "import", "NOPE", str(source))
    assert missing_bank.exit_code == 3
    assert "--create" in said(missing_bank)
    missing_file = cli("bank", "import", "NOPE", str(tmp_path / "nope.csv"), "--create")
    assert missing_file.exit_code == 3
    assert "nope.csv" in said(missing_file)
    assert cli("bank", "show", "NOPE").exit_code == 3


def test_import_reads_stdin(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    data = "".join(f"{line}\n" for line in hash_list("jsonl")).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    result = cli("bank", "import", "LIST", "-", "--create", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json_lines()[0]["added"] == 3


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_then_import_into_a_new_bank_gives_the_same_hashes(
    cli: Cli, photo: Path, tmp_path: Path, fmt: str
) -> None:
    cli("bank", "create", "MINE")
    cli("bank", "add", "MINE", str(photo), f"pdq:{PDQ[0]}", "--metadata", '{"case": "c,1"}')
    target = tmp_path / "out" / f"mine.{fmt}"
    target.parent.mkdir()
    target.write_text("old contents\n")
    result = cli("bank", "export", "MINE", "--output", str(target), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json_lines() == [
        {"bank": "MINE", "format": fmt, "output": str(target), "signals": 3}
    ]
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left
    assert cli("bank", "import", "COPY", str(target), "--create").exit_code == 0
    assert exported(cli, "COPY") == exported(cli, "MINE")


def test_export_to_stdout_and_errors(cli: Cli, tmp_path: Path) -> None:
    cli("bank", "create", "MINE")
    cli("bank", "add", "MINE", f"md5:{MD5[0]}")
    result = cli("bank", "export", "MINE")
    assert result.stdout == f"signal_type,signal,metadata\nmd5,{MD5[0]},{{}}\n"
    unwritable = cli("bank", "export", "MINE", "-o", str(tmp_path / "no" / "dir.csv"))
    assert unwritable.exit_code == 3
    assert "cannot write" in said(unwritable)
    missing = cli("bank", "export", "NOPE", "-o", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 3
    assert not (tmp_path / "nope.csv").exists()
