"""Watermarking image files: bounded decoding, orientation, metadata kept, atomic writes.

`embed_file` marks the image as it is displayed (EXIF orientation applied) and stores the
pixels back the way the file had them, so the file's EXIF stays valid and byte-identical.
The marked copy keeps the input's format and what Pillow can carry of its metadata; a JPEG
is re-encoded with its own quantization tables and chroma subsampling (see _file_formats).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import ExifTags, Image

from leakshield.media import MediaError, MediaLimits, image_decoding
from leakshield.watermark._core import detect, embed
from leakshield.watermark._file_formats import (
    EXIF_ORIENTATION,
    WatermarkFileError,
    check_suffix,
    save_params,
    split_alpha,
    writable_format,
)
from leakshield.watermark._generator import GeneratorMark, detect_generator_marks
from leakshield.watermark._key import WatermarkKey
from leakshield.watermark._model import PAYLOAD_BYTES, Detection, WatermarkError

__all__ = ["EmbedFileResult", "FileDetection", "WatermarkFileError", "detect_file", "embed_file"]

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
    generator_marks: tuple[GeneratorMark, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The result as one JSON object."""
        found = self.detection
        return {
            "path": str(self.path),
            "present": found.present,
            "payload_hex": found.payload_hex,
            "confidence": round(found.confidence, 4),
            "key_id": self.key_id,
            "rotation": found.rotation,
            # Only the marks found: each with the caveats that go with it.
            "generator_marks": [
                dataclasses.asdict(mark) for mark in self.generator_marks if mark.present
            ],
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
    image, orientation = loaded.image, loaded.orientation
    fmt = writable_format(image, animated=loaded.animated, sixteen_bit=loaded.sixteen_bit)
    check_suffix(dst, fmt, image.format or fmt)
    notes: list[str] = []
    restore = orientation if loaded.upright else 1
    params = save_params(image, fmt, src, notes, restore_orientation=restore)
    # Work on the pixels as the file stores them, so that its orientation tag stays true.
    stored = _turn(image, _TO_STORED, orientation) if loaded.upright else image
    colour, alpha = split_alpha(stored, notes)
    shown = _turn(colour, _TO_DISPLAY, orientation).convert("RGB")
    marked_rgb = embed(np.asarray(shown), key, payload)
    # The core changes R, G and B alike, so the luma of a grey image's mark is the mark.
    marked = Image.fromarray(marked_rgb, "RGB").convert(colour.mode)
    marked = _turn(marked, _TO_STORED, orientation)
    if alpha is not None:
        marked.putalpha(alpha)
    if image.format == "MPO":
        notes.append("only the main image was kept: the file's extra images (MPO) were dropped")
    mode = src.stat().st_mode & 0o777
    _write(marked, fmt, params, dst, mode=mode, overwrite=overwrite)
    return EmbedFileResult(src, dst, fmt, payload, key.key_id, orientation, tuple(notes))


def detect_file(
    path: Path, key: WatermarkKey, *, limits: MediaLimits, generator_marks: bool = True
) -> FileDetection:
    """Look for ``key``'s watermark in an image file, read upright (EXIF orientation applied),
    and, with ``generator_marks``, for the public marks of image generators."""
    loaded = _load(path, limits)
    image = loaded.image
    try:
        stored = _rgb(image)
        displayed = _rgb(image if loaded.upright else _turn(image, _TO_DISPLAY, loaded.orientation))
    except MemoryError:
        raise MediaError("too-many-pixels", "not enough memory to decode the image") from None
    detection = detect(displayed, key)
    # Generators mark the pixels as they save them, before any rotation a viewer applies.
    marks = tuple(detect_generator_marks(stored)) if generator_marks else ()
    return FileDetection(path, key.key_id, detection, marks)


# ---- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """A decoded first frame and what the file says about it. ``upright``: the decoder
    already applied the orientation (Pillow turns TIFF images upright as it loads them)."""

    image: Image.Image
    orientation: int
    upright: bool
    animated: bool
    sixteen_bit: bool


def _load(path: Path, limits: MediaLimits) -> _Loaded:
    """The file's first frame, decoded within ``limits``; a `MediaError` if it cannot be."""
    limits.check_file(path)
    with image_decoding(), Image.open(path) as image:
        limits.check_pixels(*image.size)
        # What only the open file can tell: the TIFF orientation before Pillow applies it,
        # further frames, and the stored bit depth.
        tags = getattr(image, "tag_v2", None)
        tiff_orientation = tags.get(EXIF_ORIENTATION) if tags is not None else None
        animated = _is_animated(image)
        sixteen_bit = any(";16" in rawmode for rawmode in _rawmodes(image))
        image.load()
        _read_exif(image)
        upright = bool(tiff_orientation) and EXIF_ORIENTATION not in (tags or {})
        orientation = _valid(tiff_orientation) if upright else _orientation(image)
        return _Loaded(image, orientation, upright, animated, sixteen_bit)


def _read_exif(image: Image.Image) -> None:
    """Read the EXIF while the file is open: a TIFF's EXIF is read from the file on demand."""
    try:
        exif = image.getexif()
        for ifd in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo):
            exif.get_ifd(ifd)
    except Exception:  # noqa: S110 (a broken EXIF block must not lose the image)
        pass


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block: the image is shown as stored
        return 1
    return _valid(value)


def _valid(orientation: object) -> int:
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1


def _turn(image: Image.Image, table: dict[int, Image.Transpose], orientation: int) -> Image.Image:
    """``image`` turned by ``table``'s transpose for ``orientation`` (none for 1)."""
    method = table.get(orientation)
    return image if method is None else image.transpose(method)


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


def _rgb(image: Image.Image) -> NDArray[np.uint8]:
    """8-bit RGB pixels of any mode (alpha dropped, 16-bit scaled down)."""
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float32)
        if image.mode.startswith("I;16"):
            values = values / np.float32(257.0)
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


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
        raise _exists(dst)
    if not dst.parent.is_dir():
        raise WatermarkFileError("cannot-write", f"the directory {dst.parent} does not exist")


def _exists(dst: Path) -> WatermarkFileError:
    return WatermarkFileError("output-exists", f"{dst} already exists; pass --force to replace it")


def _write(
    image: Image.Image, fmt: str, params: dict[str, Any], dst: Path, *, mode: int, overwrite: bool
) -> None:
    """Write through a temporary file beside ``dst``, moved into place when complete."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    except OSError as exc:
        raise _cannot_write(dst, exc) from None
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
            _move_to_new(temporary, dst)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise _cannot_write(dst, exc) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _move_to_new(temporary: Path, dst: Path) -> None:
    """Move ``temporary`` to ``dst`` unless a file appeared there meanwhile."""
    try:
        os.link(temporary, dst)  # fails, unlike a rename, if dst exists
    except FileExistsError:
        raise _exists(dst) from None
    except OSError:  # no hard links on this file system: check, then rename
        if dst.exists():
            raise _exists(dst) from None
        temporary.replace(dst)
        return
    temporary.unlink()


def _cannot_write(dst: Path, exc: OSError) -> WatermarkFileError:
    return WatermarkFileError("cannot-write", f"cannot write {dst}: {exc.strerror or exc}")
