"""Fixtures both the provenance and the forensics tests use: a signing identity for the
session, the user's watermark key, and an empty manifest repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leakshield.provenance import Identity, ManifestRepository, create_identity
from leakshield.store import Database
from leakshield.watermark import WatermarkKey


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    """A signing identity (local CA and signer) for the whole session."""
    return create_identity(tmp_path_factory.mktemp("identity") / "identity")


@pytest.fixture(scope="session")
def watermark_key() -> WatermarkKey:
    """The user's watermark key."""
    return WatermarkKey.generate()


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[ManifestRepository]:
    """An empty manifest repository in its own database."""
    database = Database(f"sqlite:///{tmp_path / 'repository.db'}")
    database.upgrade()
    try:
        yield ManifestRepository(database)
    finally:
        database.dispose()
