"""embed/detect: round trips, what comes back, quality, refusals, and no false detections."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from skimage import data
from skimage.metrics import structural_similarity

from leakshield.errors import InputError
from leakshield.watermark import (
    MIN_SHORT_SIDE,
    ImageTooSmallError,
    WatermarkError,
    WatermarkKey,
    _core,
    detect,
    embed,
)

KEY = WatermarkKey(bytes(range(32)))
OTHER = WatermarkKey(bytes(range(1, 33)))
PAYLOAD = bytes.fromhex("0123456789abcdef")


def _sized(rgb: NDArray[np.uint8], short: int) -> NDArray[np.uint8]:
    height, width = rgb.shape[:2]
    scale = short / min(height, width)
    size = (round(width * scale), round(height * scale))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def _gray3(gray: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.repeat(gray[:, :, None], 3, axis=2)


SAMPLES = {
    "astronaut": lambda: _sized(data.astronaut(), 600),
    "coffee": lambda: _sized(data.coffee(), 640),
    "camera": lambda: _sized(_gray3(data.camera()), 700),
    "chelsea": lambda: _sized(data.chelsea(), 560),
}


def _psnr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / mse)


def _jpeg(rgb: NDArray[np.uint8], quality: int) -> NDArray[np.uint8]:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


@pytest.fixture(scope="module")
def marked() -> dict[str, tuple[NDArray[np.uint8], NDArray[np.uint8]]]:
    return {name: (make(), embed(make(), KEY, PAYLOAD)) for name, make in SAMPLES.items()}


@pytest.mark.parametrize("name", SAMPLES)
def test_round_trip_reads_the_payload(marked, name: str) -> None:
    _, image = marked[name]
    found = detect(image, KEY)
    assert found.present
    assert found.payload == PAYLOAD
    assert found.payload_hex == PAYLOAD.hex()
    assert 0.5 < found.confidence <= 1.0
    assert found.rotation == pytest.approx(0.0, abs=0.2)
    assert 1 <= found.attempts <= _core.MAX_ATTEMPTS


@pytest.mark.parametrize("name", SAMPLES)
def test_quality_meets_the_targets(marked, name: str) -> None:
    original, image = marked[name]
    assert _psnr(original, image) >= 42.0
    ssim = structural_similarity(original, image, channel_axis=2, data_range=255)
    assert ssim >= 0.98
    change = image.astype(int) - original.astype(int)
    # A change of luma only: the same in R, G and B wherever nothing clipped.
    inside = (original > 12).all(axis=2) & (original < 243).all(axis=2)
    assert (change[inside, 0] == change[inside, 1]).all()
    assert (change[inside, 1] == change[inside, 2]).all()
    assert np.abs(change).max() <= _core.DELTA_MAX


def test_flat_regions_change_little() -> None:
    rng = np.random.default_rng(7)
    image = np.full((600, 800, 3), 128, np.uint8)
    image[:, 400:] = np.clip(rng.normal(128, 25, (600, 400, 3)), 0, 255).astype(np.uint8)
    change = embed(image, KEY, PAYLOAD).astype(int) - image
    flat, busy = change[:, :370], change[:, 430:]
    assert np.abs(flat).max() <= 2
    assert np.sqrt(np.mean(flat.astype(float) ** 2)) < 0.5 * np.sqrt(
        np.mean(busy.astype(float) ** 2)
    )
    # An image that is flat everywhere is capped too, rather than filled to the PSNR target.
    plain = np.full((600, 600, 3), 90, np.uint8)
    assert np.abs(embed(plain, KEY, PAYLOAD).astype(int) - plain).max() <= 2


def test_survives_a_typical_repost(marked) -> None:
    _, image = marked["coffee"]
    height, width = image.shape[:2]
    copy = image[40 : height - 30, 70 : width - 20]  # off-centre crop
    copy = cv2.resize(
        copy, (copy.shape[1] * 3 // 4, copy.shape[0] * 3 // 4), interpolation=cv2.INTER_AREA
    )
    copy = _jpeg(copy, 70)
    found = detect(copy, KEY)
    assert found.present and found.payload == PAYLOAD


def test_rotation_is_measured(marked) -> None:
    _, image = marked["chelsea"]
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 2.0, 1.0)
    found = detect(cv2.warpAffine(image, matrix, (width, height)), KEY)
    assert found.present and found.payload == PAYLOAD
    assert abs(found.rotation or 0) == pytest.approx(2.0, abs=0.3)


def test_another_key_neither_reads_nor_sees_it(marked) -> None:
    for name in SAMPLES:
        original, image = marked[name]
        assert detect(image, OTHER).present is False
        assert detect(original, KEY).present is False


def test_types_and_modes_come_back_as_given() -> None:
    rgb = SAMPLES["astronaut"]()
    gray = rgb[:, :, 1].copy()
    rgba = np.dstack(
        [rgb, np.linspace(0, 255, rgb.shape[1], dtype=np.uint8)[None, :].repeat(rgb.shape[0], 0)]
    )
    out = embed(gray, KEY, PAYLOAD)
    assert out.shape == gray.shape and out.dtype == np.uint8
    out4 = embed(rgba, KEY, PAYLOAD)
    assert out4.shape == rgba.shape and (out4[:, :, 3] == rgba[:, :, 3]).all()
    for mode in ("RGB", "L", "RGBA"):
        image = Image.fromarray(rgba).convert(mode)
        result = embed(image, KEY, PAYLOAD)
        assert isinstance(result, Image.Image) and result.mode == mode and result.size == image.size
        assert detect(result, KEY).payload == PAYLOAD
    assert (
        embed(rgb, KEY, int.from_bytes(PAYLOAD, "big")).tobytes()
        == embed(rgb, KEY, PAYLOAD).tobytes()
    )


def test_embedding_is_deterministic_and_keyed() -> None:
    rgb = SAMPLES["camera"]()
    assert (embed(rgb, KEY, PAYLOAD) == embed(rgb, KEY, PAYLOAD)).all()
    assert (embed(rgb, KEY, PAYLOAD) != embed(rgb, OTHER, PAYLOAD)).any()
    assert (embed(rgb, KEY, PAYLOAD) != embed(rgb, KEY, bytes(8))).any()


def test_too_small_images_are_refused_clearly() -> None:
    with pytest.raises(ImageTooSmallError, match=f"at least {MIN_SHORT_SIDE}") as info:
        embed(np.zeros((MIN_SHORT_SIDE - 1, 900, 3), np.uint8), KEY, PAYLOAD)
    assert isinstance(info.value, InputError)
    embed(np.zeros((MIN_SHORT_SIDE, MIN_SHORT_SIDE, 3), np.uint8), KEY, PAYLOAD)


@pytest.mark.parametrize(
    ("payload", "strength", "image", "message"),
    [
        (bytes(7), 1.0, None, "8 bytes"),
        (-1, 1.0, None, "0 to 2"),
        (1 << 64, 1.0, None, "0 to 2"),
        (PAYLOAD, 0.0, None, "strength"),
        (PAYLOAD, 5.0, None, "strength"),
        (PAYLOAD, 1.0, np.zeros((600, 600, 3), np.float32), "uint8"),
        (PAYLOAD, 1.0, np.zeros((600, 600, 2), np.uint8), "RGB"),
    ],
)
def test_bad_input_is_a_clear_error(payload, strength, image, message) -> None:
    image = np.zeros((600, 600, 3), np.uint8) if image is None else image
    with pytest.raises(WatermarkError, match=message):
        embed(image, KEY, payload, strength=strength)


def test_tiny_or_blank_images_are_simply_absent() -> None:
    for shape in ((10, 10, 3), (60, 900, 3), (700, 700, 3)):
        found = detect(np.zeros(shape, np.uint8), KEY)
        assert found.present is False and found.payload is None and found.payload_hex is None


def _unmarked_corpus(count: int, seed: int) -> list[NDArray[np.uint8]]:
    """Unmarked photos, crops, rescales and re-encodings, and photos marked with other keys."""
    rng = np.random.default_rng(seed)
    bases = [
        data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
        data.immunohistochemistry(), _gray3(data.camera()), data.hubble_deep_field(),
        _gray3(data.brick()), _gray3(data.grass()), data.colorwheel()[:, :, :3],
    ]  # fmt: skip
    images = []
    for i in range(count):
        base = bases[i % len(bases)]
        height, width = base.shape[:2]
        share = rng.uniform(0.3, 1.0)
        h, w = max(80, int(height * share)), max(80, int(width * share))
        y, x = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
        crop = base[y : y + h, x : x + w]
        factor = rng.uniform(0.5, 1.1)
        crop = cv2.resize(crop, (max(80, int(w * factor)), max(80, int(h * factor))))
        if i % 3 == 0:
            crop = _jpeg(np.ascontiguousarray(crop), int(rng.integers(50, 95)))
        images.append(np.ascontiguousarray(crop))
    return images


def test_no_false_detections_on_a_thousand_unmarked_images() -> None:
    """The check bits bound false detections at 16 * 2**-24 per image (docs/watermark.md);
    this makes sure no bug lets noise through: 1,000 unmarked images and crops, none seen."""
    false = [
        i for i, image in enumerate(_unmarked_corpus(1000, seed=3)) if detect(image, KEY).present
    ]
    assert false == []


def test_no_false_detections_under_other_keys() -> None:
    rgb = SAMPLES["coffee"]()
    for i in range(12):
        other = WatermarkKey(bytes([i + 100]) * 32)
        image = embed(rgb, other, PAYLOAD)
        assert detect(image, KEY).present is False
        assert detect(_jpeg(image, 80), KEY).present is False
