"""The command line: global options, JSON mode, and the documented exit codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from leakshield import __version__
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"leakshield {__version__}"


@pytest.mark.parametrize("args", [("no-such-command",), ("doctor", "--no-such-option"), ("db",)])
def test_usage_errors_exit_2(cli: Cli, args: tuple[str, ...]) -> None:
    assert cli(*args).exit_code == 2


def test_config_show_json_is_one_object_with_sources(cli: Cli, data_dir: Path) -> None:
    result = cli("config", "show", "--json")
    assert result.exit_code == 0
    [record] = result.json_lines()
    assert record["settings"]["data_dir"] == str(data_dir)
    assert record["sources"]["data_dir"] == "env"
    assert record["sources"]["port"] == "default"
    assert record["config_file"] == str(data_dir / "config.toml")
    assert record["config_file_exists"] is False


def test_config_show_masks_the_database_password(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKSHIELD_DATABASE_URL", "postgresql://alice:hunter2@db.example/x")
    result = cli("--json", "config", "show")
    assert result.exit_code == 0
    assert "hunter2" not in result.stdout
    assert "hunter2" not in cli("config", "show").stdout


@pytest.mark.parametrize("placement", ["global", "command"])
def test_data_dir_option_before_or_after_the_command(
    cli: Cli, tmp_path: Path, placement: str
) -> None:
    chosen = tmp_path / "chosen"
    if placement == "global":
        result = cli("--data-dir", str(chosen), "--json", "config", "show")
    else:
        result = cli("config", "show", "--data-dir", str(chosen), "--json")
    [record] = result.json_lines()
    assert record["settings"]["data_dir"] == str(chosen)
    assert record["sources"]["data_dir"] == "cli"


def test_a_bad_configuration_exits_4_with_what_to_fix(cli: Cli, data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "config.toml").write_text("port = 'many'\n")
    result = cli("config", "show")
    assert result.exit_code == 4
    assert "setting port" in result.stderr
    assert result.stdout == ""


def test_db_upgrade_then_current(cli: Cli, data_dir: Path) -> None:
    upgraded = cli("db", "upgrade", "--json")
    assert upgraded.exit_code == 0
    [record] = upgraded.json_lines()
    assert record["up_to_date"] is True
    assert record["backend"] == "sqlite"
    assert (data_dir / "leakshield.db").exists()

    current = cli("db", "current")
    assert current.exit_code == 0
    assert "(latest)" in current.stdout


def test_db_current_on_an_unreachable_database_exits_4(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, unreachable_database_url: str
) -> None:
    monkeypatch.setenv("LEAKSHIELD_DATABASE_URL", unreachable_database_url)
    result = cli("db", "current")
    assert result.exit_code == 4
    assert "Cannot connect to the database" in result.stderr
    assert "s3cret" not in result.stderr


def test_an_unexpected_exception_exits_70_and_asks_for_a_report(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("leakshield.cli._config._printable", broken)
    result = cli("config", "show")
    assert result.exit_code == 70
    assert "internal error" in result.stderr
    assert "ZeroDivisionError" in result.stderr


def test_serve_refuses_a_port_in_use_with_exit_4(cli: Cli) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.exit_code == 4
    assert "--port" in result.stderr
