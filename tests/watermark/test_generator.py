"""Reading the public Stable Diffusion watermarks, checked against invisible-watermark itself.

The marks are embedded here with invisible-watermark's own ``EmbedMaxDct`` (a dev
dependency), the way diffusers and the Stable Diffusion scripts call it, into scikit-image's
bundled samples and generated pictures.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import skimage.data
from numpy.typing import NDArray
from PIL import Image

from leakshield.watermark import WatermarkError
from leakshield.watermark._generator import (
    _ORDERS,
    _block_bits,
    _read_message,
    detect_generator_marks,
)

pytest.importorskip("pywt")

# Published in diffusers' stable_diffusion_xl/watermark.py (from Stability AI's generative-models).
SDXL_BITS = [int(bit) for bit in bin(0b101100111110110010010000011110111011000110011110)[2:]]
SD1_MESSAGE = b"StableDiffusionV1"  # CompVis/stable-diffusion scripts/txt2img.py
SD2_MESSAGE = b"SDV2"  # Stability-AI/stablediffusion scripts/txt2img.py
SDXL, SD1, SD2 = "sdxl-dwtdct-48", "sd1-dwtdct-136", "sd2-dwtdct-32"


def _load_max_dct() -> ModuleType:
    """invisible-watermark's maxDct module, loaded alone: the package's __init__ imports torch."""
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("invisible-watermark is not installed", allow_module_level=True)
    path = Path(next(iter(spec.submodule_search_locations))) / "maxDct.py"
    module_spec = importlib.util.spec_from_file_location("_imwatermark_maxdct", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


MAX_DCT = _load_max_dct()


def _bits(message: bytes) -> list[int]:
    return [int(bit) for bit in np.unpackbits(np.frombuffer(message, dtype=np.uint8))]


def _diffusers_sdxl(rgb: NDArray[np.uint8], *, as_bgr: bool) -> NDArray[np.uint8]:
    """What diffusers' SDXL pipeline saves: float pixels marked, clamped and rounded to 8 bits.

    Before diffusers' pull request 7013 the RGB pixels went in where BGR was expected
    (``as_bgr=False``); since then they are reversed first.
    """
    pixels: Any = rgb.astype(np.float32)
    if as_bgr:
        pixels = pixels[:, :, ::-1]
    marked = MAX_DCT.EmbedMaxDct(SDXL_BITS, wmLen=len(SDXL_BITS)).encode(pixels)
    if as_bgr:
        marked = marked[:, :, ::-1]
    tensor = np.clip(2 * (marked / 255 - 0.5), -1.0, 1.0)
    return np.round(np.clip(tensor / 2 + 0.5, 0, 1) * 255).astype(np.uint8)


def _sd_script(rgb: NDArray[np.uint8], message: bytes) -> NDArray[np.uint8]:
    """What the Stable Diffusion 1 and 2 scripts' ``put_watermark`` saves (8-bit BGR in and out)."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    marked = MAX_DCT.EmbedMaxDct(_bits(message), wmLen=len(message) * 8).encode(bgr)
    return np.ascontiguousarray(marked[:, :, ::-1])


def _reference_read(rgb: NDArray[np.uint8], order: str, length: int) -> NDArray[np.bool_]:
    """invisible-watermark's own dwtDct decoder, given the pixels in ``order``."""
    pixels = rgb[:, :, ::-1] if order == "bgr" else rgb
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its mean of no votes, never here
        bits = MAX_DCT.EmbedMaxDct([], wmLen=length).decode(np.ascontiguousarray(pixels))
    return np.asarray(bits, dtype=bool)


def _gradient(height: int, width: int, seed: int) -> NDArray[np.uint8]:
    """A colour gradient with mild noise, like a smooth generated background."""
    rows, cols = np.mgrid[0:height, 0:width]
    ramp = np.stack([cols / width, rows / height, (rows + cols) / (height + width)], axis=2) * 255
    noise = np.random.default_rng(seed).normal(0, 6, ramp.shape)
    return np.clip(ramp + noise, 0, 255).round().astype(np.uint8)


def _noise(height: int, width: int, seed: int) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _by_id(image: Image.Image | NDArray[np.uint8]) -> dict[str, Any]:
    return {mark.mark_id: mark for mark in detect_generator_marks(image)}


ASTRONAUT = skimage.data.astronaut()
TISSUE = skimage.data.immunohistochemistry()
NOISE = _noise(301, 397, seed=1)  # not a multiple of 8 either way


# --- marked images are found --------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "as_bgr"),
    [(ASTRONAUT, False), (TISSUE, False), (TISSUE, True), (NOISE, False), (NOISE, True)],
    ids=["astronaut-rgb", "tissue-rgb", "tissue-bgr", "noise-rgb", "noise-bgr"],
)
def test_finds_the_sdxl_mark_diffusers_adds(image: NDArray[np.uint8], as_bgr: bool) -> None:
    marks = _by_id(_diffusers_sdxl(image, as_bgr=as_bgr))
    sdxl = marks[SDXL]
    assert sdxl.present
    assert sdxl.matched_bits >= 44 and sdxl.total_bits == 48
    assert sdxl.p_value < 1e-8
    assert sdxl.channel_order == ("bgr" if as_bgr else "rgb")
    assert not marks[SD1].present and not marks[SD2].present


@pytest.mark.parametrize("image", [ASTRONAUT, NOISE], ids=["astronaut", "noise"])
@pytest.mark.parametrize(("message", "mark_id"), [(SD1_MESSAGE, SD1), (SD2_MESSAGE, SD2)])
def test_finds_the_stable_diffusion_1_and_2_script_marks(
    image: NDArray[np.uint8], message: bytes, mark_id: str
) -> None:
    marks = _by_id(_sd_script(image, message))
    assert marks[mark_id].present
    assert marks[mark_id].matched_bits == marks[mark_id].total_bits == len(message) * 8
    assert marks[mark_id].channel_order == "bgr"
    assert [mark.mark_id for mark in marks.values() if mark.present] == [mark_id]


def test_a_full_match_has_the_binomial_p_value_for_two_orders() -> None:
    sdxl = _by_id(_diffusers_sdxl(ASTRONAUT, as_bgr=False))[SDXL]
    assert sdxl.matched_bits == 48
    assert sdxl.p_value == pytest.approx(2 / 2**48)


# --- the reading is invisible-watermark's, bit for bit -----------------------------------


_SMALL_SAMPLES = {
    "astronaut": ASTRONAUT[100:400, 120:380],
    "coffee": skimage.data.coffee()[50:333, 100:400],
    "chelsea": skimage.data.chelsea()[:, :300],
    "gradient": _gradient(263, 291, seed=2),
    "noise": _noise(257, 301, seed=3),
}


@pytest.mark.parametrize("sample", sorted(_SMALL_SAMPLES))
@pytest.mark.parametrize("marking", ["none", "sdxl-rgb", "sdxl-bgr", "sd1"])
def test_reads_the_same_bits_as_invisible_watermark(sample: str, marking: str) -> None:
    image = _SMALL_SAMPLES[sample]
    if marking == "sd1":
        image, lengths = _sd_script(image, SD1_MESSAGE), [len(SD1_MESSAGE) * 8]
    elif marking.startswith("sdxl"):
        image, lengths = _diffusers_sdxl(image, as_bgr=marking == "sdxl-bgr"), [48]
    else:
        lengths = [48, len(SD2_MESSAGE) * 8]
    for order, code in _ORDERS:
        block_bits = _block_bits(image, code)
        for length in lengths:
            ours = _read_message(block_bits, length)
            assert np.array_equal(ours, _reference_read(image, order, length)), (order, length)


def test_match_counts_are_those_of_the_better_colour_order() -> None:
    image = _diffusers_sdxl(_SMALL_SAMPLES["coffee"], as_bgr=True)
    expected = np.array(SDXL_BITS, dtype=bool)
    counts = {
        order: int(np.count_nonzero(_reference_read(image, order, 48) == expected))
        for order, _ in _ORDERS
    }
    sdxl = _by_id(image)[SDXL]
    assert sdxl.matched_bits == max(counts.values()) == counts[sdxl.channel_order]


# --- unmarked images are not flagged --------------------------------------------------------


_UNMARKED = {
    "astronaut": ASTRONAUT,
    "tissue": TISSUE,
    "coffee": skimage.data.coffee(),
    "chelsea": skimage.data.chelsea(),
    "rocket": skimage.data.rocket(),
    "camera": skimage.data.camera(),
    "gradient": _gradient(512, 512, seed=4),
    "noise": _noise(480, 640, seed=5),
    "flat": np.full((300, 300, 3), (200, 120, 90), dtype=np.uint8),
}


@pytest.mark.parametrize("sample", sorted(_UNMARKED))
def test_unmarked_images_are_not_flagged(sample: str) -> None:
    image = _UNMARKED[sample]
    marks = detect_generator_marks(image)
    assert {mark.mark_id for mark in marks} == {SDXL, SD1, SD2}
    assert not any(mark.present for mark in marks)


# --- files, modes and sizes -------------------------------------------------------------


def test_a_png_round_trip_keeps_the_mark_and_the_result_says_it_is_a_cue() -> None:
    buffer = io.BytesIO()
    Image.fromarray(_diffusers_sdxl(ASTRONAUT, as_bgr=False)).save(buffer, "PNG")
    buffer.seek(0)
    with Image.open(buffer) as saved:
        sdxl = _by_id(saved)[SDXL]
    assert sdxl.present
    assert "not proof" in sdxl.caveats
    assert "anyone can add" in sdxl.caveats
    assert "Absence proves nothing" in sdxl.caveats
    assert "JPEG" in sdxl.caveats


def test_rgba_arrays_and_images_are_read_without_their_alpha() -> None:
    marked = _sd_script(NOISE, SD2_MESSAGE)
    alpha = np.full((*marked.shape[:2], 1), 128, dtype=np.uint8)
    rgba = np.concatenate([marked, alpha], axis=2)
    assert _by_id(rgba)[SD2].present
    assert _by_id(Image.fromarray(rgba, "RGBA"))[SD2].present


def test_greyscale_and_other_modes_are_read() -> None:
    grey = skimage.data.camera()
    as_rgb = detect_generator_marks(np.repeat(grey[:, :, None], 3, axis=2))
    assert detect_generator_marks(grey) == as_rgb
    assert detect_generator_marks(Image.fromarray(grey)) == as_rgb
    assert not any(mark.present for mark in as_rgb)
    marked = Image.fromarray(_sd_script(ASTRONAUT, SD1_MESSAGE))
    assert _by_id(marked.convert("RGBX"))[SD1].present


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (255, 256), (65536, 1)])
def test_images_too_small_to_carry_a_mark_give_none(size: tuple[int, int]) -> None:
    assert detect_generator_marks(np.zeros((*size, 3), dtype=np.uint8)) == []


def test_the_smallest_markable_image_is_read() -> None:
    assert len(detect_generator_marks(np.zeros((256, 256, 3), dtype=np.uint8))) == 3


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((300, 300, 3), dtype=np.float32),
        np.zeros((300, 300, 2), dtype=np.uint8),
        np.zeros((2, 300, 300, 3), dtype=np.uint8),
    ],
    ids=["float", "two-channels", "batch"],
)
def test_arrays_it_cannot_read_are_refused_with_a_clear_error(array: NDArray[Any]) -> None:
    with pytest.raises(WatermarkError, match="array"):
        detect_generator_marks(array)
