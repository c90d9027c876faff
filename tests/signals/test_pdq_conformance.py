"""PDQ agrees with Meta's C++ reference on the shared conformance set."""

from __future__ import annotations

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from leakshield.media import MediaLimits, decode_luma
from leakshield.signals import (
    MATCH_DISTANCE,
    TRANSFORMS,
    PdqHash,
    pdq_dihedral_from_file,
    pdq_from_file,
    pdq_from_luma,
)
from tests.signals.conftest import PDQ_DIR, PdqCase, pdq_cases

LIMITS = MediaLimits()
CASES = pdq_cases()
# The reference column is computed without EXIF transposition; we hash upright images.
NAME = PdqCase.name.fget
ROTATED = {"exif-rotn-3.jpg", "exif-rotn-6.jpg", "exif-rotn-8.jpg"}


def _reference(rgb: np.ndarray) -> tuple[PdqHash, int]:
    """The C++ reference (the pdqhash binding) on an RGB array."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return PdqHash(np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()), int(quality)


@pytest.mark.parametrize("case", [c for c in CASES if c.path.name not in ROTATED], ids=NAME)
def test_hash_is_within_10_of_the_reference(case: PdqCase) -> None:
    result = pdq_from_file(case.path, LIMITS)
    if case.quality >= 80:
        assert result.hash - PdqHash.parse(case.expected) <= 10
    assert abs(result.quality - case.quality) <= 1


@pytest.mark.parametrize("case", [c for c in CASES if c.path.name in ROTATED], ids=NAME)
def test_exif_rotated_photos_are_hashed_upright(case: PdqCase) -> None:
    upright = ImageOps.exif_transpose(Image.open(case.path)).convert("RGB")
    expected, _ = _reference(np.asarray(upright))
    result = pdq_from_file(case.path, LIMITS)
    assert result.hash - expected <= 10
    # ...and, stored sideways, it is still found through its dihedral hashes.
    variants, _ = pdq_dihedral_from_file(case.path, LIMITS)
    assert min(v - PdqHash.parse(case.expected) for v in variants.values()) <= 10


@pytest.mark.parametrize("case", CASES, ids=NAME)
def test_full_resolution_is_the_reference_bit_for_bit(case: PdqCase) -> None:
    # Without the reduced-scale JPEG decode, the same luma gives exactly the reference.
    luma = decode_luma(case.path, LIMITS)
    rgb = ImageOps.exif_transpose(Image.open(case.path)).convert("RGB")
    if luma.orientation == 1 and Image.open(case.path).mode in ("RGB", "L", "RGBA", "LA"):
        expected, quality = _reference(np.asarray(rgb))
        result = pdq_from_luma(luma)
        assert result.hash - expected == 0
        assert result.quality == quality


def test_every_colour_mode_file_hashes_like_the_original() -> None:
    original = pdq_from_file(PDQ_DIR / "misc-images" / "modes" / "original.jpg", LIMITS)
    modes = sorted((PDQ_DIR / "misc-images" / "modes").iterdir())
    assert len(modes) >= 13
    for path in modes:
        assert pdq_from_file(path, LIMITS).hash - original.hash <= 10, path.name


@pytest.mark.parametrize(
    "name", ["misc-images/small.jpg", "reg-test-input/labelme-subset/q0003.jpg"]
)
def test_small_and_featureless_images_are_marked_unusable(name: str) -> None:
    result = pdq_from_file(PDQ_DIR / name, LIMITS)
    assert result.quality < 50
    assert not result.usable


def test_bridge_variants_match_the_original_and_unrelated_images_do_not() -> None:
    folder = PDQ_DIR / "bridge-mods"
    original = pdq_from_file(folder / "aaa-orig.jpg", LIMITS).hash
    for path in sorted(folder.iterdir()):
        assert pdq_from_file(path, LIMITS).hash - original <= MATCH_DISTANCE, path.name
    unrelated = sorted((PDQ_DIR / "reg-test-input" / "labelme-subset").glob("*.jpg"))
    unrelated += [PDQ_DIR / "reg-test-input" / "pen-and-coaster.png", PDQ_DIR / "misc-images/c.png"]
    for path in unrelated:
        assert pdq_from_file(path, LIMITS).hash - original > MATCH_DISTANCE, path.name


def test_dihedral_copies_match_the_original_only_through_dihedral_hashes() -> None:
    folder = PDQ_DIR / "reg-test-input" / "dih"
    original, _ = pdq_dihedral_from_file(folder / "bridge-1-original.jpg", LIMITS)
    for path in sorted(folder.glob("bridge-[2-8]-*.jpg")):
        copy = pdq_from_file(path, LIMITS).hash
        assert copy - original["original"] > MATCH_DISTANCE, path.name
        assert min(v - copy for v in original.values()) <= 10, path.name


def test_dihedral_hashes_agree_with_the_reference() -> None:
    path = PDQ_DIR / "reg-test-input" / "dih" / "bridge-1-original.jpg"
    bits, _ = pdqhash.compute_dihedral(np.asarray(Image.open(path).convert("RGB")))
    expected = [PdqHash(np.packbits(np.asarray(b, dtype=np.uint8)).tobytes()) for b in bits]
    ours, _ = pdq_dihedral_from_file(path, LIMITS)
    assert list(ours) == list(TRANSFORMS)
    for name, reference in zip(TRANSFORMS, expected, strict=True):
        assert ours[name] - reference <= 4, name
