"""Keyed invisible watermark: embed a 64-bit payload that survives what leaked copies go through.

``embed(image, key, payload)`` returns the marked image; ``detect(image, key)`` says whether a
mark made with ``key`` is present and reads its payload. Without the key the mark can be
neither read nor forged. The design and its false-positive bound are in docs/watermark.md.
``detect_generator_marks(image)`` reads the fixed marks that Stable Diffusion pipelines add.
``leakshield.watermark.attacks`` holds the attacks the benchmark and the tests apply.
"""

from leakshield.watermark._core import MIN_SHORT_SIDE, detect, embed
from leakshield.watermark._file_formats import WatermarkFileError
from leakshield.watermark._files import EmbedFileResult, FileDetection, detect_file, embed_file
from leakshield.watermark._generator import GeneratorMark, detect_generator_marks
from leakshield.watermark._key import KEY_BYTES, WatermarkKey, WatermarkKeyError
from leakshield.watermark._model import (
    PAYLOAD_BITS,
    PAYLOAD_BYTES,
    Detection,
    ImageTooSmallError,
    WatermarkError,
)

__all__ = [
    "KEY_BYTES",
    "MIN_SHORT_SIDE",
    "PAYLOAD_BITS",
    "PAYLOAD_BYTES",
    "Detection",
    "EmbedFileResult",
    "FileDetection",
    "GeneratorMark",
    "ImageTooSmallError",
    "WatermarkError",
    "WatermarkFileError",
    "WatermarkKey",
    "WatermarkKeyError",
    "detect",
    "detect_file",
    "detect_generator_marks",
    "embed",
    "embed_file",
]
