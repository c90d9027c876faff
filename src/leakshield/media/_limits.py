"""Bounds on untrusted media, so that a hostile file is refused instead of eating the machine."""

from __future__ import annotations

import stat as stat_module
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from leakshield.media._errors import MediaError

if TYPE_CHECKING:
    from leakshield.config import Settings


@dataclass(frozen=True)
class MediaLimits:
    """How much work one file may ask for. Each bound refused is a `MediaError`."""

    max_file_bytes: int = 4 << 30
    max_pixels: int = 150_000_000
    max_video_seconds: float = 4 * 3600.0
    max_video_frames: int = 1_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        """The limits the settings ask for."""
        return cls(
            max_file_bytes=settings.media_max_file_bytes,
            max_pixels=settings.media_max_pixels,
            max_video_seconds=settings.media_max_video_seconds,
            max_video_frames=settings.media_max_video_frames,
        )

    def check_file(self, path: Path) -> int:
        """The file's size in bytes, after checking it is a readable, non-empty, bounded file."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise MediaError("not-found", "no such file") from None
        except OSError as exc:
            raise MediaError("unreadable", f"cannot read the file: {exc.strerror}") from None
        if stat_module.S_ISDIR(stat.st_mode):
            raise MediaError("unreadable", "is a directory; pass --recursive to hash its files")
        if not stat_module.S_ISREG(stat.st_mode):
            # A FIFO or a device could block or never end.
            raise MediaError("unreadable", "not a regular file (a pipe, socket or device)")
        if stat.st_size == 0:
            raise MediaError("empty", "the file is empty (0 bytes)")
        if stat.st_size > self.max_file_bytes:
            raise MediaError(
                "file-too-large",
                f"the file is {stat.st_size:,} bytes, over the limit of "
                f"{self.max_file_bytes:,}; raise LEAKSHIELD_MEDIA_MAX_FILE_BYTES to allow it",
            )
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise MediaError("unreadable", f"cannot read the file: {exc.strerror}") from None
        return stat.st_size

    def check_pixels(self, width: int, height: int) -> None:
        """Refuse an image or video frame whose pixel count is over the limit."""
        if width <= 0 or height <= 0:
            raise MediaError("corrupt", f"the image claims a size of {width}x{height}")
        if width * height > self.max_pixels:
            raise MediaError(
                "too-many-pixels",
                f"{width}x{height} is {width * height:,} pixels, over the limit of "
                f"{self.max_pixels:,}; raise LEAKSHIELD_MEDIA_MAX_PIXELS to allow it",
            )
