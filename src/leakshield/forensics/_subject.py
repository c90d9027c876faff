"""The suspect file, read once: its bytes, digest and, where it decodes, its upright pixels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from leakshield.errors import LeakshieldError
from leakshield.forensics._model import SubjectInfo
from leakshield.media import MediaError, MediaLimits, image_decoding

__all__ = ["MAX_ANALYZE_BYTES", "Subject", "load_subject"]

# A still image bigger than this is not a photo anyone reposted; reading it whole into
# memory is what the byte-level analyzers (metadata, JPEG tables) need.
MAX_ANALYZE_BYTES = 256 << 20


@dataclass(frozen=True, eq=False)
class Subject:
    """What analyzers examine. ``image`` is None when the pixels could not be read
    (``problem`` says why); analyzers that need only the bytes still run."""

    path: Path
    data: bytes = field(repr=False)
    sha256: str
    format: str | None  # Pillow's name: "JPEG", "PNG", "WEBP", ...
    image: Image.Image | None = field(default=None, repr=False)  # as stored, not rotated
    upright: Image.Image | None = field(default=None, repr=False)  # RGB, EXIF orientation applied
    problem: LeakshieldError | None = None

    @property
    def info(self) -> SubjectInfo:
        width, height = self.upright.size if self.upright is not None else (None, None)
        problem = None
        if self.problem is not None:
            code = str(getattr(self.problem, "code", self.problem.slug))
            problem = {"code": code, "message": self.problem.message}
        return SubjectInfo(
            str(self.path), len(self.data), self.sha256, self.format, width, height, problem
        )

    def rgb(self) -> NDArray[np.uint8]:
        """The upright pixels as a read-only H x W x 3 array (made once, shared by every
        analyzer); raises the decoding problem if there are none."""
        return self._pixels

    @cached_property
    def _pixels(self) -> NDArray[np.uint8]:
        if self.upright is None:
            raise self.problem or MediaError("corrupt", "the image could not be decoded")
        pixels = np.asarray(self.upright, dtype=np.uint8)
        pixels.flags.writeable = False
        return pixels


def load_subject(path: Path, limits: MediaLimits) -> Subject:
    """Read ``path`` within ``limits``. Raises `MediaError` only when the file cannot be read
    at all; a file whose pixels do not decode is returned with its ``problem``."""
    if path.is_dir():
        raise MediaError("unreadable", "is a directory; name the image files to analyze")
    size = limits.check_file(path)
    if size > MAX_ANALYZE_BYTES:
        raise MediaError(
            "file-too-large",
            f"the file is {size:,} bytes; analyze reads still images up to "
            f"{MAX_ANALYZE_BYTES:,} bytes",
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    image = upright = None
    fmt: str | None = None
    problem: LeakshieldError | None = None
    try:
        image, upright, fmt = _decode(path, limits)
    except LeakshieldError as exc:
        problem = exc
        fmt = _format_only(path)
    return Subject(path, data, digest, fmt, image, upright, problem)


def _decode(path: Path, limits: MediaLimits) -> tuple[Image.Image, Image.Image, str]:
    with image_decoding():
        image = Image.open(path)
        fmt = image.format or "unknown"
        limits.check_pixels(*image.size)
        if getattr(image, "is_animated", False):
            image.seek(0)
        image.load()
        upright = ImageOps.exif_transpose(image).convert("RGB")
        return image, upright, fmt


def _format_only(path: Path) -> str | None:
    try:
        with image_decoding(), Image.open(path) as image:
            return image.format
    except LeakshieldError:
        return None
