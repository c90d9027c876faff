"""Which image files can be marked, and how to write each format so the copy keeps the
input's encoding and metadata (Pillow's save parameters, format by format)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, JpegImagePlugin, PngImagePlugin

from leakshield.watermark._model import WatermarkError

__all__ = [
    "EXIF_ORIENTATION",
    "WRITABLE_FORMATS",
    "WatermarkFileError",
    "check_suffix",
    "save_params",
    "split_alpha",
    "writable_format",
]

# What a marked copy can be written as; MPO (a JPEG with extra images) is written as JPEG.
WRITABLE_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF")
EXIF_ORIENTATION = 0x0112
_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif"}
_LOSSY_WEBP_QUALITY = 95
_TIFF_JPEG_QUALITY = 95
# JPEG segments Pillow writes itself from the parameters we pass; MPF points at images the
# copy does not have. Every other APP segment (XMP, IPTC, maker data) is copied as it was.
_JPEG_SEGMENTS_REWRITTEN = (
    ("APP0", b"JFIF\x00"),
    ("APP1", b"Exif\x00"),
    ("APP2", b"ICC_PROFILE\x00"),
    ("APP2", b"MPF\x00"),
    ("APP14", b"Adobe"),
)
# TIFF tags that describe how the pixels are laid out: written anew for the marked copy.
_TIFF_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320, 322, 323}
    | {324, 325, 330, 338, 339, 347, 513, 514, 529, 530, 531, 532}
)
_TIFF_SUB_IFDS = (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop)


class WatermarkFileError(WatermarkError):
    """A file that cannot be marked as asked, or an output that would be unsafe to write.

    ``code`` names the refusal: ``unsupported-format``, ``unsupported-image``, ``animated``,
    ``same-file``, ``output-exists``, ``format-mismatch`` or ``cannot-write``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.code = code


def writable_format(image: Image.Image, *, animated: bool, sixteen_bit: bool) -> str:
    """The format the marked copy of ``image`` is written in, or a clear refusal."""
    fmt = image.format or "unknown"
    if fmt == "MPO":
        return "JPEG"
    if animated:
        raise WatermarkFileError(
            "animated",
            "animated images and multi-page files cannot be watermarked yet (only still "
            "images); export the frame you want to protect as a still image first",
        )
    if fmt in ("HEIF", "AVIF"):
        raise WatermarkFileError(
            "unsupported-format",
            f"{fmt} files cannot be watermarked yet: writing them back would re-encode the "
            "photo with a lossy encoder leakshield cannot match. Convert it to JPEG or PNG "
            "first (watermark detection does read HEIC and AVIF).",
        )
    if fmt == "GIF":
        raise WatermarkFileError(
            "unsupported-format",
            "a GIF holds at most 256 colours, too few to hide a mark; convert it to PNG first",
        )
    if fmt not in WRITABLE_FORMATS:
        raise WatermarkFileError(
            "unsupported-format",
            f"{fmt} files cannot be watermarked; leakshield marks JPEG, PNG, WebP and TIFF. "
            "Convert it to PNG first.",
        )
    if sixteen_bit or image.mode.startswith("I;16"):
        # Pillow hands over (and would write back) only 8 bits of a 16-bit RGB image.
        raise _unsupported(
            "16-bit images cannot be watermarked yet; save it with 8 bits per channel first"
        )
    return fmt


def check_suffix(dst: Path, fmt: str, source_format: str) -> None:
    """The output's name may not promise another format than the one it will hold."""
    named = Image.registered_extensions().get(dst.suffix.lower())
    if named is None or named in (fmt, source_format):
        return
    raise WatermarkFileError(
        "format-mismatch",
        f"the output is named {dst.suffix} but the input is a {fmt} file, and the marked "
        f"copy keeps the input's format; name it {dst.stem}{_SUFFIXES[fmt]}",
    )


def split_alpha(image: Image.Image, notes: list[str]) -> tuple[Image.Image, Image.Image | None]:
    """The colour part to mark (RGB or L), and the alpha channel to keep as it is."""
    mode = image.mode
    if mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in image.info
        mode = "RGBA" if transparent else "RGB"
        image = image.convert(mode)
        notes.append(f"the palette image was stored as {mode}: a mark needs more than 256 colours")
    if mode in ("RGB", "L"):
        return image, None
    if mode in ("RGBA", "LA"):
        return image.convert(mode[0] if mode == "LA" else "RGB"), image.getchannel("A")
    if mode == "1":
        raise _unsupported("a black-and-white (1-bit) image has no room for an invisible mark")
    if mode == "CMYK":
        raise _unsupported(
            "CMYK images (print files) cannot be watermarked yet; convert it to RGB first"
        )
    if mode in ("I", "F"):
        raise _unsupported(
            "16-bit, 32-bit and floating-point images cannot be watermarked yet; save it with "
            "8 bits per channel first"
        )
    raise _unsupported(
        f"images in colour mode {mode} cannot be watermarked yet; convert it to RGB first"
    )


def _unsupported(message: str) -> WatermarkFileError:
    return WatermarkFileError("unsupported-image", message)


def save_params(
    image: Image.Image, fmt: str, src: Path, notes: list[str], *, restore_orientation: int = 1
) -> dict[str, Any]:
    """Pillow's parameters to write ``fmt`` so that the copy keeps ``image``'s encoding and
    metadata. ``restore_orientation`` puts back a TIFF orientation that Pillow applied and
    dropped as it loaded the file."""
    info = image.info
    params: dict[str, Any] = {
        key: info[key] for key in ("icc_profile", "exif", "dpi") if info.get(key)
    }
    if fmt == "JPEG":
        params.update(_jpeg_params(image))
    elif fmt == "PNG":
        params.update(_png_params(image))
    elif fmt == "WEBP":
        lossless = _webp_is_lossless(src)
        params.update(lossless=lossless, exact=lossless, alpha_quality=100)
        if not lossless:
            params["quality"] = _LOSSY_WEBP_QUALITY
        if info.get("xmp"):
            params["xmp"] = info["xmp"]
    elif fmt == "TIFF":
        params.update(_tiff_params(image, notes, restore_orientation))
    return params


def _jpeg_params(image: Image.Image) -> dict[str, Any]:
    info = image.info
    params: dict[str, Any] = {
        "qtables": getattr(image, "quantization", None) or "keep",
        "progressive": bool(info.get("progressive") or info.get("progression")),
    }
    if image.mode == "RGB":
        sampling = JpegImagePlugin.get_sampling(image)
        if sampling != -1:  # an unusual layout (4:4:0, 4:1:1) gets Pillow's 4:2:0
            params["subsampling"] = sampling
    if info.get("comment"):
        params["comment"] = info["comment"]
    extra = b""
    for marker, data in getattr(image, "applist", ()):
        if not marker.startswith("APP") or any(
            marker == m and data.startswith(p) for m, p in _JPEG_SEGMENTS_REWRITTEN
        ):
            continue  # COM is written from the comment
        number = int(marker[3:])
        extra += bytes((0xFF, 0xE0 + number)) + (len(data) + 2).to_bytes(2, "big") + data
    if extra:
        params["extra"] = extra
    return params


def _png_params(image: Image.Image) -> dict[str, Any]:
    info = image.info
    chunks = PngImagePlugin.PngInfo()
    for name, value in getattr(image, "text", {}).items():
        if isinstance(value, PngImagePlugin.iTXt):
            chunks.add_itxt(name, value, value.lang or "", value.tkey or "")
        else:
            chunks.add_text(name, value)
    if "gamma" in info:
        chunks.add(b"gAMA", round(info["gamma"] * 100_000).to_bytes(4, "big"))
    if "chromaticity" in info:
        points = info["chromaticity"]
        chunks.add(b"cHRM", b"".join(round(v * 100_000).to_bytes(4, "big") for v in points))
    if "srgb" in info:
        chunks.add(b"sRGB", bytes((info["srgb"],)))
    params: dict[str, Any] = {"pnginfo": chunks}
    if image.mode in ("RGB", "L") and "transparency" in info:
        params["transparency"] = info["transparency"]
    return params


def _tiff_params(image: Image.Image, notes: list[str], orientation: int) -> dict[str, Any]:
    compression = image.info.get("compression") or "raw"
    if compression in ("tiff_jpeg", "jpeg"):
        compression = "jpeg"
    params: dict[str, Any] = {"compression": compression}
    if compression == "jpeg":
        params["quality"] = _TIFF_JPEG_QUALITY
    tags = image.getexif()
    for tag in [tag for tag in tags if tag in _TIFF_LAYOUT_TAGS]:
        del tags[tag]
    if orientation != 1:
        tags[EXIF_ORIENTATION] = orientation
    if compression != "raw" and any(ifd in tags for ifd in _TIFF_SUB_IFDS):
        # Pillow writes compressed TIFFs through libtiff, which cannot take these directories.
        params = {"compression": "raw"}
        notes.append(
            f"written uncompressed (it was {compression}) to keep its EXIF and GPS metadata"
        )
    params["exif"] = tags
    return params


def _webp_is_lossless(path: Path) -> bool:
    """Whether a WebP file's image is VP8L (lossless) rather than VP8 (lossy)."""
    with path.open("rb") as handle:
        handle.seek(12)  # RIFF, size, WEBP
        while len(header := handle.read(8)) == 8:
            tag, size = header[:4], int.from_bytes(header[4:], "little")
            if tag in (b"VP8L", b"VP8 "):
                return tag == b"VP8L"
            handle.seek(size + (size & 1), os.SEEK_CUR)
    return False
