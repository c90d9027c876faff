"""Watermarking image files: bounded decoding, orientation, metadata kept, atomic writes.

`embed_file` marks the image as it is displayed (EXIF orientation applied) and stores the
pixels back the way the file had them, so the file's EXIF stays valid and byte-identical.
The marked copy keeps the input's format and what Pillow can carry of its metadata; a JPEG
is re-encoded with its own quantization tables and chroma subsampling.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import ExifTags, Image, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

from leakshield.errors import LeakshieldError
from leakshield.media import MediaError, MediaLimits
from leakshield.watermark._core import detect, embed
from leakshield.watermark._key import WatermarkKey
from leakshield.watermark._model import PAYLOAD_BYTES, Detection, WatermarkError

__all__ = ["EmbedFileResult", "FileDetection", "WatermarkFileError", "detect_file", "embed_file"]

# What a marked copy can be written as; MPO (a JPEG with extra images) is written as JPEG.
WRITABLE_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF")
_LOSSY_WEBP_QUALITY = 95
_TIFF_JPEG_QUALITY = 95
_EXIF_ORIENTATION = 0x0112
# Orientation -> the transpose that shows the image upright, as ImageOps.exif_transpose does.
_TO_DISPLAY = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_TO_STORED = {**_TO_DISPLAY, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
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


class WatermarkFileError(WatermarkError):
    """A file that cannot be marked as asked, or an output that would be unsafe to write.

    ``code`` names the refusal: ``unsupported-format``, ``unsupported-image``, ``animated``,
    ``same-file``, ``output-exists``, ``format-mismatch`` or ``cannot-write``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.code = code


@dataclass(frozen=True)
class EmbedFileResult:
    """A marked copy written: where, in which format, with which payload and key."""

    source: Path
    output: Path
    format: str
    payload: bytes
    key_id: str
    orientation: int
    notes: tuple[str, ...] = ()

    @property
    def payload_hex(self) -> str:
        return self.payload.hex()

    def to_record(self) -> dict[str, Any]:
        """The result as one JSON object."""
        return {
            "path": str(self.source),
            "output": str(self.output),
            "format": self.format,
            "payload_hex": self.payload_hex,
            "key_id": self.key_id,
            "orientation": self.orientation,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class FileDetection:
    """What was found in one file: the keyed watermark, and generators' public marks."""

    path: Path
    key_id: str
    detection: Detection
    generator_marks: tuple[Any, ...] = field(default=())

    def to_record(self) -> dict[str, Any]:
        """The result as one JSON object."""
        found = self.detection
        return {
            "path": str(self.path),
            "present": found.present,
            "payload_hex": found.payload_hex,
            "confidence": round(found.confidence, 4),
            "key_id": self.key_id,
            "scale": found.scale,
            "rotation": found.rotation,
            "generator_marks": [_mark_record(mark) for mark in self.generator_marks],
        }


def embed_file(
    src: Path,
    dst: Path,
    key: WatermarkKey,
    payload: bytes,
    *,
    limits: MediaLimits,
    overwrite: bool = False,
) -> EmbedFileResult:
    """Write a marked copy of the image ``src`` to ``dst``, in ``src``'s format.

    ``dst`` is written atomically (a temporary file beside it, renamed when complete) and
    never replaces ``src``, nor an existing file unless ``overwrite``. Raises an
    `InputError` (a `MediaError`, `WatermarkFileError` or `ImageTooSmallError`) when the
    file cannot be marked; nothing is written then.
    """
    if len(payload) != PAYLOAD_BYTES:
        raise WatermarkError(f"a payload is {PAYLOAD_BYTES} bytes (16 hex digits)")
    limits.check_file(src)
    _check_output(src, dst, overwrite=overwrite)
    loaded = _load(src, limits)
    fmt = _writable_format(loaded.image)
    _check_suffix(dst, fmt, loaded.image.format or fmt)
    _check_depth(loaded.image)
    params = _save_params(loaded, fmt, src)
    orientation = loaded.orientation
    # Work on the pixels as the file stores them, so that its orientation tag stays true.
    stored = _turn(loaded.image, _TO_STORED, orientation) if loaded.upright else loaded.image
    colour, alpha, notes = _split(stored)
    marked_rgb = embed(
        np.asarray(_turn(colour, _TO_DISPLAY, orientation).convert("RGB")), key, payload
    )
    # The core changes R, G and B alike, so the luma of a grey image's mark is the mark.
    marked = Image.fromarray(marked_rgb, "RGB").convert(colour.mode)
    marked = _turn(marked, _TO_STORED, orientation)
    if alpha is not None:
        marked.putalpha(alpha)
    if loaded.image.format == "MPO":
        notes.append("only the main image was kept: the file's extra images (MPO) were dropped")
    mode = src.stat().st_mode & 0o777
    _write(marked, fmt, params, dst, mode=mode, overwrite=overwrite)
    return EmbedFileResult(src, dst, fmt, payload, key.key_id, orientation, tuple(notes))


def detect_file(
    path: Path, key: WatermarkKey, *, limits: MediaLimits, generator_marks: bool = True
) -> FileDetection:
    """Look for ``key``'s watermark in an image file, read upright (EXIF orientation applied),
    and, with ``generator_marks``, for the public marks of image generators."""
    from leakshield.watermark._generator import detect_generator_marks

    loaded = _load(path, limits)
    try:
        stored = _rgb(loaded.image)
        upright = (
            loaded.image if loaded.upright else _turn(loaded.image, _TO_DISPLAY, loaded.orientation)
        )
        displayed = _rgb(upright)
    except MemoryError:
        raise MediaError("too-many-pixels", "not enough memory to decode the image") from None
    detection = detect(displayed, key)
    # Generators mark the pixels as they save them, before any rotation a viewer applies.
    marks = tuple(detect_generator_marks(stored)) if generator_marks else ()
    return FileDetection(path, key.key_id, detection, marks)


# ---- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """A decoded first frame, its EXIF orientation, and whether the decoder already applied
    it (Pillow turns TIFF images upright as it loads them)."""

    image: Image.Image
    orientation: int
    upright: bool


def _load(path: Path, limits: MediaLimits) -> _Loaded:
    """The file's first frame, decoded within ``limits``; a `MediaError` if it cannot be."""
    limits.check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                limits.check_pixels(*image.size)
                tags = getattr(image, "tag_v2", None)
                tiff_orientation = tags.get(_EXIF_ORIENTATION) if tags is not None else None
                image.load()
                _read_exif(image)
                if tags is not None and tiff_orientation and _EXIF_ORIENTATION not in tags:
                    return _Loaded(image, _valid_orientation(tiff_orientation), upright=True)
                return _Loaded(image, _orientation(image), upright=False)
    except LeakshieldError:
        raise
    except UnidentifiedImageError:
        raise MediaError("unsupported-format", "not an image format leakshield can read") from None
    except MemoryError:
        raise MediaError("too-many-pixels", "not enough memory to decode the image") from None
    except Exception as exc:  # decoders raise many types on malformed data
        raise MediaError("corrupt", f"the image could not be decoded: {exc}") from None


def _read_exif(image: Image.Image) -> None:
    """Read the EXIF while the file is open: a TIFF's EXIF is read from the file on demand."""
    try:
        exif = image.getexif()
        for ifd in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo):
            exif.get_ifd(ifd)
    except Exception:  # noqa: S110 (a broken EXIF block must not lose the image)
        pass


def _turn(image: Image.Image, table: dict[int, Image.Transpose], orientation: int) -> Image.Image:
    """``image`` turned by ``table``'s transpose for ``orientation`` (none for 1)."""
    method = table.get(orientation)
    return image if method is None else image.transpose(method)


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block: the image is shown as stored
        return 1
    return _valid_orientation(value)


def _valid_orientation(value: object) -> int:
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _rgb(image: Image.Image) -> NDArray[np.uint8]:
    """8-bit RGB pixels of any mode (alpha dropped, 16-bit scaled down)."""
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float32)
        if image.mode.startswith("I;16"):
            values = values / np.float32(257.0)
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _is_animated(image: Image.Image) -> bool:
    return bool(getattr(image, "is_animated", False)) or getattr(image, "n_frames", 1) > 1


def _rawmodes(image: Image.Image) -> list[str]:
    """How the file stores its pixels (e.g. ``RGB;16B``), as far as Pillow says."""
    modes = []
    for tile in getattr(image, "tile", None) or ():
        args = tile[3]
        rawmode = args[0] if isinstance(args, tuple) and args else args
        if isinstance(rawmode, str):
            modes.append(rawmode)
    return modes


# ---- what can be marked -------------------------------------------------------------------


def _writable_format(image: Image.Image) -> str:
    """The format the marked copy is written in, or a clear refusal."""
    fmt = image.format or "unknown"
    if fmt == "MPO":
        return "JPEG"
    if fmt in ("HEIF", "AVIF"):
        raise WatermarkFileError(
            "unsupported-format",
            f"{fmt} files cannot be watermarked yet: writing them back would re-encode the "
            "photo with a lossy encoder leakshield cannot match. Convert it to JPEG or PNG "
            "first (watermark detection does read HEIC and AVIF).",
        )
    if fmt not in WRITABLE_FORMATS:
        raise WatermarkFileError(
            "unsupported-format",
            f"{fmt} files cannot be watermarked; leakshield marks JPEG, PNG, WebP and TIFF. "
            "Convert it to PNG first.",
        )
    if _is_animated(image):
        raise WatermarkFileError(
            "animated",
            "animated images and multi-page files cannot be watermarked yet (only still "
            "images); export the frame you want to protect as a still image first",
        )
    return fmt


def _check_depth(image: Image.Image) -> None:
    """Refuse 16-bit images: Pillow would hand over (and write back) only 8 bits of them."""
    if any(";16" in rawmode for rawmode in _rawmodes(image)) or image.mode.startswith("I;16"):
        raise _unsupported(
            "16-bit images cannot be watermarked yet; save it with 8 bits per channel first"
        )


def _split(image: Image.Image) -> tuple[Image.Image, Image.Image | None, list[str]]:
    """The colour part to mark (RGB or L), the alpha channel kept as it is, and notes."""
    notes: list[str] = []
    mode = image.mode
    if mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in image.info
        mode = "RGBA" if transparent else "RGB"
        image = image.convert(mode)
        notes.append(f"the palette image was stored as {mode}: a mark needs more than 256 colours")
    if mode in ("RGB", "L"):
        return image, None, notes
    if mode in ("RGBA", "LA"):
        return image.convert(mode[0] if mode == "LA" else "RGB"), image.getchannel("A"), notes
    if mode == "1":
        raise _unsupported("a black-and-white (1-bit) image has no room for an invisible mark")
    if mode == "CMYK":
        raise _unsupported(
            "CMYK images (print files) cannot be watermarked yet; convert it to RGB first"
        )
    if mode in ("I", "F"):
        raise _unsupported(
            "16-bit, 32-bit and floating-point images cannot be watermarked "
            "yet; save it with 8 bits per channel first"
        )
    raise _unsupported(
        f"images in colour mode {mode} cannot be watermarked yet; convert it to RGB first"
    )


def _unsupported(message: str) -> WatermarkFileError:
    return WatermarkFileError("unsupported-image", message)


# ---- writing ------------------------------------------------------------------------------


def _check_output(src: Path, dst: Path, *, overwrite: bool) -> None:
    """Refuse an output that is the input, an existing file (unless asked) or not writable."""
    same = src.resolve() == dst.resolve()
    if not same and dst.exists():
        try:
            same = src.samefile(dst)
        except OSError:
            same = False
    if same:
        raise WatermarkFileError(
            "same-file",
            "the output is the input file itself; the original is never replaced. Give "
            "another output path.",
        )
    if dst.is_dir():
        raise WatermarkFileError("cannot-write", f"{dst} is a directory; give a file name")
    if (dst.exists() or dst.is_symlink()) and not overwrite:
        raise WatermarkFileError(
            "output-exists", f"{dst} already exists; pass --force to replace it"
        )
    if not dst.parent.is_dir():
        raise WatermarkFileError("cannot-write", f"the directory {dst.parent} does not exist")


def _check_suffix(dst: Path, fmt: str, source_format: str) -> None:
    """The output's name may not promise another format than the one it will hold."""
    named = Image.registered_extensions().get(dst.suffix.lower())
    if named is None or named in (fmt, source_format):
        return
    expected = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif"}[fmt]
    raise WatermarkFileError(
        "format-mismatch",
        f"the output is named {dst.suffix} but the input is a {fmt} file, and the marked "
        f"copy keeps the input's format; name it {dst.stem}{expected}",
    )


def _save_params(loaded: _Loaded, fmt: str, src: Path) -> dict[str, Any]:
    """How to write ``fmt`` so that the copy keeps the input's encoding and metadata."""
    image = loaded.image
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
        params.update(_tiff_params(loaded))
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
        chunks.add(
            b"cHRM", b"".join(round(v * 100_000).to_bytes(4, "big") for v in info["chromaticity"])
        )
    if "srgb" in info:
        chunks.add(b"sRGB", bytes((info["srgb"],)))
    params: dict[str, Any] = {"pnginfo": chunks}
    if image.mode in ("RGB", "L") and "transparency" in info:
        params["transparency"] = info["transparency"]
    return params


def _tiff_params(loaded: _Loaded) -> dict[str, Any]:
    image = loaded.image
    compression = image.info.get("compression") or "raw"
    if compression in ("tiff_jpeg", "jpeg"):
        compression = "jpeg"
    params: dict[str, Any] = {"compression": compression}
    if compression == "jpeg":
        params["quality"] = _TIFF_JPEG_QUALITY
    tags = image.getexif()
    for tag in [tag for tag in tags if tag in _TIFF_LAYOUT_TAGS]:
        del tags[tag]
    if loaded.upright and loaded.orientation != 1:
        tags[_EXIF_ORIENTATION] = loaded.orientation  # Pillow dropped it when it turned the image
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


def _write(
    image: Image.Image, fmt: str, params: dict[str, Any], dst: Path, *, mode: int, overwrite: bool
) -> None:
    """Write through a temporary file beside ``dst``, renamed into place when complete."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    except OSError as exc:
        raise WatermarkFileError("cannot-write", f"cannot write {dst}: {exc.strerror}") from None
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, format=fmt, **params)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(mode)
        if overwrite:
            temporary.replace(dst)
        else:
            _link_new(temporary, dst)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise WatermarkFileError("cannot-write", f"cannot write {dst}: {exc.strerror}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _link_new(temporary: Path, dst: Path) -> None:
    """Move ``temporary`` to ``dst`` unless a file appeared there meanwhile."""
    try:
        os.link(temporary, dst)
    except FileExistsError:
        raise WatermarkFileError(
            "output-exists", f"{dst} already exists; pass --force to replace it"
        ) from None
    except OSError:  # no hard links on this file system: check, then rename
        if dst.exists():
            raise WatermarkFileError(
                "output-exists", f"{dst} already exists; pass --force to replace it"
            ) from None
        temporary.replace(dst)
        return
    temporary.unlink()


def _mark_record(mark: Any) -> dict[str, Any]:
    fields = ("name", "mark_id", "matched_bits", "total_bits", "p_value", "present")
    record = {name: getattr(mark, name) for name in fields}
    record["caveats"] = getattr(mark, "caveats", "")
    return record
