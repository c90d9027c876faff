"""Evidence: adding photos to an encrypted case, and verifying a court bundle, one core.

Photos: ``--photos`` (1,000) JPEGs of about 1 MP made from scikit-image's bundled samples
(astronaut, coffee, chelsea, rocket, immunohistochemistry, the left stereo motorcycle,
Hubble deep field, retina, and the greyscale camera and moon): a random crop of each (50
to 100% of the largest at the photo's aspect ratio, flipped half the time), resized with
Lanczos to one of eight sizes as phones and screenshots make them (1152x864, 1024x1024,
1280x800, 1200x900, 1280x768 and the upright ones; 0.98 to 1.18 MP), sensor grain of
sigma 2, JPEG quality 80 to 95. Made once per ``--seed`` and kept in
``--workdir`` (default: leakshield-evidence-bench in the temporary directory), so making
them is never timed.

(a) Adding: every photo through `add_file` into one case (made before the clock starts),
as `leakshield case add-file` does it: SHA-256 while sealing (AES-256-GCM, 1 MiB chunks)
into a new object, synced and renamed; media type and PDQ; the log record sealed,
appended and synced; the tree head signed, appended and synced. The peer, same photos,
same run: a plain copy into a folder (`shutil.copyfile`), with an fsync of each copy and
without. Then the split, on ``--split-photos`` (200) of them, each step as `add_file`
calls it: reading and SHA-256 alone, the signals (`hash_file`: media type, PDQ), sealing
into memory (encryption alone), sealing into a synced object (`OpenCase.store`), and the
log (one record appended and one head signed, as for a note), in a case already holding
as many records as (a) adds. PDQ caches its filter
weights per image size; the signals of a photo of a size not seen before are timed apart.

(b) Verifying: the case of (a) topped up to ``--bundle-mb`` (1,024) of evidence with
files of 64 MiB of random bytes named as MP4 videos (stored in the zip as they are, like
the JPEGs), exported with `export_bundle` (after an "exported" record, as `case export`
does; the PDF report left out unless ``--pdf``), then `verify_bundle` on it: zip safety,
manifest, every record, head, signature and proof, and the SHA-256 of every file. The
peer, same file, same core: hashlib's SHA-256 over the zip in 1 MiB reads, and the
`sha256sum` program. The zip is read once before (warm page cache: this measures the CPU,
not the disk). The bench exits if the bundle does not verify.

This process is pinned to one core throughout; pending writes are flushed (``sync``)
before each timed run; ``--rounds`` (2) rounds, the faster kept. About 1.5 minutes on
this project's 2-core machine (and 1.5 more the first time, making the photos);
``--quick`` (100 photos, a 256 MB bundle, 1 round) about 20 seconds.

Usage: python bench/evidence_bench.py [--quick] [--photos 1000] [--bundle-mb 1024]
[--rounds 2] [--split-photos 200] [--pdf] [--seed 1] [--workdir DIR] [--keep]. The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = "1"

import numpy as np

GENERATION = 2  # bump when the photos change: the cache folder's name carries it
SAMPLES = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry"]
SAMPLES += ["motorcycle_left", "hubble_deep_field", "retina", "camera", "moon"]
# About 1 MP each, as phones and screenshots make them: a few sizes, many photos of each.
SIZES = [(1152, 864), (864, 1152), (1024, 1024), (1280, 800), (800, 1280), (1200, 900)]
SIZES += [(900, 1200), (1280, 768)]
PASSPHRASE = b"evidence bench passphrase"
FILLER = 64 << 20
ONE_CORE = {min(os.sched_getaffinity(0))}
MB = 1e6


# ---------------------------------------------------------------- the photos


def make_photo(index: int, seed: int, folder: str) -> dict[str, Any]:
    """Photo ``index``: a random crop of a sample at one of SIZES, grained, JPEG."""
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng([seed, index])
    name = SAMPLES[int(rng.integers(len(SAMPLES)))]
    image = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
    image = image if image.ndim == 2 else image[:, :, :3]
    width, height = SIZES[int(rng.integers(len(SIZES)))]
    h, w = image.shape[:2]
    # The largest crop of the sample's shape at this aspect ratio, shrunk by 50 to 100%.
    fit = min(h / height, w / width) * rng.uniform(0.5, 1.0)
    ch, cw = max(1, int(height * fit)), max(1, int(width * fit))
    top, left = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
    image = image[top : top + ch, left : left + cw]
    if rng.integers(2):
        image = image[:, ::-1]
    resized = Image.fromarray(np.ascontiguousarray(image)).resize(
        (width, height), Image.Resampling.LANCZOS
    )
    pixels = np.asarray(resized, np.float32)
    pixels = pixels + rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(2.0)
    file = f"IMG_{index:04d}.jpg"
    quality = int(rng.integers(80, 96))
    Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8)).save(
        Path(folder) / file, quality=quality
    )
    return {"file": file, "mp": width * height / 1e6, "bytes": (Path(folder) / file).stat().st_size}


def photo_set(workdir: Path, count: int, seed: int) -> tuple[Path, list[dict[str, Any]]]:
    """The photos for these settings: made now (on every core), or as made before."""
    folder = workdir / f"photos-v{GENERATION}-{count}-seed{seed}"
    listing = folder.parent / f"{folder.name}.json"
    if listing.exists():
        photos: list[dict[str, Any]] = json.loads(listing.read_text())
        if all((folder / p["file"]).stat().st_size == p["bytes"] for p in photos):
            print(f"photos: {count} made earlier, in {folder}")
            return folder, photos
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    start = time.perf_counter()
    cores = len(os.sched_getaffinity(0))
    with ProcessPoolExecutor(cores, mp_context=get_context("spawn")) as pool:
        photos = list(pool.map(make_photo, range(count), [seed] * count, [str(folder)] * count))
    listing.write_text(json.dumps(photos, indent=1))
    print(f"photos: made {count} in {time.perf_counter() - start:.0f} s, in {folder}")
    return folder, photos


# ---------------------------------------------------------------- (a) adding


def fresh_case(root: Path, title: str) -> Any:
    from leakshield.evidence import KdfParams, Vault

    shutil.rmtree(root, ignore_errors=True)
    # The key derivation runs once per open, not per file: a low cost keeps set-up short.
    return Vault(root).create(title, PASSPHRASE, kdf=KdfParams(os.urandom(16), n=1 << 14))


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    os.sync()
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def add_all(paths: list[Path], root: Path) -> tuple[float, Any]:
    """Every photo into a new case as `case add-file` adds them (add_files, batches of 32:
    one log write a batch); the seconds, and the case (closed)."""
    from leakshield.evidence import add_files
    from leakshield.media import MediaLimits

    case, limits = fresh_case(root, "bench"), MediaLimits()

    def work() -> None:
        for start in range(0, len(paths), 32):
            for result in add_files(case, paths[start : start + 32], limits=limits):
                if isinstance(result, Exception):
                    raise result

    seconds, _ = timed(work)
    case.close()
    return seconds, case


def check_case(case: Any, paths: list[Path]) -> int:
    """Every photo in the case, a few read back to the same bytes (exits if not); how
    many got a PDQ (not those of too little detail: PDQ quality below 50)."""
    from leakshield.evidence import Vault

    with Vault(case.files.folder.parent).open(case.case_id, PASSPHRASE) as opened:
        items = opened.items()
        problems = [] if len(items) == len(paths) else [f"{len(items)} items, not {len(paths)}"]
        for item, path in list(zip(items, paths, strict=False))[:: max(1, len(paths) // 5)]:
            with opened.item_file(item.id, path.name) as stored:
                if stored.read() != path.read_bytes():
                    problems.append(f"{path.name} does not read back")
    if problems:
        print("add_file did not do its work:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    return sum(1 for item in items if item.record["pdq"])


def copy_all(paths: list[Path], out: Path, sync: bool) -> float:
    """The peer: a plain copy of every photo into a folder, each synced when ``sync``."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    def work() -> None:
        for path in paths:
            target = out / path.name
            shutil.copyfile(path, target)
            if sync:
                fd = os.open(target, os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)

    return timed(work)[0]


def split(paths: list[Path], root: Path, records: int) -> dict[str, float]:
    """Seconds a photo of each step of add_file, called as it calls them, in a case of
    ``records`` records (signing a head hashes the whole log)."""
    from leakshield.evidence import add_note
    from leakshield.evidence._crypto import seal_stream
    from leakshield.evidence._items import _signals
    from leakshield.media import MediaLimits
    from leakshield.signals._pdq import _weights

    case, limits = fresh_case(root, "split"), MediaLimits()
    for number in range(records):
        add_note(case, f"note {number}")
    key = case._key
    steps: dict[str, Callable[[Path], Any]] = {
        "read and SHA-256": lambda p: hashlib.sha256(p.read_bytes()).digest(),
        "signals (hash_file: media type, PDQ)": lambda p: _signals(p, limits),
        "  the same, a size not seen before": lambda p: (
            _weights.cache_clear(),
            _signals(p, limits),
        ),
        "seal into memory (AES-256-GCM)": lambda p: seal_stream(
            key, p.open("rb"), io.BytesIO(), b"0" * 32
        ),
        "seal into a synced object (store)": lambda p: case.store(
            p.open("rb"), hashlib.sha256().update
        ),
        "log: a record and a signed head": lambda p: case.append(
            "note-added", {"id": p.name, "text": "x" * 600}, {}, None
        ),
        # As add-file does it: the folder synced once for 32 objects, 32 records one write.
        "seal into an object, folder synced a batch": lambda p: case.store(
            p.open("rb"), hashlib.sha256().update, sync_folder=False
        ),
        "log: a batch of 32 records, one head (a record)": lambda p: (
            case.append_many([("note-added", {"id": p.name, "text": "x" * 600}, {}, None)] * 32)
            if paths.index(p) % 32 == 0
            else None
        ),
    }
    found = {}
    for label, step in steps.items():
        os.sync()
        start = time.perf_counter()
        for path in paths:
            step(path)
        found[label] = (time.perf_counter() - start) / len(paths)
        if label.startswith("seal into an object, folder"):
            found[label] += _timed_sync(case) / 32
    case.close()
    return found


def _timed_sync(case: Any) -> float:
    start = time.perf_counter()
    case.files.sync_objects()
    return time.perf_counter() - start


# ---------------------------------------------------------------- (b) verifying


def top_up(case: Any, target_bytes: int, folder: Path, rng: np.random.Generator) -> int:
    """Add random "videos" until the case's evidence reaches ``target_bytes``."""
    from leakshield.evidence import Vault, add_file
    from leakshield.media import MediaLimits

    folder.mkdir(parents=True, exist_ok=True)
    with Vault(case.files.folder.parent).open(case.case_id, PASSPHRASE) as opened:
        total = sum(f["size"] for item in opened.items() for f in item.files)
        number = 0
        while total < target_bytes:
            size = min(FILLER, target_bytes - total)
            path = folder / f"VID_{number:03d}.mp4"
            path.write_bytes(rng.bytes(size))
            add_file(opened, path, limits=MediaLimits())
            path.unlink()
            total, number = total + size, number + 1
    return total


def export(case: Any, out: Path, pdf: bool) -> tuple[float, Any]:
    from leakshield.evidence import Vault
    from leakshield.evidence._bundle import export_bundle

    out.unlink(missing_ok=True)
    with Vault(case.files.folder.parent).open(case.case_id, PASSPHRASE) as opened:
        opened.append("exported", None, {"bundle": out.name, "hashes_only": False}, None)
        return timed(lambda: export_bundle(opened, out, pdf=pdf))


def hashlib_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256sum(path: Path) -> str:
    program = shutil.which("sha256sum") or "/usr/bin/sha256sum"
    found = subprocess.run([program, str(path)], capture_output=True, text=True, check=True)
    return found.stdout.split()[0]


# ---------------------------------------------------------------- the run


def best(rounds: int, work: Callable[[], float]) -> dict[str, Any]:
    times = [work() for _ in range(rounds)]
    return {"seconds": min(times), "rounds_s": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 photos, 256 MB, 1 round")
    parser.add_argument("--photos", type=int, help="photos to add (default 1,000; quick 100)")
    parser.add_argument("--bundle-mb", type=int, help="evidence in the bundle (1,024; 256)")
    parser.add_argument("--rounds", type=int, help="runs of each, the best kept (2; quick 1)")
    parser.add_argument("--split-photos", type=int, help="photos timed step by step (200)")
    parser.add_argument("--pdf", action="store_true", help="put the PDF report in the bundle")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="where the photos and the runs go")
    parser.add_argument("--keep", action="store_true", help="keep the case and the bundle")
    args = parser.parse_args()
    count = args.photos or (100 if args.quick else 1000)
    bundle_bytes = (args.bundle_mb or (256 if args.quick else 1024)) << 20
    rounds = args.rounds or (1 if args.quick else 2)
    split_count = min(args.split_photos or 200, count)
    workdir = args.workdir or Path(tempfile.gettempdir()) / "leakshield-evidence-bench"
    runs = workdir / "runs"
    workdir.mkdir(parents=True, exist_ok=True)
    began, load = time.perf_counter(), os.getloadavg()[0]

    folder, photos = photo_set(workdir, count, args.seed)
    paths = [folder / p["file"] for p in photos]
    photo_mb = sum(p["bytes"] for p in photos) / MB
    mp = sum(p["mp"] for p in photos)
    print(
        f"{count} JPEGs, {mp / count:.2f} MP and {photo_mb / count * 1000:.0f} kB each on "
        f"average ({photo_mb:.0f} MB); pinned to core {min(ONE_CORE)} of "
        f"{len(os.sched_getaffinity(0))}; best of {rounds} rounds"
    )
    os.sched_setaffinity(0, ONE_CORE)
    add_all(paths[:5], runs / "warm-up")  # imports and first calls, not timed

    # (a) adding, round after round: a slow spell of the host hits every contender alike.
    added: list[float] = []
    copies: dict[str, list[float]] = {"fsync": [], "plain": []}
    case = None
    for round_ in range(1, rounds + 1):
        seconds, case = add_all(paths, runs / "case")
        added.append(seconds)
        copies["fsync"].append(copy_all(paths, runs / "copy", sync=True))
        copies["plain"].append(copy_all(paths, runs / "copy", sync=False))
        print(
            f"round {round_}: add_file {seconds:.1f} s, copy+fsync {copies['fsync'][-1]:.2f} s, "
            f"copy {copies['plain'][-1]:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    assert case is not None
    with_pdq = check_case(case, paths)
    add_s, fsync_s, plain_s = min(added), min(copies["fsync"]), min(copies["plain"])
    steps = split(paths[:split_count], runs / "split", count)

    rows = [
        ("add_file into a case", add_s),
        ("peer: copy + fsync of each file", fsync_s),
        ("peer: copy, no fsync", plain_s),
    ]
    print(f"\n(a) adding {count} photos ({photo_mb:.0f} MB; {with_pdq} got a PDQ), one core")
    print(f"  {'':34} {'seconds':>8} {'photos/s':>9} {'MB/s':>7} {'add_file takes':>15}")
    for label, seconds in rows:
        ratio = "" if seconds == add_s else f"{add_s / seconds:.1f}x as long"
        print(
            f"  {label:34} {seconds:8.2f} {count / seconds:9.1f} {photo_mb / seconds:7.1f} "
            f"{ratio:>15}"
        )
    per_photo = add_s / count
    print(
        f"\n  split, {split_count} photos into a case of {count} records, ms a photo "
        f"(add_file: {per_photo * 1000:.2f} ms)"
    )
    for label, seconds in steps.items():
        share = "" if label.startswith(" ") else f"{seconds / per_photo:6.1%}"
        print(f"  {label:40} {seconds * 1000:7.2f}  {share:>6}")

    # (b) verifying a bundle of about --bundle-mb.
    rng = np.random.default_rng([args.seed, 2])
    evidence = top_up(case, bundle_bytes, runs / "filler", rng)
    bundle = runs / "bundle.zip"
    export_s, summary = export(case, bundle, args.pdf)
    zip_mb = bundle.stat().st_size / MB
    hashlib_sha256(bundle)  # into the page cache
    outcome: dict[str, Any] = {}

    def verify() -> float:
        from leakshield.evidence._bundle_verify import verify_bundle

        seconds, outcome["result"] = timed(lambda: verify_bundle(bundle))
        return seconds

    verified = best(rounds, verify)
    result = outcome["result"]
    if not result.ok or result.files != summary.files:
        print("the bundle does not verify:", *result.problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    digests: dict[str, str] = {}

    def peer(name: str, work: Callable[[Path], str]) -> Callable[[], float]:
        def run() -> float:
            seconds, digests[name] = timed(lambda: work(bundle))
            return seconds

        return run

    by_hashlib = best(rounds, peer("hashlib", hashlib_sha256))
    by_sha256sum = best(rounds, peer("sha256sum", sha256sum))
    assert digests["hashlib"] == digests["sha256sum"]
    print(
        f"\n(b) verifying a bundle: {zip_mb:.0f} MB zip, {summary.files} files "
        f"({evidence / MB:.0f} MB of evidence), {summary.records} log records; exported in "
        f"{export_s:.1f} s ({zip_mb / export_s:.0f} MB/s); one core, warm page cache"
    )
    print(f"  {'':36} {'seconds':>8} {'MB/s':>7} {'verify takes':>13}")
    verify_s = verified["seconds"]
    for label, seconds in (
        ("verify_bundle", verify_s),
        ("peer: hashlib SHA-256 of the zip", by_hashlib["seconds"]),
        ("peer: sha256sum of the zip", by_sha256sum["seconds"]),
    ):
        ratio = "" if seconds == verify_s else f"{verify_s / seconds:.2f}x as long"
        print(f"  {label:36} {seconds:8.2f} {zip_mb / seconds:7.0f} {ratio:>13}")

    add_ratio = add_s / fsync_s
    verify_rate = zip_mb / verify_s
    # The target's figure: what encryption and logging cost against a plain copy (as
    # add-file commits: sealed objects, one folder sync and one log write a batch).
    storage = (
        steps["seal into an object, folder synced a batch"]
        + steps["log: a batch of 32 records, one head (a record)"]
    )
    storage_ratio = storage / (fsync_s / count)
    print(
        f"\ntargets: encryption and logging <= 3x a plain copy with fsync: {storage_ratio:.1f}x, "
        f"{'met' if storage_ratio <= 3 else 'NOT met'} (the whole add_file, with PDQ: "
        f"{add_ratio:.1f}x); bundle verify >= 100 MB/s on one core: "
        f"{verify_rate:.0f} MB/s, {'met' if verify_rate >= 100 else 'NOT met'}"
    )
    print(f"{time.perf_counter() - began:.0f} s in all; load average at the start {load:.2f}")
    if not args.keep:
        shutil.rmtree(runs, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "evidence",
                "photos": count,
                "photo_mb": round(photo_mb, 1),
                "add_file_s": round(add_s, 3),
                "add_file_photos_per_s": round(count / add_s, 1),
                "copy_fsync_s": round(fsync_s, 3),
                "copy_s": round(plain_s, 3),
                "add_vs_copy_fsync": round(add_ratio, 2),
                "encryption_and_logging_vs_copy_fsync": round(storage_ratio, 2),
                "add_vs_copy": round(add_s / plain_s, 2),
                "split_ms_per_photo": {k: round(v * 1000, 3) for k, v in steps.items()},
                "bundle_mb": round(zip_mb, 1),
                "bundle_files": summary.files,
                "export_s": round(export_s, 2),
                "verify_s": round(verify_s, 3),
                "verify_mb_per_s": round(verify_rate, 1),
                "hashlib_mb_per_s": round(zip_mb / by_hashlib["seconds"], 1),
                "sha256sum_mb_per_s": round(zip_mb / by_sha256sum["seconds"], 1),
                "verify_vs_hashlib": round(verify_s / by_hashlib["seconds"], 2),
                "rounds": {
                    "add_file": added,
                    "copy_fsync": copies["fsync"],
                    "copy": copies["plain"],
                    "verify": verified["rounds_s"],
                },
                "load_average": load,
            }
        )
    )


if __name__ == "__main__":
    main()
