"""Shared fixtures of the provenance tests: an identity, a watermark key, photos, a repository."""

from __future__ import annotations

from pathlib import Path

import pytest
import skimage.data
from PIL import Image


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
