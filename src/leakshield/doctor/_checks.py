"""The built-in checks: data directory, database, schema, and optional drivers."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

from leakshield.config import ENV_PREFIX, SECRET_ENV_VARS, TEST_ENV_PREFIX, Settings
from leakshield.doctor._registry import Check, CheckResult, CheckStatus, register
from leakshield.errors import LeakshieldError
from leakshield.store import Database


@register
class EnvironmentCheck(Check):
    """No LEAKSHIELD_* variable is set that no setting reads (a typo goes unnoticed otherwise)."""

    name = "environment variables"

    def run(self, settings: Settings) -> CheckResult:
        known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | set(SECRET_ENV_VARS)
        unknown = sorted(
            name
            for name in os.environ
            if name.startswith(ENV_PREFIX)
            and not name.startswith(TEST_ENV_PREFIX)
            and name not in known
        )
        if not unknown:
            return self.result(CheckStatus.OK, "no unknown LEAKSHIELD_* variables")
        return self.result(
            CheckStatus.ERROR,
            f"set but not read by any setting: {', '.join(unknown)}",
            f"correct or unset them; the settings are {', '.join(sorted(known))}",
        )


@register
class DataDirectoryCheck(Check):
    """The data directory exists and is writable, or can be created."""

    name = "data directory"
    required = True

    def run(self, settings: Settings) -> CheckResult:
        path = settings.data_dir
        if path.is_dir():
            if os.access(path, os.W_OK | os.X_OK):
                return self.result(CheckStatus.OK, f"{path} (writable)")
            return self.result(
                CheckStatus.ERROR,
                f"{path} is not writable",
                "choose another with --data-dir or LEAKSHIELD_DATA_DIR, or fix its permissions",
            )
        if path.exists():
            return self.result(
                CheckStatus.ERROR, f"{path} exists but is not a directory", "remove it or move it"
            )
        parent = _nearest_existing(path)
        if os.access(parent, os.W_OK | os.X_OK):
            return self.result(CheckStatus.OK, f"{path} (created on first use)")
        return self.result(
            CheckStatus.ERROR,
            f"{path} does not exist and {parent} is not writable",
            "choose another with --data-dir or LEAKSHIELD_DATA_DIR",
        )


@register
class DatabaseCheck(Check):
    """The database answers a query."""

    name = "database"
    required = True

    def run(self, settings: Settings) -> CheckResult:
        database = Database(settings.database_url_or_default)
        try:
            if database.backend == "sqlite" and not _sqlite_file_exists(database):
                return self.result(
                    CheckStatus.OK, f"SQLite at {database.display_url} (created on first use)"
                )
            database.ping()
            return self.result(CheckStatus.OK, f"{database.backend} at {database.display_url}")
        except LeakshieldError as exc:
            return self.result(
                CheckStatus.ERROR,
                exc.message,
                "start the database, or fix LEAKSHIELD_DATABASE_URL",
            )
        finally:
            database.dispose()


@register
class SchemaCheck(Check):
    """Every migration shipped with this version has been applied."""

    name = "database schema"
    required = True

    def run(self, settings: Settings) -> CheckResult:
        database = Database(settings.database_url_or_default)
        try:
            if database.backend == "sqlite" and not _sqlite_file_exists(database):
                return self.result(CheckStatus.OK, "created on first use")
            state = database.schema_state()
        finally:
            database.dispose()
        if state.from_newer_version:
            return self.result(
                CheckStatus.ERROR,
                f"at revision {state.current}, written by a newer leakshield",
                "upgrade leakshield",
            )
        if state.up_to_date:
            return self.result(CheckStatus.OK, f"at revision {state.head}")
        if state.current is None:
            detail = "not initialised"
        else:
            detail = f"at revision {state.current}, this version needs {state.head}"
        return self.result(
            CheckStatus.MISSING, detail, "run `leakshield db upgrade` (or `leakshield serve`)"
        )


@register
class PostgresDriverCheck(Check):
    """psycopg, the driver for the PostgreSQL storage path."""

    name = "postgresql driver"

    def run(self, settings: Settings) -> CheckResult:
        try:
            version = importlib.metadata.version("psycopg")
        except importlib.metadata.PackageNotFoundError:
            return self.result(
                CheckStatus.MISSING,
                "psycopg is not installed; only SQLite can be used",
                "pip install 'leakshield[postgres]'",
            )
        return self.result(CheckStatus.OK, f"psycopg {version}")


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _sqlite_file_exists(database: Database) -> bool:
    name = database.url.database
    return not name or name == ":memory:" or Path(name).exists()


@register
class ProvenanceCheck(Check):
    """C2PA signing works here: the SDK loads, and whether a signing identity exists yet."""

    name = "c2pa provenance"

    def run(self, settings: Settings) -> CheckResult:
        try:
            import c2pa

            version = c2pa.sdk_version()
        except Exception as exc:  # a broken native library must not stop doctor
            return self.result(
                CheckStatus.ERROR,
                f"c2pa-python cannot load: {exc}",
                "reinstall with `make install`",
            )
        from leakshield.provenance import identity_exists

        who = (
            "a signing identity exists"
            if identity_exists(settings.data_dir / "identity")
            else "no signing identity yet (the first `sign` or `protect` makes one)"
        )
        stamps = f"time stamps from {settings.tsa_url}" if settings.tsa_url else "offline"
        return self.result(CheckStatus.OK, f"c2pa-rs {version}; {who}; {stamps}")


@register
class PdfReportCheck(Check):
    """`analyze --pdf` works here: WeasyPrint loads Pango. Optional: HTML reports do not
    need it."""

    name = "pdf reports"

    def run(self, settings: Settings) -> CheckResult:
        try:
            import weasyprint  # type: ignore[import-untyped]

            version = str(weasyprint.__version__)
        except Exception as exc:  # a missing native library is an OSError at import
            return self.result(
                CheckStatus.MISSING,
                f"WeasyPrint cannot load Pango ({exc}); `analyze --report` (HTML) still works",
                "install Pango: apt install libpango-1.0-0 libpangoft2-1.0-0",
            )
        return self.result(CheckStatus.OK, f"WeasyPrint {version}")


@register
class NoticeDataCheck(Check):
    """The regimes and platforms `notice` drafts from load, your corrections included."""

    name = "notice data"
    required = True

    def run(self, settings: Settings) -> CheckResult:
        from datetime import date

        from leakshield.notices import Directory

        overrides = settings.data_dir / "notices"
        try:
            directory = Directory.load(overrides if overrides.is_dir() else None)
        except LeakshieldError as exc:
            return self.result(
                CheckStatus.ERROR,
                exc.message,
                "correct the file it names (see docs/notices-data.md), or remove it",
            )
        detail = f"{len(directory.regimes)} regimes, {len(directory.platforms)} platforms"
        stale = directory.stale(date.today())
        if stale:
            detail += f"; checked over a year ago: {', '.join(stale)}"
        return self.result(CheckStatus.OK, detail)
