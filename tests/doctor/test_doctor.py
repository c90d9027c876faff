"""`leakshield doctor` reports honestly what is and is not available."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from leakshield.config import load_settings
from leakshield.doctor import Check, CheckResult, CheckStatus, register, run_checks
from leakshield.store import Database
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def by_name(records: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(record["check"]): record for record in records}


def test_a_fresh_install_is_ok_and_doctor_writes_nothing(cli: Cli, data_dir: Path) -> None:
    result = cli("doctor", "--json")
    assert result.exit_code == 0, result.stdout
    checks = by_name(result.json_lines())
    assert {"configuration", "data directory", "database", "database schema"} <= checks.keys()
    assert all(record["status"] == "ok" for record in checks.values() if record["required"])
    assert "created on first use" in str(checks["database"]["detail"])
    assert not data_dir.exists()


def test_every_line_is_a_check_with_status_and_fix(cli: Cli) -> None:
    for record in cli("--json", "doctor").json_lines():
        assert set(record) == {"check", "status", "detail", "required", "fix"}
        assert record["status"] in {"ok", "missing", "error"}


def test_an_unreachable_database_exits_4_and_says_how_to_fix(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, unreachable_database_url: str
) -> None:
    monkeypatch.setenv("LEAKSHIELD_DATABASE_URL", unreachable_database_url)
    result = cli("doctor", "--json")
    assert result.exit_code == 4
    database = by_name(result.json_lines())["database"]
    assert database["status"] == "error"
    assert "LEAKSHIELD_DATABASE_URL" in str(database["fix"])
    assert "s3cret" not in result.stdout


def test_a_schema_behind_is_missing_with_the_upgrade_command(cli: Cli, data_dir: Path) -> None:
    database = Database(load_settings().settings.database_url_or_default)
    database.ping()  # creates an empty SQLite file with no schema
    database.dispose()
    result = cli("doctor", "--json")
    assert result.exit_code == 4
    schema = by_name(result.json_lines())["database schema"]
    assert schema["status"] == "missing"
    assert "leakshield db upgrade" in str(schema["fix"])

    assert cli("db", "upgrade").exit_code == 0
    assert cli("doctor").exit_code == 0


def test_a_schema_from_a_newer_version_is_an_error(cli: Cli) -> None:
    assert cli("db", "upgrade").exit_code == 0
    database = Database(load_settings().settings.database_url_or_default)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    database.dispose()
    schema = by_name(cli("doctor", "--json").json_lines())["database schema"]
    assert schema["status"] == "error"
    assert "newer leakshield" in str(schema["detail"])


def test_a_missing_optional_driver_is_reported_but_not_fatal(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_version = importlib.metadata.version

    def without_psycopg(name: str) -> str:
        if name == "psycopg":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", without_psycopg)
    result = cli("doctor", "--json")
    assert result.exit_code == 0
    driver = by_name(result.json_lines())["postgresql driver"]
    assert driver["status"] == "missing"
    assert driver["required"] is False
    assert "leakshield[postgres]" in str(driver["fix"])


def test_an_unknown_leakshield_variable_is_flagged_but_not_fatal(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKSHIELD_PROT", "9000")
    result = cli("doctor", "--json")
    assert result.exit_code == 0
    check = by_name(result.json_lines())["environment variables"]
    assert check["status"] == "error"
    assert "LEAKSHIELD_PROT" in str(check["detail"])
    assert "LEAKSHIELD_PORT" in str(check["fix"])


def test_a_data_dir_that_is_a_file_is_an_error(cli: Cli, data_dir: Path) -> None:
    data_dir.write_text("oops")
    result = cli("doctor", "--json")
    assert result.exit_code == 4
    assert by_name(result.json_lines())["data directory"]["status"] == "error"


def test_a_broken_config_is_reported_as_a_check(cli: Cli, data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "config.toml").write_text("[[[")
    result = cli("doctor", "--json")
    assert result.exit_code == 4
    [config] = result.json_lines()
    assert config["check"] == "configuration"
    assert config["status"] == "error"


def test_human_output_is_a_table(cli: Cli) -> None:
    result = cli("doctor")
    assert "database" in result.stdout
    assert "ok" in result.stdout


def test_a_check_that_crashes_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from leakshield.doctor import _registry

    class Exploding(Check):
        name = "exploding"

        def run(self, settings: object) -> CheckResult:
            raise RuntimeError("kaboom")

    monkeypatch.setattr(_registry, "_REGISTRY", list(_registry._REGISTRY))
    register(Exploding)
    results = {r.name: r for r in run_checks(load_settings().settings)}
    assert results["exploding"].status is CheckStatus.ERROR
    assert "kaboom" in results["exploding"].detail


def test_check_names_are_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    from leakshield.doctor import _registry

    monkeypatch.setattr(_registry, "_REGISTRY", list(_registry._REGISTRY))

    class Again(Check):
        name = "database"

        def run(self, settings: object) -> CheckResult:
            raise AssertionError

    with pytest.raises(ValueError, match="already registered"):
        register(Again)


def test_the_identity_passphrase_variable_is_known_and_c2pa_is_checked(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKSHIELD_IDENTITY_PASSPHRASE", "secret")
    lines = {line["check"]: line for line in cli("doctor", "--json").json_lines()}
    assert lines["environment variables"]["status"] == "ok"
    c2pa = lines["c2pa provenance"]
    assert c2pa["status"] == "ok"
    assert "c2pa-rs" in c2pa["detail"] and "no signing identity yet" in c2pa["detail"]
    assert "secret" not in json.dumps(list(lines.values()))


def test_pdf_reports_are_checked_and_a_missing_pango_is_explained(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = {line["check"]: line for line in cli("doctor", "--json").json_lines()}
    assert lines["pdf reports"]["status"] == "ok"
    assert lines["pdf reports"]["detail"].startswith("WeasyPrint ")
    # A machine without Pango: importing WeasyPrint raises OSError.
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    result = cli("doctor", "--json")
    lines = {line["check"]: line for line in result.json_lines()}
    assert lines["pdf reports"]["status"] == "missing"
    assert "apt install libpango" in lines["pdf reports"]["fix"]
    assert result.exit_code == 0  # optional: HTML reports still work


def test_notice_data_is_checked_and_a_bad_correction_named(cli: Cli, data_dir: Path) -> None:
    lines = {line["check"]: line for line in cli("doctor", "--json").json_lines()}
    assert lines["notice data"]["status"] == "ok"
    assert "regimes" in lines["notice data"]["detail"]
    folder = data_dir / "notices" / "regimes"
    folder.mkdir(parents=True)
    (folder / "us-dmca.toml").write_text('schema = 1\nid = "us-dmca"\nname = [1]\n')
    result = cli("doctor", "--json")
    lines = {line["check"]: line for line in result.json_lines()}
    assert lines["notice data"]["status"] == "error"
    assert "us-dmca.toml" in lines["notice data"]["detail"]
    assert result.exit_code == 4
