"""`leakshield bundle verify`: exit 0 for an intact bundle, 3 with every problem named, in
words or as JSON, and a clear message, never a traceback, for anything that is not one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import leakshield.cli._bundle  # noqa: F401  (registers `bundle` until cli/__init__ does)
from leakshield.evidence._bundle import export_bundle
from leakshield.evidence._merkle import public_key_id
from tests.conftest import CliResult
from tests.evidence._bundle_fakes import FakeCase, png, rewrite, sample_case

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def case() -> FakeCase:
    return sample_case()


@pytest.fixture(scope="module")
def bundle(case: FakeCase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_bundle(case, tmp_path_factory.mktemp("cli") / "case.zip", pdf=False).path


def said(text: str) -> str:
    return " ".join(text.split())


def test_an_intact_bundle_exits_0_and_says_what_was_checked(
    cli: Cli, case: FakeCase, bundle: Path
) -> None:
    result = cli("bundle", "verify", str(bundle))
    assert result.exit_code == 0, result.stderr
    out = said(result.stdout)
    assert "intact" in out
    assert "5 items, 6 files hashed" in out and "6 log records" in out
    assert f"signed with key {public_key_id(case.public_key)}" in out
    assert case.tree_heads[-1].root in out


def test_json_gives_one_record(cli: Cli, case: FakeCase, bundle: Path) -> None:
    result = cli("bundle", "verify", str(bundle), "--json")
    assert result.exit_code == 0
    [record] = result.json_lines()
    assert record["ok"] is True and record["problems"] == []
    assert record["case"] == case.case_id and record["files"] == 6
    assert cli("--json", "bundle", "verify", str(bundle)).json_lines() == [record]


def test_a_tampered_bundle_exits_3_naming_the_item_and_file(
    cli: Cli, bundle: Path, tmp_path: Path
) -> None:
    path = "items/item-0002/IMG_0413.png"
    tampered = rewrite(bundle, tmp_path / "t.zip", change={path: lambda _: png(5)})
    result = cli("bundle", "verify", str(tampered))
    assert result.exit_code == 3
    out = said(result.stdout)
    assert "1 problem" in out and "file-altered" in out
    assert f"item 'item-0002' file '{path}'" in out
    [record] = cli("bundle", "verify", str(tampered), "--json").json_lines()
    assert record["ok"] is False
    problems = record["problems"]
    assert isinstance(problems, list) and len(problems) == 1
    assert (problems[0]["code"], problems[0]["item"], problems[0]["path"]) == (
        "file-altered",
        "item-0002",
        path,
    )


def test_the_expected_key_is_checked(cli: Cli, case: FakeCase, bundle: Path) -> None:
    assert (
        cli("bundle", "verify", str(bundle), "--key", public_key_id(case.public_key)).exit_code == 0
    )
    result = cli("bundle", "verify", str(bundle), "--key", "0123456789abcdef")
    assert result.exit_code == 3 and "unexpected-key" in result.stdout


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04 cut short"])
def test_something_that_is_not_a_bundle_is_a_clear_problem(
    cli: Cli, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(content)
    result = cli("bundle", "verify", str(path))
    assert result.exit_code == 3
    assert "Traceback" not in result.stdout + result.stderr
    assert "zip" in said(result.stdout)


def test_a_missing_file_is_an_error_not_a_traceback(cli: Cli, tmp_path: Path) -> None:
    result = cli("bundle", "verify", str(tmp_path / "absent.zip"))
    assert result.exit_code == 3
    assert "cannot read" in result.stderr and "Traceback" not in result.stderr


def test_hostile_names_print_escaped(cli: Cli, bundle: Path, tmp_path: Path) -> None:
    hostile = rewrite(bundle, tmp_path / "h.zip", add={"../\x1b[2J[bold]x": b"x"})
    result = cli("bundle", "verify", str(hostile))
    assert result.exit_code == 3
    assert "\x1b[2J" not in result.stdout
    assert "unsafe-name" in result.stdout and "\\x1b[2J[bold]x" in result.stdout
