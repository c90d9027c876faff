"""Hashing throughput: leakshield's PDQ and vPDQ against the reference ways of doing it.

Images: single-core throughput on a mixed set of 1 to 12 megapixel JPEGs made from
scikit-image's bundled photos, against threatexchange's ``pdq_from_file`` (the PyPI
``threatexchange`` package, Meta's reference Python library), measured in the same
run, each contender in its own process pinned to one core. Every leakshield hash of
quality >= 80 must lie within distance 10 of the reference's. Also reported: the full
``hash`` job (PDQ + MD5 + SHA-256) on one core, and ``--jobs 2``.

Video: hashing one frame per second against decoding every frame and hashing the
sampled ones (what the vPDQ reference does at one frame per second), as multiples of
real time, for the conformance videos (a keyframe every 2 s) and generated 720p, 60 s
clips with a keyframe every second (as phone cameras record), every 2 s (as streaming
platforms encode) and every 250 frames (x264's default).

Usage: python bench/hash_bench.py [--quick]. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE_VIDEOS = ROOT.parent / "shared" / "conformance" / "vpdq"
PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "camera", "hubble_deep_field", "retina"]
MEGAPIXELS = [1, 2, 3, 4, 6, 8, 10, 12]


def make_images(folder: Path, per_photo: int) -> list[Path]:
    """JPEGs of 1 to 12 megapixels from the bundled photos, with a little sensor grain."""
    import numpy as np
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng(7)
    paths = []
    for n, name in enumerate(PHOTOS):
        photo = Image.fromarray(getattr(data, name)()).convert("RGB")
        for k in range(per_photo):
            mp = MEGAPIXELS[(n * per_photo + k) % len(MEGAPIXELS)]
            height = int((mp * 1e6 * photo.height / photo.width) ** 0.5)
            width = int(height * photo.width / photo.height)
            big = np.asarray(photo.resize((width, height), Image.Resampling.LANCZOS), np.float32)
            big += rng.normal(0, 3, big.shape).astype(np.float32)
            path = folder / f"{name}-{mp}mp.jpg"
            Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(path, quality=90)
            paths.append(path)
    return paths


def make_clip(path: Path, seconds: int, gop: int | None) -> Path:
    """A 720p, 30 fps H.264 clip panning over two bundled photos (x264 defaults but ``gop``)."""
    import av
    import numpy as np
    from PIL import Image
    from skimage import data

    canvas = Image.new("RGB", (4800, 2400))
    canvas.paste(Image.fromarray(data.astronaut()).resize((2400, 2400)), (0, 0))
    canvas.paste(Image.fromarray(data.coffee()).resize((2400, 1600)), (2400, 400))
    pixels = np.asarray(canvas)
    fps, width, height = 30, 1280, 720
    total = seconds * fps
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        for i in range(total):
            x = int((4800 - width) * (0.5 - 0.5 * np.cos(2 * np.pi * i / total)))
            y = int((2400 - height) * (0.5 - 0.5 * np.cos(2 * np.pi * i / (fps * 7))))
            frame = np.ascontiguousarray(pixels[y : y + height, x : x + width])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    return path


# ---------------------------------------------------------------- worker side


def _best_of(rounds: int, work: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def worker_images(contender: str, paths: list[Path], rounds: int) -> dict[str, Any]:
    """Hash every image ``rounds`` times; report the best time and the hashes."""
    if contender == "threatexchange":
        from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

        def work() -> list[tuple[str, int]]:
            return [pdq_from_file(p) for p in paths]
    elif contender == "leakshield-pdq":
        from leakshield.media import MediaLimits
        from leakshield.signals import pdq_from_file as ours

        limits = MediaLimits()

        def work() -> list[tuple[str, int]]:
            return [(str(r.hash), r.quality) for r in (ours(p, limits) for p in paths)]
    else:
        from leakshield.signals import hash_file

        def work() -> list[tuple[str, int]]:
            results = [hash_file(p).pdq for p in paths]
            return [(str(r.hash), r.quality) for r in results if r is not None]

    work()  # warm the page cache and imports
    seconds, hashes = _best_of(rounds, work)
    return {"seconds": seconds, "hashes": hashes}


def worker_video(contender: str, path: Path, rounds: int) -> dict[str, Any]:
    """Hash one video at one frame per second, the fast way or by decoding every frame."""
    from leakshield.media import MediaLimits, video_info
    from leakshield.signals import vpdq_from_file

    limits = MediaLimits()
    if contender == "sampled":

        def work() -> int:
            return len(vpdq_from_file(path, limits, every=1.0).frames)
    else:

        def work() -> int:
            return _decode_every_frame(path)

    seconds, frames = _best_of(rounds, work)
    duration = video_info(path, limits).duration or 0.0
    return {"seconds": seconds, "frames": frames, "duration": duration}


def _decode_every_frame(path: Path) -> int:
    """The peer: decode every frame, hash the first frame at or after each second."""
    import av

    from leakshield.media import frame_luma
    from leakshield.signals import pdq_from_plane

    hashed, next_time = 0, 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        for frame in container.decode(stream):
            seconds = float((frame.pts - start) * stream.time_base)
            if seconds >= next_time - 1e-6:
                pdq_from_plane(frame_luma(frame))
                hashed += 1
                while next_time <= seconds + 1e-6:
                    next_time += 1.0
    return hashed


def run_pinned(args: list[str]) -> dict[str, Any]:
    """Run this script as a worker in a fresh process pinned to one core."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, __file__, "--worker", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"worker {args[:2]} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


# ---------------------------------------------------------------- driver side


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def bench_images(folder: Path, per_photo: int, rounds: int) -> dict[str, Any]:
    paths = make_images(folder, per_photo)
    listing = folder / "images.json"
    listing.write_text(json.dumps([str(p) for p in paths]))
    megapixels = sum(int(p.stem.rsplit("-", 1)[1][:-2]) for p in paths)
    print(f"images: {len(paths)} JPEGs, {megapixels} megapixels in all, one core each")

    peer = run_pinned(["images", "threatexchange", str(listing), str(rounds)])
    ours = run_pinned(["images", "leakshield-pdq", str(listing), str(rounds)])
    full = run_pinned(["images", "leakshield-hash", str(listing), str(rounds)])
    distances = [
        distance(mine[0], theirs[0])
        for mine, theirs in zip(ours["hashes"], peer["hashes"], strict=True)
        if theirs[1] >= 80
    ]
    assert len(distances) == len(paths), "every bench image should be of quality >= 80"

    from leakshield.signals import HashOptions, hash_files

    # Processes take about a second to start: measure over enough files to show the rate.
    repeated = paths * 10
    rates = {}
    for jobs in (1, 2):
        start = time.perf_counter()
        for _ in hash_files(repeated, HashOptions(), jobs=jobs):
            pass
        rates[jobs] = len(repeated) / (time.perf_counter() - start)

    n = len(paths)
    figures = {
        "images": n,
        "threatexchange_images_per_s": round(n / peer["seconds"], 2),
        "images_per_s": round(n / ours["seconds"], 2),
        "ratio_vs_threatexchange": round(peer["seconds"] / ours["seconds"], 2),
        "hash_job_images_per_s": round(n / full["seconds"], 2),
        "hash_job_ratio_vs_threatexchange": round(peer["seconds"] / full["seconds"], 2),
        "jobs1_unpinned_images_per_s": round(rates[1], 2),
        "jobs2_images_per_s": round(rates[2], 2),
        "max_distance_to_reference": max(distances),
        "within_10": sum(d <= 10 for d in distances),
    }
    print(f"  threatexchange pdq_from_file  {figures['threatexchange_images_per_s']:8.2f} images/s")
    print(
        f"  leakshield PDQ                {figures['images_per_s']:8.2f} images/s  "
        f"x{figures['ratio_vs_threatexchange']} vs threatexchange"
    )
    print(
        f"  leakshield hash (PDQ+MD5+SHA) {figures['hash_job_images_per_s']:8.2f} images/s  "
        f"x{figures['hash_job_ratio_vs_threatexchange']}"
    )
    print(
        f"  leakshield hash --jobs 1 / 2  {figures['jobs1_unpinned_images_per_s']:8.2f} / "
        f"{figures['jobs2_images_per_s']:.2f} images/s ({len(repeated)} files, both cores free)"
    )
    print(
        f"  distance to the reference: max {figures['max_distance_to_reference']}, "
        f"{figures['within_10']}/{n} within 10"
    )
    return figures


def bench_videos(folder: Path, seconds: int, rounds: int) -> list[dict[str, Any]]:
    videos = sorted(CONFORMANCE_VIDEOS.glob("*.mp4"))
    print(f"videos: generating 720p {seconds} s clips, keyframes every 1 s, 2 s and x264's 250")
    videos.append(make_clip(folder / "clip-720p-gop30.mp4", seconds, gop=30))
    videos.append(make_clip(folder / "clip-720p-gop60.mp4", seconds, gop=60))
    videos.append(make_clip(folder / "clip-720p-gop250.mp4", seconds, gop=None))
    rows = []
    print(f"  {'video':34} {'peer x realtime':>16} {'1/s x realtime':>15} {'ratio':>6}")
    for path in videos:
        peer = run_pinned(["video", "every-frame", str(path), str(rounds)])
        ours = run_pinned(["video", "sampled", str(path), str(rounds)])
        row = {
            "video": path.name,
            "duration_s": round(ours["duration"], 2),
            "frames_hashed": ours["frames"],
            "peer_x_realtime": round(peer["duration"] / peer["seconds"], 1),
            "x_realtime": round(ours["duration"] / ours["seconds"], 1),
            "ratio": round(peer["seconds"] / ours["seconds"], 2),
        }
        rows.append(row)
        print(
            f"  {path.name:34} {row['peer_x_realtime']:16} {row['x_realtime']:15} {row['ratio']:6}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sets, one round")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        # One core, chosen before NumPy or FFmpeg start any threads.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        kind, contender, target, rounds = args.worker
        if kind == "images":
            paths = [Path(p) for p in json.loads(Path(target).read_text())]
            result = worker_images(contender, paths, int(rounds))
        else:
            result = worker_video(contender, Path(target), int(rounds))
        print(json.dumps(result))
        return

    rounds = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="leakshield-bench-") as tmp:
        images = bench_images(Path(tmp), 1 if args.quick else 3, rounds)
        videos = bench_videos(Path(tmp), 10 if args.quick else 60, rounds)
    ratios = [row["ratio"] for row in videos]
    summary = {
        "bench": "hash",
        **images,
        "video_ratio_min": min(ratios),
        "video_ratio_max": max(ratios),
        "videos": videos,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
