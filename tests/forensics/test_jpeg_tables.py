"""JPEG history, quantization tables: quality estimate, standard or custom, frame facts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, JpegImagePlugin

from leakshield.forensics import Direction, Strength
from leakshield.forensics._analyzers._jpeg_markers import read_header
from leakshield.forensics._analyzers._jpeg_tables import IJG_CHROMA, IJG_LUMA, fit_table
from tests.forensics._jpeg_samples import by_examined, encode, photo, run

TABLES = "JPEG quantization tables"


@pytest.mark.parametrize("quality", [10, 35, 50, 68, 75, 85, 90, 95, 100])
def test_quality_of_libjpeg_tables_is_read_exactly(tmp_path: Path, quality: int) -> None:
    findings = run(tmp_path, encode(photo("astronaut"), quality=quality))
    tables = by_examined(findings, TABLES)
    assert tables.evidence["luma_quality"] == quality
    assert tables.evidence["chroma_quality"] == quality
    assert tables.evidence["exact_ijg"] is True
    assert f"standard libjpeg tables at quality {quality}" in tables.summary
    assert "Pillow, OpenCV, ImageMagick" in tables.explanation
    assert (tables.strength, tables.direction) == (Strength.WEAK, Direction.INFORMATIONAL)


def test_tables_are_read_in_natural_order_as_pillow_reports_them() -> None:
    # Pillow (this version) gives natural order; the file stores zigzag order.
    data = encode(photo("coffee"), quality=83)
    header = read_header(data)
    pillow = Image.open(io.BytesIO(data)).quantization
    assert header is not None
    assert {slot: list(table) for slot, table in header.tables.items()} == {
        slot: list(table) for slot, table in pillow.items()
    }


def test_custom_tables_are_told_apart_and_fitted_close(tmp_path: Path) -> None:
    # A camera-like table: the standard one at quality 88, each step nudged.
    luma = [max(1, round(step * 0.24)) + (i % 3 == 0) for i, step in enumerate(IJG_LUMA)]
    chroma = [max(1, round(step * 0.24)) + 1 for step in IJG_CHROMA]
    findings = run(tmp_path, encode(photo("coffee"), qtables=[luma, chroma]))
    tables = by_examined(findings, TABLES)
    assert tables.evidence["exact_ijg"] is False
    assert "custom quantization tables" in tables.summary
    assert "cameras, Photoshop" in tables.explanation
    assert abs(tables.evidence["luma_quality"] - 88) <= 3


@pytest.mark.parametrize("quality", [30, 60, 80, 92, 97])
def test_fit_is_within_two_of_a_slightly_perturbed_table(quality: int) -> None:
    from leakshield.forensics._analyzers._jpeg_tables import ijg_table

    table = ijg_table(quality).copy()
    table[::7] += 1  # one step in seven off by one: no longer exact
    fit = fit_table(tuple(int(v) for v in table), IJG_LUMA)
    assert not fit.exact
    assert abs(fit.quality - quality) <= 2


def test_quality_differing_between_luma_and_chroma_is_reported(tmp_path: Path) -> None:
    from leakshield.forensics._analyzers._jpeg_tables import ijg_table

    tables = [list(ijg_table(90)), list(ijg_table(70, IJG_CHROMA))]
    findings = run(tmp_path, encode(photo("coffee"), qtables=tables))
    finding = by_examined(findings, TABLES)
    assert finding.evidence["exact_ijg"] is True
    assert (finding.evidence["luma_quality"], finding.evidence["chroma_quality"]) == (90, 70)
    assert "quality 90 (luma) and 70 (chroma)" in finding.summary


@pytest.mark.parametrize(
    ("options", "subsampling", "progressive"),
    [
        ({"subsampling": 0}, "4:4:4", False),
        ({"subsampling": 1}, "4:2:2", False),
        ({"subsampling": 2, "progressive": True}, "4:2:0", True),
    ],
)
def test_frame_facts(
    tmp_path: Path, options: dict[str, object], subsampling: str, progressive: bool
) -> None:
    data = encode(photo("chelsea"), quality=80, **options)
    evidence = by_examined(run(tmp_path, data), TABLES).evidence
    assert evidence["subsampling"] == subsampling
    assert evidence["progressive"] is progressive
    assert evidence["process"] == ("progressive" if progressive else "baseline")
    assert evidence["tables"] == 2
    sampling = JpegImagePlugin.get_sampling(Image.open(io.BytesIO(data)))
    assert {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}[sampling] == subsampling


def test_grayscale_jpeg_has_one_table(tmp_path: Path) -> None:
    gray = Image.fromarray(photo("camera")).convert("L")
    buffer = io.BytesIO()
    gray.save(buffer, format="JPEG", quality=77)
    evidence = by_examined(run(tmp_path, buffer.getvalue()), TABLES).evidence
    assert (evidence["tables"], evidence["components"], evidence["subsampling"]) == (1, 1, None)
    assert evidence["luma_quality"] == 77
    assert evidence["chroma_quality"] is None


def test_fingerprint_tells_settings_apart(tmp_path: Path) -> None:
    def fingerprint(data: bytes) -> str:
        return str(by_examined(run(tmp_path, data), TABLES).evidence["fingerprint"])

    same = fingerprint(encode(photo("coffee"), quality=85))
    assert same == fingerprint(encode(photo("rocket"), quality=85))  # the encoder, not content
    assert same != fingerprint(encode(photo("coffee"), quality=86))
    assert len(same) == 16


def test_a_png_has_no_jpeg_history(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(photo("coffee")).save(buffer, format="PNG")
    findings = run(tmp_path, buffer.getvalue(), "suspect.png")
    assert len(findings) == 1
    (finding,) = findings
    assert finding.strength is Strength.NONE
    assert finding.direction is Direction.INFORMATIONAL
    assert finding.summary.startswith("Not a JPEG; it carries no JPEG history to read")
    assert finding.error is None
