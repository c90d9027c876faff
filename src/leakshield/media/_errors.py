"""The one error type of media decoding, with a stable code per kind of refusal."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from PIL import ImageFile, UnidentifiedImageError

from leakshield.errors import InputError, LeakshieldError

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


@contextmanager
def image_decoding() -> Iterator[None]:
    """Decoder warnings silenced, and what decoders raise on a malformed or hostile file
    turned into a `MediaError` (our own errors pass through)."""
    # A truncated file must fail, never decode with its missing part made up: some
    # libraries (WeasyPrint, on import) switch this process-wide setting on.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except LeakshieldError:
        raise
    except UnidentifiedImageError:
        raise MediaError("unsupported-format", "not an image format leakshield can read") from None
    except MemoryError:
        raise MediaError("too-many-pixels", "not enough memory to decode the image") from None
    except Exception as exc:  # decoders raise many types on malformed data
        raise MediaError("corrupt", f"the image could not be decoded: {exc}") from None
