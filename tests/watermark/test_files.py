"""Watermarking files: the mark survives the trip through each format, the file keeps its
format, metadata and orientation, and every refusal leaves nothing behind."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin, PngImagePlugin

from leakshield.media import MediaError, MediaLimits
from leakshield.watermark import ImageTooSmallError, WatermarkKey
from leakshield.watermark._files import (
    EmbedFileResult,
    FileDetection,
    WatermarkFileError,
    detect_file,
    embed_file,
)

pytestmark = pytest.mark.timeout(60)

KEY = WatermarkKey(bytes(range(32)))
PAYLOAD = bytes.fromhex("0123456789abcdef")
LIMITS = MediaLimits()
ORIENTATION, MAKE, ARTIST, USER_COMMENT = 0x0112, 0x010F, 0x013B, 0x9286
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A photo wider than tall, so that a turn by 90 degrees shows."""
    return Image.fromarray(skimage.data.astronaut()).resize((640, 560))


@pytest.fixture(scope="module")
def icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif(orientation: int = 1) -> Image.Exif:
    """EXIF as a phone writes it: orientation, camera make, artist, and a custom tag."""
    tags = Image.Exif()
    tags[ORIENTATION] = orientation
    tags[MAKE] = "LeakCam"
    tags[ARTIST] = "the owner"
    tags.get_ifd(0x8769)[USER_COMMENT] = b"ASCII\x00\x00\x00for my partner only"
    return tags


def listing(directory: Path) -> list[str]:
    """Every name in ``directory``, hidden temporary files too."""
    return sorted(path.name for path in directory.iterdir())


def marked(src: Path, **kwargs: Any) -> tuple[Path, EmbedFileResult]:
    dst = src.with_name(f"marked-{src.name}")
    return dst, embed_file(src, dst, KEY, PAYLOAD, limits=LIMITS, **kwargs)


def found(path: Path) -> FileDetection:
    result = detect_file(path, KEY, limits=LIMITS, generator_marks=False)
    assert result.detection.present, result.detection
    assert result.detection.payload == PAYLOAD
    return result


FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    "photo.jpg": ("JPEG", {"quality": 90, "subsampling": "4:4:4", "progressive": True}),
    "photo.png": ("PNG", {}),
    "photo.webp": ("WEBP", {"lossless": True}),
    "lossy.webp": ("WEBP", {"quality": 90}),
    "photo.tif": ("TIFF", {"compression": "tiff_lzw"}),
}


@pytest.mark.parametrize("name", FORMATS)
def test_round_trip_keeps_format_metadata_and_mark(
    name: str, photo: Image.Image, icc: bytes, tmp_path: Path
) -> None:
    fmt, options = FORMATS[name]
    src = tmp_path / name
    photo.save(src, fmt, exif=exif(), icc_profile=icc, dpi=(300, 300), **options)
    dst, result = marked(src)

    assert result.to_record() == {
        "path": str(src),
        "output": str(dst),
        "format": fmt,
        "payload_hex": PAYLOAD.hex(),
        "key_id": KEY.key_id,
        "orientation": 1,
        "notes": [],
    }
    with Image.open(src) as before, Image.open(dst) as after:
        assert (after.format, after.mode, after.size) == (fmt, before.mode, before.size)
        assert after.info["icc_profile"] == icc
        tags = after.getexif()
        assert (tags[MAKE], tags[ARTIST]) == ("LeakCam", "the owner")
        if fmt != "TIFF":  # a TIFF's EXIF is its own tags, rewritten with the pixels
            assert after.info["exif"] == before.info["exif"]
            assert tags.get_ifd(0x8769)[USER_COMMENT].endswith(b"for my partner only")
        if fmt in ("JPEG", "TIFF"):
            assert after.info["dpi"] == pytest.approx((300, 300))
        pixels = np.asarray(after, dtype=np.int16) - np.asarray(before, dtype=np.int16)
        assert 0 < np.abs(pixels).mean() < 4  # invisible: a few levels at most on average
    assert found(dst).to_record()["payload_hex"] == PAYLOAD.hex()


def test_jpeg_keeps_its_tables_subsampling_progressive_and_segments(
    photo: Image.Image, tmp_path: Path
) -> None:
    src = tmp_path / "photo.jpg"
    photo.save(src, quality=80, subsampling="4:2:2", progressive=True, xmp=XMP, comment=b"hi")
    dst, _ = marked(src)
    with Image.open(src) as before, Image.open(dst) as after:
        assert after.quantization == before.quantization
        assert JpegImagePlugin.get_sampling(after) == JpegImagePlugin.get_sampling(before) == 1
        assert after.info.get("progressive") == 1
        assert after.info["xmp"] == XMP
        assert after.info["comment"] == b"hi"


@pytest.mark.parametrize(("name", "fmt"), [("phone.jpg", "JPEG"), ("scan.tif", "TIFF")])
def test_orientation_is_honoured_and_kept(
    name: str, fmt: str, photo: Image.Image, tmp_path: Path
) -> None:
    src = tmp_path / name
    photo.save(src, fmt, exif=exif(orientation=6), quality=92)
    dst, result = marked(src)
    assert result.orientation == 6
    with Image.open(src) as before, Image.open(dst) as after:
        assert after.getexif()[ORIENTATION] == 6
        assert after.size == before.size
        if fmt == "JPEG":
            assert after.info["exif"] == before.info["exif"]
            assert after.size == (640, 560)  # stored sideways, shown upright
            upright = ImageOps.exif_transpose(after)
    found(dst)
    if fmt == "JPEG":
        # What a viewer shows, saved with no EXIF left to say how to turn it.
        assert upright.size == (560, 640)
        shown = tmp_path / "shown.png"
        upright.save(shown)
        with Image.open(shown) as copy:
            assert "exif" not in copy.info
        found(shown)


def deflate_tiff_with_exif(path: Path, rgb: Any, orientation: int, date: str) -> None:
    """A Deflate-compressed TIFF with an EXIF directory, as scanners and cameras write
    (Pillow cannot write one)."""
    height, width, _ = rgb.shape
    strip = zlib.compress(rgb.tobytes())
    text = date.encode() + b"\0"
    bits_at = 8 + 2 + 12 * 12 + 4
    exif_at = bits_at + 6
    text_at = exif_at + 2 + 12 + 4

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        short = kind == 3 and count == 1
        packed = struct.pack("<HH", value, 0) if short else struct.pack("<I", value)
        return struct.pack("<HHI", tag, kind, count) + packed

    directory = [
        entry(256, 4, 1, width),
        entry(257, 4, 1, height),
        entry(258, 3, 3, bits_at),
        entry(259, 3, 1, 8),  # Adobe Deflate
        entry(262, 3, 1, 2),  # RGB
        entry(273, 4, 1, text_at + len(text)),
        entry(ORIENTATION, 3, 1, orientation),
        entry(277, 3, 1, 3),
        entry(278, 4, 1, height),
        entry(279, 4, 1, len(strip)),
        entry(284, 3, 1, 1),
        entry(0x8769, 4, 1, exif_at),
    ]
    path.write_bytes(
        b"II*\0"
        + struct.pack("<IH", 8, len(directory))
        + b"".join(directory)
        + bytes(4)
        + struct.pack("<3HH", 8, 8, 8, 1)
        + entry(0x9003, 2, len(text), text_at)  # DateTimeOriginal
        + bytes(4)
        + text
        + strip
    )


def test_a_compressed_tiff_keeps_its_exif_directory(photo: Image.Image, tmp_path: Path) -> None:
    src = tmp_path / "scan.tif"
    deflate_tiff_with_exif(src, np.asarray(photo), 6, "2024:05:01 10:00:00")
    dst, result = marked(src)
    assert "uncompressed" in " ".join(result.notes)
    with Image.open(dst) as after:
        after.load()
        assert after.size == (560, 640)
        assert after.getexif().get_ifd(0x8769)[0x9003] == "2024:05:01 10:00:00"
    with Image.open(dst) as stored:
        assert stored.tag_v2[ORIENTATION] == 6  # type: ignore[attr-defined]
    found(dst)


def test_alpha_is_kept_untouched(photo: Image.Image, tmp_path: Path) -> None:
    rgba = photo.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(photo.size))
    for name, options in (("a.png", {}), ("a.webp", {"quality": 90})):
        rgba.save(tmp_path / name, **options)
        dst, _ = marked(tmp_path / name)
        with Image.open(dst) as after:
            assert after.mode == "RGBA"
            assert np.array_equal(
                np.asarray(after.getchannel("A")), np.asarray(rgba.getchannel("A"))
            )
    found(tmp_path / "marked-a.png")


@pytest.mark.parametrize("name", ["grey.jpg", "grey.png"])
def test_grayscale_stays_grayscale(name: str, photo: Image.Image, tmp_path: Path) -> None:
    photo.convert("L").save(tmp_path / name, quality=92)
    dst, _ = marked(tmp_path / name)
    with Image.open(dst) as after:
        assert after.mode == "L"
    found(dst)


def test_a_palette_png_is_stored_as_rgb_and_says_so(photo: Image.Image, tmp_path: Path) -> None:
    photo.convert("P").save(tmp_path / "p.png")
    dst, result = marked(tmp_path / "p.png")
    assert "palette" in " ".join(result.notes)
    with Image.open(dst) as after:
        assert (after.format, after.mode) == ("PNG", "RGB")


def test_png_text_chunks_are_kept(photo: Image.Image, tmp_path: Path) -> None:
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Author", "me")
    chunks.add_itxt("Description", "privé", "fr", "Beschreibung")
    photo.save(tmp_path / "t.png", pnginfo=chunks)
    dst, _ = marked(tmp_path / "t.png")
    with Image.open(dst) as after:
        assert after.text == {"Author": "me", "Description": "privé"}  # type: ignore[attr-defined]


def test_the_output_keeps_the_inputs_permissions(photo: Image.Image, tmp_path: Path) -> None:
    photo.save(tmp_path / "private.png")
    (tmp_path / "private.png").chmod(0o600)
    dst, _ = marked(tmp_path / "private.png")
    assert dst.stat().st_mode & 0o777 == 0o600


def test_overwrite_replaces_an_existing_output_only_when_asked(
    photo: Image.Image, tmp_path: Path
) -> None:
    photo.save(tmp_path / "p.png")
    dst = tmp_path / "out.png"
    dst.write_bytes(b"old")
    with pytest.raises(WatermarkFileError) as refused:
        embed_file(tmp_path / "p.png", dst, KEY, PAYLOAD, limits=LIMITS)
    assert refused.value.code == "output-exists"
    assert dst.read_bytes() == b"old"
    embed_file(tmp_path / "p.png", dst, KEY, PAYLOAD, limits=LIMITS, overwrite=True)
    with Image.open(dst) as after:
        assert after.format == "PNG"


def _frames(image: Image.Image, fmt: str) -> Callable[[Path], None]:
    def save(path: Path) -> None:
        image.save(path, fmt, save_all=True, append_images=[image.rotate(5)])

    return save


def _save(image: Image.Image, fmt: str, **options: Any) -> Callable[[Path], None]:
    return lambda path: image.save(path, fmt, **options)


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _sixteen_bit_rgb(image: Image.Image) -> Callable[[Path], None]:
    """A 16-bit RGB PNG, which Pillow opens as 8-bit RGB."""
    deep = np.asarray(image)[:, :, ::-1].astype(np.uint16) * 257
    return lambda path: path.write_bytes(cv2.imencode(".png", deep)[1].tobytes())


def _truncated(path: Path) -> None:
    Image.fromarray(skimage.data.astronaut()).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:20_000])


REFUSALS: dict[str, tuple[Callable[[Image.Image], Callable[[Path], None]], str, str]] = {
    "small.png": (lambda p: _save(p.resize((600, 400)), "PNG"), "image-too-small", "512"),
    "anim.gif": (lambda p: _frames(p, "GIF"), "animated", "animated"),
    "still.gif": (lambda p: _save(p, "GIF"), "unsupported-format", "256 colours"),
    "still.bmp": (lambda p: _save(p, "BMP"), "unsupported-format", "JPEG, PNG, WebP"),
    "anim.png": (lambda p: _frames(p, "PNG"), "animated", "animated"),
    "anim.webp": (lambda p: _frames(p, "WEBP"), "animated", "animated"),
    "pages.tif": (lambda p: _frames(p, "TIFF"), "animated", "multi-page"),
    "deep.png": (lambda p: _save(p.convert("I;16"), "PNG"), "unsupported-image", "16-bit"),
    "deep-rgb.png": (lambda p: _sixteen_bit_rgb(p), "unsupported-image", "16-bit"),
    "print.jpg": (lambda p: _save(p.convert("CMYK"), "JPEG"), "unsupported-image", "CMYK"),
    "photo.heic": (lambda p: _save(p, "HEIF"), "unsupported-format", "JPEG or PNG"),
    "notes.jpg": (lambda p: _bytes(b"not an image at all"), "unsupported-format", "not an image"),
    "cut.jpg": (lambda p: _truncated, "corrupt", "truncated"),
    "empty.png": (lambda p: _bytes(b""), "empty", "empty"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_refusals_are_clear_and_write_nothing(
    name: str, photo: Image.Image, tmp_path: Path
) -> None:
    make, code, words = REFUSALS[name]
    # Refused before the image is marked: a small image says so as well as a large one.
    make(photo if name == "small.png" else photo.resize((64, 56)))(tmp_path / name)
    before = listing(tmp_path)
    dst = tmp_path / f"out{Path(name).suffix}"
    with pytest.raises((WatermarkFileError, MediaError, ImageTooSmallError)) as refused:
        embed_file(tmp_path / name, dst, KEY, PAYLOAD, limits=LIMITS)
    error = refused.value
    assert (getattr(error, "code", None) or error.slug) == code
    assert words in error.message
    assert error.exit_code == 3
    assert listing(tmp_path) == before


def test_outputs_that_would_lose_something_are_refused(photo: Image.Image, tmp_path: Path) -> None:
    src = tmp_path / "p.jpg"
    photo.save(src)
    (tmp_path / "existing.jpg").write_bytes(b"keep me")
    (tmp_path / "link.jpg").hardlink_to(src)
    cases = {
        src: "same-file",
        tmp_path / "." / "p.jpg": "same-file",
        tmp_path / "link.jpg": "same-file",
        tmp_path / "existing.jpg": "output-exists",
        tmp_path / "p.png": "format-mismatch",
        tmp_path / "no-such-dir" / "p.jpg": "cannot-write",
        tmp_path: "cannot-write",
    }
    original = src.read_bytes()
    before = listing(tmp_path)
    for dst, code in cases.items():
        with pytest.raises(WatermarkFileError) as refused:
            embed_file(src, dst, KEY, PAYLOAD, limits=LIMITS, overwrite=dst.name == "link.jpg")
        assert refused.value.code == code, dst
    assert listing(tmp_path) == before
    assert src.read_bytes() == original
    assert (tmp_path / "existing.jpg").read_bytes() == b"keep me"
    # A name that says nothing about the format is fine: the format is the input's.
    embed_file(src, tmp_path / "copy", KEY, PAYLOAD, limits=LIMITS)
    with Image.open(tmp_path / "copy") as after:
        assert after.format == "JPEG"


def test_a_failed_write_leaves_no_partial_file(
    photo: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo.save(tmp_path / "p.png")
    real_save = Image.Image.save

    def disk_full(self: Image.Image, fp: Any, *args: Any, **kwargs: Any) -> None:
        real_save(self, fp, *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(WatermarkFileError, match="No space left") as refused:
        embed_file(tmp_path / "p.png", tmp_path / "out.png", KEY, PAYLOAD, limits=LIMITS)
    assert refused.value.code == "cannot-write"
    assert listing(tmp_path) == ["p.png"]


def test_limits_are_applied_before_decoding(photo: Image.Image, tmp_path: Path) -> None:
    photo.save(tmp_path / "p.png")
    with pytest.raises(MediaError) as refused:
        detect_file(tmp_path / "p.png", KEY, limits=MediaLimits(max_pixels=100_000))
    assert refused.value.code == "too-many-pixels"
    with pytest.raises(MediaError) as too_big:
        embed_file(
            tmp_path / "p.png",
            tmp_path / "o.png",
            KEY,
            PAYLOAD,
            limits=MediaLimits(max_file_bytes=10),
        )
    assert too_big.value.code == "file-too-large"
    assert listing(tmp_path) == ["p.png"]


def test_an_unmarked_file_or_another_key_finds_nothing(photo: Image.Image, tmp_path: Path) -> None:
    photo.save(tmp_path / "p.png")
    dst, _ = marked(tmp_path / "p.png")
    clean = detect_file(tmp_path / "p.png", KEY, limits=LIMITS)
    assert not clean.detection.present
    assert clean.to_record()["payload_hex"] is None
    other = detect_file(dst, WatermarkKey(bytes(32)), limits=LIMITS, generator_marks=False)
    assert not other.detection.present


def test_detection_reads_a_heic_copy(photo: Image.Image, tmp_path: Path) -> None:
    photo.save(tmp_path / "p.png")
    dst, _ = marked(tmp_path / "p.png")
    with Image.open(dst) as copy:
        copy.save(tmp_path / "copy.heic", quality=90)  # as a phone would share it
    found(tmp_path / "copy.heic")


def test_detection_reports_generator_marks(photo: Image.Image, tmp_path: Path) -> None:
    photo.save(tmp_path / "p.png")
    record = detect_file(tmp_path / "p.png", KEY, limits=LIMITS).to_record()
    assert set(record) == {
        "path",
        "present",
        "payload_hex",
        "confidence",
        "key_id",
        "rotation",
        "generator_marks",
    }
    assert record["generator_marks"] == []  # only the marks found are listed
    # A Stable Diffusion 1 script's mark, saved losslessly, is listed with its caveats.
    from tests.watermark.test_generator import _sd_script

    marked = _sd_script(np.asarray(photo.convert("RGB")), b"StableDiffusionV1")
    Image.fromarray(marked).save(tmp_path / "generated.png")
    record = detect_file(tmp_path / "generated.png", KEY, limits=LIMITS).to_record()
    (mark,) = record["generator_marks"]
    assert mark["mark_id"] == "sd1-dwtdct-136" and mark["present"] is True
    assert "not proof" in mark["caveats"]
    assert {"name", "matched_bits", "total_bits", "p_value", "channel_order"} <= set(mark)
