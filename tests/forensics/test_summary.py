"""The plain-words summary: strongest evidence first, each line saying how strong it is, what
the absence of traces does not mean, and never a verdict of "fake" or "real"."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakshield.forensics import (
    AnalysisContext,
    Direction,
    Finding,
    FindingImage,
    ReferenceSet,
    Strength,
    SubjectInfo,
    analyze,
    reference_from_file,
)
from leakshield.forensics._model import failed
from leakshield.forensics._summary import cannot_tell, shows
from leakshield.media import MediaLimits
from leakshield.provenance import Identity, ManifestRepository, SignOptions, TrustAnchors
from leakshield.watermark import WatermarkKey, embed_file
from tests.forensics.conftest import Sign

pytestmark = pytest.mark.timeout(90)

SUBJECT = SubjectInfo("/cases/suspect.jpg", 1000, "ab" * 32, "JPEG", 640, 480)
NOTHING = "No trace was found of your photos, your watermark, an AI generator or editing."
# A verdict on the image: "is fake", "looks real", "appears authentic", "is not genuine"...
VERDICT = re.compile(
    r"\b(?:is|are|was|looks?|appears?|seems?)\s+(?:not\s+)?(?:like\s+)?(?:an?\s+)?"
    r"(?:fake|real|authentic|genuine|forged|manipulated)\b",
    re.IGNORECASE,
)
ALLOWED = "not evidence that the image is authentic"


def finding(
    name: str,
    strength: Strength,
    direction: Direction = Direction.INFORMATIONAL,
    images: tuple[FindingImage, ...] = (),
) -> Finding:
    return Finding(name, name.title(), strength, direction, f"{name} found.", "Why.", {}, images)


def test_lines_are_strongest_first_and_say_how_strong() -> None:
    findings = [
        finding("weak-one", Strength.WEAK, Direction.EDITED),
        finding("nothing", Strength.NONE),
        finding("strong-one", Strength.STRONG, Direction.MADE_FROM_YOUR_PHOTO),
        finding("moderate-one", Strength.MODERATE, Direction.AI_GENERATED),
        finding("strong-two", Strength.STRONG, Direction.AI_GENERATED),
    ]
    assert shows(SUBJECT, findings) == [
        "Strong evidence: strong-one found.",
        "Strong evidence: strong-two found.",  # analyzer order within a strength
        "Moderate evidence: moderate-one found.",
        "Weak evidence: weak-one found.",
    ]


def test_when_nothing_carries_weight_it_says_that_is_not_evidence_of_authenticity() -> None:
    findings = [finding("nothing", Strength.NONE), failed("broken", "Broken check", "x", "boom")]
    [line] = shows(SUBJECT, findings)
    assert line.startswith(NOTHING)
    assert "not evidence that the image is authentic or unaltered" in line
    assert shows(SUBJECT, []) == [line]
    with_weight = shows(SUBJECT, [*findings, finding("weak-one", Strength.WEAK, Direction.EDITED)])
    assert with_weight == ["Weak evidence: weak-one found."]


def test_facts_for_information_do_not_hide_that_nothing_points_anywhere() -> None:
    # An ordinary JPEG's tables ("last saved at quality 92") are a fact, not evidence.
    tables = finding("tables", Strength.WEAK)
    lines = shows(SUBJECT, [tables, finding("nothing", Strength.NONE)])
    assert lines[0] == "For information: tables found."
    assert lines[1].startswith(NOTHING)
    assert len(lines) == 2


def test_a_finding_with_an_error_never_counts_as_evidence() -> None:
    broken = Finding(
        "broken",
        "Broken",
        Strength.STRONG,
        Direction.AI_GENERATED,
        "Bogus.",
        "",
        error={"code": "internal-error", "message": "boom"},
    )
    lines = shows(SUBJECT, [broken])
    assert not any("Bogus" in line for line in lines)
    assert lines[0].startswith(NOTHING)
    assert "What these checks would have found, as they could not run: Broken." in (
        cannot_tell(SUBJECT, [broken])
    )


def test_unreadable_pixels_are_said_in_what_the_file_shows() -> None:
    subject = SubjectInfo(
        "x.jpg", 10, "cd" * 32, None, None, None, {"code": "corrupt", "message": "truncated"}
    )
    lines = shows(subject, [finding("nothing", Strength.NONE)])
    assert lines[0] == (
        "Its pixels could not be read (truncated), so only the checks that read the file's "
        "bytes ran."
    )
    assert lines[1].startswith(NOTHING)


def test_what_cannot_be_told_depends_on_what_was_found() -> None:
    nothing = cannot_tell(SUBJECT, [finding("nothing", Strength.NONE)])
    assert nothing[0].startswith("Who made or posted this image")
    assert any(line.startswith("Whether it was made from a photo of you") for line in nothing)
    assert any(line.startswith("Whether an AI model made or changed it") for line in nothing)
    assert not any("the difference map" in line for line in nothing)

    derived = cannot_tell(
        SUBJECT,
        [
            finding("derivation", Strength.STRONG, Direction.MADE_FROM_YOUR_PHOTO),
            finding("credentials", Strength.MODERATE, Direction.AI_GENERATED),
        ],
    )
    assert any("the difference map shows where, not how" in line for line in derived)
    assert not any(line.startswith("Whether it was made from a photo") for line in derived)
    assert not any(line.startswith("Whether an AI model") for line in derived)
    assert derived[0].startswith("Who made or posted this image")


def test_visual_aids_are_said_to_be_for_a_person_and_never_proof() -> None:
    aid = FindingImage("map", "A map.", b"\x89PNG")
    lines = cannot_tell(SUBJECT, [finding("error-level", Strength.NONE, images=(aid,))])
    assert any("never scored as proof" in line for line in lines)
    plain = cannot_tell(SUBJECT, [finding("error-level", Strength.NONE)])
    assert not any("never scored as proof" in line for line in plain)


# --- the whole analysis never gives a verdict ----------------------------------------------


@pytest.fixture(scope="module")
def varied(
    benign: dict[str, Path],
    sign: Sign,
    watermark_key: WatermarkKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    """Benign files of many kinds: signed, declared AI-made, tampered, watermarked, cropped
    from the user's photo, plain noise, unreadable, truncated."""
    root = tmp_path_factory.mktemp("varied")
    limits = MediaLimits()
    sign(benign["astronaut.jpg"], root / "signed.jpg")
    sign(benign["coffee.png"], root / "ai.png", SignOptions(source_type="trainedAlgorithmicMedia"))
    data = bytearray((root / "signed.jpg").read_bytes())
    data[-200] ^= 0x01
    (root / "tampered.jpg").write_bytes(bytes(data))
    embed_file(
        benign["astronaut.jpg"], root / "marked.jpg", watermark_key, b"\x01" * 8, limits=limits
    )
    with Image.open(benign["astronaut.jpg"]) as image:
        image.crop((80, 60, 500, 460)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
            root / "crop.jpg", quality=85
        )
    noise = np.random.default_rng(7).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "noise.webp", quality=80)
    (root / "notes.jpg").write_text("not an image")
    whole = benign["rocket.jpg"].read_bytes()
    (root / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    return {path.name: path for path in root.iterdir()}


@pytest.mark.parametrize(
    ("line", "verdict"),
    [
        ("The image is fake.", True),
        ("This looks like a real photo.", True),
        ("It appears authentic.", True),
        ("It is not genuine.", True),
        ("That is not evidence that the image is authentic or unaltered.", False),
        ("Anyone can add the same mark to any image, real or not.", False),
    ],
)
def test_the_verdict_check_catches_verdicts_and_allows_the_caveat(line: str, verdict: bool) -> None:
    assert bool(VERDICT.search(line.replace(ALLOWED, ""))) == verdict


def test_no_analysis_calls_an_image_fake_or_real(
    varied: dict[str, Path],
    benign: dict[str, Path],
    identity: Identity,
    watermark_key: WatermarkKey,
    repository: ManifestRepository,
) -> None:
    limits = MediaLimits()
    context = AnalysisContext(
        watermark_keys=(watermark_key,),
        references=ReferenceSet([reference_from_file(benign["astronaut.jpg"], limits)]),
        anchors=TrustAnchors(identity=identity.root_pem),
        repository=repository,
        limits=limits,
        images=False,
    )
    seen: set[str] = set()
    for name, path in sorted(varied.items()):
        result = analyze(path, context)
        lines = [*result.shows, *result.cannot_tell, *(f.summary for f in result.findings)]
        for line in lines:
            assert not VERDICT.search(line.replace(ALLOWED, "")), (name, line)
        seen.update(f"{f.strength}/{f.direction}" for f in result.findings if not f.error)
    # The files gave evidence of every kind, so the words were checked where they matter.
    for kind in ("made-from-your-photo", "ai-generated", "edited"):
        assert any(s.endswith(kind) and not s.startswith("none") for s in seen), (kind, seen)
