"""Watermark robustness: leakshield's keyed watermark against invisible-watermark's three methods.

Images: 20 photos of 0.5 to 12 megapixels (most 0.5 to 3, two of 6, two of 12) made from
scikit-image's bundled samples and crops of them, colourful and greyscale, upscaled with
Lanczos and given a little sensor grain (sigma 2). Methods: leakshield (64-bit random
payload per image, one key generated for the run) and invisible-watermark 0.2.0's
dwtDct, dwtDctSvd and rivaGan (32-bit payloads; bench/peers/invisible_watermark.py),
on the same images and the same attacks in the same run.

For each method and image: embed (timed, one core), PSNR (RGB) and SSIM (luma) of the
marked image, then every attack and chain of leakshield.watermark.attacks, and detect
(timed on the unattacked copy). Recovered means the full payload read exactly right:
for leakshield ``present`` and the same 64 bits, for a peer all 32 bits equal.

False positives (leakshield only): detect with the run's key on ``--fp-images`` images
(20,000 by default) that carry no mark from it: random crops and scales of the samples
at 512 to 1,024 px on the short side, a quarter of them plain, a quarter attacked, a
quarter marked with another key and a quarter marked with another key and attacked.

Every worker process is pinned to one core with one thread (OpenCV, BLAS, OpenMP,
numba, onnxruntime); ``--jobs`` of them run at once. rivaGan is slow (8 to 10 s a
megapixel a call on one core, and 0.75 GB of memory a megapixel: its calls on images over
4 MP run one at a time), so a full run on 2 cores takes about two and a half hours: an
hour and three quarters for the attacks (mostly rivaGan), 50 minutes for the false
positives. ``--skip-rivagan`` or ``--rivagan-max-mp 3`` shorten it; ``--quick`` takes about
10 minutes. ``--self-test`` runs the harness with a stand-in for leakshield's watermark (a
keyed code in the low bits of the first row).

Usage: python bench/watermark_bench.py [--quick] [--images 20] [--fp-images 20000]
[--jobs 2] [--seed 1] [--skip-rivagan] [--rivagan-max-mp MP] [--self-test].
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# One thread everywhere, set before NumPy, OpenCV and numba start their thread pools.
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from bench.peers.invisible_watermark import BITS, PEERS, self_check

from leakshield.watermark import (
    PAYLOAD_BITS,
    PAYLOAD_BYTES,
    Detection,
    WatermarkError,
    WatermarkKey,
)
from leakshield.watermark.attacks import ATTACKS, PAIRS, lookup

OURS = "leakshield"
LARGE_MP = 11.0  # the 12 MP images
ATTACK_NAMES = [*ATTACKS, *(pair.name for pair in PAIRS)]
# (sample, crop as (top, left, height, width) fractions or None, megapixels); the first
# five are small, so --quick stays quick with rivaGan.
IMAGES: list[tuple[str, tuple[float, float, float, float] | None, float]] = [
    ("astronaut", None, 0.5),
    ("camera", None, 0.8),
    ("coffee", None, 1.0),
    ("immunohistochemistry", (0.1, 0.1, 0.7, 0.8), 0.6),
    ("chelsea", None, 0.7),
    ("rocket", None, 1.5),
    ("motorcycle_left", None, 2.0),
    ("hubble_deep_field", None, 1.2),
    ("retina", (0.2, 0.2, 0.6, 0.6), 2.5),
    ("moon", None, 1.0),
    ("astronaut", (0.0, 0.25, 0.55, 0.55), 3.0),
    ("coffee", (0.1, 0.3, 0.8, 0.6), 2.0),
    ("coins", None, 0.6),
    ("chelsea", (0.0, 0.3, 0.8, 0.55), 1.5),
    ("motorcycle_left", (0.2, 0.0, 0.7, 0.75), 3.0),
    ("rocket", (0.2, 0.2, 0.6, 0.55), 0.9),
    ("coffee", None, 6.0),
    ("motorcycle_left", None, 6.0),
    ("retina", None, 12.0),
    ("astronaut", None, 12.0),
]
FP_PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "camera"]
FP_PHOTOS += ["motorcycle_left", "hubble_deep_field", "retina", "moon", "coins", "page"]


@cache
def sample(name: str) -> np.ndarray:
    """One of scikit-image's bundled (never downloaded) photos as RGB (shared: do not modify)."""
    from skimage import data

    image = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
    return np.ascontiguousarray(np.dstack([image] * 3) if image.ndim == 2 else image[:, :, :3])


def make_image(index: int, seed: int) -> tuple[str, np.ndarray]:
    """Image ``index`` of the set (beyond 20: the same samples, random crops), and its name."""
    from PIL import Image

    name, crop, mp = IMAGES[index % len(IMAGES)]
    rng = np.random.default_rng([seed, index])
    photo = sample(name)
    if crop is None and index >= len(IMAGES):
        crop = (rng.uniform(0, 0.3), rng.uniform(0, 0.3), 0.7, 0.7)
    if crop is not None:
        h, w = photo.shape[:2]
        top, left, height, width = crop
        photo = photo[
            int(top * h) : int((top + height) * h), int(left * w) : int((left + width) * w)
        ]
    h, w = photo.shape[:2]
    height = round((mp * 1e6 * h / w) ** 0.5)
    width = round(height * w / h)
    big = np.asarray(Image.fromarray(photo).resize((width, height), Image.Resampling.LANCZOS))
    grain = rng.standard_normal(big.shape, dtype=np.float32) * np.float32(2.0)
    rgb = np.clip(np.rint(big + grain), 0, 255).astype(np.uint8)
    return f"{index:02d}-{name}{'-crop' if crop else ''}-{mp:g}mp", rgb


# ---------------------------------------------------------------- contenders (worker side)


@dataclass(frozen=True)
class Contender:
    """A method as the bench drives it: embed a payload, then say whether it reads back."""

    name: str
    payload_bytes: int
    embed: Callable[[np.ndarray, bytes], np.ndarray]
    recovered: Callable[[np.ndarray, bytes], bool]


def _fake_embed(rgb: np.ndarray, key: WatermarkKey, payload: bytes) -> np.ndarray:
    """The --self-test stand-in: payload and a keyed check in the low bits of row 0."""
    bits = np.unpackbits(np.frombuffer(payload + key.derive("fake", 2), np.uint8))
    out = rgb.copy()
    out[0, : len(bits), 0] = (out[0, : len(bits), 0] & 0xFE) | bits
    return out


def _fake_detect(rgb: np.ndarray, key: WatermarkKey) -> Detection:
    if rgb.shape[1] < 80:
        raise WatermarkError("too small for the stand-in")
    code = np.packbits(rgb[0, :80, 0] & 1).tobytes()
    present = code[8:] == key.derive("fake", 2)
    return Detection(present, code[:8] if present else None, 1.0 if present else 0.0)


def ours_functions(fake: bool) -> tuple[Callable[..., np.ndarray], Callable[..., Detection]]:
    """leakshield's embed and detect, or the stand-in."""
    if fake:
        return _fake_embed, _fake_detect
    from leakshield.watermark import detect, embed

    return embed, detect


def contender(name: str, key: WatermarkKey, fake: bool) -> Contender:
    """The contender called ``name``, with the run's key for leakshield."""
    if name == OURS:
        embed, detect = ours_functions(fake)

        def recovered(rgb: np.ndarray, payload: bytes) -> bool:
            try:
                found = detect(rgb, key)
            except WatermarkError:  # e.g. too small after the attack: not recovered
                return False
            return bool(found.present and found.payload == payload)

        def mark(rgb: np.ndarray, payload: bytes) -> np.ndarray:
            return embed(rgb, key, payload)

        return Contender(OURS, PAYLOAD_BYTES, mark, recovered)
    peer = PEERS[name]

    def bits(payload: bytes) -> np.ndarray:
        return np.unpackbits(np.frombuffer(payload, np.uint8))

    def peer_recovered(rgb: np.ndarray, payload: bytes) -> bool:
        read = peer.decode(rgb)
        return read is not None and bool(np.array_equal(read, bits(payload)))

    return Contender(name, BITS // 8, lambda rgb, data: peer.embed(rgb, bits(data)), peer_recovered)


# ---------------------------------------------------------------- work units (worker side)

_WORKER: dict[str, Any] = {}
HEAVY_MP = 4.0  # rivaGan on more than this needs several GB: one such call at a time


def init_worker(cores: Any, settings: dict[str, Any]) -> None:
    """Pin this worker to one core with one thread everywhere, and keep the run's settings."""
    import cv2
    from threadpoolctl import threadpool_limits

    os.sched_setaffinity(0, {cores.get()})
    cv2.setNumThreads(1)
    _WORKER["limits"] = threadpool_limits(1)
    _WORKER.update(settings)
    _WORKER["contenders"] = {}


def _contender(method: str) -> Contender:
    """The worker's contender, created and warmed up (first calls are not timed) once."""
    made: dict[str, Contender] = _WORKER["contenders"]
    if method not in made:
        key = WatermarkKey(_WORKER["key"])
        made[method] = contender(method, key, _WORKER["fake"])
        warm = sample("astronaut")
        made[method].recovered(made[method].embed(warm, bytes(made[method].payload_bytes)), b"")
    return made[method]


def payload(index: int, size: int) -> bytes:
    """Image ``index``'s payload: random, the same prefix for every method."""
    return np.random.default_rng([_WORKER["seed"], index, 99]).bytes(8)[:size]


def _quality(original: np.ndarray, marked: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import structural_similarity

    error = np.mean((original.astype(np.float64) - marked) ** 2)
    psnr = float(10 * np.log10(255**2 / error)) if error else float("inf")
    weights = np.array([0.299, 0.587, 0.114])
    ssim = structural_similarity(original @ weights, marked @ weights, data_range=255.0)
    return psnr, float(ssim)


def embed_unit(method: str, index: int, timing_only: bool) -> dict[str, Any]:
    """Embed into image ``index`` (saved for the attacks), timed; quality; timed clean detect."""
    folder = Path(_WORKER["folder"])
    rgb = np.load(folder / f"{index}.npy")
    player = _contender(method)
    secret = payload(index, player.payload_bytes)
    start = time.perf_counter()
    marked = np.asarray(player.embed(rgb, secret), np.uint8)
    embed_s = time.perf_counter() - start
    start = time.perf_counter()
    clean = player.recovered(marked, secret)
    detect_s = time.perf_counter() - start
    result = {"method": method, "index": index, "mp": rgb.shape[0] * rgb.shape[1] / 1e6}
    result |= {"embed_s": embed_s, "detect_s": detect_s, "none": clean, "timing_only": timing_only}
    if not timing_only:
        np.save(folder / f"{method}-{index}.npy", marked)
        result["psnr"], result["ssim"] = _quality(rgb, marked)
    return result


def attack_unit(method: str, index: int, attack: int) -> dict[str, Any]:
    """Whether the payload survives attack number ``attack`` on the marked image ``index``."""
    marked = np.load(Path(_WORKER["folder"]) / f"{method}-{index}.npy")
    name = ATTACK_NAMES[attack]
    attacked = lookup(name)(marked, np.random.default_rng([_WORKER["seed"], index, attack]))
    player = _contender(method)
    ok = player.recovered(attacked, payload(index, player.payload_bytes))
    return {"method": method, "index": index, "attack": name, "recovered": ok}


FP_KINDS = ["unmarked", "unmarked+attack", "other key", "other key+attack"]


def fp_image(i: int) -> np.ndarray:
    """Unmarked image ``i`` for the false-positive count: a random crop, scale and flip."""
    import cv2

    rng = np.random.default_rng([_WORKER["seed"], 7, i])
    photo = sample(FP_PHOTOS[int(rng.integers(len(FP_PHOTOS)))])
    h, w = photo.shape[:2]
    ch, cw = int(h * rng.uniform(0.5, 1.0)), int(w * rng.uniform(0.5, 1.0))
    top, left = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
    crop = photo[top : top + ch, left : left + cw]
    scale = int(rng.integers(512, 1025)) / min(ch, cw)
    size = (round(cw * scale), round(ch * scale))
    big = cv2.resize(crop, size, interpolation=cv2.INTER_LANCZOS4)
    big = big[:, ::-1] if rng.integers(2) else big
    grain = rng.standard_normal(big.shape, dtype=np.float32) * np.float32(2.0)
    return np.clip(np.rint(big + grain), 0, 255).astype(np.uint8)


def fp_unit(start: int, stop: int) -> dict[str, Any]:
    """Detect with the run's key on images ``start`` to ``stop`` of the false-positive set."""
    embed, detect = ours_functions(_WORKER["fake"])
    key, other = WatermarkKey(_WORKER["key"]), WatermarkKey(_WORKER["other_key"])
    tested, refused = [0] * 4, [0] * 4
    false: list[dict[str, Any]] = []
    seconds = 0.0
    for i in range(start, stop):
        kind = i % 4
        rng = np.random.default_rng([_WORKER["seed"], 8, i])
        rgb = fp_image(i)
        if kind >= 2:
            rgb = np.asarray(embed(rgb, other, rng.bytes(8)), np.uint8)
        if kind % 2:
            rgb = lookup(str(rng.choice(ATTACK_NAMES[1:])))(rgb, rng)
        tested[kind] += 1
        began = time.perf_counter()
        try:
            found = detect(rgb, key)
        except WatermarkError:
            refused[kind] += 1
            continue
        finally:
            seconds += time.perf_counter() - began
        if found.present:
            false.append({"i": i, "kind": FP_KINDS[kind], "confidence": found.confidence})
    return {"tested": tested, "refused": refused, "false": false, "detect_s": seconds}


# ---------------------------------------------------------------- driver side

COST_PER_MP = {OURS: 1.0, "dwtDct": 0.2, "dwtDctSvd": 0.5, "rivaGan": 9.0}  # rough s a call


@dataclass(frozen=True)
class Unit:
    """One piece of work for a worker, with a rough cost for ordering and the progress bar."""

    function: Callable[..., dict[str, Any]]
    args: tuple[Any, ...]
    cost: float
    heavy: bool = False


def schedule(
    pool: ProcessPoolExecutor, units: list[Unit], jobs: int
) -> Iterator[tuple[Unit, dict[str, Any]]]:
    """Each unit with its result as it finishes: longest first, never two heavy ones at once."""
    from concurrent.futures import FIRST_COMPLETED, wait

    pending = sorted(units, key=lambda u: -u.cost)
    running: dict[Future[dict[str, Any]], Unit] = {}
    while pending or running:
        while len(running) < jobs:
            heavy_running = any(u.heavy for u in running.values())
            unit = next((u for u in pending if not (u.heavy and heavy_running)), None)
            if unit is None:
                break
            pending.remove(unit)
            running[pool.submit(unit.function, *unit.args)] = unit
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            yield running.pop(future), future.result()


def run_units(
    pool: ProcessPoolExecutor, units: list[Unit], jobs: int, label: str
) -> Iterator[dict[str, Any]]:
    """The results of ``units``, with a progress bar (a line a minute when not on a terminal)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}")]
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    total = sum(u.cost for u in units)
    start = last = time.perf_counter()
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=total, done=f"0/{len(units)}")
        for finished, (unit, result) in enumerate(schedule(pool, units, jobs), 1):
            progress.update(task, advance=unit.cost, done=f"{finished}/{len(units)}")
            if not console.is_terminal and time.perf_counter() - last > 60:
                last = time.perf_counter()
                share = progress.tasks[0].completed / total
                print(
                    f"{label}: {finished}/{len(units)} units, {share:.0%} of the work, "
                    f"{(last - start) / 60:.0f} min",
                    file=sys.stderr,
                    flush=True,
                )
            yield result


def startup_checks(methods: list[str], fake: bool) -> None:
    """Every method reads back its own unattacked mark; leakshield's is implemented."""
    astronaut = sample("astronaut")
    key = WatermarkKey.generate()
    embed, detect = ours_functions(fake)
    try:
        found = detect(embed(astronaut, key, b"12345678"), key)
    except NotImplementedError:
        sys.exit(
            "leakshield.watermark's embed/detect are not implemented yet; "
            "--self-test runs the harness with a stand-in"
        )
    checks = self_check(astronaut, [m for m in methods if m != OURS])
    checks[OURS] = found.present and found.payload == b"12345678"
    print(f"self-check, clean astronaut read back: {checks}", file=sys.stderr)
    if not all(checks.values()):
        sys.exit("a method does not read back its own mark; the harness or a peer is broken")


def fp_rate_bound(false: int, tested: int) -> float:
    """One-sided 95% upper bound on the false-positive rate (Clopper-Pearson)."""
    from scipy.stats import beta

    return 1.0 if tested == 0 else float(beta.ppf(0.95, false + 1, max(tested - false, 1)))


def summarise(
    method: str, embeds: list[dict[str, Any]], attacks: list[dict[str, Any]], names: list[str]
) -> dict[str, Any]:
    """One method's figures: quality, speed, and recovery rate per attack."""
    rows = [e for e in embeds if e["method"] == method and not e["timing_only"]]
    large = [e for e in embeds if e["method"] == method and e["mp"] >= LARGE_MP]
    mp = sum(e["mp"] for e in rows)
    recovery = {"none": float(np.mean([e["none"] for e in rows]))}
    failed = {"none": [names[e["index"]] for e in rows if not e["none"]]}
    for name in ATTACK_NAMES[1:]:
        runs = [a for a in attacks if a["method"] == method and a["attack"] == name]
        recovery[name] = float(np.mean([a["recovered"] for a in runs]))
        failed[name] = sorted(names[a["index"]] for a in runs if not a["recovered"])
    singles = [recovery[n] for n in ATTACK_NAMES[1 : len(ATTACKS)]]
    pairs = [recovery[p.name] for p in PAIRS]
    return {
        "images": len(rows),
        "payload_bits": PAYLOAD_BITS if method == OURS else BITS,
        "psnr_db": float(np.mean([e["psnr"] for e in rows])),
        "psnr_db_min": float(np.min([e["psnr"] for e in rows])),
        "ssim": float(np.mean([e["ssim"] for e in rows])),
        "ssim_min": float(np.min([e["ssim"] for e in rows])),
        "embed_s": float(np.mean([e["embed_s"] for e in rows])),
        "detect_s": float(np.mean([e["detect_s"] for e in rows])),
        "embed_s_per_mp": sum(e["embed_s"] for e in rows) / mp,
        "detect_s_per_mp": sum(e["detect_s"] for e in rows) / mp,
        "embed_s_12mp": float(np.mean([e["embed_s"] for e in large])) if large else None,
        "detect_s_12mp": float(np.mean([e["detect_s"] for e in large])) if large else None,
        "recovered_singles": float(np.mean(singles)),
        "recovered_pairs": float(np.mean(pairs)),
        "recovered_all": float(np.mean(singles + pairs)),
        "recovery": recovery,
        # which images failed, for leakshield only (the peers fail too often to list)
        "failed": {n: images for n, images in failed.items() if images} if method == OURS else {},
    }


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def print_tables(methods: dict[str, dict[str, Any]], fp: dict[str, Any] | None) -> None:
    """The figures as Markdown tables (ready for bench/README.md)."""
    print(
        "\n| method | images | payload | PSNR dB (min) | SSIM (min) | embed s | detect s "
        "| embed / detect s a MP | 12 MP embed / detect s | recovered: single attacks / pairs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, m in methods.items():
        large = f"{_seconds(m['embed_s_12mp'])} / {_seconds(m['detect_s_12mp'])}"
        print(
            f"| {name} | {m['images']} | {m['payload_bits']} bits "
            f"| {m['psnr_db']:.2f} ({m['psnr_db_min']:.2f}) "
            f"| {m['ssim']:.4f} ({m['ssim_min']:.4f}) | {_seconds(m['embed_s'])} "
            f"| {_seconds(m['detect_s'])} | {m['embed_s_per_mp']:.3f} / {m['detect_s_per_mp']:.3f} "
            f"| {large if m['embed_s_12mp'] is not None else ''} "
            f"| {m['recovered_singles']:.2f} / {m['recovered_pairs']:.2f} |"
        )
    print("\nShare of images whose full payload was read back exactly:\n")
    print("| attack | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for attack in ATTACK_NAMES:
        cells = [f"{m['recovery'][attack]:.2f}" for m in methods.values()]
        print(f"| {attack} | " + " | ".join(cells) + " |")
    if fp is not None:
        kinds = ", ".join(
            f"{k}: {t:,}" for k, t in zip(FP_KINDS, fp["tested_by_kind"], strict=True)
        )
        print(
            f"\nFalse positives ({OURS}): {fp['false']} of {fp['tested']:,} detections "
            f"({kinds}; {fp['refused']} refused as too small); 95% upper bound on the rate "
            f"{fp['rate_upper_95']:.2e}; detect {fp['detect_s']:.3f} s a call on these"
        )


def per_attack(
    peer: str, embeds: list[dict[str, Any]], attacks: list[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Each attack's recovery rate, leakshield and ``peer``, on the images both were run on
    (``--rivagan-max-mp`` leaves rivaGan out of the largest)."""
    shared = {e["index"] for e in embeds if e["method"] == peer and not e["timing_only"]} & {
        e["index"] for e in embeds if e["method"] == OURS and not e["timing_only"]
    }
    table: dict[str, dict[str, float]] = {}
    for name in ATTACK_NAMES:
        rates = {}
        for method in (OURS, peer):
            if name == "none":
                runs = [e["none"] for e in embeds if e["method"] == method and e["index"] in shared]
            else:
                runs = [
                    a["recovered"]
                    for a in attacks
                    if a["method"] == method and a["attack"] == name and a["index"] in shared
                ]
            rates[method] = float(np.mean(runs)) if runs else float("nan")
        table[name] = {"ours": rates[OURS], "peer": rates[peer]}
    return table


def compare(
    methods: dict[str, dict[str, Any]], embeds: list[dict[str, Any]], attacks: list[dict[str, Any]]
) -> dict[str, Any]:
    """Ratios of leakshield to each peer: recovery, and speed a megapixel (peer s / ours s),
    and whether leakshield recovers at least as often on every attack (shared images)."""
    ours = methods.get(OURS)
    ratios: dict[str, Any] = {}
    for name, peer in methods.items():
        if ours is None or name == OURS:
            continue
        table = per_attack(name, embeds, attacks)
        worse = [a for a, r in table.items() if r["ours"] < r["peer"]]
        ratios[name] = {
            "recovered_all": ours["recovered_all"] / max(peer["recovered_all"], 1e-9),
            "embed_speed": peer["embed_s_per_mp"] / ours["embed_s_per_mp"],
            "detect_speed": peer["detect_s_per_mp"] / ours["detect_s_per_mp"],
            "at_least_as_robust_on_every_attack": not worse,
            "attacks_where_worse": worse,
            "per_attack_shared_images": table,
        }
        print(
            f"{OURS} vs {name}: recovers {ours['recovered_all']:.2f} of attacked copies against "
            f"{peer['recovered_all']:.2f}; embeds {ratios[name]['embed_speed']:.1f}x and detects "
            f"{ratios[name]['detect_speed']:.1f}x as fast a megapixel",
            file=sys.stderr,
        )
    return ratios


def false_positives(pool: ProcessPoolExecutor, count: int, jobs: int) -> dict[str, Any]:
    """Detections with the run's key on ``count`` images it never marked."""
    step = 50
    units = [Unit(fp_unit, (i, min(i + step, count)), 1.0) for i in range(0, count, step)]
    tested, refused, false, detect_s = [0] * 4, [0] * 4, [], 0.0
    start = time.perf_counter()
    for part in run_units(pool, units, jobs, "false positives"):
        detect_s += part["detect_s"]
        tested = [a + b for a, b in zip(tested, part["tested"], strict=True)]
        refused = [a + b for a, b in zip(refused, part["refused"], strict=True)]
        false += part["false"]
    total = sum(tested) - sum(refused)
    return {
        "tested": total,
        "tested_by_kind": [t - r for t, r in zip(tested, refused, strict=True)],
        "refused": sum(refused),
        "false": len(false),
        "false_detections": false,
        "rate_upper_95": fp_rate_bound(len(false), total),
        "detect_s": detect_s / max(sum(tested), 1),
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="5 images, 1,000 false-positive images"
    )
    parser.add_argument("--images", type=int, help="how many test images (default 20)")
    parser.add_argument("--fp-images", type=int, help="false-positive images (default 20,000)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes, one core each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-rivagan", action="store_true", help="leave out the slow peer")
    parser.add_argument(
        "--rivagan-max-mp", type=float, default=float("inf"), help="rivaGan on smaller images only"
    )
    parser.add_argument("--self-test", action="store_true", help="a stand-in for leakshield")
    args = parser.parse_args()
    count = args.images or (5 if args.quick else len(IMAGES))
    fp_count = args.fp_images if args.fp_images is not None else 1000 if args.quick else 20_000
    methods = [OURS, "dwtDct", "dwtDctSvd"] + ([] if args.skip_rivagan else ["rivaGan"])
    startup_checks(methods, args.self_test)
    ctx = get_context("spawn")
    cores = ctx.Queue()
    available = sorted(os.sched_getaffinity(0))
    for worker in range(args.jobs):
        cores.put(available[worker % len(available)])
    with tempfile.TemporaryDirectory(prefix="watermark-bench-") as folder:
        images = []
        for index in range(count):
            name, rgb = make_image(index, args.seed)
            np.save(Path(folder) / f"{index}.npy", rgb)
            images.append({"name": name, "mp": rgb.shape[0] * rgb.shape[1] / 1e6})
        large_index = next(i for i, spec in enumerate(IMAGES) if spec[2] >= LARGE_MP)
        timing_only = not any(i["mp"] >= LARGE_MP for i in images)
        if timing_only:  # --quick: time leakshield on one 12 MP image all the same
            np.save(Path(folder) / f"{large_index}.npy", make_image(large_index, args.seed)[1])
        settings = {
            "key": WatermarkKey.generate().secret,
            "other_key": WatermarkKey.generate().secret,
            "seed": args.seed,
            "fake": args.self_test,
            "folder": folder,
        }
        print(f"{count} images, {sum(i['mp'] for i in images):.1f} MP; {methods}", file=sys.stderr)
        with ProcessPoolExecutor(
            args.jobs, mp_context=ctx, initializer=init_worker, initargs=(cores, settings)
        ) as pool:
            embeds, attacks = work(pool, methods, images, args, timing_only, large_index)
            names = [image["name"] for image in images]
            ran = [m for m in methods if any(e["method"] == m and "psnr" in e for e in embeds)]
            summaries = {m: summarise(m, embeds, attacks, names) for m in ran}
            fp = false_positives(pool, fp_count, args.jobs) if fp_count else None
    print_tables(summaries, fp)
    ratios = compare(summaries, embeds, attacks)
    peer = "rivaGan" if "rivaGan" in summaries else "dwtDctSvd"
    line = {
        "bench": "watermark",
        "self_test": args.self_test,
        "seed": args.seed,
        "images": images,
        "attacks": ATTACK_NAMES,
        "peer": peer,
        "recovered_all": summaries[OURS]["recovered_all"],
        "peer_recovered_all": summaries[peer]["recovered_all"],
        "ratio_vs_peer": ratios.get(peer),
        "ratios": ratios,
        "false_positives": fp,
        "methods": summaries,
    }
    print(json.dumps(line))


def work(
    pool: ProcessPoolExecutor,
    methods: list[str],
    images: list[dict[str, Any]],
    args: argparse.Namespace,
    timing_only: bool,
    large_index: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Embed every method into every image, then run every attack on every marked image."""

    def skip(method: str, mp: float) -> bool:
        return method == "rivaGan" and mp > args.rivagan_max_mp

    def heavy(method: str, mp: float) -> bool:
        return method == "rivaGan" and mp > HEAVY_MP

    units = [
        Unit(embed_unit, (m, i, False), COST_PER_MP[m] * image["mp"] * 3, heavy(m, image["mp"]))
        for i, image in enumerate(images)
        for m in methods
        if not skip(m, image["mp"])
    ]
    if timing_only:
        units.append(Unit(embed_unit, (OURS, large_index, True), COST_PER_MP[OURS] * 24))
    embeds = list(run_units(pool, units, args.jobs, "embed"))
    units = [
        Unit(attack_unit, (m, i, a), COST_PER_MP[m] * image["mp"], heavy(m, image["mp"]))
        for i, image in enumerate(images)
        for m in methods
        if not skip(m, image["mp"])
        for a in range(1, len(ATTACK_NAMES))
    ]
    attacks = list(run_units(pool, units, args.jobs, "attacks"))
    return embeds, attacks


if __name__ == "__main__":
    main()
