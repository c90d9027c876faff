"""Generator metadata: IPTC digital source type labels in XMP, and camera EXIF, each weighed
for what it can show."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from leakshield.forensics import Direction, Strength
from tests.forensics.test_metadata import A1111, findings, only, saved, xmp_packet

NEW = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R6"
    exif.get_ifd(0x8769)[0x9003] = "2023:06:01 10:11:12"
    return exif


@pytest.mark.parametrize(
    "body",
    [
        f'<rdf:Description Iptc4xmpExt:DigitalSourceType="{NEW}trainedAlgorithmicMedia"/>',
        "<rdf:Description><Iptc4xmpExt:DigitalSourceType>"
        f"{NEW}trainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType></rdf:Description>",
        '<rdf:Description><Iptc4xmpExt:DigitalSourceType rdf:resource="'
        'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
        "</rdf:Description>",
        '<rdf:Description Iptc4xmpExt:DigitalSourceType="trainedAlgorithmicMedia"/>',
    ],
    ids=["attribute", "element", "resource", "bare-code"],
)
def test_trained_algorithmic_media_is_strong(tmp_path: Path, body: str) -> None:
    data = saved("JPEG", xmp=xmp_packet(body))
    finding = only(findings(tmp_path, data, "suspect.jpg"))
    assert (finding.strength, finding.direction) == (Strength.STRONG, Direction.AI_GENERATED)
    assert finding.examined == "XMP"
    assert finding.evidence["code"] == "trainedAlgorithmicMedia"


@pytest.mark.parametrize(
    ("code", "strength", "direction", "words"),
    [
        ("compositeWithTrainedAlgorithmicMedia", Strength.STRONG, Direction.AI_GENERATED, "part"),
        ("algorithmicMedia", Strength.MODERATE, Direction.AI_GENERATED, "software"),
        ("compositeSynthetic", Strength.MODERATE, Direction.EDITED, "composite"),
        ("algorithmicallyEnhanced", Strength.WEAK, Direction.EDITED, "enhanced"),
        ("digitalCreation", Strength.WEAK, Direction.INFORMATIONAL, "digital tools"),
        ("digitalCapture", Strength.WEAK, Direction.CAMERA_ORIGINAL, "camera"),
        ("somethingNew", Strength.WEAK, Direction.INFORMATIONAL, "does not know"),
    ],
)
def test_each_source_type_is_weighed(
    tmp_path: Path, code: str, strength: Strength, direction: Direction, words: str
) -> None:
    body = f'<rdf:Description Iptc4xmpExt:DigitalSourceType="{NEW}{code}"/>'
    finding = only(findings(tmp_path, saved("WEBP", xmp=xmp_packet(body)), "suspect.webp"))
    assert (finding.strength, finding.direction) == (strength, direction)
    assert words in finding.summary


def test_digital_capture_label_proves_nothing(tmp_path: Path) -> None:
    body = f'<rdf:Description Iptc4xmpExt:DigitalSourceType="{NEW}digitalCapture"/>'
    finding = only(findings(tmp_path, saved("JPEG", xmp=xmp_packet(body)), "suspect.jpg"))
    assert "proves nothing" in finding.explanation


def test_source_type_in_png_itxt(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    body = f'<rdf:Description Iptc4xmpExt:DigitalSourceType="{NEW}trainedAlgorithmicMedia"/>'
    info.add_itxt("XML:com.adobe.xmp", xmp_packet(body), zip=True)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG", pnginfo=info)
    finding = only(findings(tmp_path, out.getvalue()))
    assert finding.strength is Strength.STRONG


def test_camera_exif_is_weak_and_consistent_with_a_camera(tmp_path: Path) -> None:
    finding = only(findings(tmp_path, saved("JPEG", exif=camera_exif()), "suspect.jpg"))
    assert (finding.strength, finding.direction) == (Strength.WEAK, Direction.CAMERA_ORIGINAL)
    assert finding.evidence == {
        "make": "Canon",
        "model": "Canon EOS R6",
        "captured": "2023:06:01 10:11:12",
    }
    assert "trivially copied" in finding.explanation


def test_camera_exif_without_a_date_is_not_a_camera_trace(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    finding = only(findings(tmp_path, saved("JPEG", exif=exif), "suspect.jpg"))
    assert finding.strength is Strength.NONE


def test_camera_exif_beside_generator_settings_is_not_reported(tmp_path: Path) -> None:
    exif = camera_exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + A1111.encode("utf-16-be")
    found = findings(tmp_path, saved("JPEG", exif=exif), "suspect.jpg")
    assert [f.direction for f in found] == [Direction.AI_GENERATED]


def test_camera_exif_with_an_editor_gives_both(tmp_path: Path) -> None:
    exif = camera_exif()
    exif[0x0131] = "Adobe Photoshop Lightroom Classic 13.1"
    found = findings(tmp_path, saved("JPEG", exif=exif), "suspect.jpg")
    assert {f.direction for f in found} == {Direction.EDITED, Direction.CAMERA_ORIGINAL}
    camera = next(f for f in found if f.direction is Direction.CAMERA_ORIGINAL)
    assert camera.evidence["software"] == "Adobe Photoshop Lightroom Classic 13.1"
