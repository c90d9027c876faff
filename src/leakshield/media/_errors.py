"""The one error type of media decoding, with a stable code per kind of refusal."""

from __future__ import annotations

from typing import Literal

from leakshield.errors import InputError

MediaErrorCode = Literal[
    "not-found",
    "unreadable",
    "empty",
    "file-too-large",
    "too-many-pixels",
    "video-too-long",
    "unsupported-format",
    "corrupt",
    "no-video-stream",
]


class MediaError(InputError):
    """A media file was refused or could not be decoded; ``code`` says which way."""

    slug = "bad-media"
    title = "Media could not be read"

    def __init__(self, code: MediaErrorCode, message: str) -> None:
        super().__init__(message, code=code)
        self.code: MediaErrorCode = code
