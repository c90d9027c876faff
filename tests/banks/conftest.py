"""Bank stores on both backends, fresh for each test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakshield.banks import BankStore
from leakshield.store import Database
from tests._postgres import PostgresServer


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend. On PostgreSQL it is a fresh schema of the suite's
    server: creating one costs milliseconds where a whole database costs a quarter second."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'leakshield.db'}"
        return
    with _fresh_schema(request.getfixturevalue("postgres")) as url:
        yield url


@pytest.fixture
def store(bank_database_url: str) -> Iterator[BankStore]:
    """A migrated, empty bank store."""
    with _migrated(bank_database_url) as migrated:
        yield migrated


@pytest.fixture
def other_store(
    request: pytest.FixtureRequest, store: BankStore, tmp_path: Path
) -> Iterator[BankStore]:
    """A second, separate database on the same backend as `store`."""
    with contextlib.ExitStack() as stack:
        if store.database.backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'other' / 'leakshield.db'}"
        else:
            url = stack.enter_context(_fresh_schema(request.getfixturevalue("postgres")))
        yield stack.enter_context(_migrated(url))


@contextlib.contextmanager
def _migrated(url: str) -> Iterator[BankStore]:
    database = Database(url)
    database.upgrade()
    try:
        yield BankStore(database)
    finally:
        database.dispose()


@contextlib.contextmanager
def _fresh_schema(server: PostgresServer) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _execute(server, f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{server.url()}?options=-csearch_path%3D{schema}"
    finally:
        _execute(server, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _execute(server: PostgresServer, statement: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=server.port, user="leakshield", dbname="postgres", autocommit=True
    ) as connection:
        connection.execute(statement)  # type: ignore[arg-type]
