"""Pictures for the report: arrays to small PNGs, heat maps and outlines over the image."""

from __future__ import annotations

import io

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = ["REPORT_SIDE", "heat_map", "to_png"]

# Long side of a picture in the report: enough to see regions, small enough to share.
REPORT_SIDE = 960


def to_png(pixels: NDArray[np.uint8], max_side: int = REPORT_SIDE) -> bytes:
    """``pixels`` (H x W gray or H x W x 3 RGB) as PNG, scaled down to ``max_side``."""
    height, width = pixels.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), np.uint8)
    buffer = io.BytesIO()
    # Level 1: four times faster than the default, and about as small for these pictures.
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def heat_map(values: NDArray[np.floating], *, high: float | None = None) -> NDArray[np.uint8]:
    """``values`` (H x W, >= 0) as an RGB heat map: black at 0, bright at ``high`` (default:
    the 99.5th percentile, so one hot pixel does not wash out the rest)."""
    top = float(np.percentile(values, 99.5)) if high is None else high
    scaled = np.clip(values / max(top, 1e-6), 0.0, 1.0)
    gray = np.round(scaled * 255).astype(np.uint8)
    colored = cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)
    return np.ascontiguousarray(colored[..., ::-1])
