"""The provenance analyzer: what a file's Content Credentials say, how much weight that carries
(trusted or not, intact or not), and a stripped copy tied back to the user's signed photo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from leakshield.forensics import (
    AnalysisContext,
    Direction,
    Finding,
    Strength,
    analyze,
    load_subject,
)
from leakshield.forensics._analyzers.provenance import provenance
from leakshield.media import MediaLimits
from leakshield.provenance import Identity, ManifestRepository, SignOptions, TrustAnchors
from leakshield.watermark import WatermarkKey, embed_file
from tests._conformance import find_conformance
from tests.forensics.conftest import Sign

pytestmark = pytest.mark.timeout(60)

LIMITS = MediaLimits()
PAYLOAD = bytes.fromhex("00112233aabbccdd")


def examine(path: Path, context: AnalysisContext | None = None) -> Finding:
    """The provenance analyzer's one finding on ``path``, checked to be JSON."""
    found = provenance(load_subject(path, LIMITS), context or AnalysisContext())
    assert len(found) == 1, [f.summary for f in found]
    json.dumps(found[0].to_record())
    return found[0]


def trusting(identity: Identity) -> AnalysisContext:
    """A context that trusts the session identity, as `analyze` trusts the user's own."""
    return AnalysisContext(anchors=TrustAnchors(identity=identity.root_pem))


def strip(src: Path, dst: Path, scale: float = 0.8, quality: int = 80) -> None:
    """What a re-upload does: decode, resize and re-encode, losing the manifest."""
    with Image.open(src) as image:
        size = (round(image.width * scale), round(image.height * scale))
        image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(dst, quality=quality)


@pytest.fixture(scope="module")
def signed(benign: dict[str, Path], sign: Sign, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut, signed as a camera capture ("created")."""
    out = tmp_path_factory.mktemp("signed") / "astronaut.jpg"
    sign(benign["astronaut.jpg"], out)
    return out


def test_a_file_without_credentials_is_a_none_finding_that_says_absence_means_nothing(
    benign: dict[str, Path],
) -> None:
    finding = examine(benign["rocket.jpg"])
    assert (finding.strength, finding.direction) == (Strength.NONE, Direction.INFORMATIONAL)
    assert finding.summary == "The file carries no Content Credentials."
    assert "says nothing" in finding.explanation
    assert finding.evidence["state"] == "NoManifest"
    assert "path" not in finding.evidence  # the subject already names the file


def test_trusted_credentials_are_strong_and_untrusted_ones_weak(
    identity: Identity, signed: Path
) -> None:
    trusted = examine(signed, trusting(identity))
    assert (trusted.strength, trusted.direction) == (Strength.STRONG, Direction.INFORMATIONAL)
    assert "valid Content Credentials signed by leakshield local signer, a signer you trust" in (
        trusted.summary
    )
    assert "recorded actions: c2pa.created" in trusted.summary
    assert "cannot show that the declaration was true" in trusted.explanation
    assert trusted.evidence["state"] == "Trusted"

    untrusted = examine(signed)
    assert (untrusted.strength, untrusted.direction) == (Strength.WEAK, Direction.INFORMATIONAL)
    assert "intact Content Credentials" in untrusted.summary
    assert "(a signer not on your trust list)" in untrusted.summary
    assert "not on your trust list" in untrusted.explanation
    assert untrusted.evidence["state"] == "Valid"


def test_an_edit_recorded_in_the_credentials_points_to_edited(
    identity: Identity, signed: Path, sign: Sign, tmp_path: Path
) -> None:
    edited = tmp_path / "edited.jpg"
    sign(signed, edited, SignOptions(action="edited"))
    finding = examine(edited, trusting(identity))
    assert (finding.strength, finding.direction) == (Strength.STRONG, Direction.EDITED)
    assert "c2pa.opened, c2pa.edited" in finding.summary
    weak = examine(edited)
    assert (weak.strength, weak.direction) == (Strength.WEAK, Direction.EDITED)


def test_credentials_that_no_longer_match_the_file_are_moderate_evidence_of_an_edit(
    identity: Identity, signed: Path, tmp_path: Path
) -> None:
    data = bytearray(signed.read_bytes())
    data[-200] ^= 0x01  # in the image data, far from the manifest
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    finding = examine(tampered, trusting(identity))
    assert (finding.strength, finding.direction) == (Strength.MODERATE, Direction.EDITED)
    assert "no longer match it" in finding.summary
    assert "assertion.dataHash.mismatch" in finding.summary
    assert "changed after signing" in finding.explanation
    assert finding.evidence["state"] == "Invalid"


@pytest.mark.parametrize(
    ("source_type", "part"),
    [("trainedAlgorithmicMedia", False), ("compositeWithTrainedAlgorithmicMedia", True)],
)
def test_an_ai_source_type_points_to_ai_generated_strong_only_when_trusted(
    identity: Identity,
    benign: dict[str, Path],
    sign: Sign,
    tmp_path: Path,
    source_type: str,
    part: bool,
) -> None:
    out = tmp_path / "generated.png"
    sign(benign["coffee.png"], out, SignOptions(source_type=source_type))
    trusted = examine(out, trusting(identity))
    assert (trusted.strength, trusted.direction) == (Strength.STRONG, Direction.AI_GENERATED)
    assert "say a generative AI model made" in trusted.summary
    assert ("made part of this image" in trusted.summary) == part
    assert source_type in trusted.explanation
    assert "one you trust" in trusted.explanation
    untrusted = examine(out)
    assert (untrusted.strength, untrusted.direction) == (Strength.MODERATE, Direction.AI_GENERATED)
    assert "who signed it is not established" in untrusted.explanation


def test_a_stripped_copy_is_traced_to_your_signed_photo_through_its_watermark(
    benign: dict[str, Path],
    sign: Sign,
    repository: ManifestRepository,
    watermark_key: WatermarkKey,
    tmp_path: Path,
) -> None:
    marked = tmp_path / "holiday.jpg"
    embed_file(benign["astronaut.jpg"], marked, watermark_key, PAYLOAD, limits=LIMITS)
    sign(marked, tmp_path / "signed.jpg", key=watermark_key, repository=repository)
    stripped = tmp_path / "reposted.jpg"
    strip(tmp_path / "signed.jpg", stripped)
    context = AnalysisContext(watermark_keys=(watermark_key,), repository=repository)
    finding = examine(stripped, context)
    assert (finding.strength, finding.direction) == (
        Strength.STRONG,
        Direction.MADE_FROM_YOUR_PHOTO,
    )
    assert "matches your photo 'holiday.jpg'" in finding.summary
    assert "invisible watermark" in finding.summary
    assert finding.evidence["recovered"]["via"] == "watermark"
    assert "re-saved without them" in finding.explanation
    assert "burst" not in finding.explanation  # a keyed watermark is not a near-duplicate


def test_without_the_watermark_a_pdq_match_is_moderate_and_says_it_may_be_a_near_duplicate(
    benign: dict[str, Path], sign: Sign, repository: ManifestRepository, tmp_path: Path
) -> None:
    sign(benign["coffee.png"], tmp_path / "signed.png", repository=repository)
    stripped = tmp_path / "reposted.jpg"
    strip(tmp_path / "signed.png", stripped, scale=0.6, quality=70)
    finding = examine(stripped, AnalysisContext(repository=repository))
    assert (finding.strength, finding.direction) == (
        Strength.MODERATE,
        Direction.MADE_FROM_YOUR_PHOTO,
    )
    assert "matches your photo 'coffee.png'" in finding.summary
    assert "PDQ distance" in finding.summary
    assert "next photo of a burst" in finding.explanation
    assert finding.evidence["recovered"]["via"] == "pdq"


def test_an_unrelated_image_is_not_traced_to_your_photos(
    benign: dict[str, Path],
    sign: Sign,
    repository: ManifestRepository,
    watermark_key: WatermarkKey,
    tmp_path: Path,
) -> None:
    sign(benign["coffee.png"], tmp_path / "signed.png", repository=repository)
    context = AnalysisContext(watermark_keys=(watermark_key,), repository=repository)
    finding = examine(benign["rocket.jpg"], context)
    assert (finding.strength, finding.evidence["recovered"]) == (Strength.NONE, None)


def test_a_file_credentials_cannot_be_read_from_is_a_could_not_examine_finding(
    benign: dict[str, Path], tmp_path: Path
) -> None:
    bitmap = tmp_path / "photo.bmp"
    with Image.open(benign["rocket.jpg"]) as image:
        image.save(bitmap)
    result = analyze(bitmap, AnalysisContext(images=False), only=["provenance"])
    [finding] = result.by_analyzer("provenance")
    assert finding.error is not None and finding.error["code"] == "unsupported-format"
    assert finding.strength == Strength.NONE
    assert "could not run" in result.cannot_tell[-1]


def test_conformance_credentials_read_in_calibrated_words() -> None:
    """Files of the C2PA conformance set: broken hashes are edits, an expired certificate
    is not, and drawing on a picture counts as editing it."""
    folder = (find_conformance() or Path("/nonexistent")) / "c2pa"
    if not folder.is_dir():
        pytest.skip("conformance data not found (set LEAKSHIELD_TEST_CONFORMANCE_DIR)")

    def finding(name: str) -> Finding:
        (only,) = provenance(load_subject(folder / name, MediaLimits()), AnalysisContext())
        return only

    changed = finding("adobe-20220124-E-dat-CA.jpg")
    assert (changed.strength, changed.direction) == (Strength.MODERATE, Direction.EDITED)
    assert "no longer match it (assertion.dataHash.mismatch)" in changed.summary
    expired = finding("nikon-20221019-building.jpeg")
    assert (expired.strength, expired.direction) == (Strength.WEAK, Direction.INFORMATIONAL)
    assert "do not validate (signingCredential.expired)" in expired.summary
    drawn = finding("adobe-20220124-C.jpg")
    assert (drawn.strength, drawn.direction) == (Strength.WEAK, Direction.EDITED)
    assert "c2pa.drawing" in drawn.summary
