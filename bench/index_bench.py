"""Index lookups: leakshield's exact Hamming index against the peers people use today.

Data: N random 256-bit hashes, of which 10% are families of near-duplicates (a base
hash and nine copies with 0 to 40 bits flipped, the way real banks look). Queries:
half are a stored hash with 0 to 40 bits flipped, half are misses. Threshold 31.

Each contender runs in its own process pinned to one core (OMP and numba threads 1):
- leakshield: build from the hashes in one call (bulk add), then a fresh process
  loads the saved file (memory-mapped) and answers the queries one call each;
  resident memory is that process's; adds are also measured streamed in batches of
  1,000 into an empty index;
- threatexchange's PDQIndex2 (faiss IndexFlatL2 underneath), at N <= 1M only;
- faiss IndexBinaryFlat range search;
- faiss IndexBinaryMultiHash(256 bits, 16 tables of 16 bits, nflip 1), the layout of
  threatexchange's default PDQIndex, at N >= 10M (exact at t = 31: 16 x 2 > 31).
Every contender's answers to the same queries are compared as id sets, and ours
against a brute-force scan (recall and precision 1.0 means identical).

Usage: python bench/index_bench.py [--sizes 1000000,10000000] [--huge] [--queries 2000]
``--huge`` adds N = 100M for leakshield alone (about 25 GB of disk in a temporary
folder, 16 GB of memory, 15 minutes). The last line is one JSON object.
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

import numpy as np

THRESHOLD = 31
HUGE = 100_000_000


def rss_mb() -> tuple[float, float]:
    """This process's resident and peak resident memory, in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def make_data(n: int, queries: int, folder: Path) -> None:
    """Hashes, ids and queries as .npy files in ``folder``."""
    rng = np.random.default_rng(n)
    hashes = np.empty((n, 4), np.uint64)
    for start in range(0, n, 10_000_000):
        stop = min(start + 10_000_000, n)
        hashes[start:stop] = rng.integers(0, 2**64, size=(stop - start, 4), dtype=np.uint64)
    families = np.arange(0, n // 10, 10)
    for member in range(1, 10):
        hashes[families + member] = flip(rng, hashes[families], 40)
    ids = np.arange(n, dtype=np.int64)
    stored = hashes[rng.integers(0, n, queries // 2)]
    misses = rng.integers(0, 2**64, size=(queries - len(stored), 4), dtype=np.uint64)
    mixed = np.empty((queries, 4), np.uint64)
    mixed[0::2], mixed[1::2] = flip(rng, stored, 40), misses
    np.save(folder / "hashes.npy", hashes)
    np.save(folder / "ids.npy", ids)
    np.save(folder / "queries.npy", mixed)
    os.sync()  # let the write-back finish before anything is timed


def flip(rng: np.random.Generator, rows: np.ndarray, most: int) -> np.ndarray:
    """Copies of ``rows`` with 0 to ``most`` random bits flipped in each."""
    out = rows.copy()
    bits = np.unpackbits(out.view(np.uint8), axis=1)
    for row in bits:
        row[rng.choice(256, size=rng.integers(0, most + 1), replace=False)] ^= 1
    return np.packbits(bits, axis=1).view(np.uint64)


def latencies(search: Any, queries: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
    """Per-query seconds and sorted answer ids, one call per query."""
    seconds, answers = [], []
    for q in queries:
        start = time.perf_counter()
        found = search(q)
        seconds.append(time.perf_counter() - start)
        answers.append(sorted(found))
    return np.array(seconds), answers


def summary(seconds: np.ndarray) -> dict[str, float]:
    return {
        "p50_ms": float(np.percentile(seconds, 50) * 1e3),
        "p99_ms": float(np.percentile(seconds, 99) * 1e3),
        "mean_ms": float(seconds.mean() * 1e3),
        "lookups_per_s": float(len(seconds) / seconds.sum()),
    }


# ---------------------------------------------------------------- workers


def worker_build(folder: Path) -> dict[str, Any]:
    from leakshield.index import HashIndex

    hashes, ids = np.load(folder / "hashes.npy"), np.load(folder / "ids.npy")
    HashIndex().add(hashes[:20000], ids[:20000])  # compile or load the kernels first
    index = HashIndex()
    start = time.perf_counter()
    index.add(hashes, ids)
    bulk = time.perf_counter() - start
    stream_n = min(len(hashes), 1_000_000)
    streamed = HashIndex()
    start = time.perf_counter()
    for at in range(0, stream_n, 1000):
        streamed.add(hashes[at : at + 1000], ids[at : at + 1000])
    stream = time.perf_counter() - start
    start = time.perf_counter()
    index.save(folder / "index.lsidx")
    saved = time.perf_counter() - start
    return {
        "bulk_adds_per_s": len(hashes) / bulk,
        "bulk_s": bulk,
        "stream_adds_per_s": stream_n / stream,
        "stream_n": stream_n,
        "stream_segments": streamed.stats().segments,
        "save_s": saved,
        "file_mb": (folder / "index.lsidx").stat().st_size / 1e6,
        "build_peak_rss_mb": rss_mb()[1],
    }


def worker_ours(folder: Path, count: int) -> dict[str, Any]:
    from leakshield.index import HashIndex

    queries = np.load(folder / "queries.npy")[:count]
    start = time.perf_counter()
    index = HashIndex.load(folder / "index.lsidx")
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    index.search(queries[0], THRESHOLD)
    first = time.perf_counter() - start
    seconds, answers = latencies(lambda q: index.search(q, THRESHOLD).ids.tolist(), queries)
    start = time.perf_counter()
    index.search_many(queries, THRESHOLD)
    batch = time.perf_counter() - start
    return {
        **summary(seconds),
        "batch_lookups_per_s": len(queries) / batch,
        "load_s": loaded,
        "first_query_ms": first * 1e3,
        "rss_mb": rss_mb()[0],
        "index_mb": index.stats().nbytes / 1e6,
        "answers": answers,
    }


def worker_faiss(folder: Path, count: int, kind: str) -> dict[str, Any]:
    import faiss

    faiss.omp_set_num_threads(1)
    hashes = np.load(folder / "hashes.npy")
    raw = hashes.astype(">u8").view(np.uint8).reshape(-1, 32)
    queries = np.load(folder / "queries.npy")[:count].astype(">u8").view(np.uint8).reshape(-1, 32)
    start = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexBinaryFlat(256)
    else:
        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        index.nflip = 1
    index.add(raw)
    built = time.perf_counter() - start

    def search(q: np.ndarray) -> list[int]:
        _, _, labels = index.range_search(q.reshape(1, 32), THRESHOLD + 1)
        return labels.tolist()  # ids are row numbers here

    seconds, answers = latencies(search, queries)
    return {**summary(seconds), "build_s": built, "rss_mb": rss_mb()[0], "answers": answers}


def worker_pdqindex2(folder: Path, count: int) -> dict[str, Any]:
    from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2

    hashes = np.load(folder / "hashes.npy")
    hexes = [bytes(row).hex() for row in hashes.astype(">u8").view(np.uint8).reshape(-1, 32)]
    queries = np.load(folder / "queries.npy")[:count].astype(">u8").view(np.uint8)
    start = time.perf_counter()
    index = PDQIndex2(entries=zip(hexes, range(len(hexes)), strict=True), threshold=THRESHOLD)
    built = time.perf_counter() - start
    seconds, answers = latencies(
        lambda q: [m.metadata for m in index.query(bytes(q).hex())], queries.reshape(-1, 32)
    )
    return {**summary(seconds), "build_s": built, "rss_mb": rss_mb()[0], "answers": answers}


def run_worker(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    role = args.worker
    if role == "build":
        result = worker_build(folder)
    elif role == "ours":
        result = worker_ours(folder, args.count)
    elif role in ("flat", "multihash"):
        result = worker_faiss(folder, args.count, role)
    else:
        result = worker_pdqindex2(folder, args.count)
    print(json.dumps(result))


def run_pinned(role: str, folder: Path, count: int = 0) -> dict[str, Any]:
    """Run this script as a worker in a fresh process pinned to one core."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    command = [
        sys.executable,
        __file__,
        "--worker",
        role,
        "--folder",
        str(folder),
        "--count",
        str(count),
    ]
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.sched_setaffinity(0, {max(os.sched_getaffinity(0))}),
    )
    if done.returncode != 0:
        sys.exit(f"worker {role} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


# ---------------------------------------------------------------- driver side


def brute_force(folder: Path, count: int) -> list[list[int]]:
    hashes = np.load(folder / "hashes.npy", mmap_mode="r")
    ids = np.load(folder / "ids.npy", mmap_mode="r")
    queries = np.load(folder / "queries.npy")[:count]
    found: list[list[int]] = [[] for _ in queries]
    for start in range(0, len(hashes), 5_000_000):
        block = np.asarray(hashes[start : start + 5_000_000])
        for i, q in enumerate(queries):
            hit = np.nonzero(np.bitwise_count(block ^ q).sum(1) <= THRESHOLD)[0]
            found[i] += ids[start + hit].tolist()
    return [sorted(f) for f in found]


def agreement(ours: list[list[int]], theirs: list[list[int]]) -> dict[str, float]:
    expected = sum(len(t) for t in theirs)
    hit = sum(len(set(o) & set(t)) for o, t in zip(ours, theirs, strict=False))
    extra = sum(len(set(o) - set(t)) for o, t in zip(ours, theirs, strict=False))
    return {
        "recall": hit / expected if expected else 1.0,
        "extra": extra,
        "identical": all(o == t for o, t in zip(ours, theirs, strict=False)),
    }


def bench_size(n: int, queries: int, peers: bool, folder: Path) -> dict[str, Any]:
    print(f"\n== N = {n:,} (threshold {THRESHOLD}, one core each) ==", file=sys.stderr)
    make_data(n, queries, folder)
    build = run_pinned("build", folder)
    print(
        f"leakshield build: {build['bulk_adds_per_s'] / 1e6:.2f} M adds/s in one call, "
        f"{build['stream_adds_per_s'] / 1e6:.2f} M adds/s in batches of 1,000 "
        f"({build['stream_n']:,} adds, {build['stream_segments']} segments); "
        f"file {build['file_mb']:.0f} MB",
        file=sys.stderr,
    )
    ours = run_pinned("ours", folder, queries)
    oracle_n = 30 if n > 20_000_000 else 100
    truth = brute_force(folder, oracle_n)
    check = agreement(ours["answers"][:oracle_n], truth)
    print(
        f"leakshield: p50 {ours['p50_ms']:.3f} ms, p99 {ours['p99_ms']:.3f} ms, "
        f"{ours['lookups_per_s']:,.0f} lookups/s ({ours['batch_lookups_per_s']:,.0f} batched); "
        f"load {ours['load_s']:.2f} s; resident {ours['rss_mb']:.0f} MB; "
        f"recall {check['recall']:.4f} over {oracle_n} queries, {check['extra']} extra",
        file=sys.stderr,
    )
    result: dict[str, Any] = {
        "n": n,
        **{k: v for k, v in ours.items() if k != "answers"},
        **build,
        "recall": check["recall"],
        "extra": check["extra"],
    }
    contenders = []
    if peers and n <= 1_000_000:
        contenders += [("pdqindex2", 60), ("flat", 300)]
    elif peers:
        contenders += [("flat", 100), ("multihash", 100)]
    for role, count in contenders:
        peer = run_pinned(role, folder, count)
        same = agreement(ours["answers"][:count], peer["answers"])
        ratio = peer["mean_ms"] / ours["mean_ms"]
        print(
            f"{role}: p50 {peer['p50_ms']:.3f} ms, mean {peer['mean_ms']:.3f} ms over {count} "
            f"queries; resident {peer['rss_mb']:.0f} MB; leakshield is {ratio:.1f}x faster "
            f"(mean latency); answers identical: {same['identical']}",
            file=sys.stderr,
        )
        result[f"ratio_vs_{role}"] = ratio
        result[f"{role}_mean_ms"] = peer["mean_ms"]
        result[f"identical_vs_{role}"] = same["identical"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--huge", action="store_true", help="also N = 100M, leakshield only")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = []
    for n in sizes + ([HUGE] if args.huge else []):
        with tempfile.TemporaryDirectory(prefix="index-bench-") as folder:
            results.append(bench_size(n, args.queries, n != HUGE, Path(folder)))
    by_n = {r["n"]: r for r in results}
    main_n = 10_000_000 if 10_000_000 in by_n else results[-1]["n"]
    small = by_n.get(1_000_000, results[0])
    line = {
        "bench": "index",
        "n": main_n,
        "p50_ms": by_n[main_n]["p50_ms"],
        "p99_ms": by_n[main_n]["p99_ms"],
        "lookups_per_s": by_n[main_n]["lookups_per_s"],
        "ratio_vs_pdqindex2": small.get("ratio_vs_pdqindex2"),
        "ratio_vs_faiss_flat": small.get("ratio_vs_flat"),
        "ratio_vs_faiss_multihash": by_n[main_n].get("ratio_vs_multihash"),
        "recall": min(r["recall"] for r in results),
        "sizes": {str(r["n"]): {k: v for k, v in r.items() if k != "n"} for r in results},
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
