"""The store on both backends: migrations, integrity, health, and clear failures."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, inspect, text
from sqlalchemy.exc import IntegrityError

from leakshield.errors import ConfigError, DatabaseUnavailableError
from leakshield.store import Base, Database, normalize_url


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    yield db
    db.dispose()


def test_upgrade_brings_an_empty_database_to_the_latest_revision(database: Database) -> None:
    before = database.schema_state()
    assert before.current is None
    assert not before.up_to_date

    after = database.upgrade()

    assert after.up_to_date
    assert after.current == after.head
    assert "alembic_version" in inspect(database.engine).get_table_names()


def test_upgrade_again_changes_nothing(database: Database) -> None:
    first = database.upgrade()
    second = database.upgrade()
    assert second == first


def test_downgrade_to_base_and_back(database: Database) -> None:
    database.upgrade()
    assert database.downgrade("base").current is None
    assert database.upgrade().up_to_date


def test_models_and_migrations_agree(database: Database) -> None:
    """A model changed without a migration (or the reverse) fails here, on both backends."""
    database.upgrade()
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_foreign_keys_are_enforced(database: Database) -> None:
    metadata = MetaData()
    parent = Table("t_parent", metadata, Column("id", Integer, primary_key=True))
    child = Table(
        "t_child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey("t_parent.id"), nullable=False),
    )
    metadata.create_all(database.engine)
    with database.session() as session:
        session.execute(parent.insert().values(id=1))
        session.execute(child.insert().values(id=1, parent_id=1))
    with pytest.raises(IntegrityError), database.session() as session:
        session.execute(child.insert().values(id=2, parent_id=999))


def test_session_rolls_back_when_the_block_raises(database: Database) -> None:
    metadata = MetaData()
    table = Table("t_items", metadata, Column("id", Integer, primary_key=True))
    metadata.create_all(database.engine)
    with pytest.raises(RuntimeError), database.session() as session:
        session.execute(table.insert().values(id=1))
        raise RuntimeError("boom")
    with database.session() as session:
        assert session.execute(text("SELECT count(*) FROM t_items")).scalar_one() == 0


def _upgrade_in_another_process(url: str) -> str | None:
    db = Database(url)
    try:
        return db.upgrade().current
    finally:
        db.dispose()


def test_concurrent_upgrades_from_several_processes_agree(database_url: str) -> None:
    """Several workers starting at once each migrate; none fails and all end at head."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=3, mp_context=context) as pool:
        revisions = list(pool.map(_upgrade_in_another_process, [database_url] * 3))
    db = Database(database_url)
    assert revisions == [db.schema_state().head] * 3
    assert db.schema_state().up_to_date
    db.dispose()


def test_a_schema_from_a_newer_version_is_refused(database: Database) -> None:
    database.upgrade()
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    state = database.schema_state()
    assert state.from_newer_version
    with pytest.raises(ConfigError, match="newer leakshield"):
        database.upgrade()


def test_sqlite_uses_wal_and_creates_its_directory_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "leakshield.db"
    db = Database(f"sqlite:///{path}")
    assert not path.parent.exists(), "opening a Database must not write anything"
    db.ping()
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    assert path.exists()
    db.dispose()


def test_sqlite_in_an_uncreatable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    db = Database(f"sqlite:///{blocker / 'sub' / 'leakshield.db'}")
    with pytest.raises((ConfigError, DatabaseUnavailableError), match="--data-dir"):
        db.ping()


def test_unreachable_postgresql_is_a_clear_error_without_the_password(
    unreachable_database_url: str,
) -> None:
    db = Database(unreachable_database_url)
    with pytest.raises(DatabaseUnavailableError) as caught:
        db.ping()
    message = caught.value.message
    assert "Cannot connect" in message
    assert "LEAKSHIELD_DATABASE_URL" in message
    assert "s3cret" not in message
    assert "***" in message


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_postgresql_urls_use_psycopg(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


def test_an_unsupported_database_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="Unsupported database"):
        Database("mysql://u@h/db")
