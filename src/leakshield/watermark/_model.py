"""What the watermark's API takes and returns."""

from __future__ import annotations

from dataclasses import dataclass

from leakshield.errors import InputError

__all__ = [
    "PAYLOAD_BITS",
    "PAYLOAD_BYTES",
    "Detection",
    "ImageTooSmallError",
    "WatermarkError",
]

PAYLOAD_BITS = 64
PAYLOAD_BYTES = PAYLOAD_BITS // 8


class WatermarkError(InputError):
    """An image or payload the watermark cannot work with."""

    slug = "bad-watermark-input"
    title = "Cannot watermark this input"


class ImageTooSmallError(WatermarkError):
    """An image too small to carry the full payload."""

    slug = "image-too-small"
    title = "Image too small to watermark"


@dataclass(frozen=True)
class Detection:
    """The result of looking for a watermark made with one key.

    ``present`` is decided by the payload's keyed check, whose false-positive probability is
    bounded by design (docs/watermark.md). ``confidence`` says how clean the mark read: the
    share of its coded bits read right beyond chance (0 = chance, 1 = every bit clean).
    ``rotation`` says how far the copy was turned relative to the marked image, in degrees.
    """

    present: bool
    payload: bytes | None
    confidence: float
    rotation: float | None = None
    bit_errors: int | None = None
    attempts: int = 0

    @property
    def payload_hex(self) -> str | None:
        return None if self.payload is None else self.payload.hex()
