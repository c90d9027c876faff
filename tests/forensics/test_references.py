"""The reference store: the user's photos as local features, by bank, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from leakshield.forensics import ReferenceStore, reference_from_file, reference_from_rgb
from leakshield.media import MediaLimits
from leakshield.store import Database


@pytest.fixture
def store(database_url: str) -> Iterator[ReferenceStore]:
    database = Database(database_url)
    database.upgrade()
    try:
        yield ReferenceStore(database)
    finally:
        database.dispose()


def test_a_reference_keeps_features_and_pdq_but_no_pixels(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0412.png"
    Image.fromarray(skimage.data.astronaut()).save(path)
    reference = reference_from_file(path, MediaLimits())
    assert reference.title == "IMG_0412.png"
    assert reference.path == str(path.resolve())
    assert (reference.width, reference.height) == (512, 512)
    assert reference.pdq is not None and len(reference.pdq) == 64
    assert 100 <= len(reference.features) <= 320
    assert reference.features.descriptors.dtype == np.uint64
    assert not any(isinstance(v, np.ndarray) and v.ndim == 3 for v in vars(reference).values())


def test_store_round_trip_by_bank(store: ReferenceStore) -> None:
    astronaut = reference_from_rgb(skimage.data.astronaut(), title="a.jpg", sha256="a" * 64)
    coffee = reference_from_rgb(skimage.data.coffee(), title="c.jpg", sha256="c" * 64, path="/x")
    assert store.add("MY_PHOTOS", [astronaut, coffee]) == 2
    assert store.add("OTHER", [coffee]) == 1
    loaded = store.load("MY_PHOTOS")
    assert [r.title for r in loaded.references] == ["a.jpg", "c.jpg"]
    back = loaded.references[1]
    assert back.path == "/x" and back.pdq == coffee.pdq and back.sha256 == "c" * 64
    assert np.array_equal(back.features.points, coffee.features.points)
    assert np.array_equal(back.features.descriptors, coffee.features.descriptors)
    assert (back.features.width, back.features.height) == (
        coffee.features.width,
        coffee.features.height,
    )
    assert len(loaded.descriptors) == len(astronaut.features) + len(coffee.features)
    assert list(loaded.offsets) == [0, len(astronaut.features), len(loaded.descriptors)]
    assert store.count("OTHER") == 1 and store.count("NONE") == 0


def test_adding_the_same_photo_again_updates_it(store: ReferenceStore) -> None:
    first = reference_from_rgb(skimage.data.astronaut(), title="old.jpg", sha256="a" * 64)
    store.add("MY_PHOTOS", [first])
    moved = reference_from_rgb(
        skimage.data.astronaut(), title="new.jpg", sha256="a" * 64, path="/p"
    )
    store.add("MY_PHOTOS", [moved])
    (only,) = store.load("MY_PHOTOS").references
    assert (only.title, only.path) == ("new.jpg", "/p")
    assert store.remove("MY_PHOTOS") == 1
    assert len(store.load("MY_PHOTOS")) == 0


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_a_big_jpeg_is_described_upright_at_its_full_size(tmp_path: Path, orientation: int) -> None:
    """A JPEG is decoded at a reduced scale for speed; its size, orientation and features
    must still be those of the full photo as seen, so that a crop of it is placed right."""
    from PIL import ImageOps

    from leakshield.forensics import ReferenceSet
    from leakshield.forensics._match import describe_suspect, find_sources

    pixels = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((3000, 2250)))
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "big.jpg"
    image.save(path, quality=90, exif=exif)
    reference = reference_from_file(path, MediaLimits())
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    assert (reference.width, reference.height) == (upright.shape[1], upright.shape[0])
    assert max(reference.features.width, reference.features.height) == 1024
    top, left = upright.shape[0] // 4, upright.shape[1] // 5
    crop = np.ascontiguousarray(upright[top : 3 * top, left : 4 * left])
    (match,) = find_sources(describe_suspect(crop), ReferenceSet([reference]))
    assert abs(match.scale - 1) < 0.02
    assert np.allclose(match.transform[:, 2], [-left, -top], atol=12)
