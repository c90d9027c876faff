"""`leakshield apikey`: keys are created with a role, shown once, listed, and revoked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from leakshield.apikeys import ApiKeys
from leakshield.store import Database
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.timeout(60)


def check(data_dir: Path, secret: str) -> str | None:
    """The role the server would grant ``secret``, or None if it would refuse it."""
    database = Database(f"sqlite:///{data_dir / 'leakshield.db'}")
    try:
        key = ApiKeys(database).check(secret)
    finally:
        database.dispose()
    return None if key is None else key.role


def test_create_list_revoke(cli: Cli, data_dir: Path) -> None:
    created = cli("apikey", "create", "--role", "curate", "--name", "review team", "--json")
    assert created.exit_code == 0, created.stderr
    [record] = created.json_lines()
    assert set(record) == {"id", "name", "role", "prefix", "created_at", "revoked_at", "secret"}
    assert (record["name"], record["role"], record["revoked_at"]) == ("review team", "curate", None)
    secret = str(record["secret"])
    assert check(data_dir, secret) == "curate"

    listed = cli("apikey", "list", "--json")
    assert [{**record, "secret": None}] == [{**key, "secret": None} for key in listed.json_lines()]
    assert secret not in listed.stdout
    table = cli("apikey", "list").stdout
    assert "review team" in table and "curate" in table and secret not in table

    revoked = cli("apikey", "revoke", str(record["id"]), "--json")
    assert revoked.exit_code == 0
    [after] = revoked.json_lines()
    assert after["revoked_at"] is not None
    assert check(data_dir, secret) is None
    assert cli("apikey", "list", "--json").json_lines()[0]["revoked_at"] == after["revoked_at"]


def test_the_secret_is_printed_once_with_a_warning(cli: Cli, data_dir: Path) -> None:
    result = cli("apikey", "create", "--role", "lookup")
    assert result.exit_code == 0
    secret = result.stdout.strip()
    assert secret.startswith("lsk_") and "\n" not in secret
    assert "cannot be shown again" in " ".join(result.stderr.split())
    assert check(data_dir, secret) == "lookup"
    assert secret not in cli("apikey", "list").stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("apikey", "create"), 2),
        (("apikey", "create", "--role", "root"), 2),
        (("apikey", "create", "--role", "admin", "--name", "x" * 101), 3),
        (("apikey", "revoke", "99"), 3),
        (("apikey", "revoke", "first"), 2),
    ],
)
def test_mistakes_exit_with_their_code(cli: Cli, args: tuple[str, ...], code: int) -> None:
    result = cli(*args)
    assert result.exit_code == code
    assert result.stdout == ""


def test_empty_list_says_how_to_make_one(cli: Cli) -> None:
    assert "apikey create" in cli("apikey", "list").stdout
