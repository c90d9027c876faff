"""JPEG history on broken and hostile files: tables still read where they can be, never a
crash, every length from the file bounded."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from leakshield.forensics import Strength
from leakshield.forensics._analyzers._jpeg_markers import (
    MAX_THUMBNAIL_BYTES,
    exif_thumbnail,
    read_header,
)
from tests.forensics._jpeg_samples import (
    by_examined,
    encode,
    exif_with_preview,
    photo,
    preview_of,
    run,
    with_preview,
)

TABLES = "JPEG quantization tables"
PREVIEW = "EXIF preview against the image"


def test_truncated_jpeg_still_gives_its_tables(tmp_path: Path) -> None:
    data = encode(photo("coffee"), quality=72)
    findings = run(tmp_path, data[: len(data) // 2])
    tables = by_examined(findings, TABLES)
    assert tables.evidence["luma_quality"] == 72 and tables.evidence["exact_ijg"] is True
    (skipped,) = [f for f in findings if f is not tables]
    assert skipped.error is not None and skipped.strength is Strength.NONE
    assert skipped.summary.startswith("Could not be examined")


def test_header_only_jpeg_gives_its_tables(tmp_path: Path) -> None:
    data = encode(photo("coffee"), quality=64)
    scan = data.index(b"\xff\xda")
    tables = by_examined(run(tmp_path, data[:scan]), TABLES)
    assert tables.evidence["luma_quality"] == 64


def test_jpeg_without_tables_is_reported_not_crashed(tmp_path: Path) -> None:
    findings = run(tmp_path, b"\xff\xd8\xff\xe0\x00\x04ab\xff\xd9" + b"\x00" * 100)
    (finding,) = findings
    assert finding.error is not None and "no quantization tables" in finding.summary


def test_malformed_segments_are_read_within_bounds() -> None:
    soi = b"\xff\xd8"
    cases = [
        soi,  # nothing after the start
        soi + b"\xff\xdb\xff\xff" + b"\x00" * 10,  # a length far past the end
        soi + b"\xff\xdb\x00\x01",  # a length below its own size
        soi + b"\xff\xdb\x00\x43\x35" + b"\x01" * 64,  # precision 3, slot 5
        soi + b"\xff\xdb\x00\x20\x00" + b"\x01" * 29,  # a table cut short
        soi + b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x09\x01\x22",  # 9 components declared
        soi + b"\xff" * 5000,  # fill bytes only
        soi + b"\xff\x01" * 5000,  # markers without length, many
    ]
    for data in cases:
        header = read_header(data)
        assert header is not None
        assert all(len(table) == 64 for table in header.tables.values())
        assert all(slot <= 3 for slot in header.tables)


def test_sixteen_bit_tables_are_read() -> None:
    steps = list(range(1, 65))
    body = b"\x10" + struct.pack(">64H", *steps)  # precision 1, slot 0, zigzag order
    header = read_header(b"\xff\xd8\xff\xdb" + struct.pack(">H", len(body) + 2) + body)
    assert header is not None
    assert sorted(header.tables[0]) == steps and header.tables[0][8] == 3  # zigzag index 2


def test_hostile_exif_pointers_give_no_thumbnail() -> None:
    good = exif_with_preview(b"\xff\xd8fake-thumbnail\xff\xd9")[6:]
    assert exif_thumbnail(good) == b"\xff\xd8fake-thumbnail\xff\xd9"
    looped = bytearray(good)
    struct.pack_into("<I", looped, 8 + 2 + 12, 8)  # IFD0 says IFD1 is IFD0 again
    past_end = bytearray(good)
    struct.pack_into("<I", past_end, 26 + 2 + 12 + 8, 10**9)  # thumbnail offset
    too_long = bytearray(good)
    struct.pack_into("<I", too_long, 26 + 2 + 24 + 8, MAX_THUMBNAIL_BYTES + 1)  # length
    many = bytearray(good)
    struct.pack_into("<H", many, 26, 0xFFFF)  # IFD1 claims 65,535 entries
    for tiff in (looped, past_end, too_long, b"MM\x00*\xff\xff\xff\xff", b"II*\x00", b""):
        assert exif_thumbnail(bytes(tiff)) is None
    exif_thumbnail(bytes(many))  # reads what is there, no further


def test_garbage_preview_is_reported_as_unreadable(tmp_path: Path) -> None:
    pixels = np.ascontiguousarray(photo("coffee")[:360, :480])
    data = with_preview(pixels, b"\xff\xd8\xff\xdb garbage, not a thumbnail" * 20)
    finding = by_examined(run(tmp_path, data), PREVIEW)
    assert finding.strength is Strength.NONE and finding.error is None
    assert finding.summary == "The file's EXIF preview could not be read"


def test_oversized_preview_is_not_decoded(tmp_path: Path) -> None:
    # A flat 1,600 x 1,200 JPEG is small in bytes: the size check, not the bytes, stops it.
    flat = encode(np.full((1200, 1600, 3), 90, dtype=np.uint8), quality=10)
    assert len(flat) < 60_000
    pixels = np.ascontiguousarray(photo("coffee")[:360, :480])
    finding = by_examined(run(tmp_path, with_preview(pixels, flat)), PREVIEW)
    assert finding.summary == "The file's EXIF preview could not be read"


def test_byte_flips_never_crash(tmp_path: Path) -> None:
    pixels = np.ascontiguousarray(photo("chelsea")[:96, :128])
    data = bytearray(with_preview(pixels, preview_of(pixels, (64, 48)), quality=80))
    rng = np.random.default_rng(7)
    header_end = bytes(data).index(b"\xff\xda") + 20
    for _ in range(150):
        mutated = bytearray(data)
        for position in rng.integers(2, header_end, size=3):
            mutated[position] = int(rng.integers(0, 256))
        findings = run(tmp_path, bytes(mutated))
        assert findings and all(f.analyzer == "jpeg-history" for f in findings)


def test_cmyk_jpeg_gives_tables_and_no_double_compression_claim(tmp_path: Path) -> None:
    pixels = np.ascontiguousarray(photo("coffee")[:360, :480])
    cmyk = Image.fromarray(pixels).convert("CMYK")
    buffer = io.BytesIO()
    cmyk.save(buffer, format="JPEG", quality=80, exif=exif_with_preview(preview_of(pixels)))
    findings = run(tmp_path, buffer.getvalue())
    assert by_examined(findings, TABLES).evidence["components"] == 4
    double = by_examined(findings, "Double JPEG compression")
    assert double.strength is Strength.NONE and double.evidence["examined"] is False
    assert by_examined(findings, PREVIEW).evidence["outcome"] == "matches"


def test_tiny_preview_and_tiny_image_do_not_crash(tmp_path: Path) -> None:
    pixels = np.ascontiguousarray(photo("coffee")[:360, :480])
    tiny = encode(pixels[:6, :8], quality=90)
    assert by_examined(run(tmp_path, with_preview(pixels, tiny)), PREVIEW).evidence["outcome"]
    findings = run(tmp_path, with_preview(pixels[:5, :3], preview_of(pixels)))
    assert by_examined(findings, PREVIEW).evidence["outcome"] in ("cropped", "replaced")
