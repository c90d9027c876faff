"""Derivation: the user's photo found in crops, flips, resizes, re-saves, edits and
composites, what differs mapped, and no photo claimed for unrelated images."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from numpy.typing import NDArray
from PIL import Image

from leakshield.forensics import (
    AnalysisContext,
    Direction,
    Finding,
    ReferenceSet,
    Strength,
    analyze,
    reference_from_file,
)
from leakshield.forensics._diffmap import difference
from leakshield.forensics._match import describe_suspect, find_sources
from leakshield.media import MediaLimits

Pixels = NDArray[np.uint8]


def _rgb(image: NDArray[np.generic]) -> Pixels:
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = (255 * (pixels - pixels.min()) / max(np.ptp(pixels), 1e-9)).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return np.ascontiguousarray(pixels[..., :3])


def _jpeg(pixels: Pixels, quality: int = 85) -> Pixels:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The user's photos, saved where protect would have found them."""
    root = tmp_path_factory.mktemp("my-photos")
    images = {
        "IMG_0412.png": skimage.data.astronaut(),
        "IMG_0413.png": cv2.resize(skimage.data.coffee(), (720, 540)),
        "IMG_0414.png": cv2.resize(skimage.data.rocket(), (640, 852)),
    }
    for name, pixels in images.items():
        Image.fromarray(pixels).save(root / name)
    return {name: root / name for name in images}


@pytest.fixture(scope="module")
def references(photos: dict[str, Path]) -> ReferenceSet:
    limits = MediaLimits()
    return ReferenceSet([reference_from_file(p, limits) for p in photos.values()], bank="MY")


def _derivation(path: Path, references: ReferenceSet, **context: object) -> list[Finding]:
    analysis = analyze(
        path,
        AnalysisContext(references=references, **context),
        only=["derivation"],  # type: ignore[arg-type]
    )
    return list(analysis.findings)


def _save(tmp_path: Path, pixels: Pixels, name: str = "suspect.jpg") -> Path:
    path = tmp_path / name
    Image.fromarray(np.ascontiguousarray(pixels)).save(path, quality=88)
    return path


def _astronaut() -> Pixels:
    return np.asarray(skimage.data.astronaut())


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda a: a[60:400, 80:420], id="crop-44pct"),
        pytest.param(lambda a: a[128:384, 128:384], id="crop-25pct"),
        pytest.param(lambda a: a[:, ::-1], id="flip"),
        pytest.param(lambda a: cv2.resize(a, (900, 900)), id="upscale"),
        pytest.param(lambda a: cv2.resize(a, (300, 240)), id="squash"),
        pytest.param(lambda a: _jpeg(cv2.resize(a[40:500, 0:400], (260, 300)), 40), id="chain"),
    ],
)
def test_derivatives_name_the_photo_they_were_made_from(
    tmp_path: Path, references: ReferenceSet, make: object
) -> None:
    suspect = _save(tmp_path, make(_astronaut()))  # type: ignore[operator]
    (finding,) = _derivation(suspect, references)
    assert finding.direction == Direction.MADE_FROM_YOUR_PHOTO
    assert finding.strength in (Strength.STRONG, Strength.MODERATE)
    assert finding.evidence["your_photo"] == "IMG_0412.png"
    assert "made from your photo 'IMG_0412.png'" in finding.summary


def test_a_flip_and_a_crop_are_said_in_words(tmp_path: Path, references: ReferenceSet) -> None:
    suspect = _save(tmp_path, np.ascontiguousarray(_astronaut()[100:400, 100:420][:, ::-1]))
    (finding,) = _derivation(suspect, references)
    assert finding.evidence["flipped"] is True
    # The finding may be shared: it names the photo, never where it lives on this machine.
    assert str(references.references[0].path) not in repr(finding.to_record())
    assert "flipped left to right" in finding.summary
    assert "showing about" in finding.summary
    assert "No region differs" in finding.summary


def test_a_replaced_region_is_found_and_mapped(tmp_path: Path, references: ReferenceSet) -> None:
    edited = _astronaut().copy()
    patch = cv2.resize(skimage.data.chelsea()[50:250, 100:350], (180, 160))
    edited[60:220, 150:330] = patch
    suspect = _save(tmp_path, edited)
    (finding,) = _derivation(suspect, references, images=True)
    assert finding.strength == Strength.STRONG
    regions = finding.evidence["changed_regions"]
    assert isinstance(regions, list) and len(regions) == 1
    box = regions[0]
    assert abs(box["x"] - 150) < 20 and abs(box["y"] - 60) < 20
    assert abs(box["width"] - 180) < 30 and abs(box["height"] - 160) < 30
    assert "upper centre" in finding.summary and "the rest matches" in finding.summary
    names = [image.name for image in finding.images]
    assert names == ["derivation-regions", "derivation-difference"]
    assert all(image.png.startswith(b"\x89PNG") for image in finding.images)


def test_the_changed_mask_overlaps_the_true_region(references: ReferenceSet) -> None:
    original = _astronaut()
    edited = original.copy()
    edited[300:460, 40:250] = cv2.resize(skimage.data.coffee(), (210, 160))
    truth = np.zeros(edited.shape[:2], bool)
    truth[300:460, 40:250] = True
    suspect = _jpeg(cv2.resize(edited, (700, 700)), 80)
    truth = cv2.resize(truth.astype(np.uint8), (700, 700), interpolation=cv2.INTER_NEAREST) > 0
    (match, *_) = find_sources(describe_suspect(suspect), references)
    diff = difference(suspect, original, match.transform, match.points)
    mask = diff.changed_mask(700, 700)
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou >= 0.7


def test_a_region_pasted_into_another_picture_is_partial_reuse(
    tmp_path: Path, references: ReferenceSet
) -> None:
    background = cv2.resize(np.asarray(skimage.data.chelsea()), (800, 600))
    background[100:400, 250:550] = _astronaut()[20:320, 100:400]
    findings = _derivation(_save(tmp_path, background), references)
    assert [f.evidence["your_photo"] for f in findings] == ["IMG_0412.png"]
    assert "Only part of your photo appears" in findings[0].summary


@pytest.mark.parametrize(
    "pixels",
    [
        pytest.param(lambda: _rgb(skimage.data.chelsea()), id="chelsea"),
        pytest.param(lambda: _rgb(skimage.data.immunohistochemistry()), id="ihc"),
        pytest.param(lambda: _rgb(skimage.data.camera()), id="camera"),
        pytest.param(lambda: _rgb(skimage.data.coins()), id="coins"),
        pytest.param(lambda: _rgb(skimage.data.brick()), id="brick"),
        pytest.param(
            lambda: np.random.default_rng(7).integers(0, 256, (400, 500, 3), dtype=np.uint8),
            id="noise",
        ),
    ],
)
def test_unrelated_images_claim_no_photo(
    tmp_path: Path, references: ReferenceSet, pixels: object
) -> None:
    (finding,) = _derivation(_save(tmp_path, pixels()), references)  # type: ignore[operator]
    assert finding.strength == Strength.NONE
    assert finding.direction == Direction.INFORMATIONAL
    assert "None of your 3 photos in bank MY" in finding.summary
    assert "does not show" in finding.explanation


def test_without_the_original_the_match_stands_without_a_map(
    tmp_path: Path, photos: dict[str, Path]
) -> None:
    moved = tmp_path / "moved.png"
    moved.write_bytes(photos["IMG_0413.png"].read_bytes())
    references = ReferenceSet([reference_from_file(moved, MediaLimits())])
    moved.unlink()
    suspect = _save(tmp_path, np.asarray(Image.open(photos["IMG_0413.png"]))[50:450, 100:600])
    (finding,) = _derivation(suspect, references, images=True)
    assert finding.direction == Direction.MADE_FROM_YOUR_PHOTO
    assert "no longer where it was registered" in str(finding.evidence["difference_map"])
    assert finding.images == ()
    assert "changed_regions" not in finding.evidence


def test_a_changed_original_is_not_used_for_the_map(
    tmp_path: Path, photos: dict[str, Path]
) -> None:
    copy = tmp_path / "mine.png"
    Image.open(photos["IMG_0414.png"]).save(copy)
    references = ReferenceSet([reference_from_file(copy, MediaLimits())])
    Image.open(photos["IMG_0414.png"]).rotate(3).save(copy)  # edited since registered
    suspect = _save(tmp_path, np.asarray(Image.open(photos["IMG_0414.png"]))[100:700, 50:600])
    (finding,) = _derivation(suspect, references)
    assert "has changed since it was registered" in str(finding.evidence["difference_map"])


def test_no_registered_photos_is_said_plainly(tmp_path: Path) -> None:
    suspect = _save(tmp_path, _astronaut())
    for references in (None, ReferenceSet([])):
        (finding,) = _derivation(suspect, references)  # type: ignore[arg-type]
        assert finding.strength == Strength.NONE
        assert finding.summary.startswith("Not checked")
