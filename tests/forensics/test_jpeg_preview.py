"""JPEG history, EXIF preview: matches, changed in places, replaced, cropped, rotated."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakshield.forensics import AnalysisContext, Direction, Finding, Strength, load_subject
from leakshield.forensics._analyzers.jpeg import jpeg_history
from leakshield.media import MediaLimits
from tests.forensics._jpeg_samples import (
    Pixels,
    decode,
    encode,
    exif_with_preview,
    photo,
    preview_of,
    run,
    with_preview,
)

PREVIEW = "EXIF preview against the image"


def preview_finding(findings: list[Finding]) -> Finding:
    matching = [f for f in findings if f.examined == PREVIEW]
    assert len(matching) == 1, [f.summary for f in findings]
    return matching[0]


@pytest.fixture(scope="module")
def original() -> Pixels:
    """A 4:3 photo, as a camera would frame it."""
    return np.ascontiguousarray(photo("hubble_deep_field")[:600, :800])


def pasted(pixels: Pixels) -> Pixels:
    """``pixels`` with another photo's patch pasted over 18% x 20% of the frame."""
    edited = pixels.copy()
    patch = photo("astronaut")[100:220, 150:294]
    edited[300:420, 500:644] = patch
    return edited


def test_matching_preview_is_weak_and_informational(tmp_path: Path, original: Pixels) -> None:
    finding = preview_finding(
        run(tmp_path, with_preview(original, preview_of(original), quality=90))
    )
    assert (finding.strength, finding.direction) == (Strength.WEAK, Direction.INFORMATIONAL)
    assert finding.summary == "The preview stored in the file matches the image"
    assert finding.evidence["outcome"] == "matches"
    assert finding.evidence["preview_size"] == [160, 120]
    assert finding.images == ()


def test_preview_still_matches_after_the_file_is_saved_again(
    tmp_path: Path, original: Pixels
) -> None:
    first = with_preview(original, preview_of(original), quality=95)
    exif = Image.open(io.BytesIO(first)).info["exif"]
    resaved = encode(decode(first), quality=65, exif=exif)
    assert preview_finding(run(tmp_path, resaved)).evidence["outcome"] == "matches"


def test_pasted_patch_is_found_and_outlined(tmp_path: Path, original: Pixels) -> None:
    data = with_preview(pasted(original), preview_of(original), quality=90)
    finding = preview_finding(run(tmp_path, data))
    assert (finding.strength, finding.direction) == (Strength.MODERATE, Direction.EDITED)
    assert "differs from the image now" in finding.explanation
    cells = finding.evidence["differing_cells"]
    assert cells
    # Every outlined cell overlaps the patch (x 500-644, y 300-420 of 800 x 600, so
    # x 100-129, y 60-84 in the 160 x 120 preview), give or take the blur.
    for x, y, w, h in cells:
        assert x + w > 98 and x < 131 and y + h > 58 and y < 86, cells
    (picture,) = finding.images
    shown = Image.open(io.BytesIO(picture.png))
    assert shown.format == "PNG" and shown.size[0] > 2 * shown.size[1]
    assert "preview" in picture.caption


def test_another_picture_in_the_preview_reads_as_replaced(tmp_path: Path, original: Pixels) -> None:
    other = np.asarray(Image.fromarray(photo("coffee")).resize((800, 600)))
    finding = preview_finding(run(tmp_path, with_preview(original, preview_of(other))))
    assert finding.evidence["outcome"] == "replaced"
    assert finding.strength is Strength.MODERATE
    assert finding.summary.endswith("shows a different picture from the image")


def test_cropped_image_is_told_by_its_proportions(tmp_path: Path, original: Pixels) -> None:
    cropped = np.ascontiguousarray(original[:, 120:])
    finding = preview_finding(run(tmp_path, with_preview(cropped, preview_of(original))))
    assert finding.evidence["outcome"] == "cropped"
    assert (finding.strength, finding.direction) == (Strength.MODERATE, Direction.EDITED)
    assert finding.evidence["aspect_difference"] > 0.1
    assert len(finding.images) == 1


def test_rotated_pixels_read_as_rotation_only(tmp_path: Path, original: Pixels) -> None:
    turned = np.ascontiguousarray(np.rot90(original))
    finding = preview_finding(run(tmp_path, with_preview(turned, preview_of(original))))
    assert finding.evidence["outcome"] == "rotated"
    assert (finding.strength, finding.direction) == (Strength.WEAK, Direction.INFORMATIONAL)


def test_preview_is_compared_with_the_image_as_stored(tmp_path: Path, original: Pixels) -> None:
    # EXIF orientation 6 (shown turned): pixels and preview are both stored unturned.
    data = encode(original, exif=exif_with_preview(preview_of(original), orientation=6))
    path = tmp_path / "turned.jpg"
    path.write_bytes(data)
    subject = load_subject(path, MediaLimits())
    assert subject.upright is not None and subject.upright.size == (600, 800)
    finding = preview_finding(jpeg_history(subject, AnalysisContext()))
    assert finding.evidence["outcome"] == "matches"


def test_letterboxed_camera_preview_matches(tmp_path: Path) -> None:
    # A 3:2 photo whose 160 x 120 preview carries black bars above and below.
    wide = np.ascontiguousarray(photo("hubble_deep_field")[:560, :840])
    framed = np.zeros((120, 160, 3), dtype=np.uint8)
    framed[7:113] = np.asarray(Image.fromarray(wide).resize((160, 106), Image.Resampling.LANCZOS))
    buffer = io.BytesIO()
    Image.fromarray(framed).save(buffer, format="JPEG", quality=80)
    finding = preview_finding(run(tmp_path, with_preview(wide, buffer.getvalue())))
    assert finding.evidence["outcome"] == "matches"


def test_no_picture_when_pictures_are_off(tmp_path: Path, original: Pixels) -> None:
    path = tmp_path / "edited.jpg"
    path.write_bytes(with_preview(pasted(original), preview_of(original)))
    subject = load_subject(path, MediaLimits())
    finding = preview_finding(jpeg_history(subject, AnalysisContext(images=False)))
    assert finding.evidence["outcome"] == "differs"
    assert finding.images == ()


def test_no_preview_no_preview_finding(tmp_path: Path, original: Pixels) -> None:
    findings = run(tmp_path, encode(original, quality=90))
    assert [f for f in findings if f.examined == PREVIEW] == []


@pytest.mark.parametrize(
    ("box", "label"),
    [((0, 0, 680, 600), "right side cut"), ((80, 60, 720, 540), "zoomed in, same shape")],
)
def test_crop_is_located_in_the_preview(
    tmp_path: Path, original: Pixels, box: tuple[int, int, int, int], label: str
) -> None:
    left, top, right, bottom = box
    cropped = np.ascontiguousarray(original[top:bottom, left:right])
    finding = preview_finding(run(tmp_path, with_preview(cropped, preview_of(original))))
    assert finding.evidence["outcome"] == "cropped", label
    x, y, w, h = finding.evidence["kept_region"]
    # The kept part in preview pixels (800 x 600 shown at 160 x 120): one pixel of slack.
    expected = (left / 5, top / 5, (right - left) / 5, (bottom - top) / 5)
    assert all(abs(a - b) <= 1.5 for a, b in zip((x, y, w, h), expected, strict=True)), label
    assert "the part the crop kept" in finding.explanation
