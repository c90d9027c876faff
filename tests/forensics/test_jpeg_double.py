"""JPEG history, double compression: never on a single save, found on clearly different
qualities, with the earlier quality estimated."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakshield.forensics import Direction, Finding, Strength
from tests.forensics._jpeg_samples import (
    Pixels,
    by_examined,
    decode,
    encode,
    photo,
    run,
    texture,
    twice,
)

DOUBLE = "Double JPEG compression"
SAMPLES = [
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "motorcycle",
    "grass",
    "noise",
    "ramp",
]
# Big enough (over 4,000 blocks of 8x8) for the weaker trace of a finer earlier save.
LARGE = ["hubble_deep_field", "motorcycle", "retina", "noise", "ramp"]
VARIANTS = [{}, {"subsampling": 0}, {"progressive": True}, {"subsampling": 1}]
QUALITIES = [50, 60, 68, 75, 80, 85, 90, 95, 98]
COARSER = ["astronaut", "chelsea", "hubble_deep_field", "motorcycle", "grass", "ramp"]


def pixels(name: str) -> Pixels:
    return texture(name) if name in ("noise", "ramp") else photo(name)


def double(tmp_path: Path, data: bytes) -> Finding:
    return by_examined(run(tmp_path, data), DOUBLE)


def near(finding: Finding, quality: int, slack: int) -> bool:
    """Whether the estimated earlier quality (a range) is within ``slack`` of ``quality``."""
    estimate = finding.evidence["earlier_quality"]
    if estimate is None:
        return False
    low, high = estimate
    return bool(low - slack <= quality <= high + slack) and str(low) in finding.summary


@pytest.mark.parametrize(("index", "name"), list(enumerate(SAMPLES)))
def test_a_single_save_never_reads_as_double(tmp_path: Path, index: int, name: str) -> None:
    # Qualities 50 to 98, each on three or four samples, with 4:2:0, 4:4:4, progressive
    # and 4:2:2 in turn.
    for turn, quality in enumerate(QUALITIES[index % 3 :: 3]):
        options = VARIANTS[(index + turn) % len(VARIANTS)]
        finding = double(tmp_path, encode(pixels(name), quality=quality, **options))
        assert finding.strength is Strength.NONE, (name, quality, options, finding.evidence)
        assert finding.direction is Direction.INFORMATIONAL


def test_a_single_grayscale_save_never_reads_as_double(tmp_path: Path) -> None:
    gray = Image.fromarray(photo("camera")).convert("L")
    for quality in (55, 75, 92):
        buffer = io.BytesIO()
        gray.save(buffer, format="JPEG", quality=quality)
        assert double(tmp_path, buffer.getvalue()).strength is Strength.NONE


@pytest.mark.parametrize(("first", "second"), [(60, 90), (75, 95), (50, 80), (70, 85)])
def test_coarser_earlier_save_is_found_with_its_quality(
    tmp_path: Path, first: int, second: int
) -> None:
    found = [double(tmp_path, twice(pixels(name), first, second)) for name in COARSER]
    moderate = [f for f in found if f.strength is Strength.MODERATE]
    assert len(moderate) >= len(COARSER) - 1, [f.evidence for f in found]
    for finding in moderate:
        assert finding.direction is Direction.EDITED
        assert finding.summary.startswith("Saved as JPEG at least twice")
        assert "Platforms re-compress every upload" in finding.explanation
    assert sum(near(f, first, 2) for f in moderate) >= len(moderate) - 1


@pytest.mark.parametrize(("first", "second"), [(90, 70), (85, 70)])
def test_finer_earlier_save_is_found_on_large_images(
    tmp_path: Path, first: int, second: int
) -> None:
    found = [double(tmp_path, twice(pixels(name), first, second)) for name in LARGE]
    flagged = [f for f in found if f.strength in (Strength.WEAK, Strength.MODERATE)]
    assert len(flagged) >= len(LARGE) - 1, [f.evidence for f in found]
    assert all(f.direction is Direction.EDITED for f in flagged)
    assert sum(near(f, first, 3) for f in flagged) >= len(flagged) - 1


def test_the_same_quality_twice_leaves_no_trace_and_says_so(tmp_path: Path) -> None:
    finding = double(tmp_path, twice(photo("coffee"), 85, 85))
    assert finding.strength is Strength.NONE
    assert finding.summary == "No sign of a second JPEG compression"
    assert "does not show the file is a first save" in finding.explanation


def test_a_resized_second_save_leaves_no_trace(tmp_path: Path) -> None:
    # Resizing moves the 8x8 grid: the first save's trace is gone, as the words say.
    earlier = decode(encode(photo("hubble_deep_field"), quality=60))
    smaller = Image.fromarray(earlier).resize((700, 610), Image.Resampling.LANCZOS)
    finding = double(tmp_path, encode(np.asarray(smaller), quality=90))
    assert finding.strength is Strength.NONE


def test_flat_graphics_are_not_examined(tmp_path: Path) -> None:
    flat = Image.new("RGB", (640, 480), (200, 120, 40))
    finding = double(tmp_path, encode(np.asarray(flat), quality=80))
    assert finding.strength is Strength.NONE
    assert finding.evidence["examined"] is False
    assert finding.summary.startswith("Could not tell")
