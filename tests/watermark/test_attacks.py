"""The attack suite: each attack does what its name says, reproducibly, on a copy."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from numpy.typing import NDArray

from leakshield.errors import UsageError
from leakshield.watermark import WatermarkError
from leakshield.watermark.attacks import (
    ATTACKS,
    PAIRS,
    UnknownAttackError,
    attack,
    compose,
    lookup,
)

_ASTRONAUT = skimage.data.astronaut()  # 512 x 512
_COFFEE = skimage.data.coffee()  # 400 x 600, not square


def _psnr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / error))


def _large(height: int, width: int) -> NDArray[np.uint8]:
    return np.ascontiguousarray(np.tile(_COFFEE, (4, 4, 1))[:height, :width])


@pytest.mark.parametrize("name", [*ATTACKS, *(p.name for p in PAIRS)])
def test_every_attack_gives_an_rgb_image_and_leaves_its_input_alone(name: str) -> None:
    before = _COFFEE.copy()
    out = attack(name, _COFFEE, np.random.default_rng(1))
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert np.array_equal(_COFFEE, before)
    assert out is not _COFFEE


@pytest.mark.parametrize("name", [*ATTACKS, *(p.name for p in PAIRS)])
def test_the_same_seed_gives_the_same_copy(name: str) -> None:
    first = attack(name, _ASTRONAUT, np.random.default_rng(5))
    second = attack(name, _ASTRONAUT, np.random.default_rng(5))
    assert np.array_equal(first, second)


def test_the_registry_is_in_the_documented_order_and_pairs_chain_known_attacks() -> None:
    assert list(ATTACKS) == [
        "none",
        "jpeg50",
        "resize50",
        "crop70",
        "crop_random",
        "brighten20",
        "darken20",
        "contrast_up20",
        "contrast_down20",
        "blur1",
        "noise5",
        "rotate2",
        "rotate_minus2",
        "screenshot",
        "social",
    ]
    assert len(PAIRS) >= 10
    for pair in PAIRS:
        first, second = pair.name.split("+")
        assert first in ATTACKS and second in ATTACKS


def test_none_is_an_unchanged_copy() -> None:
    assert np.array_equal(attack("none", _COFFEE), _COFFEE)


@pytest.mark.parametrize(
    ("name", "height", "width"),
    [
        ("resize50", 200, 300),
        ("crop70", 335, 502),  # sqrt(0.7) of each side
        ("crop_random", 335, 502),
        ("rotate2", 400, 600),
        ("rotate_minus2", 400, 600),
        ("screenshot", 320, 480),
        ("social", 400, 600),  # smaller than 1080 px: never upscaled
        ("resize50+jpeg50", 200, 300),
        ("screenshot+crop_random", 268, 402),
    ],
)
def test_sizes_after_attacks(name: str, height: int, width: int) -> None:
    assert attack(name, _COFFEE).shape == (height, width, 3)


def test_crops_keep_seventy_percent_of_the_area() -> None:
    out = attack("crop70", _COFFEE)
    assert out.shape[0] * out.shape[1] / (400 * 600) == pytest.approx(0.7, abs=0.005)


def test_centre_crop_is_centred() -> None:
    out = attack("crop70", _COFFEE)
    top, left = (400 - 335) // 2, (600 - 502) // 2
    assert np.array_equal(out, _COFFEE[top : top + 335, left : left + 502])


def _coordinates(height: int, width: int) -> NDArray[np.uint8]:
    """An image whose every pixel says where it is: red = row, green = column."""
    rows, cols = np.indices((height, width))
    return np.dstack([rows, cols, np.zeros_like(rows)]).astype(np.uint8)


def test_random_crops_move_with_the_seed_and_stay_inside() -> None:
    grid = _coordinates(200, 250)
    offsets = set()
    for seed in range(8):
        out = attack("crop_random", grid, np.random.default_rng(seed))
        top, left = int(out[0, 0, 0]), int(out[0, 0, 1])
        assert np.array_equal(out, grid[top : top + out.shape[0], left : left + out.shape[1]])
        offsets.add((top, left))
    assert len(offsets) >= 6


@pytest.mark.parametrize("name", ["social", "crop_random+social"])
def test_social_brings_the_long_side_to_1080(name: str) -> None:
    tall = _large(1600, 1200)
    out = attack(name, tall, np.random.default_rng(0))
    assert max(out.shape[:2]) == 1080
    ratio = out.shape[0] / out.shape[1]
    expected = 1600 / 1200
    assert ratio == pytest.approx(expected, rel=0.01)


def test_jpeg_changes_the_pixels_but_stays_close() -> None:
    out = attack("jpeg50", _ASTRONAUT)
    assert not np.array_equal(out, _ASTRONAUT)
    assert 25 < _psnr(out, _ASTRONAUT) < 45


@pytest.mark.parametrize(
    ("name", "ratio"),
    [("brighten20", 1.2), ("darken20", 0.8)],
)
def test_brightness_scales_the_values(name: str, ratio: float) -> None:
    dark = (_ASTRONAUT // 2).astype(np.uint8)  # no clipping at x1.2
    out = attack(name, dark)
    assert out.astype(np.float64).mean() / dark.mean() == pytest.approx(ratio, rel=0.01)


@pytest.mark.parametrize(("name", "ratio"), [("contrast_up20", 1.2), ("contrast_down20", 0.8)])
def test_contrast_scales_around_the_mean(name: str, ratio: float) -> None:
    flat = (_COFFEE // 2 + 64).astype(np.uint8)
    out = attack(name, flat).astype(np.float64)
    assert out.mean() == pytest.approx(flat.mean(), abs=0.5)
    assert out.std() / flat.std() == pytest.approx(ratio, rel=0.02)


def test_blur_and_noise_are_mild() -> None:
    blurred = attack("blur1", _ASTRONAUT)
    noisy = attack("noise5", _ASTRONAUT, np.random.default_rng(3))
    assert blurred.std() < _ASTRONAUT.std()
    difference = noisy.astype(np.float64) - _ASTRONAUT
    assert difference.std() == pytest.approx(5.0, rel=0.1)


def test_noise_differs_across_seeds() -> None:
    one = attack("noise5", _ASTRONAUT, np.random.default_rng(1))
    two = attack("noise5", _ASTRONAUT, np.random.default_rng(2))
    assert not np.array_equal(one, two)


def test_rotation_turns_about_the_centre_and_blackens_the_corners() -> None:
    for name in ("rotate2", "rotate_minus2"):
        out = attack(name, _ASTRONAUT)
        assert out.shape == _ASTRONAUT.shape
        assert out[0, 0].tolist() == [0, 0, 0] or out[0, -1].tolist() == [0, 0, 0]
        centre = np.s_[246:266, 246:266]
        assert np.abs(out[centre].astype(int) - _ASTRONAUT[centre]).mean() < 12
    left = attack("rotate2", _ASTRONAUT)
    right = attack("rotate_minus2", _ASTRONAUT)
    assert not np.array_equal(left, right)


def test_chains_apply_in_order() -> None:
    chained = attack("crop70+jpeg50", _COFFEE)
    by_hand = attack("jpeg50", attack("crop70", _COFFEE))
    assert np.array_equal(chained, by_hand)
    assert compose(ATTACKS["crop70"], ATTACKS["jpeg50"]).name == "crop70+jpeg50"
    assert lookup("crop70+jpeg50").name == "crop70+jpeg50"


@pytest.mark.parametrize("name", ["jpeg", "crop70+jpg", "", "crop70+"])
def test_an_unknown_attack_name_says_which_exist(name: str) -> None:
    with pytest.raises(UnknownAttackError, match="unknown attack") as caught:
        attack(name, _COFFEE)
    assert isinstance(caught.value, UsageError)
    assert "jpeg50" in caught.value.message


def test_attacks_refuse_what_is_not_an_rgb_array() -> None:
    with pytest.raises(WatermarkError, match="RGB"):
        attack("jpeg50", _COFFEE[:, :, 0])
    with pytest.raises(WatermarkError, match="RGB"):
        attack("jpeg50", _COFFEE.astype(np.float32))  # type: ignore[arg-type]
