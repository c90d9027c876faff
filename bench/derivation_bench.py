"""Derivation: which of your photos an image was made from, against whole-image PDQ.

Set (bench/_derivation_set.py; one seed, made afresh in a temporary folder): 12 "your
photos" made from scikit-image's bundled samples (astronaut, chelsea, rocket,
immunohistochemistry, Hubble deep field, retina, the left stereo motorcycle, and the
greyscale camera, coins, moon, page and grass), enlarged to 0.3 to 12 MP with sensor grain;
8 "other" samples (coffee, gravel, brick, text, clock, cell, the logo, the colour wheel)
that never enter the bank. Of each bank photo, 12 copies and edits: 2 crops keeping 25 to
90% of the area (random place and shape), a resize (0.4x to 2x, stretched up to 1.3), a
re-compression (JPEG 50 to 95), a mirror image, a rotation (2 to 10 degrees, black
corners), 2 combinations (crop, resize, stretch, mirror half the time, JPEG 50 to 90), 2
with a rectangle (6 to 25% of the image) replaced by part of an "other" photo (the box is
the truth for the difference map), one part (25 to 60%) pasted onto an "other" photo, and
one crop keeping 10 to 25% (reported, not counted in the recall). Unrelated: 64 images,
half variants of the "other" photos, half generated (gradients, noise, shapes, tiles).

Method: a reference of each bank photo from its file (`reference_from_file`), in one
`ReferenceSet`; each image through `analyze(path, AnalysisContext(references=...),
only=["derivation"])` (no report pictures); the claimed sources are its findings
"made from your photo", best first. The right source is found when the first claim is it.
For the replaced rectangles, the changed mask of `difference` (the map the analyzer draws)
against the true box, as IoU; for a pasted part, what still matches the photo against where
it was pasted; and how many copies with nothing replaced show a changed region at all.
The peer, same images: whole-image PDQ (`pdq_from_file` of each file, quality >= 50) with
a bank photo at distance <= 31, the hash-sharing default; the nearest is its claim; also
with PDQ's eight rotations and mirrors. For each unrelated pair, and each missed copy, the
most agreeing points any transform gets (RANSAC as the matcher runs it, before its
plausibility check): the margin below the threshold of 14.
The unrelated images are also matched against the big bank of the timing (1,000 photos).

Time, one core (this process pinned, one thread everywhere): `analyze` with every analyzer
of a 12 MP JPEG (4000 x 3000, a crop of the 12 MP bank photo with a rectangle replaced)
against a bank of 1,000 references (that photo, from its file, and 999 of 1 to 3 MP made
from arrays with `reference_from_rgb`: variants of the bank's other samples and generated
textures), median of 3 after a first call (timed apart: imports and compiled code);
each analyzer's share; derivation alone; and its steps.

About 4.5 minutes on this project's 2-core machine; ``--quick`` (6 bank photos, 200
references, 1 run) about 1.5. Usage: python bench/derivation_bench.py [--quick] [--seed 1]
[--references 1000] [--runs 3] [--jobs N] [--workdir DIR] [--keep]. The last line is one
JSON object. Exits 1 only if the analyzer could not examine an image (a bug).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# One thread everywhere, set before NumPy, OpenCV and numba start their thread pools.
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = "1"
os.environ["OPENCV_FOR_THREADS_NUM"] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from bench import _derivation_set as dset

ALL_CORES = frozenset(os.sched_getaffinity(0))
ONE_CORE = frozenset({min(ALL_CORES)})
BANK = "MY_PHOTOS"
PDQ_DISTANCE = 31
TIMED_SOURCE = "chelsea"  # the 12 MP suspect's source (12 MP); left out of the 999 others
LISTS = ("misses", "false_claims", "closest_calls", "weak_maps")  # JSON: beside the figures
GEOMETRY_ONLY = {"crop", "resize", "jpeg", "flip", "rotate", "combo", "crop_small"}


def one_thread() -> None:
    """OpenCV and any BLAS on one thread (the variables above cover the rest)."""
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    threadpool_limits(1)


def pool(jobs: int, initializer: Callable[..., None], *args: Any) -> ProcessPoolExecutor:
    """Worker processes (spawned: a clean start) that each run ``initializer(*args)``."""
    return ProcessPoolExecutor(
        jobs, mp_context=get_context("spawn"), initializer=initializer, initargs=args
    )


# ---------------------------------------------------------------- the set


def make_set(folder: Path, seed: int, bank_count: int, jobs: int) -> dict[str, Any]:
    """Bank photos, their derivatives and the unrelated images, made on ``jobs`` workers."""
    unrelated_count = 64
    with pool(jobs, one_thread) as workers:
        bank = list(workers.map(dset.make_bank_photo, range(bank_count), *_same(seed, folder)))
        derived = workers.map(dset.make_derivatives, bank, *_same(seed, folder))
        unrelated = workers.map(dset.make_unrelated, range(unrelated_count), *_same(seed, folder))
        return {
            "bank": bank,
            "derived": [d for ds in derived for d in ds],
            "unrelated": list(unrelated),
        }


def _same(*values: Any) -> list[Iterable[Any]]:
    return [repeat(v) for v in values]  # the same argument for every call of map()


# ---------------------------------------------------------------- evaluation (in workers)

_STATE: dict[str, Any] = {}


def start_worker(
    references: list[Any], folder: str, bank_pdq: dict[str, Any], diagnose: bool
) -> None:
    """A worker's state: the bank to match against, where the images are, the peer's hashes
    (none: the peer is not run), and whether to count agreeing points below the threshold."""
    from leakshield.forensics._references import ReferenceSet

    one_thread()
    _STATE.update(references=ReferenceSet(references, bank=BANK), folder=Path(folder))
    _STATE.update(bank_pdq=bank_pdq, diagnose=diagnose)


def evaluate(item: dict[str, Any]) -> dict[str, Any]:
    """One image through the analyzer (and, for the peer, PDQ); see the module's doc."""
    from leakshield.forensics import AnalysisContext, Direction, analyze

    references, path = _STATE["references"], _STATE["folder"] / item["file"]
    start = time.perf_counter()
    context = AnalysisContext(references=references, images=False)
    findings = analyze(path, context, only=["derivation"]).by_analyzer("derivation")
    seconds = time.perf_counter() - start
    claims = [
        {
            "sha256": f.evidence["your_photo_sha256"],
            "photo": f.evidence["your_photo"],
            "points": f.evidence["agreeing_points"],
            "strength": str(f.strength),
            "regions": len(f.evidence.get("changed_regions", [])),
            "changed_fraction": f.evidence.get("changed_fraction"),
        }
        for f in findings
        if f.direction == Direction.MADE_FROM_YOUR_PHOTO
    ]
    result = {"file": item["file"], "seconds": seconds, "claims": claims}
    result["errors"] = [dict(f.error) for f in findings if f.error]
    if _STATE["bank_pdq"]:
        result |= pdq_claims(path, _STATE["bank_pdq"])
    source = item.get("source_sha256")
    if source is not None and item.get("box") is not None:
        result |= region_iou(path, item, source)
    if _STATE["diagnose"] and (source is None or not claims or claims[0]["sha256"] != source):
        result["raw_points"] = raw_points(path)
    return result


def pdq_claims(path: Path, bank_pdq: dict[str, Any]) -> dict[str, Any]:
    """The peer's claims: bank photos within PDQ_DISTANCE, nearest first (plain and with
    the eight rotations and mirrors)."""
    from leakshield.media import MediaLimits
    from leakshield.signals import MIN_QUALITY, pdq_dihedral_from_file

    variants, quality = pdq_dihedral_from_file(path, MediaLimits())
    plain, dihedral = [], []
    if quality >= MIN_QUALITY:
        for sha256, stored in bank_pdq.items():
            distance = variants["original"] - stored
            nearest = min(v - stored for v in variants.values())
            plain += [(distance, sha256)] if distance <= PDQ_DISTANCE else []
            dihedral += [(nearest, sha256)] if nearest <= PDQ_DISTANCE else []
    return {"pdq_quality": quality, "pdq": sorted(plain), "pdq_dihedral": sorted(dihedral)}


def region_iou(path: Path, item: dict[str, Any], source: str) -> dict[str, Any]:
    """IoU of the difference map with the truth: the changed mask against a replaced box;
    for a pasted part, the part that still matches against where it was pasted."""
    import cv2

    from leakshield.forensics import load_subject
    from leakshield.forensics._diffmap import difference
    from leakshield.forensics._match import describe_suspect, find_sources
    from leakshield.media import MediaLimits

    rgb = load_subject(path, MediaLimits()).rgb()
    matches = find_sources(describe_suspect(rgb), _STATE["references"])
    found = [m for m in matches if m.reference.sha256 == source]
    if not found:
        return {"iou": 0.0, "iou_found": False}
    match = found[0]
    original = load_subject(Path(str(match.reference.path)), MediaLimits()).rgb()
    diff = difference(rgb, original, match.transform, match.points)
    h, w = rgb.shape[:2]
    truth = np.zeros((h, w), bool)
    x, y, bw, bh = item["box"]
    truth[y : y + bh, x : x + bw] = True
    if item["kind"] == "replace":
        marked = diff.changed_mask(w, h)
    else:
        kept = (diff.overlap & ~diff.changed).astype(np.uint8)
        marked = cv2.resize(kept, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    union = int((marked | truth).sum())
    return {"iou": float((marked & truth).sum() / union) if union else 0.0, "iou_found": True}


def raw_points(path: Path) -> dict[str, int]:
    """For each bank photo with enough matches to be checked, the most points that agree
    on one transform (as the matcher's RANSAC finds them, before its plausibility check)."""
    import cv2

    from leakshield.forensics import _match as match
    from leakshield.forensics import load_subject
    from leakshield.media import MediaLimits

    references = _STATE["references"]
    suspect = match.describe_suspect(load_subject(path, MediaLimits()).rgb())
    best: dict[str, int] = {}
    for features in (suspect.plain, suspect.mirrored):
        if not len(features):
            continue
        for index, pairs in match._candidates(features, references):
            if len(pairs) < match._MIN_MATCHES:  # as the matcher: too few to check
                continue
            reference = references.references[index]
            source = reference.features.points[pairs[:, 1]].astype(np.float32)
            target = features.points[pairs[:, 0]].astype(np.float32)
            _, mask = cv2.estimateAffine2D(
                source, target, method=cv2.RANSAC, maxIters=2000, confidence=0.995,
                ransacReprojThreshold=match._REPROJECTION, refineIters=10,
            )  # fmt: skip
            count = 0 if mask is None else int(mask.sum())
            best[reference.sha256] = max(best.get(reference.sha256, 0), count)
    return best


# ---------------------------------------------------------------- the big bank and timing


def build_big_bank(count: int, seed: int, jobs: int) -> tuple[list[Any], float, float]:
    """``count`` references made from arrays on ``jobs`` workers; their wall-clock time and
    the seconds `reference_from_rgb` took in all (one core each)."""
    step = 50
    start = time.perf_counter()
    with pool(jobs, one_thread) as workers:
        firsts = range(0, count, step)
        sizes = [min(step, count - first) for first in firsts]
        parts = list(
            workers.map(dset.big_bank_references, firsts, sizes, *_same(seed, TIMED_SOURCE))
        )
    references = [r for part, _ in parts for r in part]
    return references, time.perf_counter() - start, sum(seconds for _, seconds in parts)


def time_analyze(path: Path, references: Any, runs: int) -> dict[str, Any]:
    """On one core: the first full analyze, then ``runs`` of the full analyze (each
    analyzer timed), of derivation alone, and of derivation's steps. Medians."""
    from leakshield.forensics import AnalysisContext, Direction, analyze, load_subject
    from leakshield.forensics._diffmap import difference
    from leakshield.forensics._match import describe_suspect, find_sources
    from leakshield.media import MediaLimits

    os.sched_setaffinity(0, ONE_CORE)
    context = AnalysisContext(references=references)
    laps: list[tuple[str, float]] = []

    def full() -> Any:
        laps.clear()
        analysis = analyze(
            path, context, on_analyzer=lambda a: laps.append((a.name, time.perf_counter()))
        )
        laps.append(("", time.perf_counter()))
        return analysis

    first, analysis = _timed(full)
    totals, each = [], []
    for _ in range(runs):
        seconds, analysis = _timed(full)
        totals.append(seconds)
        each.append({name: laps[i + 1][1] - at for i, (name, at) in enumerate(laps[:-1])})
    alone = [_timed(lambda: analyze(path, context, only=["derivation"]))[0] for _ in range(runs)]
    steps: dict[str, list[float]] = {}
    for _ in range(runs):
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            steps.setdefault(name, []).append(time.perf_counter() - clock)
            clock = time.perf_counter()

        rgb = load_subject(path, MediaLimits()).rgb()
        lap("decode the suspect")
        suspect = describe_suspect(rgb)
        lap("describe (plain and mirrored)")
        matches = find_sources(suspect, references)
        lap(f"match against {len(references)} photos")
        if not matches:  # reported below: the claims are empty
            break
        original = load_subject(Path(str(matches[0].reference.path)), MediaLimits()).rgb()
        lap("decode your photo")
        difference(rgb, original, matches[0].transform, matches[0].points)
        lap("difference map")
    claims = [
        f.evidence.get("your_photo")
        for f in analysis.by_analyzer("derivation")
        if f.direction == Direction.MADE_FROM_YOUR_PHOTO
    ]
    return {
        "first_s": first,
        "median_s": statistics.median(totals),
        "runs_s": totals,
        "analyzers_s": {n: statistics.median(e[n] for e in each) for n in each[0]},
        "derivation_alone_s": statistics.median(alone),
        "steps_s": {name: statistics.median(values) for name, values in steps.items()},
        "claims": claims,
        "failed": [f.analyzer for f in analysis.findings if f.error],
    }


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


# ---------------------------------------------------------------- figures


def rate(hits: int, count: int) -> float | None:
    return hits / count if count else None


def summarise(
    items: list[dict[str, Any]], results: dict[str, dict[str, Any]], bank: int
) -> dict[str, Any]:
    """Recall, precision, false sources, IoU and the margins, ours and the peer's."""
    derived = [i for i in items if i.get("source_sha256")]
    unrelated = [i for i in items if not i.get("source_sha256")]
    counted = [i for i in derived if i["kept"] >= 0.25]

    def top(item: dict[str, Any], key: str) -> str | None:
        found = results[item["file"]][key]
        return (found[0]["sha256"] if key == "claims" else found[0][1]) if found else None

    def recall(chosen: list[dict[str, Any]], key: str) -> float | None:
        return rate(sum(top(i, key) == i["source_sha256"] for i in chosen), len(chosen))

    kinds = sorted({i["kind"] for i in derived}, key=[k for k, _ in dset.KINDS].index)
    per_kind = {
        kind: {"images": len(chosen)}
        | {key: recall(chosen, key) for key in ("claims", "pdq", "pdq_dihedral")}
        for kind in kinds
        for chosen in [[i for i in derived if i["kind"] == kind]]
    }
    figures: dict[str, Any] = {"counted": len(counted), "per_kind": per_kind}
    for key in ("claims", "pdq", "pdq_dihedral"):
        every = [(i, c) for i in items for c in results[i["file"]][key]]
        right = sum(
            (c["sha256"] if key == "claims" else c[1]) == i.get("source_sha256") for i, c in every
        )
        false_images = [i for i in unrelated if results[i["file"]][key]]
        false_pairs = sum(len(results[i["file"]][key]) for i in unrelated)
        figures[key] = {
            "recall": recall(counted, key),
            "recall_small": recall([i for i in derived if i["kept"] < 0.25], key),
            "claims": len(every),
            "precision": rate(right, len(every)),
            "false_images": len(false_images),
            "false_pairs": false_pairs,
        }
    figures["unrelated_images"], figures["unrelated_pairs"] = len(unrelated), len(unrelated) * bank
    ours, peer = figures["claims"]["recall"], figures["pdq"]["recall"]
    figures["recall_vs_pdq"] = ours / peer if ours is not None and peer else None
    points = [
        results[i["file"]]["claims"][0]["points"]
        for i in counted
        if top(i, "claims") == i["source_sha256"]
    ]
    chance = [v for i in unrelated for v in results[i["file"]].get("raw_points", {}).values()]
    figures["points_right"] = _spread(points)
    figures["points_unrelated_checked"] = _spread(chance) | {"pairs": len(chance)}
    replaced = [results[i["file"]] for i in derived if i["kind"] == "replace"]
    pasted = [results[i["file"]] for i in derived if i["kind"] == "composite"]
    figures["iou_replace"] = _mean([r["iou"] for r in replaced])
    figures["iou_replace_found"] = _mean([r["iou"] for r in replaced if r["iou_found"]])
    figures["iou_composite_kept"] = _mean([r["iou"] for r in pasted if r["iou_found"]])
    plain = [
        i for i in derived if i["kind"] in GEOMETRY_ONLY and top(i, "claims") == i["source_sha256"]
    ]
    marked = [i for i in plain if results[i["file"]]["claims"][0]["regions"]]
    figures["false_changes"] = {"images": len(plain), "with_a_changed_region": len(marked)}
    figures["misses"] = [
        _miss(i, results[i["file"]]) for i in derived if top(i, "claims") != i["source_sha256"]
    ]
    found = [i for i in derived if top(i, "claims") == i["source_sha256"]]
    found.sort(key=lambda i: results[i["file"]]["claims"][0]["points"])
    figures["closest_calls"] = [
        (i["file"], i["detail"], results[i["file"]]["claims"][0]["points"]) for i in found[:5]
    ]
    figures["weak_maps"] = [
        (i["file"], i["detail"], round(results[i["file"]]["iou"], 3))
        for i in derived
        if i.get("box") is not None and results[i["file"]]["iou"] < 0.7
    ]
    figures["false_claims"] = [
        {
            "file": i["file"],
            "claims": [(c["photo"], c["points"]) for c in results[i["file"]]["claims"]],
        }
        for i in unrelated
        if results[i["file"]]["claims"]
    ]
    return figures


def _spread(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"min": None, "p1": None, "p99": None, "max": None}
    array = np.array(values)
    return {
        "min": int(array.min()),
        "p1": float(np.percentile(array, 1)),
        "median": float(np.median(array)),
        "p99": float(np.percentile(array, 99)),
        "max": int(array.max()),
    }


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _miss(item: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    return {
        "file": item["file"],
        "detail": item["detail"],
        "kept": round(item["kept"], 3),
        "size": f"{item['width']}x{item['height']}",
        "claims": [(c["photo"], c["points"]) for c in result["claims"]],
        "most_points_with_source": result.get("raw_points", {}).get(item["source_sha256"], 0),
    }


def show(value: float | None, form: str = ".1%") -> str:
    return "-" if value is None else format(value, form)


def print_figures(figures: dict[str, Any], bank: int) -> None:
    ours, peer, dihedral = figures["claims"], figures["pdq"], figures["pdq_dihedral"]
    print(f"\n{'kind':12} {'images':>6} {'derivation':>11} {'PDQ <= 31':>10} {'PDQ x8':>8}")
    for kind, row in figures["per_kind"].items():
        print(
            f"{kind:12} {row['images']:6} {show(row['claims']):>11} {show(row['pdq']):>10} "
            f"{show(row['pdq_dihedral']):>8}"
        )
    print(f"\n{'':44} {'derivation':>11} {'PDQ <= 31':>10} {'PDQ x8':>8}")
    rows = [
        (f"recall, {figures['counted']} copies keeping >= 25%", "recall", ".1%"),
        ("recall, copies keeping 10-25% (not counted)", "recall_small", ".1%"),
        ("claims made", "claims", "d"),
        ("precision of the claims", "precision", ".1%"),
        (f"unrelated images with a claim (of {figures['unrelated_images']})", "false_images", "d"),
        (f"unrelated pairs claimed (of {figures['unrelated_pairs']})", "false_pairs", "d"),
    ]
    for label, key, form in rows:
        cells = [show(figure[key], form) for figure in (ours, peer, dihedral)]
        print(f"{label:44} {cells[0]:>11} {cells[1]:>10} {cells[2]:>8}")
    ratio = figures["recall_vs_pdq"]
    print(f"derivation's recall is {show(ratio, '.2f')}x PDQ's")
    right, chance = figures["points_right"], figures["points_unrelated_checked"]
    print(
        f"agreeing points: right sources min {right['min']}, 1st percentile "
        f"{show(right['p1'], '.0f')}; "
        f"unrelated pairs checked ({chance['pairs']} of {figures['unrelated_pairs']}): max "
        f"{chance['max']}, 99th percentile {show(chance['p99'], '.0f')} (threshold 14)"
    )
    print(
        f"difference map: replaced box IoU {show(figures['iou_replace'], '.3f')} (over found: "
        f"{show(figures['iou_replace_found'], '.3f')}); pasted part, IoU of what matches "
        f"{show(figures['iou_composite_kept'], '.3f')}; copies with nothing replaced that show "
        f"a changed region: {figures['false_changes']['with_a_changed_region']} of "
        f"{figures['false_changes']['images']}"
    )
    for miss in figures["misses"]:
        print(f"  missed: {miss}")
    for file, detail, points in figures["closest_calls"]:
        print(f"  found with fewest points: {file} ({detail}): {points}")
    for file, detail, iou in figures["weak_maps"]:
        print(f"  difference map IoU under 0.7: {file} ({detail}): {iou}")
    for claim in figures["false_claims"]:
        print(f"  false claim: {claim}")


def print_timing(timing: dict[str, Any], references: int) -> None:
    print(
        f"\n12 MP JPEG, bank of {references}, one core: analyze (every analyzer) median "
        f"{timing['median_s']:.2f} s (runs {', '.join(f'{s:.2f}' for s in timing['runs_s'])}; "
        f"first call {timing['first_s']:.2f} s); derivation alone "
        f"{timing['derivation_alone_s']:.2f} s"
    )
    for name, seconds in timing["analyzers_s"].items():
        print(f"  {name:20} {seconds:7.3f} s")
    rest = timing["median_s"] - sum(timing["analyzers_s"].values())
    print(f"  {'(reading the file)':20} {rest:7.3f} s")
    print("  derivation's steps:")
    for name, seconds in timing["steps_s"].items():
        print(f"    {name:34} {seconds:7.3f} s")
    print(f"  claims: {timing['claims']}; analyzers that failed: {timing['failed'] or 'none'}")


# ---------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 bank photos, 200 references, 1 run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--references", type=int, help="the timing's bank (1000; quick 200)")
    parser.add_argument("--runs", type=int, help="timed runs, the median kept (3; quick 1)")
    parser.add_argument("--jobs", type=int, default=len(ALL_CORES), help="workers for the set")
    parser.add_argument("--workdir", type=Path, help="where the images go (a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the images")
    args = parser.parse_args()
    bank_count = dset.QUICK_BANK if args.quick else len(dset.BANK_SAMPLES)
    big_count = args.references or (200 if args.quick else 1000)
    runs = args.runs or (1 if args.quick else 3)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="leakshield-derivation-bench-"))
    folder = workdir / f"images-seed{args.seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    one_thread()
    began, load = time.perf_counter(), os.getloadavg()[0]
    try:
        line = run(args, folder, bank_count, big_count, runs)
    finally:
        if not args.keep:
            shutil.rmtree(workdir if args.workdir is None else folder, ignore_errors=True)
    line["targets"] = targets(line)
    minutes = (time.perf_counter() - began) / 60
    load_after = os.getloadavg()[0]
    print(f"{minutes:.1f} minutes in all; load average {load:.2f} before, {load_after:.2f} after")
    line |= {"minutes": minutes, "load_average_before_after": [load, load_after]}
    print(json.dumps(line))
    if line["errors"]:
        sys.exit(1)


def targets(line: dict[str, Any]) -> dict[str, Any]:
    """Issue 8's targets, each with the figure measured and whether it is met (the time
    target is for a bank of 1,000 photos; with fewer it is reported, not judged)."""
    figures, big, timing = line["figures"], line["big_bank"], line["timing"]
    pairs = figures["unrelated_pairs"] + big["unrelated_pairs"]
    false = figures["claims"]["false_images"] + big["unrelated_images_with_a_claim"]
    checks = {
        "recall >= 0.95 (copies keeping >= 25%)": (
            figures["claims"]["recall"],
            figures["claims"]["recall"] >= 0.95,
        ),
        "no source claimed on >= 500 unrelated pairs": (
            f"{false} claims on {pairs} pairs",
            false == 0 and pairs >= 500,
        ),
        "mean IoU >= 0.6 (region replacement)": (
            figures["iou_replace"],
            figures["iou_replace"] >= 0.6,
        ),
        "analyze 12 MP vs 1,000 photos <= 5 s, one core": (
            timing["median_s"],
            timing["median_s"] <= 5.0 if big["references"] >= 1000 else None,
        ),
    }
    print("\ntargets (issue 8):")
    for name, (value, met) in checks.items():
        verdict = "not judged (bank under 1,000)" if met is None else "met" if met else "NOT MET"
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"  {name:50} {shown!s:>26}  {verdict}")
    return {name: {"value": value, "met": met} for name, (value, met) in checks.items()}


def run(
    args: argparse.Namespace, folder: Path, bank_count: int, big_count: int, runs: int
) -> dict[str, Any]:
    from leakshield.forensics._references import ReferenceSet, reference_from_file
    from leakshield.media import MediaLimits
    from leakshield.signals import MIN_QUALITY, pdq_from_file

    start = time.perf_counter()
    made = make_set(folder, args.seed, bank_count, args.jobs)
    made_s = time.perf_counter() - start
    start = time.perf_counter()
    bank = [
        reference_from_file(folder / p["file"], MediaLimits(), title=p["sample"])
        for p in made["bank"]
    ]
    bank_s = time.perf_counter() - start
    sha = {p["file"]: r.sha256 for p, r in zip(made["bank"], bank, strict=True)}
    hashes = {
        r.sha256: pdq_from_file(folder / p["file"], MediaLimits())
        for p, r in zip(made["bank"], bank, strict=True)
    }
    bank_pdq = {s: h.hash for s, h in hashes.items() if h.quality >= MIN_QUALITY}
    items = [d | {"source_sha256": sha[d["source"]]} for d in made["derived"]] + made["unrelated"]
    mp = [p["width"] * p["height"] / 1e6 for p in made["bank"]]
    print(
        f"bank: {len(bank)} photos of {min(mp):.1f} to {max(mp):.1f} MP ({len(bank_pdq)} with a "
        f"usable PDQ), referenced in {bank_s:.1f} s; {len(made['derived'])} copies and edits, "
        f"{len(made['unrelated'])} unrelated images; made in {made_s:.0f} s on {args.jobs} workers"
    )
    start = time.perf_counter()
    order = sorted(items, key=lambda i: -i["width"] * i["height"])  # big ones first: even load
    with pool(args.jobs, start_worker, bank, str(folder), bank_pdq, True) as workers:
        results = {r["file"]: r for r in workers.map(evaluate, order)}
    evaluate_s = time.perf_counter() - start
    each = statistics.median(r["seconds"] for r in results.values())
    print(
        f"evaluated in {evaluate_s:.0f} s on {args.jobs} workers; analyze (derivation only) "
        f"took {each:.2f} s an image (median)"
    )
    figures = summarise(items, results, len(bank))
    print_figures(figures, len(bank))

    start = time.perf_counter()
    big, big_wall_s, reference_s = build_big_bank(big_count - 1, args.seed, args.jobs)
    source = next(p for p in made["bank"] if p["sample"] == TIMED_SOURCE)
    big.append(reference_from_file(folder / source["file"], MediaLimits(), title=source["sample"]))
    big_set = ReferenceSet(big, bank=BANK)
    print(
        f"\nbig bank: {len(big_set)} references in {time.perf_counter() - start:.0f} s on "
        f"{args.jobs} workers; reference_from_rgb {1000 * reference_s / (len(big) - 1):.0f} ms a "
        f"photo of 1-3 MP on one core"
    )
    unrelated = [i for i in items if not i.get("source_sha256")]
    start = time.perf_counter()
    with pool(args.jobs, start_worker, big, str(folder), {}, False) as workers:
        at_scale = list(workers.map(evaluate, unrelated))
    false_big = [
        (r["file"], [(c["photo"], c["points"]) for c in r["claims"]])
        for r in at_scale
        if r["claims"]
    ]
    print(
        f"unrelated against the big bank: {len(false_big)} of {len(unrelated)} images with a claim "
        f"({len(unrelated) * len(big_set)} pairs), {time.perf_counter() - start:.0f} s; {false_big}"
    )
    suspect = dset.make_timed_suspect(folder / source["file"], args.seed, folder / "timed-12mp.jpg")
    timing = time_analyze(folder / suspect["file"], big_set, runs)
    print_timing(timing, len(big_set))
    errors = [(r["file"], r["errors"]) for r in [*results.values(), *at_scale] if r["errors"]]
    for error in errors:
        print(f"  could not examine: {error}", file=sys.stderr)
    return {
        "bench": "derivation",
        "quick": args.quick,
        "seed": args.seed,
        "cores": len(ALL_CORES),
        "bank_photos": len(bank),
        "bank_mp": [min(mp), max(mp)],
        "copies": len(made["derived"]),
        "unrelated": len(made["unrelated"]),
        "figures": {k: v for k, v in figures.items() if k not in LISTS},
        **{k: figures[k] for k in LISTS},
        "big_bank": {
            "references": len(big_set),
            "build_wall_s": big_wall_s,
            "reference_from_rgb_ms": 1000 * reference_s / (len(big) - 1),
            "unrelated_images_with_a_claim": len(false_big),
            "unrelated_pairs": len(unrelated) * len(big_set),
            "false_claims": false_big,
        },
        "timing": timing | {"suspect": suspect},
        "seconds": {"make_set": made_s, "bank_references": bank_s, "evaluate": evaluate_s}
        | {"analyze_derivation_median": each},
        "errors": errors,
    }


if __name__ == "__main__":
    main()
