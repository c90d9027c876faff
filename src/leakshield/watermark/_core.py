"""Embedding and detection (being written)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from leakshield.watermark._key import WatermarkKey
from leakshield.watermark._model import Detection

MIN_SHORT_SIDE = 512
ImageT = TypeVar("ImageT", Image.Image, NDArray[np.uint8])


def embed(image: ImageT, key: WatermarkKey, payload: bytes | int, *, strength: float = 1.0) -> ImageT:
    raise NotImplementedError


def detect(image: Image.Image | NDArray[np.uint8], key: WatermarkKey) -> Detection:
    raise NotImplementedError
