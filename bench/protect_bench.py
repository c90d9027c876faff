"""Protecting a folder: `leakshield protect` on photos of 1 to 12 megapixels, per second.

Photos: ``--photos`` (200) made from scikit-image's bundled samples (astronaut, coffee,
chelsea, rocket, immunohistochemistry, the left stereo motorcycle, Hubble deep field,
retina, and the greyscale camera and moon, which stay greyscale): a random crop of each
(50 to 100% of each side, flipped half the time), resized with Lanczos to a size from a
fixed pattern of 20 (sixteen of 1 to 4 MP: 1, 1, 1.2, 1.5, 1.8, 2, 2, 2, 2.4, 2.8, 3, 3,
3, 3.5, 4 and 4 MP; then 6, 6, 8 and 12 MP; 3.5 MP on average), with sensor grain of
sigma 2. One in ten is a PNG, the rest JPEG quality 90; the order is shuffled. The set is
made once per ``--seed`` and kept in ``--workdir`` (default: leakshield-protect-bench in
the temporary directory), so making it is never timed and a re-run reuses it.

Method: `leakshield.provenance.protect` in this process, wired as the CLI wires it: for
each run a fresh data directory with a new SQLite database (migrated before the clock
starts), a new signing identity (`create_identity`), a new watermark key and a fresh OUT
folder. The wall-clock time of the whole call is measured, and the CPU time of this
process and its worker processes (steadier than the wall clock on a shared host), for
each of ``--jobs``: with 1 this process is pinned to one core; with more it has every
core and protect's own worker processes (spawned, as the CLI's) do the work, their
start-up (about 1.3 s each: they import leakshield) counted. Imports and first calls are
warmed up before (protect on two photos, not timed), and pending writes are flushed
(``sync``) before each run. Every process runs one thread everywhere (OpenMP, OpenBLAS,
MKL, numba, OpenCV). Every photo must come out protected, watermarked and signed, with no
note; the bench exits otherwise. After each run (not timed) the bank and the manifest
repository must hold every photo, and three copies must verify (C2PA "Trusted" under the
identity's root) and give their watermark back. ``--rounds`` (2) rounds of every run, one
round after the other; the fastest of each is kept.

Baselines, same photos, same run, one core each: protect without the watermark (as
``--no-watermark``: PDQ, sign, register), protect without signing (as ``--no-sign``: PDQ,
watermark, register), and the peer, signing alone with c2pa-python: a Builder with one
``c2pa.created`` action, thumbnails off as leakshield has them, one signer for the run,
each photo file to file (what a plain C2PA signing tool does; no fingerprint, no
watermark, no read-back, no database).

Stages, one core, on ``--stage-photos`` (20; one of each size of the pattern): the
per-file steps of protect called directly, as `_protect` calls them: PDQ of the original
(`fingerprint_file`), MD5 and SHA-256 of the original (`file_digests`), the watermark
(`embed_file`), PDQ of the marked copy, signing (`sign_file`: C2PA sign, read back, SHA-256
of the copy), and MD5 and SHA-256 of the copy. Then each photo again as a worker of protect
handles it (`run_jobs` in this process), and its record in the bank and the manifest
repository as protect's caller makes it; and protect() on the same photos, whose time
beyond those two is the rest (journal, report, the loop; it also carries the noise of two
timings). Bare c2pa-python signing of each marked copy is timed beside, to split
``sign_file``. Each photo's fastest round counts.

A full run takes about 8 minutes on this project's 2-core machine (and a minute more the
first time, making the photos); ``--quick`` (20 photos of 1 to 3 MP, 10 for the stages,
one round) under one. With one worker, the time of each format is reported too (from
when each photo was done): a grainy PNG costs about ten times a JPEG of the same size.

Usage: python bench/protect_bench.py [--quick] [--photos 200] [--jobs 1,2] [--rounds 2]
[--stage-photos 20] [--seed 1] [--workdir DIR] [--keep]. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

# One thread everywhere, set before NumPy, OpenCV and numba start their thread pools; the
# worker processes protect spawns inherit it.
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = "1"
os.environ["OPENCV_FOR_THREADS_NUM"] = "1"

import numpy as np

GENERATION = 1  # bump when the photos change: the cache folder's name carries it
SAMPLES = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry"]
SAMPLES += ["motorcycle_left", "hubble_deep_field", "retina", "camera", "moon"]
GREY = {"camera", "moon"}
# Megapixels of photo i: PATTERN[i % 20]. Sixteen of 1 to 4 MP, then 6, 6, 8 and 12.
PATTERN = [1.0, 1.0, 1.2, 1.5, 1.8, 2.0, 2.0, 2.0, 2.4, 2.8, 3.0, 3.0, 3.0, 3.5, 4.0, 4.0]
PATTERN += [6.0, 6.0, 8.0, 12.0]
QUICK_PATTERN = [1.0, 1.5, 2.0, 2.5, 3.0]
PNG_SHARE = 0.1
CHECKED_COPIES = 3

T = TypeVar("T")


# ---------------------------------------------------------------- the photos


def sample(name: str) -> np.ndarray:
    """One of scikit-image's bundled (never downloaded) photos, RGB or greyscale."""
    from skimage import data

    stereo: Callable[[], Any] = data.stereo_motorcycle
    image = stereo()[0] if name == "motorcycle_left" else getattr(data, name)()
    return np.ascontiguousarray(image if image.ndim == 2 else image[:, :, :3])


def make_photo(index: int, seed: int, mp: float, png: bool, folder: str) -> dict[str, Any]:
    """Photo ``index`` of the set: a random crop of a sample, resized, grained, saved."""
    from PIL import Image

    rng = np.random.default_rng([seed, index])
    name = SAMPLES[int(rng.integers(len(SAMPLES)))]
    photo = sample(name)
    h, w = photo.shape[:2]
    ch, cw = int(h * rng.uniform(0.5, 1.0)), int(w * rng.uniform(0.5, 1.0))
    top, left = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
    photo = photo[top : top + ch, left : left + cw]
    if rng.integers(2):
        photo = photo[:, ::-1]
    height = round((mp * 1e6 * ch / cw) ** 0.5)
    width = round(height * cw / ch)
    image = Image.fromarray(np.ascontiguousarray(photo))
    big = np.asarray(image.resize((width, height), Image.Resampling.LANCZOS), np.float32)
    big += rng.standard_normal(big.shape, dtype=np.float32) * np.float32(2.0)
    pixels = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    file = f"{name}-{index:03d}-{mp:g}mp.{'png' if png else 'jpg'}"
    path = Path(folder) / file
    if png:
        Image.fromarray(pixels).save(path)
    else:
        Image.fromarray(pixels).save(path, quality=90)
    return {
        "index": index,
        "file": file,
        "sample": name,
        "format": "png" if png else "jpeg",
        "width": width,
        "height": height,
        "mp": width * height / 1e6,
        "bytes": path.stat().st_size,
    }


@dataclass(frozen=True)
class PhotoSet:
    folder: Path
    photos: list[dict[str, Any]]  # in generation order: photo i has size PATTERN[i % 20]

    @property
    def megapixels(self) -> float:
        return float(sum(p["mp"] for p in self.photos))

    def paths(self, photos: list[dict[str, Any]] | None = None) -> list[Path]:
        return [self.folder / p["file"] for p in (self.photos if photos is None else photos)]


def photo_set(workdir: Path, count: int, seed: int, pattern: list[float]) -> PhotoSet:
    """The set for these settings: made now (on every core), or as made by an earlier run."""
    kind = "quick" if pattern == QUICK_PATTERN else "full"
    folder = workdir / f"photos-v{GENERATION}-{kind}-{count}-seed{seed}"
    listing = folder.parent / f"{folder.name}.json"
    if listing.exists():
        photos: list[dict[str, Any]] = json.loads(listing.read_text())
        if all((folder / p["file"]).stat().st_size == p["bytes"] for p in photos):
            print(f"photos: {count} made earlier, in {folder}")
            return PhotoSet(folder, photos)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng([seed, 1_000_000])
    pngs = set(rng.permutation(count)[: round(count * PNG_SHARE)].tolist())
    start = time.perf_counter()
    cores = len(os.sched_getaffinity(0))
    with ProcessPoolExecutor(cores, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(make_photo, i, seed, pattern[i % len(pattern)], i in pngs, str(folder))
            for i in range(count)
        ]
        photos = [future.result() for future in futures]
    # Shuffle the order protect sees (it sorts by name): sizes and formats interleave.
    order = rng.permutation(count)
    for position, photo in zip(order.tolist(), photos, strict=True):
        renamed = f"{position:03d}-{photo['file']}"
        (folder / photo["file"]).rename(folder / renamed)
        photo["file"] = renamed
    listing.write_text(json.dumps(photos, indent=1))
    print(f"photos: made {count} in {time.perf_counter() - start:.0f} s, in {folder}")
    return PhotoSet(folder, photos)


def linked_subset(photos: PhotoSet, chosen: list[dict[str, Any]], folder: Path) -> PhotoSet:
    """Some photos of ``photos`` in a folder of their own (hard links: the same files)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in photos.paths(chosen):
        (folder / path.name).hardlink_to(path)
    return PhotoSet(folder, chosen)


# ---------------------------------------------------------------- protect runs


ALL_CORES = frozenset(os.sched_getaffinity(0))
ONE_CORE = frozenset({min(ALL_CORES)})


def on_cores(cores: frozenset[int], work: Callable[[], T]) -> T:
    """``work()`` with this process allowed on ``cores`` (processes it starts inherit them)."""
    os.sched_setaffinity(0, cores)
    try:
        return work()
    finally:
        os.sched_setaffinity(0, ONE_CORE)


@dataclass(frozen=True)
class Setup:
    """A fresh data directory as the CLI would make it: database, identity, watermark key."""

    root: Path
    database: Any  # leakshield.store.Database
    identity: Any  # leakshield.provenance.Identity | None
    key_pem: bytes | None
    key: Any  # leakshield.watermark.WatermarkKey | None

    @classmethod
    def fresh(cls, root: Path, *, sign: bool = True, watermark: bool = True) -> Setup:
        from leakshield.provenance import create_identity
        from leakshield.store import Database
        from leakshield.watermark import WatermarkKey

        shutil.rmtree(root, ignore_errors=True)
        data = root / "data"
        data.mkdir(parents=True)
        database = Database(f"sqlite:///{data / 'leakshield.db'}")
        database.upgrade()
        identity = create_identity(data / "identity") if sign else None
        key_pem = identity.private_key_pem() if identity is not None else None
        key = WatermarkKey.generate() if watermark else None
        return cls(root, database, identity, key_pem, key)

    def close(self, keep: bool) -> None:
        self.database.dispose()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended."""
    import resource

    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def rates(seconds: float, cpu: float, photos: PhotoSet) -> dict[str, float]:
    n = len(photos.photos)
    return {
        "seconds": seconds,
        "photos_per_s": n / seconds,
        "mp_per_s": photos.megapixels / seconds,
        "s_per_photo": seconds / n,
        "cpu_s": cpu,  # less disturbed than the wall clock by other work on the host
        "cpu_s_per_photo": cpu / n,
    }


def run_protect(
    photos: PhotoSet,
    root: Path,
    *,
    workers: int = 1,
    sign: bool = True,
    watermark: bool = True,
    keep: bool = False,
    check: bool = True,
) -> dict[str, Any]:
    """protect() on the set with a fresh setup; its wall-clock time, and checks. With one
    worker, also the time spent on each format (between one photo's end and the next's)."""
    from leakshield.banks import BankStore
    from leakshield.provenance import ManifestRepository, ProtectPlan, protect

    setup = Setup.fresh(root, sign=sign, watermark=watermark)
    ended: list[tuple[str, float]] = []
    try:
        how = ProtectPlan(setup.identity, setup.key_pem, setup.key, workers=workers)
        banks, repository = BankStore(setup.database), ManifestRepository(setup.database)
        out = root / "out"

        def call() -> Any:
            return protect(
                photos.folder, out, how, banks=banks, repository=repository,
                on_item=lambda item: ended.append((item.source, time.perf_counter())),
            )  # fmt: skip

        os.sync()  # no earlier run's writes left to flush: protect fsyncs its journal
        start, cpu = time.perf_counter(), cpu_seconds()
        summary = on_cores(ALL_CORES if workers > 1 else ONE_CORE, call)
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        if check:
            check_run(summary, setup, banks, repository, len(photos.photos))
    finally:
        setup.close(keep)
    counts = summary.counts
    result = {"workers": workers, **rates(seconds, cpu, photos)} | {
        "protected": counts["protected"],
        "failed": counts["failed"],
    }
    if workers == 1:
        result["by_format"] = by_format(photos, start, ended)
    return result


def by_format(photos: PhotoSet, start: float, ended: list[tuple[str, float]]) -> dict[str, Any]:
    """Seconds, photos and megapixels of each format, from when each photo was done."""
    info = {p["file"]: p for p in photos.photos}
    split: dict[str, dict[str, float]] = {}
    for source, when in ended:
        photo = info[source]
        into = split.setdefault(photo["format"], {"photos": 0, "mp": 0.0, "seconds": 0.0})
        into["photos"] += 1
        into["mp"] += photo["mp"]
        into["seconds"] += when - start
        start = when
    for into in split.values():
        into["s_per_photo"] = into["seconds"] / into["photos"]
        into["s_per_mp"] = into["seconds"] / into["mp"]
    return split


def check_run(summary: Any, setup: Setup, banks: Any, repository: Any, count: int) -> None:
    """Every photo protected as asked and recorded; a few copies verified. Exits if not."""
    from leakshield.media import MediaLimits
    from leakshield.provenance import DEFAULT_BANK, TrustAnchors, VerifyOptions, verify_file
    from leakshield.watermark import detect_file

    problems = []
    for item in summary.items:
        if item.status != "protected":
            problems.append(f"{item.source}: {item.status} {item.error}")
        elif item.notes:
            problems.append(f"{item.source}: {'; '.join(item.notes)}")
        elif setup.key is not None and not item.watermark_payload:
            problems.append(f"{item.source}: no watermark payload")
        elif setup.identity is not None and not item.manifest:
            problems.append(f"{item.source}: not signed")
    if len(summary.items) != count:
        problems.append(f"{len(summary.items)} items for {count} photos")
    in_bank = banks.bank(DEFAULT_BANK, with_count=True).content_count
    if in_bank != count:
        problems.append(f"the bank holds {in_bank} photos, not {count}")
    if setup.identity is not None and repository.count() != count:
        problems.append(f"the repository holds {repository.count()} manifests, not {count}")
    anchors = TrustAnchors(identity=setup.identity.root_pem) if setup.identity else None
    for item in summary.items[:CHECKED_COPIES] if not problems else ():
        output = Path(item.output)
        if anchors is not None:
            state = verify_file(output, VerifyOptions(anchors=anchors)).state
            if state != "Trusted":
                problems.append(f"{item.source}: the signed copy verifies as {state}")
        if setup.key is not None:
            found = detect_file(output, setup.key, limits=MediaLimits(), generator_marks=False)
            if found.detection.payload_hex != item.watermark_payload:
                problems.append(f"{item.source}: the watermark does not read back")
    if problems:
        print("protect did not do its work:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)


# ---------------------------------------------------------------- the peer: c2pa-python alone


def c2pa_sign_all(paths: list[Path], out: Path, identity: Any, key_pem: bytes) -> list[float]:
    """Sign each file with bare c2pa-python into ``out``; the seconds of each."""
    import c2pa

    settings = {
        "verify": {"remote_manifest_fetch": False},
        "builder": {"thumbnail": {"enabled": False}},
    }
    created = {
        "action": "c2pa.created",
        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
    }
    out.mkdir(parents=True, exist_ok=True)
    info = c2pa.C2paSignerInfo(identity.alg.encode(), identity.chain_pem, key_pem, None)
    times = []
    with c2pa.Signer.from_info(info) as signer:
        for path in paths:
            start = time.perf_counter()
            manifest = {
                "claim_generator_info": [{"name": "protect-bench", "version": "1"}],
                "title": path.name,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [created]}}],
            }
            mime = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
            with (
                c2pa.Builder(manifest, c2pa.Context.from_dict(settings)) as builder,
                path.open("rb") as source,
                (out / path.name).open("w+b") as dest,
            ):
                builder.sign(signer, mime, source, dest)
            times.append(time.perf_counter() - start)
    return times


def run_c2pa_peer(photos: PhotoSet, root: Path, keep: bool) -> dict[str, Any]:
    """The peer on the whole set, one core."""
    setup = Setup.fresh(root, watermark=False)
    try:
        paths, pem = photos.paths(), setup.key_pem or b""
        c2pa_sign_all(paths[:2], root / "warm-up", setup.identity, pem)
        os.sync()
        start, cpu = time.perf_counter(), cpu_seconds()
        on_cores(ONE_CORE, lambda: c2pa_sign_all(paths, root / "out", setup.identity, pem))
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    finally:
        setup.close(keep)
    return rates(seconds, cpu, photos)


# ---------------------------------------------------------------- stages


STAGES = {
    "pdq_original": "PDQ of the original (fingerprint_file)",
    "digests_original": "MD5 + SHA-256 of the original",
    "watermark_embed": "watermark (embed_file: decode, embed, encode)",
    "pdq_marked": "PDQ of the marked copy",
    "sign": "sign (sign_file: C2PA sign, read back, SHA-256)",
    "digests_output": "MD5 + SHA-256 of the signed copy",
}
WHOLE = {
    "protect_one": "the whole photo as a worker does it (protect_one)",
    "record": "the caller records it: bank and repository",
    "c2pa_sign_alone": "(bare c2pa-python signing of the marked copy)",
}
OTHER = "the rest of protect(): journal, report, the loop"


class Laps:
    """Seconds since the last lap, by stage."""

    def __init__(self, times: dict[str, float]) -> None:
        self.times = times
        self.clock = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.times[stage] = self.times.get(stage, 0.0) + now - self.clock
        self.clock = now


def stage_times(photos: PhotoSet, root: Path) -> list[dict[str, float]]:
    """Each photo's seconds per stage: the steps of `_protect` called one by one, then the
    photo again as a worker of protect handles it (``run_jobs`` in this process), and its
    record in the bank and the repository as `_batch._record` makes it."""
    from leakshield.banks import BankStore
    from leakshield.media import MediaLimits, detect_media_type
    from leakshield.provenance import (
        DEFAULT_BANK,
        ManifestRepository,
        SignOptions,
        fingerprint_file,
        sign_file,
    )
    from leakshield.provenance._protect import ProtectJob, run_jobs
    from leakshield.signals import file_digests, parse_signal
    from leakshield.watermark import embed_file

    setup = Setup.fresh(root)
    banks, repository = BankStore(setup.database), ManifestRepository(setup.database)
    banks.create_bank(DEFAULT_BANK)
    limits, options = MediaLimits(), SignOptions(overwrite=True)
    key, pem = setup.key, setup.key_pem or b""
    out, scratch, whole = root / "out", root / "scratch", root / "whole"
    for folder in (out, scratch, whole):
        folder.mkdir()
    rows = []
    try:
        for photo, path in zip(photos.photos, photos.paths(), strict=True):
            lap = Laps({"mp": photo["mp"], "png": float(photo["format"] == "png")})
            detect_media_type(path, limits)
            original = fingerprint_file(path, limits)
            lap("pdq_original")
            _, sha256 = file_digests(path)
            lap("digests_original")
            payload = hashlib.blake2b(
                bytes.fromhex(str(sha256)), key=key.secret, person=b"ls-protect", digest_size=8
            ).digest()
            marked_path = scratch / f"marked{path.suffix.lower()}"
            embed_file(path, marked_path, key, payload, limits=limits, overwrite=True)
            lap("watermark_embed")
            marked = fingerprint_file(
                marked_path, limits, watermark_key=key, watermark_payload=payload
            )
            lap("pdq_marked")
            sign_file(
                marked_path, out / path.name, setup.identity, pem, marked, options,
                source_pdq=original.pdq, title=path.name,
            )  # fmt: skip
            lap("sign")
            file_digests(out / path.name)
            lap("digests_output")
            bare = c2pa_sign_all([marked_path], root / "bare", setup.identity, pem)
            lap.times["c2pa_sign_alone"] = bare[0]
            marked_path.unlink()
            job = ProtectJob(
                source=path,
                relative=path.name,
                output=whole / path.name,
                identity=setup.identity,
                key_pem=pem,
                watermark_secret=key.secret,
                sign_options=SignOptions(),
            )
            lap.clock = time.perf_counter()
            ((_, item, stored, _),) = run_jobs([job], 1)
            lap("protect_one")
            if item.status != "protected" or stored is None:
                sys.exit(f"protect_one failed on {path.name}: {item.error}")
            signals = [parse_signal(text) for text in item.signals]
            metadata = {"file": path.name, "protected_copy": item.output, "manifest": item.manifest}
            banks.add_content(DEFAULT_BANK, signals, metadata=metadata, note="protect-bench")
            if repository.by_label(stored.label) is None:
                repository.add(stored)
            lap("record")
            rows.append(lap.times)
    finally:
        setup.close(keep=False)
    return rows


def summarise_stages(
    rounds: list[list[dict[str, float]]], protect_s: float, stage_photos: PhotoSet
) -> dict[str, Any]:
    """Per stage, seconds a photo (each photo's best round), by format, and for 12 MP."""
    names = [*STAGES, *WHOLE]
    rows = [
        {"mp": runs[0]["mp"], "png": runs[0]["png"]}
        | {stage: min(r[stage] for r in runs) for stage in names}
        for runs in zip(*rounds, strict=True)
    ]

    def mean(chosen: list[dict[str, float]]) -> dict[str, float] | None:
        if not chosen:
            return None
        return {stage: sum(r[stage] for r in chosen) / len(chosen) for stage in names}

    every = mean(rows)
    assert every is not None
    steps = sum(every[stage] for stage in STAGES)
    total = protect_s / len(rows)
    other = total - every["protect_one"] - every["record"]
    large = [r for r in rows if r["mp"] >= 11]
    return {
        "photos": len(rows),
        "megapixels": stage_photos.megapixels,
        "png": int(sum(r["png"] for r in rows)),
        "s_per_photo": every,
        "steps_s_per_photo": steps,
        "worker_overhead_s_per_photo": every["protect_one"] - steps,
        "other_s_per_photo": other,  # journal, report, the loop; noise of two timings
        "share_of_protect": {
            stage: every[stage] / total for stage in [*STAGES, "protect_one", "record"]
        }
        | {"other": other / total},
        "protect_s_per_photo": total,
        "jpeg_s_per_photo": mean([r for r in rows if not r["png"]]),
        "png_s_per_photo": mean([r for r in rows if r["png"]]),
        "s_12mp": mean(large),
    }


def print_stages(stages: dict[str, Any]) -> None:
    every, jpeg, png, large = (
        stages[k] for k in ("s_per_photo", "jpeg_s_per_photo", "png_s_per_photo", "s_12mp")
    )
    print(
        f"stages, one core, {stages['photos']} photos ({stages['megapixels']:.0f} MP, "
        f"{stages['png']} PNG), seconds a photo; protect() took "
        f"{stages['protect_s_per_photo']:.3f} s a photo on them:"
    )
    print(f"  {'':50} {'all':>7} {'share':>6} {'JPEG':>7} {'PNG':>7} {'12 MP':>7}")
    for stage, label in (STAGES | WHOLE).items():
        share = stages["share_of_protect"].get(stage)
        cells = [f"{every[stage]:7.4f}", f"{share:6.1%}" if share is not None else " " * 6]
        cells += [f"{d[stage]:7.4f}" if d else f"{'':7}" for d in (jpeg, png, large)]
        print(f"  {label:50} " + " ".join(cells))
    other, share = stages["other_s_per_photo"], stages["share_of_protect"]["other"]
    print(f"  {OTHER:50} {other:7.4f} {share:6.1%}")


# ---------------------------------------------------------------- driver


def progress(round_: int, label: str, result: dict[str, Any]) -> None:
    print(f"round {round_}: {label}: {result['seconds']:.1f} s", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 photos of 1 to 3 MP, 1 round")
    parser.add_argument("--photos", type=int, help="how many photos (default 200; quick 20)")
    parser.add_argument("--jobs", default="1,2", help="protect's --jobs to time (default 1,2)")
    parser.add_argument("--rounds", type=int, help="runs of each, the best kept (2; quick 1)")
    parser.add_argument("--stage-photos", type=int, help="photos timed stage by stage (20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="where the photos and the runs go")
    parser.add_argument("--keep", action="store_true", help="keep each run's OUT and data")
    args = parser.parse_args()
    count = args.photos or (20 if args.quick else 200)
    pattern = QUICK_PATTERN if args.quick else PATTERN
    rounds = args.rounds or (1 if args.quick else 2)
    stage_count = min(args.stage_photos or (10 if args.quick else len(PATTERN)), count)
    jobs = [int(j) for j in args.jobs.split(",")]
    workdir = args.workdir or Path(tempfile.gettempdir()) / "leakshield-protect-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    runs = workdir / "runs"
    os.environ.setdefault("NUMBA_CACHE_DIR", str(workdir / "numba-cache"))

    import c2pa
    import cv2

    cv2.setNumThreads(1)
    began, load = time.perf_counter(), os.getloadavg()[0]
    photos = photo_set(workdir, count, args.seed, pattern)
    n, mp = count, photos.megapixels
    formats = {f: sum(p["format"] == f for p in photos.photos) for f in ("jpeg", "png")}
    sizes = sorted({round(p["mp"], 1) for p in photos.photos})
    print(
        f"{n} photos, {mp:.0f} MP in all ({mp / n:.2f} MP each on average, {sizes[0]:g} to "
        f"{sizes[-1]:g} MP), {formats['jpeg']} JPEG and {formats['png']} PNG; "
        f"{len(ALL_CORES)} cores; c2pa-python {c2pa.__version__}; best of {rounds} rounds"
    )
    os.sched_setaffinity(0, ONE_CORE)
    smallest = sorted(photos.photos, key=lambda p: p["mp"])[:2]
    warm = linked_subset(photos, smallest, workdir / "warm-up-photos")
    run_protect(warm, runs / "warm-up", check=False)

    configs: dict[str, tuple[str, dict[str, Any]]] = {
        f"jobs{w}": (f"protect --jobs {w}", {"workers": w}) for w in jobs
    }
    configs["no_watermark"] = ("protect --no-watermark, one core", {"watermark": False})
    configs["no_sign"] = ("protect --no-sign, one core", {"sign": False})
    peer = "c2pa_sign_only"
    labels = {name: label for name, (label, _) in configs.items()}
    labels[peer] = "c2pa-python signing alone, one core"
    done: dict[str, list[dict[str, Any]]] = {name: [] for name in labels}
    for round_ in range(1, rounds + 1):  # round after round: a slow spell hits all alike
        for name, (_, options) in configs.items():
            done[name].append(run_protect(photos, runs / name, keep=args.keep, **options))
            progress(round_, labels[name], done[name][-1])
        done[peer].append(run_c2pa_peer(photos, runs / peer, args.keep))
        progress(round_, labels[peer], done[peer][-1])
    best = {
        name: min(results, key=lambda r: r["seconds"])
        | {"rounds_s": [r["seconds"] for r in results]}
        for name, results in done.items()
    }
    full = best.get("jobs1") or best[f"jobs{jobs[0]}"]
    ratios = {
        f"full_vs_{name}": full["seconds"] / best[name]["seconds"]
        for name in ("no_watermark", "no_sign", peer)
    }
    for name, result in best.items():
        counted = (
            f"({result['protected']} protected, {result['failed']} failed)"
            if "protected" in result
            else ""
        )
        print(
            f"  {labels[name]:36} {result['seconds']:7.1f} s  {result['photos_per_s']:6.2f} "
            f"photos/s  {result['mp_per_s']:6.2f} MP/s  {result['s_per_photo']:.3f} s a photo  "
            f"(CPU {result['cpu_s_per_photo']:.3f} s)  " + counted
        )
    for name, result in best.items():
        for fmt, part in result.get("by_format", {}).items():
            print(
                f"    {labels[name]}, {fmt.upper()}: {part['photos']:.0f} photos, "
                f"{part['mp']:.0f} MP, {part['seconds']:.1f} s ({part['s_per_photo']:.3f} s a "
                f"photo, {part['s_per_mp']:.3f} s a MP)"
            )
    if "jobs1" in best:
        for w in jobs:
            if w != 1:
                ratios[f"jobs{w}_speedup"] = best["jobs1"]["seconds"] / best[f"jobs{w}"]["seconds"]
                print(f"  --jobs {w} is {ratios[f'jobs{w}_speedup']:.2f}x as fast as --jobs 1")
    for name in ("no_watermark", "no_sign", peer):
        print(f"  full protect takes {ratios[f'full_vs_{name}']:.2f}x as long as {labels[name]}")

    chosen = photos.photos[:stage_count]  # photo i has size pattern[i % len(pattern)]
    subset = linked_subset(photos, chosen, workdir / f"stage-photos-{count}-{stage_count}")
    subset_runs, stage_rounds = [], []
    for _ in range(rounds):
        subset_runs.append(run_protect(subset, runs / "stages-protect"))
        stage_rounds.append(on_cores(ONE_CORE, lambda: stage_times(subset, runs / "stages")))
    subset_best = min(r["seconds"] for r in subset_runs)
    stages = summarise_stages(stage_rounds, subset_best, subset)
    print_stages(stages)
    minutes = (time.perf_counter() - began) / 60
    load_after = os.getloadavg()[0]
    print(f"{minutes:.1f} minutes in all; load average {load:.2f} before, {load_after:.2f} after")
    line = {
        "bench": "protect",
        "quick": args.quick,
        "seed": args.seed,
        "rounds": rounds,
        "cores": len(ALL_CORES),
        "c2pa_python": c2pa.__version__,
        "photos": n,
        "megapixels": mp,
        "mp_per_photo": mp / n,
        "formats": formats,
        "size_pattern_mp": pattern,
        "jobs": {str(w): best[f"jobs{w}"] for w in jobs},
        "baselines": {name: best[name] for name in ("no_watermark", "no_sign", peer)},
        "ratios": ratios,
        "stages": stages,
        "minutes": minutes,
        "load_average_before_after": [load, load_after],
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
