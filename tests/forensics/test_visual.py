"""Visual aids: error level and noise maps show a pasted region, line up with the picture as
shown, and are never scored as evidence."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from numpy.typing import NDArray
from PIL import Image, ImageOps

from leakshield.forensics import AnalysisContext, Direction, Finding, Strength, analyze
from leakshield.forensics._analyzers import visual

AIDS = ["error-level", "noise-residual"]
PATCH = (slice(128, 256), slice(192, 320))  # on the 16-pixel JPEG grid


def _jpeg(pixels: NDArray[np.uint8], quality: int) -> NDArray[np.uint8]:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return np.array(Image.open(buffer).convert("RGB"))


def _only(path: Path, name: str, context: AnalysisContext | None = None) -> Finding:
    (finding,) = analyze(path, context or AnalysisContext(), only=[name]).findings
    return finding


def _map(finding: Finding) -> NDArray[np.float64]:
    """The finding's picture as brightness (the heat map's colours rise with brightness)."""
    (image,) = finding.images
    return np.asarray(Image.open(io.BytesIO(image.png)).convert("L"), dtype=np.float64)


def _inside_outside(values: NDArray[np.float64]) -> tuple[float, float]:
    mask = np.zeros(values.shape, dtype=bool)
    mask[PATCH] = True
    return float(values[mask].mean()), float(values[~mask].mean())


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("visual") / "astronaut.jpg"
    Image.fromarray(skimage.data.astronaut()).save(path, quality=85)
    return path


@pytest.mark.parametrize(("background", "patch"), [(70, 98), (90, None)])
def test_error_levels_show_a_patch_with_another_compression_history(
    tmp_path: Path, background: int, patch: int | None
) -> None:
    source = skimage.data.astronaut()
    composite = _jpeg(source, background)
    pasted = source if patch is None else _jpeg(source, patch)
    composite[PATCH] = pasted[PATCH]
    path = tmp_path / "composite.png"
    Image.fromarray(composite).save(path)

    inside, outside = _inside_outside(_map(_only(path, "error-level")))
    assert inside > 2.5 * outside


def test_noise_map_shows_a_patch_smoother_than_the_rest(tmp_path: Path) -> None:
    source = skimage.data.astronaut()
    noise = np.random.default_rng(1).normal(0, 8, source.shape)
    composite = np.clip(source + noise, 0, 255).astype(np.uint8)
    composite[PATCH] = source[PATCH]  # as if pasted from a denoised or generated picture
    path = tmp_path / "composite.png"
    Image.fromarray(composite).save(path)

    inside, outside = _inside_outside(_map(_only(path, "noise-residual")))
    assert inside < 0.6 * outside


@pytest.mark.parametrize("name", AIDS)
def test_visual_aids_are_pictures_never_evidence(photo: Path, name: str) -> None:
    finding = _only(photo, name)
    assert finding.error is None
    assert finding.strength is Strength.NONE
    assert finding.direction is Direction.INFORMATIONAL
    assert "not evidence" in finding.summary
    assert "does not show that an image is unedited" in finding.explanation
    (image,) = finding.images
    picture = Image.open(io.BytesIO(image.png))
    assert picture.format == "PNG"
    assert picture.size == (512, 512)
    assert image.caveat
    assert "not a score" in finding.evidence["descriptive"]["note"]
    assert finding.evidence["scale"] > 1


def test_error_level_explanation_carries_its_authors_caveat(photo: Path) -> None:
    finding = _only(photo, "error-level")
    assert "JPEG error level potential" in finding.explanation
    assert "does not identify the cause" in finding.explanation
    assert finding.evidence["jpeg_quality"] == 90


def test_noise_explanation_names_what_else_changes_noise(photo: Path) -> None:
    explanation = _only(photo, "noise-residual").explanation
    for cause in ("resizing", "filters", "denoising", "compression"):
        assert cause in explanation


@pytest.mark.parametrize("name", AIDS)
def test_no_pictures_when_not_asked(photo: Path, name: str) -> None:
    finding = _only(photo, name, AnalysisContext(images=False))
    assert finding.images == ()
    assert finding.evidence["width"] == 512
    assert finding.strength is Strength.NONE


@pytest.mark.parametrize("orientation", range(1, 9))
def test_error_level_map_lines_up_with_the_picture_as_shown(
    tmp_path: Path, orientation: int
) -> None:
    # A flat picture re-saves almost unchanged, except a noisy corner that lights up.
    stored = np.full((64, 96, 3), 128, dtype=np.uint8)
    stored[:16, :16] = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "turned.png"  # lossless, so only the re-save makes error levels
    Image.fromarray(stored).save(path, exif=exif)
    marked = np.zeros((64, 96), dtype=np.uint8)
    marked[:16, :16] = 255
    mask_path = tmp_path / "mask.png"
    Image.fromarray(marked).save(mask_path, exif=exif)
    with Image.open(mask_path) as mask_image:
        upright_mask = np.asarray(ImageOps.exif_transpose(mask_image)) > 0

    values = _map(_only(path, "error-level"))
    assert values.shape == upright_mask.shape
    assert values[upright_mask].mean() > 4 * values[~upright_mask].mean() + 1


@pytest.mark.parametrize("name", AIDS)
def test_a_large_image_is_mapped_in_part_or_scaled_with_a_note(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(visual, "MAX_MAP_PIXELS", 128 * 128)
    path = tmp_path / "large.png"
    Image.fromarray(skimage.data.astronaut()).save(path)
    finding = _only(path, name)
    assert finding.evidence["width"] * finding.evidence["height"] <= 128 * 128
    assert "large" in finding.explanation
    assert finding.evidence["examined"] != "the whole image at its own resolution"
    if name == "error-level":  # a crop keeps the JPEG grid; scaling would not
        assert finding.evidence["width"] % 16 == 0
        assert finding.evidence["height"] % 16 == 0


def test_without_pixels_the_aids_say_they_could_not_examine(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    findings = analyze(path, AnalysisContext(), only=AIDS).findings
    assert [f.analyzer for f in findings] == AIDS
    for finding in findings:
        assert finding.error is not None
        assert finding.error["code"] == "no-pixels"
        assert finding.strength is Strength.NONE
        assert finding.images == ()


def test_error_levels_keep_the_jpeg_grid_of_a_turned_photo(tmp_path: Path) -> None:
    # Sides that are not multiples of 16: turning the picture would move the block grid.
    pixels = skimage.data.astronaut()[:300, :500]
    levels = []
    for orientation in (1, 3, 6):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"turned-{orientation}.jpg"
        Image.fromarray(pixels).save(path, quality=90, exif=exif)
        finding = _only(path, "error-level", AnalysisContext(images=False))
        levels.append(finding.evidence["descriptive"]["mean"])
    assert levels[0] == levels[1] == levels[2]
