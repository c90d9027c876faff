"""Decoding every Pillow mode, HEIC/AVIF, animations and EXIF orientations.

Every image here is generated from scikit-image's bundled samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pillow_heif
import pytest
import skimage.data
from numpy.typing import NDArray
from PIL import Image

from leakshield.media import MediaLimits, decode_luma, detect_media_type
from leakshield.media._image import _to_luma
from leakshield.signals import PdqHash, hash_file, pdq_from_file, pdq_from_plane
from tests.media.test_hostile import _coffee, _luma_reference

# --- every Pillow mode, and other formats --------------------------------------------

_BASE = _coffee()
_BASE_LUMA = _luma_reference(_BASE)


def _in_mode(mode: str) -> Image.Image:
    if mode.startswith("I;16"):
        wide = np.round(_BASE_LUMA).astype(np.uint16) * np.uint16(257)
        dtype = ">u2" if mode == "I;16B" else "<u2"
        return Image.frombytes(mode, _BASE.size, wide.astype(dtype).tobytes())
    if mode in ("I", "F"):
        return _BASE.convert("L").convert(mode)
    if mode == "PA":
        return _BASE.convert("P").convert("PA")
    if mode == "La":
        return _BASE.convert("LA").convert("La")
    return _BASE.convert(mode)


def _check_plane(plane: NDArray[np.float32]) -> None:
    assert plane.dtype == np.float32
    assert plane.shape == _BASE_LUMA.shape
    assert np.isfinite(plane).all()
    assert plane.min() >= 0
    assert plane.max() <= 255
    # Dithering ("1") and palettes ("P") move pixels but keep the brightness overall.
    assert abs(float(plane.mean()) - float(_BASE_LUMA.mean())) < 4


@pytest.fixture(scope="module")
def reference_pdq(tmp_path_factory: pytest.TempPathFactory) -> PdqHash:
    path = tmp_path_factory.mktemp("reference") / "reference.png"
    _BASE.save(path)
    return pdq_from_file(path, MediaLimits()).hash


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("1", "PNG"),
        ("L", "PNG"),
        ("LA", "PNG"),
        ("P", "PNG"),
        ("PA", "TIFF"),
        ("I", "TIFF"),
        ("I;16", "PNG"),
        ("I;16", "TIFF"),
        ("F", "TIFF"),
        ("CMYK", "JPEG"),
        ("CMYK", "TIFF"),
        ("YCbCr", "TIFF"),
        ("LAB", "TIFF"),
        ("RGB", "PNG"),
        ("RGB", "JPEG"),
        ("RGB", "WEBP"),
        ("RGBA", "PNG"),
        ("RGBA", "TIFF"),
        ("RGBA", "WEBP"),
    ],
)
def test_every_pillow_mode_decodes_from_a_file(
    tmp_path: Path, mode: str, fmt: str, reference_pdq: PdqHash
) -> None:
    path = tmp_path / f"picture.{fmt.lower()}"
    _in_mode(mode).save(path, format=fmt)
    luma = decode_luma(path, MediaLimits())
    if fmt != "WEBP":  # WebP stores RGB(A) whatever it was given
        assert luma.mode == mode
    _check_plane(luma.plane)
    assert (luma.full_width, luma.full_height) == _BASE.size
    pdq = pdq_from_file(path, MediaLimits())
    assert pdq.usable
    assert pdq.hash - reference_pdq <= 16


_ALL_MODES = ["1", "L", "LA", "La", "P", "PA", "I", "I;16", "I;16B", "I;16L", "F", "CMYK"]
_ALL_MODES += ["YCbCr", "LAB", "HSV", "RGB", "RGBA", "RGBa", "RGBX"]


@pytest.mark.parametrize("mode", _ALL_MODES)
def test_every_pillow_mode_converts_in_memory(mode: str, reference_pdq: PdqHash) -> None:
    image = _in_mode(mode)
    assert image.mode == mode
    plane = _to_luma(image)
    _check_plane(plane)
    assert pdq_from_plane(plane).hash - reference_pdq <= 16


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif_decode_at_their_size(
    tmp_path: Path, fmt: str, reference_pdq: PdqHash
) -> None:
    pillow_heif.register_heif_opener()
    path = tmp_path / ("picture.heic" if fmt == "HEIF" else "picture.avif")
    _BASE.save(path, format=fmt)
    assert detect_media_type(path, MediaLimits()) == "image"
    luma = decode_luma(path, MediaLimits())
    assert luma.format == fmt
    assert luma.plane.shape == (160, 240)
    assert (luma.full_height, luma.full_width) == (160, 240)
    _check_plane(luma.plane)
    hashes = hash_file(path)
    assert hashes.media_type == "image"
    assert hashes.pdq is not None
    assert hashes.pdq.usable
    assert hashes.pdq.hash - reference_pdq <= 16


@pytest.mark.parametrize(
    ("fmt", "options"), [("GIF", {}), ("WEBP", {"lossless": True}), ("PNG", {})]
)
def test_an_animation_is_hashed_from_its_first_frame(
    tmp_path: Path, fmt: str, options: dict[str, object]
) -> None:
    first = _BASE.convert("L")
    second = Image.fromarray(255 - np.asarray(first))
    path = tmp_path / f"animated.{fmt.lower()}"
    first.convert("RGB").save(
        path,
        format=fmt,
        save_all=True,
        append_images=[second.convert("RGB")],
        duration=100,
        loop=0,
        **options,
    )
    with Image.open(path) as check:
        assert check.n_frames == 2
    luma = decode_luma(path, MediaLimits())
    first_mean = float(np.asarray(first, dtype=np.float32).mean())
    second_mean = float(np.asarray(second, dtype=np.float32).mean())
    assert abs(first_mean - second_mean) > 20
    assert float(luma.plane.mean()) == pytest.approx(first_mean, abs=1.0)
    assert float(np.abs(luma.plane - np.asarray(first, dtype=np.float32)).mean()) < 1.0
    assert hash_file(path).media_type == "image"


# EXIF orientation -> what turns the upright picture into the stored one.
_STORED_AS: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _save_with_orientation(image: Image.Image, path: Path, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, "JPEG", quality=95, exif=exif.tobytes())


@pytest.mark.parametrize(
    ("orientation", "size"),
    [*((o, (451, 300)) for o in range(1, 9)), (6, (1800, 1200)), (8, (2001, 1501))],
)
def test_exif_orientation_gives_the_upright_hash(
    tmp_path: Path, orientation: int, size: tuple[int, int]
) -> None:
    upright = Image.fromarray(skimage.data.chelsea()).resize(size)
    upright.save(tmp_path / "upright.jpg", quality=95)
    transpose = _STORED_AS[orientation]
    stored = upright if transpose is None else upright.transpose(transpose)
    _save_with_orientation(stored, tmp_path / "oriented.jpg", orientation)
    stored.save(tmp_path / "stored.jpg", quality=95)

    limits = MediaLimits()
    expected = pdq_from_file(tmp_path / "upright.jpg", limits).hash
    assert pdq_from_file(tmp_path / "oriented.jpg", limits).hash - expected <= 10
    if orientation != 1:
        # Without its EXIF the stored picture hashes far away: the test means something.
        assert pdq_from_file(tmp_path / "stored.jpg", limits).hash - expected > 31


def test_an_invalid_exif_orientation_is_ignored(tmp_path: Path) -> None:
    picture = Image.fromarray(skimage.data.chelsea())
    picture.save(tmp_path / "plain.jpg", quality=95)
    _save_with_orientation(picture, tmp_path / "odd.jpg", 9)
    limits = MediaLimits()
    odd = pdq_from_file(tmp_path / "odd.jpg", limits)
    assert odd.hash - pdq_from_file(tmp_path / "plain.jpg", limits).hash <= 2


@pytest.mark.parametrize("size", [(2000, 1500), (2001, 1501), (4033, 3025)])
def test_a_large_jpeg_of_any_size_hashes_as_at_full_resolution(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    path = tmp_path / "large.jpg"
    Image.fromarray(skimage.data.chelsea()).resize(size, Image.Resampling.BILINEAR).save(
        path, quality=90
    )
    with Image.open(path) as image:
        full = pdq_from_plane(np.asarray(image.convert("L"), dtype=np.float32))
    reduced = pdq_from_file(path, MediaLimits())
    assert reduced.quality == full.quality
    assert reduced.hash - full.hash <= 8
