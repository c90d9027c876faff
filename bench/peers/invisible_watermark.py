"""The peers for bench/watermark_bench.py: invisible-watermark 0.2.0's three methods, without torch.

This is the package's own code and models (``pip install invisible-watermark``, the
watermark Stable Diffusion's reference scripts use), run as its ``WatermarkEncoder`` and
``WatermarkDecoder`` run them, with default settings and 32-bit payloads:

- ``dwtDct`` and ``dwtDctSvd``: the package's ``maxDct.py`` and ``dwtDctSvd.py``, loaded
  from its folder by file path, because importing ``imwatermark`` itself imports torch
  (through ``rivaGan.py``), which this project does not install;
- ``rivaGan``: the package's ``rivagan_encoder.onnx`` and ``rivagan_decoder.onnx`` run by
  onnxruntime, with ``rivaGan.py``'s pre- and post-processing done in NumPy instead of torch
  (torch only reshapes and scales there: frame / 127.5 - 1 in float32, laid out as
  (1, 3, 1, H, W); the output clamped to -1..1, (x + 1) * 127.5 truncated to uint8; a bit
  is 1 where the decoder's output exceeds 0.52). One thread per session: the bench
  measures one core.

Like ``WatermarkEncoder.encode``, every method takes BGR images (as ``cv2.imread`` gives
them) and refuses images under 256 x 256 pixels; ``embed`` and ``decode`` here take RGB and
convert. ``decode`` returns None where the package would refuse the image.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

BITS = 32
RIVAGAN_THRESHOLD = 0.52
MIN_PIXELS = 256 * 256  # WatermarkEncoder/WatermarkDecoder refuse smaller images

Bits = NDArray[np.uint8]
RGB = NDArray[np.uint8]


def package_folder() -> Path:
    """Where imwatermark is installed, found without running its ``__init__`` (torch)."""
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("invisible-watermark is not installed: pip install invisible-watermark")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def _module(name: str) -> ModuleType:
    path = package_folder() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_imwatermark_{name}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Peer:
    """One method: ``embed(rgb, bits)`` gives the marked RGB image, ``decode(rgb)`` the bits."""

    name: str
    embed: Callable[[RGB, Bits], RGB]
    decode: Callable[[RGB], Bits | None]


def _too_small(rgb: RGB) -> bool:
    return rgb.shape[0] * rgb.shape[1] < MIN_PIXELS


def _bgr(rgb: RGB) -> NDArray[np.uint8]:
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _dct_peer(name: str, module: str, cls: str) -> Peer:
    def embed(rgb: RGB, bits: Bits) -> RGB:
        if _too_small(rgb):
            raise ValueError(f"{name} needs at least 256 x 256 pixels")
        method = getattr(_module(module), cls)([int(b) for b in bits], wmLen=BITS)
        return _bgr(np.asarray(method.encode(_bgr(rgb)), np.uint8))

    def decode(rgb: RGB) -> Bits | None:
        if _too_small(rgb):
            return None
        method = getattr(_module(module), cls)(watermarks=[], wmLen=BITS)
        return np.asarray(method.decode(_bgr(rgb)), np.uint8)

    return Peer(name, embed, decode)


@cache
def _rivagan_session(part: str) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(package_folder() / f"rivagan_{part}.onnx"),
        options,
        providers=["CPUExecutionProvider"],
    )


def _rivagan_frame(rgb: RGB) -> NDArray[np.float32]:
    frame = _bgr(rgb).astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return np.ascontiguousarray(frame.transpose(2, 0, 1)[None, :, None])  # (1, 3, 1, H, W)


def _rivagan_embed(rgb: RGB, bits: Bits) -> RGB:
    if _too_small(rgb):
        raise ValueError("rivaGan needs at least 256 x 256 pixels")
    data = np.asarray([bits], np.float32)
    out = _rivagan_session("encoder").run(None, {"frame": _rivagan_frame(rgb), "data": data})[0]
    marked = (np.clip(out[0, :, 0], -1.0, 1.0).transpose(1, 2, 0) + 1.0) * 127.5
    return _bgr(marked.astype(np.uint8))


def _rivagan_decode(rgb: RGB) -> Bits | None:
    if _too_small(rgb):
        return None
    out = _rivagan_session("decoder").run(None, {"frame": _rivagan_frame(rgb)})[0]
    return np.asarray(out[0] > RIVAGAN_THRESHOLD, np.uint8)


PEERS: dict[str, Peer] = {
    "dwtDct": _dct_peer("dwtDct", "maxDct", "EmbedMaxDct"),
    "dwtDctSvd": _dct_peer("dwtDctSvd", "dwtDctSvd", "EmbedDwtDctSvd"),
    "rivaGan": Peer("rivaGan", _rivagan_embed, _rivagan_decode),
}


def self_check(rgb: RGB, names: list[str] | None = None) -> dict[str, bool]:
    """Whether each peer reads back its own mark from ``rgb`` left unattacked."""
    bits = np.random.default_rng(1).integers(0, 2, BITS, dtype=np.uint8)
    result = {}
    for name in names or list(PEERS):
        peer = PEERS[name]
        read = peer.decode(peer.embed(rgb, bits))
        result[name] = read is not None and bool(np.array_equal(read, bits))
    return result
