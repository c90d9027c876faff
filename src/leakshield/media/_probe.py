"""Which kind of media a file holds, judged by its content, not its name."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from leakshield.media._errors import MediaError
from leakshield.media._image import is_image
from leakshield.media._limits import MediaLimits
from leakshield.media._video import has_video_stream

MediaType = Literal["image", "video"]

# Names that promise an image: FFmpeg would read these as one-frame "videos" and
# report a broken one with a confusing message, so they are never tried as video.
_IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif", ".avif", ".bmp", ".tif"}
    | {".tiff", ".jfif"}
)


def detect_media_type(path: Path, limits: MediaLimits) -> MediaType:
    """``"image"`` or ``"video"``; raises `MediaError` when the file is neither."""
    limits.check_file(path)
    if is_image(path):
        return "image"
    if path.suffix.lower() in _IMAGE_SUFFIXES:
        raise MediaError("unsupported-format", "not an image format leakshield can read")
    has_video = has_video_stream(path)
    if has_video:
        return "video"
    if has_video is False:
        raise MediaError("no-video-stream", "the file has no video stream (audio only?)")
    raise MediaError("unsupported-format", "neither an image nor a video leakshield can read")
