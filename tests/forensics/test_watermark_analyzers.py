"""The watermark analyzers: the user's own mark (strong, naming her signed photo when the
repository knows it) and the published marks of Stable Diffusion's reference pipelines."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from leakshield.forensics import AnalysisContext, Direction, Finding, Strength, load_subject
from leakshield.forensics._analyzers.watermarks import generator_watermark, your_watermark
from leakshield.media import MediaLimits
from leakshield.provenance import ManifestRepository
from leakshield.watermark import WatermarkKey, embed_file
from tests.forensics.conftest import Sign

pytestmark = pytest.mark.timeout(60)

LIMITS = MediaLimits()
PAYLOAD = bytes.fromhex("5a5a0123456789ab")
SD2_MESSAGE = b"SDV2"  # Stability-AI/stablediffusion scripts/txt2img.py


def only(found: list[Finding]) -> Finding:
    assert len(found) == 1, [f.summary for f in found]
    json.dumps(found[0].to_record())  # evidence is always JSON
    return found[0]


def yours(path: Path, context: AnalysisContext) -> Finding:
    return only(your_watermark(load_subject(path, LIMITS), context))


def generators(path: Path) -> Finding:
    return only(generator_watermark(load_subject(path, LIMITS), AnalysisContext()))


@pytest.fixture(scope="module")
def marked(
    benign: dict[str, Path], watermark_key: WatermarkKey, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The astronaut carrying the user's watermark, then re-saved smaller as a repost would."""
    root = tmp_path_factory.mktemp("marked")
    embed_file(benign["astronaut.jpg"], root / "beach.jpg", watermark_key, PAYLOAD, limits=LIMITS)
    with Image.open(root / "beach.jpg") as image:
        image.resize((560, 525), Image.Resampling.LANCZOS).save(root / "repost.jpg", quality=85)
    return root / "beach.jpg"


def test_without_a_key_the_check_says_it_did_not_run(benign: dict[str, Path]) -> None:
    finding = yours(benign["astronaut.jpg"], AnalysisContext())
    assert (finding.strength, finding.direction) == (Strength.NONE, Direction.INFORMATIONAL)
    assert finding.summary == "Not checked: you have no watermark key."
    assert "leakshield protect" in finding.explanation


def test_an_unmarked_photo_is_none_and_says_absence_does_not_clear_it(
    benign: dict[str, Path], watermark_key: WatermarkKey
) -> None:
    finding = yours(benign["astronaut.jpg"], AnalysisContext(watermark_keys=(watermark_key,)))
    assert (finding.strength, finding.direction) == (Strength.NONE, Direction.INFORMATIONAL)
    assert finding.summary == "Your watermark was not found."
    assert "does not show the image was not made from your photos" in finding.explanation
    assert finding.evidence == {"keys_tried": watermark_key.key_id}


def test_your_mark_in_a_reposted_copy_is_strong_evidence_it_was_made_from_your_photo(
    marked: Path, watermark_key: WatermarkKey
) -> None:
    repost = marked.parent / "repost.jpg"
    finding = yours(repost, AnalysisContext(watermark_keys=(watermark_key,)))
    assert (finding.strength, finding.direction) == (
        Strength.STRONG,
        Direction.MADE_FROM_YOUR_PHOTO,
    )
    assert finding.summary == (
        f"This image carries your invisible watermark (key {watermark_key.key_id})."
    )
    assert finding.evidence["payload_hex"] == PAYLOAD.hex()
    assert finding.evidence["key_id"] == watermark_key.key_id
    assert "your_photo" not in finding.evidence  # no repository: no photo to name


def test_the_mark_is_found_under_whichever_of_your_keys_made_it(
    marked: Path, watermark_key: WatermarkKey
) -> None:
    other = WatermarkKey.generate()
    finding = yours(marked, AnalysisContext(watermark_keys=(other, watermark_key)))
    assert finding.strength == Strength.STRONG
    assert f"(key {watermark_key.key_id})" in finding.summary
    missed = yours(marked, AnalysisContext(watermark_keys=(other,)))
    assert missed.strength == Strength.NONE  # another key does not read it


def test_with_the_repository_the_finding_names_your_signed_photo(
    marked: Path,
    watermark_key: WatermarkKey,
    sign: Sign,
    repository: ManifestRepository,
    tmp_path: Path,
) -> None:
    sign(marked, tmp_path / "signed.jpg", key=watermark_key, repository=repository)
    context = AnalysisContext(watermark_keys=(watermark_key,), repository=repository)
    finding = yours(marked.parent / "repost.jpg", context)
    assert finding.strength == Strength.STRONG
    assert "It identifies your photo 'beach.jpg'." in finding.summary
    assert finding.evidence["your_photo"] == "beach.jpg"
    assert str(finding.evidence["signed_at"])[:4].isdigit()


def test_pixels_that_cannot_be_read_make_the_check_fail_not_pass(
    watermark_key: WatermarkKey, tmp_path: Path
) -> None:
    from leakshield.forensics import analyze

    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    result = analyze(
        notes, AnalysisContext(watermark_keys=(watermark_key,)), only=["your-watermark"]
    )
    [finding] = result.findings
    assert finding.error is not None and finding.strength == Strength.NONE
    assert "Your invisible watermark" in result.cannot_tell[-1]


# --- image generators' published marks ----------------------------------------------------


def _max_dct() -> ModuleType:
    """invisible-watermark's maxDct module alone (its package __init__ imports torch)."""
    pytest.importorskip("pywt")
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("invisible-watermark is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "maxDct.py"
    module_spec = importlib.util.spec_from_file_location("_imwatermark_maxdct", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_the_stable_diffusion_script_mark_is_strong_evidence_of_a_generator(
    benign: dict[str, Path], tmp_path: Path
) -> None:
    with Image.open(benign["astronaut.jpg"]) as image:
        rgb = np.asarray(image.convert("RGB"))
    bits = [int(b) for b in np.unpackbits(np.frombuffer(SD2_MESSAGE, dtype=np.uint8))]
    # As the Stable Diffusion 2 script's put_watermark does: 8-bit BGR in and out.
    encoder = _max_dct().EmbedMaxDct(bits, wmLen=len(bits))
    marked = encoder.encode(np.ascontiguousarray(rgb[:, :, ::-1]))[:, :, ::-1]
    out = tmp_path / "generated.png"
    Image.fromarray(np.ascontiguousarray(marked)).save(out)
    finding = generators(out)
    assert (finding.strength, finding.direction) == (Strength.STRONG, Direction.AI_GENERATED)
    assert "(32 of 32 bits)" in finding.summary
    assert "Stable Diffusion" in finding.summary
    assert "A cue, not proof" in finding.explanation  # what anyone can add is not proof
    assert finding.evidence["sd2-dwtdct-32"]["matched_bits"] == 32


def test_a_photo_without_a_generator_mark_is_none(benign: dict[str, Path]) -> None:
    finding = generators(benign["astronaut.jpg"])
    assert (finding.strength, finding.direction) == (Strength.NONE, Direction.INFORMATIONAL)
    assert finding.summary == "No generator watermark was found."
    assert "says nothing about how the image was made" in finding.explanation
    assert set(finding.evidence) == {"sdxl-dwtdct-48", "sd1-dwtdct-136", "sd2-dwtdct-32"}


def test_an_image_too_small_for_a_mark_says_so(tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    Image.new("RGB", (200, 150), (90, 120, 30)).save(small)
    finding = generators(small)
    assert finding.strength == Strength.NONE
    assert finding.summary == "Too small to carry a generator watermark."
    assert finding.evidence == {}
