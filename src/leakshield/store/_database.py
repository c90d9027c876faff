"""One database: engine set-up per backend, sessions, health, and migrations."""

from __future__ import annotations

import fcntl
import functools
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from leakshield.errors import ConfigError, DatabaseUnavailableError

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK_KEY = 0x4C53_4D49  # "LSMI"
_CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class SchemaState:
    """Where the database schema stands against the migrations shipped with this version."""

    current: str | None
    head: str
    known: bool = True

    @property
    def up_to_date(self) -> bool:
        """True when every shipped migration has been applied."""
        return self.current == self.head

    @property
    def from_newer_version(self) -> bool:
        """True when a newer leakshield migrated the database to a revision unknown here."""
        return not self.known


def normalize_url(url: str) -> URL:
    """Parse a database URL, choosing psycopg (v3) as the PostgreSQL driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"{url!r} is not a database URL. Use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB."
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Database:
    """A connection pool to the configured database, with migrations and a health check."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = _create_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    @property
    def display_url(self) -> str:
        """The URL with its password masked."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Raise `DatabaseUnavailableError` unless the database answers a query."""
        with self._connect() as connection:
            connection.execute(text("SELECT 1"))

    def schema_state(self) -> SchemaState:
        """The applied and the latest migration revision."""
        with self._connect() as connection:
            return _schema_state(connection)

    def upgrade(self, revision: str = "head") -> SchemaState:
        """Apply migrations up to ``revision``; safe to run from several processes at once."""
        self._migrate(command.upgrade, revision)
        return self.schema_state()

    def downgrade(self, revision: str) -> SchemaState:
        """Revert migrations down to ``revision`` (``base`` removes every table)."""
        self._migrate(command.downgrade, revision)
        return self.schema_state()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _migrate(self, step: Any, revision: str) -> None:
        with self._migration_lock(), self._connect() as connection:
            # Read under the lock: another process may have just migrated.
            state = _schema_state(connection)
            if state.from_newer_version:
                raise ConfigError(
                    f"The database {self.display_url} is at schema revision {state.current}, "
                    "written by a newer leakshield. Upgrade leakshield; do not downgrade the data."
                )
            config = _alembic_config()
            config.attributes["connection"] = connection
            step(config, revision)
            connection.commit()

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Serialise migrators across processes (several workers starting at once)."""
        if self.backend == "postgresql":
            with self._connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                try:
                    yield
                finally:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                    )
            return
        name = self.url.database
        if not name or name == ":memory:":
            yield
            return
        lock_path = Path(name).with_name(Path(name).name + ".migrate-lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with lock_path.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            connection = self.engine.connect()
        except SQLAlchemyError as exc:
            raise DatabaseUnavailableError(
                f"Cannot connect to the database {self.display_url}: {_first_line(exc)}. "
                "Check that it is running and that LEAKSHIELD_DATABASE_URL is right "
                "(`leakshield doctor` checks it)."
            ) from None
        with connection:
            yield connection


def _create_engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        if importlib.util.find_spec("psycopg") is None:
            raise ConfigError(
                "The database URL is PostgreSQL but the driver is not installed. "
                "Install it with: pip install 'leakshield[postgres]'."
            )
        return create_engine(
            url, pool_pre_ping=True, connect_args={"connect_timeout": _CONNECT_TIMEOUT_S}
        )
    raise ConfigError(
        f"Unsupported database {backend!r}. Use sqlite:///PATH or postgresql+psycopg://..."
    )


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "do_connect")
    def _make_directory(*_args: Any) -> None:
        # Created on first connection, not before: `doctor` opens a Database without writing.
        if url.database and url.database != ":memory:":
            parent = Path(url.database).parent
            try:
                parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise ConfigError(
                    f"Cannot create the data directory {parent}: {exc.strerror}. "
                    "Choose another with --data-dir or LEAKSHIELD_DATA_DIR."
                ) from None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache: bulk imports into large indexes would thrash the 2 MiB default.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    return engine


def _schema_state(connection: Connection) -> SchemaState:
    head, revisions = _shipped_revisions()
    current = MigrationContext.configure(connection).get_current_revision()
    return SchemaState(current=current, head=head, known=current is None or current in revisions)


@functools.cache
def _shipped_revisions() -> tuple[str, frozenset[str]]:
    """The head revision and every revision this version ships (read once per process)."""
    scripts = ScriptDirectory.from_config(_alembic_config())
    head = scripts.get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head, frozenset(rev.revision for rev in scripts.walk_revisions())


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
