"""Generator metadata on hostile files: oversized, malformed and truncated metadata never
raises, still reports what it can, and the analyzer runs through the pipeline."""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import zlib
from pathlib import Path

from PIL import Image

from leakshield.forensics import (
    AnalysisContext,
    Direction,
    Finding,
    Strength,
    Subject,
    analyze,
)
from leakshield.forensics._analyzers.metadata import generator_metadata
from tests.forensics.test_metadata import A1111, findings, only, png, saved


def chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def with_chunks(*chunks: bytes) -> bytes:
    """A valid PNG with ``chunks`` inserted right after IHDR."""
    data = png()
    at = 8 + 8 + 13 + 4
    return data[:at] + b"".join(chunks) + data[at:]


def run_bytes(data: bytes) -> list[Finding]:
    """The analyzer on raw bytes, as a subject whose pixels did not decode."""
    subject = Subject(Path("suspect"), data, hashlib.sha256(data).hexdigest(), None)
    result = generator_metadata(subject, AnalysisContext())
    for finding in result:
        json.dumps(finding.to_record())
    return result


def test_oversized_parameters_chunk_is_not_read_but_noted(tmp_path: Path) -> None:
    big = b"parameters\x00" + b"Steps: 1, " * 120_000  # 1.2 MB
    finding = only(findings(tmp_path, with_chunks(chunk(b"tEXt", big))))
    assert (finding.strength, finding.direction) == (Strength.MODERATE, Direction.AI_GENERATED)
    assert "too large" in finding.evidence["notes"][0]


def test_compressed_text_bomb_is_not_inflated(tmp_path: Path) -> None:
    bomb = b"parameters\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9)
    finding = only(findings(tmp_path, with_chunks(chunk(b"zTXt", bomb))))
    assert finding.strength is Strength.MODERATE
    assert "could not be read" in finding.evidence["notes"][0]


def test_deeply_nested_json_is_malformed_not_a_crash(tmp_path: Path) -> None:
    finding = only(findings(tmp_path, png(prompt="[" * 200_000 + "]" * 200_000)))
    assert finding.strength is Strength.MODERATE
    assert finding.evidence["notes"] == ["the 'prompt' chunk is nested too deeply to parse"]


def test_json_that_is_not_comfyui_is_moderate(tmp_path: Path) -> None:
    finding = only(findings(tmp_path, png(prompt='{"a": [1, 2, {"b": null}]}')))
    assert finding.strength is Strength.MODERATE
    assert "not in ComfyUI's layout" in finding.evidence["notes"][0]


def test_binary_garbage_in_user_comment_is_not_a_trace(tmp_path: Path) -> None:
    garbage = bytes(random.Random(7).randrange(256) for _ in range(4000))  # noqa: S311
    for prefix in (b"UNICODE\x00", b"ASCII\x00\x00\x00", b""):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9286] = prefix + garbage
        finding = only(findings(tmp_path, saved("JPEG", exif=exif), "suspect.jpg"))
        assert finding.strength is Strength.NONE


def test_escape_sequences_in_a_prompt_are_not_passed_on(tmp_path: Path) -> None:
    text = "\x1b]0;owned\x07a cat\x1b[2J\nSteps: 20, Sampler: Euler, Seed: 1"
    finding = only(findings(tmp_path, png(parameters=text)))
    assert "\x1b" not in finding.evidence["prompt"]
    assert "a cat" in finding.evidence["prompt"]


def test_truncated_png_still_gives_its_text_chunks(tmp_path: Path) -> None:
    data = png(parameters=A1111)
    idat = data.index(b"IDAT")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: idat + 6])  # cut inside the pixel data
    analysis = analyze(path, AnalysisContext(), only=["generator-metadata"])
    finding = only(list(analysis.by_analyzer("generator-metadata")))
    assert analysis.subject.problem is not None  # the pixels did not decode
    assert finding.strength is Strength.STRONG
    assert finding.evidence["seed"] == "1234567"


def test_text_after_the_pixels_is_read() -> None:
    data = png()
    end = data.index(b"IEND") - 4
    text = chunk(b"tEXt", b"parameters\x00" + A1111.encode("latin-1"))
    finding = only(run_bytes(data[:end] + text + data[end:]))
    assert finding.strength is Strength.STRONG


def test_malformed_exif_is_noted() -> None:
    bad = chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x00" * 20)
    finding = only(run_bytes(with_chunks(bad)))
    assert finding.strength is Strength.NONE


def test_damaged_files_never_raise() -> None:
    rng = random.Random(1)  # noqa: S311  (reproducible damage, not secrets)
    exif = Image.Exif()
    exif[0x0131] = "GIMP"
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + A1111.encode("utf-16-be")
    seeds = [
        png(parameters=A1111, prompt='{"1": {"class_type": "KSampler"}}', Software="Midjourney"),
        saved("JPEG", exif=exif, xmp='<x:xmpmeta><a DigitalSourceType="x"/></x:xmpmeta>'),
        saved("WEBP", exif=exif),
    ]
    for seed in seeds:
        for _ in range(150):
            data = bytearray(seed)
            for _ in range(rng.randrange(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            cut = rng.randrange(len(data) + 1) if rng.random() < 0.3 else len(data)
            assert run_bytes(bytes(data[:cut]))  # at least one finding, no exception
    for data in (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe1\xff\xff", b"RIFF\0\0\0\0WEBP"):
        assert run_bytes(data)


def test_runs_through_the_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "suspect.png"
    path.write_bytes(png(parameters=A1111))
    analysis = analyze(path, AnalysisContext(), only=["generator-metadata"])
    [finding] = analysis.by_analyzer("generator-metadata")
    assert finding.error is None
    assert (finding.strength, finding.direction) == (Strength.STRONG, Direction.AI_GENERATED)
    assert any(finding.summary in line for line in analysis.shows)


def test_image_open_of_other_formats_reads_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0131] = "Midjourney"
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "TIFF", exif=exif)
    finding = only(findings(tmp_path, out.getvalue(), "suspect.tif"))
    assert finding.evidence["generators"] == ["Midjourney"]
