"""The images of the derivation bench: "your photos" (the bank), what was made from them,
unrelated images, and a big bank of 1,000 references for the timing.

Every image comes from scikit-image's bundled samples (never downloaded) or is generated;
one seed fixes them all. Sample photos are split: the bank's, and "other" photos that only
ever appear as unrelated images, as replacement content or as backgrounds.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]  # H x W (grey) or H x W x 3 (RGB)

# The stereo pair's right image and `cat` (the same picture as chelsea) are left out: a
# near-duplicate on both sides of the split would be a true match counted as false.
BANK_SAMPLES = ["astronaut", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"]
BANK_SAMPLES += ["retina", "motorcycle_left", "camera", "coins", "moon", "page", "grass"]
OTHER_SAMPLES = ["coffee", "gravel", "brick", "text", "clock", "cell", "logo", "colorwheel"]
# Megapixels of the bank's photos, in BANK_SAMPLES order: 0.3 to 12.
BANK_MP = [0.3, 12.0, 0.5, 2.0, 6.0, 8.0, 1.0, 3.0, 0.8, 4.0, 1.5, 2.5]
QUICK_BANK = 6
PNG_BANK = {"camera", "page"}  # the rest are JPEG quality 92
MAX_PIXELS = 16e6  # derivatives are kept at or below this

# Derivatives of each bank photo: (kind, how many).
KINDS = [("crop", 2), ("resize", 1), ("jpeg", 1), ("flip", 1), ("rotate", 1), ("combo", 2)]
KINDS += [("replace", 2), ("composite", 1), ("crop_small", 1)]
# Kinds that keep under 25% of the photo's area: reported, not counted in the recall.
SMALL_KINDS = {"crop_small"}
GENERATED = ["gradient", "radial", "noise", "shapes", "tiles", "blobs"]


def sample(name: str) -> Image:
    """One of scikit-image's bundled photos: RGB, or 2-D for the greyscale ones."""
    from skimage import data

    image = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
    if image.ndim == 3 and image.shape[2] == 4:  # the logo: RGBA over white
        alpha = image[:, :, 3:].astype(np.float32) / 255
        image = (image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(image)


def rgb(image: Image) -> Image:
    """``image`` with three channels."""
    return image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)


def grey(image: Image) -> Image:
    """``image`` with one channel."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def like(content: Image, base: Image) -> Image:
    """``content`` with as many channels as ``base``."""
    return grey(content) if base.ndim == 2 else rgb(content)


def resize(image: Image, width: int, height: int, fast: bool = False) -> Image:
    """``image`` at ``width`` x ``height``: area averaging down, Lanczos (or, ``fast``,
    bilinear) up."""
    shrinking = width * height < image.shape[0] * image.shape[1]
    how = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR if fast else cv2.INTER_LANCZOS4
    return np.ascontiguousarray(cv2.resize(image, (max(1, width), max(1, height)), None, 0, 0, how))


def to_megapixels(image: Image, mp: float, stretch: float = 1.0, fast: bool = False) -> Image:
    """``image`` resized to ``mp`` megapixels, its width ``stretch`` times wider."""
    h, w = image.shape[:2]
    scale = math.sqrt(mp * 1e6 / (w * h))
    width, height = round(w * scale * math.sqrt(stretch)), round(h * scale / math.sqrt(stretch))
    return resize(image, width, height, fast)


def grain(image: Image, rng: np.random.Generator, sigma: float = 2.0) -> Image:
    """Sensor-like grain: Gaussian noise of ``sigma`` (OpenCV's generator, seeded from
    ``rng``: NumPy's takes four times as long on a 12 MP photo)."""
    cv2.setRNGSeed(int(rng.integers(1 << 31)))
    noise = np.empty(image.shape, np.int16)
    cv2.randn(noise, 0.0, sigma)
    return np.ascontiguousarray(cv2.add(image, noise, dtype=cv2.CV_8U))


def save(image: Image, path: Path, quality: int = 92) -> None:
    """Write ``image`` as JPEG of ``quality`` (or PNG, by the suffix)."""
    from PIL import Image as PILImage

    picture = PILImage.fromarray(image)
    if path.suffix == ".png":
        picture.save(path)
    else:
        picture.save(path, quality=quality)


def load(path: Path) -> Image:
    """The pixels of an image file written by `save`."""
    from PIL import Image as PILImage

    with PILImage.open(path) as picture:
        picture.load()
        return np.ascontiguousarray(np.asarray(picture))


def crop_box(
    w: int, h: int, rng: np.random.Generator, low: float, high: float
) -> tuple[int, int, int, int]:
    """A random rectangle of ``low`` to ``high`` of the area, of random shape and place."""
    area = rng.uniform(low, high)
    shape = math.exp(rng.uniform(math.log(0.6), math.log(1.6)))  # width share / height share
    fw = min(1.0, math.sqrt(area * shape))
    fh = min(1.0, area / fw)
    fw = min(1.0, area / fh)
    cw, ch = max(16, round(w * fw)), max(16, round(h * fh))
    return int(rng.integers(w - cw + 1)), int(rng.integers(h - ch + 1)), cw, ch


def rotation_kept(w: int, h: int, degrees: float) -> float:
    """Share of a w x h photo still in the frame after turning it about its centre."""
    frame = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    turned = cv2.transform(frame[None], turn)[0].astype(np.float32)
    area, _ = cv2.intersectConvexConvex(turned, frame)
    return float(area / (w * h))


# ---------------------------------------------------------------- the bank and its copies


def make_bank_photo(index: int, seed: int, folder: Path) -> dict[str, Any]:
    """Bank photo ``index``: the whole sample at its size of BANK_MP, with grain."""
    name = BANK_SAMPLES[index]
    rng = np.random.default_rng([seed, 1, index])
    pixels = grain(to_megapixels(sample(name), BANK_MP[index]), rng)
    path = folder / f"bank-{index:02d}-{name}.{'png' if name in PNG_BANK else 'jpg'}"
    save(pixels, path)
    h, w = pixels.shape[:2]
    return {"file": path.name, "kind": "bank", "sample": name, "width": w, "height": h}


def make_derivatives(photo: dict[str, Any], seed: int, folder: Path) -> list[dict[str, Any]]:
    """The copies and edits made of one bank photo, as KINDS lists them."""
    source = load(folder / photo["file"])
    made = []
    which = BANK_SAMPLES.index(photo["sample"])
    for kind_index, (kind, count) in enumerate(KINDS):
        for number in range(count):
            rng = np.random.default_rng([seed, 2, which, kind_index, number])
            pixels, quality, record = DERIVE[kind](source, rng)
            name = f"{Path(photo['file']).stem}-{kind}-{number}.jpg"
            save(pixels, folder / name, quality)
            h, w = pixels.shape[:2]
            record |= {"file": name, "kind": kind, "source": photo["file"], "quality": quality}
            made.append(record | {"width": w, "height": h})
    return made


Made = tuple[Image, int, dict[str, Any]]


def _crop(source: Image, rng: np.random.Generator, low: float = 0.25, high: float = 0.9) -> Made:
    h, w = source.shape[:2]
    x, y, cw, ch = crop_box(w, h, rng, low, high)
    kept = cw * ch / (w * h)
    return source[y : y + ch, x : x + cw], 90, {"kept": kept, "detail": f"crop {kept:.0%}"}


def _scale_for(source: Image, rng: np.random.Generator, low: float, high: float) -> float:
    h, w = source.shape[:2]
    return min(rng.uniform(low, high), math.sqrt(MAX_PIXELS / (w * h)))


def _resize(source: Image, rng: np.random.Generator) -> Made:
    h, w = source.shape[:2]
    scale, stretch = _scale_for(source, rng, 0.4, 2.0), rng.uniform(1 / 1.3, 1.3)
    mp = w * h * scale * scale / 1e6
    detail = f"resize x{scale:.2f}, stretch {stretch:.2f}"
    return to_megapixels(source, mp, stretch), 90, {"kept": 1.0, "detail": detail}


def _jpeg(source: Image, rng: np.random.Generator) -> Made:
    quality = int(rng.integers(50, 96))
    return source, quality, {"kept": 1.0, "detail": f"JPEG {quality}"}


def _flip(source: Image, rng: np.random.Generator) -> Made:
    return np.ascontiguousarray(source[:, ::-1]), 90, {"kept": 1.0, "detail": "flip"}


def _rotate(source: Image, rng: np.random.Generator) -> Made:
    h, w = source.shape[:2]
    degrees = float(rng.uniform(2, 10) * rng.choice([-1, 1]))
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    turned = cv2.warpAffine(source, turn, (w, h), flags=cv2.INTER_LINEAR)
    kept = rotation_kept(w, h, degrees)
    return turned, 90, {"kept": kept, "detail": f"rotate {degrees:+.1f} deg"}


def _combo(source: Image, rng: np.random.Generator) -> Made:
    cropped, _, record = _crop(source, rng, 0.3, 0.9)
    scale, stretch = _scale_for(cropped, rng, 0.5, 1.5), rng.uniform(1 / 1.15, 1.15)
    h, w = cropped.shape[:2]
    pixels = to_megapixels(cropped, w * h * scale * scale / 1e6, stretch)
    flipped = bool(rng.integers(2))
    if flipped:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
    quality = int(rng.integers(50, 91))
    detail = f"{record['detail']}, x{scale:.2f}, stretch {stretch:.2f}"
    detail += f"{', flip' if flipped else ''}, JPEG {quality}"
    return pixels, quality, {"kept": record["kept"], "detail": detail}


def _other_content(rng: np.random.Generator, width: int, height: int) -> Image:
    other = sample(OTHER_SAMPLES[int(rng.integers(len(OTHER_SAMPLES)))])
    h, w = other.shape[:2]
    x, y, cw, ch = crop_box(w, h, rng, 0.3, 1.0)
    return resize(other[y : y + ch, x : x + cw], width, height)


def _replace(source: Image, rng: np.random.Generator) -> Made:
    """A rectangle of the photo replaced by part of an "other" photo; its box is the truth."""
    h, w = source.shape[:2]
    scale = _scale_for(source, rng, 0.6, 1.2)
    base = resize(source, round(w * scale), round(h * scale)).copy()
    bh, bw = base.shape[:2]
    x, y, rw, rh = crop_box(bw, bh, rng, 0.06, 0.25)
    base[y : y + rh, x : x + rw] = like(_other_content(rng, rw, rh), base)
    quality = int(rng.integers(75, 96))
    replaced = rw * rh / (bw * bh)
    detail = f"x{scale:.2f}, {replaced:.0%} replaced, JPEG {quality}"
    return base, quality, {"kept": 1 - replaced, "box": [x, y, rw, rh], "detail": detail}


def _composite(source: Image, rng: np.random.Generator) -> Made:
    """A part of the photo pasted onto an "other" photo; its box is where it lies."""
    part, _, record = _crop(source, rng, 0.25, 0.6)
    ph, pw = part.shape[:2]
    scale = _scale_for(part, rng, 0.5, 1.2)
    part = resize(part, round(pw * scale), round(ph * scale))
    ph, pw = part.shape[:2]
    covers = rng.uniform(0.3, 0.7)
    bw = max(pw, round(math.sqrt(pw * ph / covers) * rng.uniform(0.8, 1.25)))
    bh = max(ph, round(pw * ph / covers / bw))
    background = rgb(_other_content(rng, bw, bh)).copy()
    x, y = int(rng.integers(bw - pw + 1)), int(rng.integers(bh - ph + 1))
    background[y : y + ph, x : x + pw] = rgb(part)
    detail = f"{record['detail']} x{scale:.2f} pasted on an other photo"
    return background, 88, {"kept": record["kept"], "box": [x, y, pw, ph], "detail": detail}


def _crop_small(source: Image, rng: np.random.Generator) -> Made:
    return _crop(source, rng, 0.1, 0.25)


DERIVE: dict[str, Callable[[Image, np.random.Generator], Made]] = {
    "crop": _crop,
    "resize": _resize,
    "jpeg": _jpeg,
    "flip": _flip,
    "rotate": _rotate,
    "combo": _combo,
    "replace": _replace,
    "composite": _composite,
    "crop_small": _crop_small,
}


# ---------------------------------------------------------------- unrelated images


def make_unrelated(index: int, seed: int, folder: Path) -> dict[str, Any]:
    """Unrelated image ``index``: even ones from "other" photos, odd ones generated."""
    rng = np.random.default_rng([seed, 3, index])
    mp = float(rng.choice([0.3, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]))
    if index % 2 == 0:
        name = OTHER_SAMPLES[(index // 2) % len(OTHER_SAMPLES)]
        other = sample(name)
        h, w = other.shape[:2]
        x, y, cw, ch = crop_box(w, h, rng, 0.4, 1.0)
        pixels = to_megapixels(other[y : y + ch, x : x + cw], mp, rng.uniform(0.85, 1.15))
        if rng.integers(2):
            pixels = np.ascontiguousarray(pixels[:, ::-1])
        if index % 8 == 4:  # and a part of another "other" photo pasted on it
            pixels = rgb(pixels).copy()
            ph, pw = pixels.shape[0] // 3, pixels.shape[1] // 3
            px, py = (
                int(rng.integers(pixels.shape[1] - pw)),
                int(rng.integers(pixels.shape[0] - ph)),
            )
            pixels[py : py + ph, px : px + pw] = rgb(_other_content(rng, pw, ph))
        kind, detail = "other", f"{name}, crop {cw * ch / (w * h):.0%}"
    else:
        kind = GENERATED[(index // 2) % len(GENERATED)]
        pixels, detail = generate(kind, rng, mp), f"generated {kind}"
    pixels = grain(pixels, rng)
    quality = int(rng.integers(60, 96))
    path = folder / f"unrelated-{index:03d}-{kind}.{'png' if index % 7 == 3 else 'jpg'}"
    save(pixels, path, quality)
    h, w = pixels.shape[:2]
    return {"file": path.name, "kind": kind, "detail": detail, "width": w, "height": h}


def generate(kind: str, rng: np.random.Generator, mp: float) -> Image:
    """A generated RGB image of about ``mp`` megapixels: no photo at all."""
    aspect = rng.uniform(0.6, 1.7)
    w, h = round(math.sqrt(mp * 1e6 * aspect)), round(math.sqrt(mp * 1e6 / aspect))
    # The smooth field is made at a quarter of the size and enlarged: the same, faster.
    sw, sh = max(8, w // 4), max(8, h // 4)
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
    if kind in ("gradient", "shapes"):
        angle = rng.uniform(0, 2 * math.pi)
        t = xs * math.cos(angle) + ys * math.sin(angle)
    elif kind == "radial":
        cx, cy = rng.uniform(0, sw), rng.uniform(0, sh)
        t = np.cos(np.hypot(xs - cx, ys - cy) / rng.uniform(0.05, 0.5) / max(sw, sh) * 6.28)
    else:  # noise, tiles, blobs: octaves of smoothed noise
        t = _octaves(rng, sw, sh)
    t = (t - t.min()) / max(1e-6, float(np.ptp(t)))
    field = cv2.resize((t * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    ramp = np.linspace(0, 1, 256)[:, None]
    lut = (rng.uniform(0, 255, 3) * (1 - ramp) + rng.uniform(0, 255, 3) * ramp).astype(np.uint8)
    image = lut[field]
    if kind == "shapes":
        _draw_shapes(image, rng, 40)
    elif kind == "tiles":
        cell = int(rng.integers(24, 96))
        checks = np.add.outer(np.arange(h) // cell, np.arange(w) // cell) % 2 == 1
        image[checks] = 255 - image[checks]
    elif kind == "blobs":
        _draw_shapes(image, rng, 12, circles_only=True)
    return np.ascontiguousarray(image)


def _octaves(rng: np.random.Generator, w: int, h: int) -> NDArray[np.float32]:
    total = np.zeros((h, w), np.float32)
    for octave in range(5):
        cells = 4 * 2**octave
        small = rng.standard_normal((cells, max(1, round(cells * w / h)))).astype(np.float32)
        total += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) / 2**octave
    return total


def _draw_shapes(
    image: Image, rng: np.random.Generator, count: int, circles_only: bool = False
) -> None:
    h, w = image.shape[:2]
    for _ in range(count):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(w)), int(rng.integers(h))
        size = int(rng.integers(max(4, min(w, h) // 40), max(8, min(w, h) // 5)))
        shape = 0 if circles_only else int(rng.integers(4))
        if shape == 0:
            cv2.circle(image, (x, y), size, colour, -1, cv2.LINE_AA)
        elif shape == 1:
            cv2.rectangle(
                image, (x, y), (x + size, y + int(size * rng.uniform(0.3, 2))), colour, -1
            )
        elif shape == 2:
            end = (int(rng.integers(w)), int(rng.integers(h)))
            cv2.line(image, (x, y), end, colour, int(rng.integers(2, 12)), cv2.LINE_AA)
        else:
            points = rng.integers(-size, size, (5, 2)) + np.array([x, y])
            cv2.fillPoly(image, [points.astype(np.int32)], colour, cv2.LINE_AA)


# ---------------------------------------------------------------- the 1,000 references


def big_bank_references(
    first: int, count: int, seed: int, leave_out: str
) -> tuple[list[Any], float]:
    """References ``first`` .. ``first + count`` of the big bank, made from arrays (no file);
    and the seconds spent in `reference_from_rgb` alone. Seven in ten are variants of the
    bank's samples (not ``leave_out``, the timed suspect's), three in ten generated."""
    import time

    from leakshield.forensics._references import reference_from_rgb

    samples = [name for name in BANK_SAMPLES if name != leave_out]
    cache = {name: sample(name) for name in samples}
    references, seconds = [], 0.0
    for index in range(first, first + count):
        rng = np.random.default_rng([seed, 4, index])
        mp = rng.uniform(1.0, 3.0)
        if rng.uniform() < 0.7:
            image = cache[samples[int(rng.integers(len(samples)))]]
            h, w = image.shape[:2]
            x, y, cw, ch = crop_box(w, h, rng, 0.3, 1.0)
            part = rgb(image[y : y + ch, x : x + cw]).astype(np.float32) * rng.uniform(0.8, 1.2, 3)
            pixels = to_megapixels(np.clip(part, 0, 255).astype(np.uint8), mp, fast=True)
            if rng.integers(2):
                pixels = np.ascontiguousarray(pixels[:, ::-1])
        else:
            pixels = generate(str(rng.choice(["noise", "blobs", "radial"])), rng, mp)
        pixels = grain(pixels, rng)
        sha256 = hashlib.sha256(f"big-bank-{seed}-{index}".encode()).hexdigest()
        start = time.perf_counter()
        references.append(reference_from_rgb(pixels, title=f"reference-{index:04d}", sha256=sha256))
        seconds += time.perf_counter() - start
    return references, seconds


def make_timed_suspect(source: Path, seed: int, out: Path) -> dict[str, Any]:
    """A 12 MP (4000 x 3000) JPEG made from the photo at ``source``: a 4:3 crop of it,
    enlarged, with a rectangle replaced by an "other" photo's content."""
    rng = np.random.default_rng([seed, 5])
    photo = rgb(load(source))
    h, w = photo.shape[:2]
    ch = min(h, round(w * 0.85 * 3 / 4))
    cw = round(ch * 4 / 3)
    x, y = int(rng.integers(w - cw + 1)), int(rng.integers(h - ch + 1))
    pixels = resize(photo[y : y + ch, x : x + cw], 4000, 3000).copy()
    bx, by, bw, bh = crop_box(4000, 3000, rng, 0.08, 0.12)
    pixels[by : by + bh, bx : bx + bw] = rgb(_other_content(rng, bw, bh))
    save(grain(pixels, rng), out, 90)
    kept = cw * ch / (w * h)
    return {"file": out.name, "source": source.name, "kept": kept, "box": [bx, by, bw, bh]}
