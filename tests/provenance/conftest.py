"""Shared fixtures of the provenance tests: an identity, a watermark key, photos, a repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from leakshield.provenance import Identity, ManifestRepository, create_identity
from leakshield.store import Database
from leakshield.watermark import WatermarkKey


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return create_identity(tmp_path_factory.mktemp("identity") / "identity")


@pytest.fixture(scope="session")
def watermark_key() -> WatermarkKey:
    return WatermarkKey.generate()


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Benign photos in the formats C2PA signs, and files it cannot."""
    root = tmp_path_factory.mktemp("photos")
    astronaut = Image.fromarray(skimage.data.astronaut()).resize((640, 600))
    astronaut.save(root / "astronaut.jpg", quality=92)
    coffee = Image.fromarray(skimage.data.coffee()).resize((700, 520))
    coffee.save(root / "coffee.png")
    chelsea = Image.fromarray(skimage.data.chelsea()).resize((680, 560))
    chelsea.save(root / "chelsea.webp", quality=90)
    chelsea.save(root / "chelsea.tif")
    chelsea.save(root / "chelsea.bmp")
    (root / "notes.jpg").write_text("not an image at all")
    return {path.name: path for path in root.iterdir()}


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[ManifestRepository]:
    database = Database(f"sqlite:///{tmp_path / 'repo.db'}")
    database.upgrade()
    try:
        yield ManifestRepository(database)
    finally:
        database.dispose()
