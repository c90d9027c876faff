"""The matching service over HTTP, on loopback: leakshield against HMA's matcher.

Set-up: N PDQ hashes (default 10M; 10% families of near-duplicates) are imported into
one bank through the import path (its rate is reported), then `leakshield serve
--workers 2` starts over that database with API keys required. Measured, one phase
after another, with a raw keep-alive HTTP/1.1 load generator in this process:
- start-up: seconds until /status says ok, cold (matcher read from the database,
  then a snapshot written) and warm (snapshot plus the changes since);
- lookups by signal (`GET /api/v1/lookup` and the HMA route `GET /m/raw_lookup`) at
  concurrency 32, after 10 s of unreported warm-up (the workers fault their
  memory-mapped index in): requests/s and latency percentiles; queries are half stored
  hashes with 0 to 40 bits flipped, half misses;
- bulk lookups (`POST /api/v1/lookup/bulk`, 1,000 signals a request, 4 in flight):
  signals/s;
- hash-and-lookup of uploaded 1 MP JPEGs (`POST /api/v1/lookup`, 4 in flight):
  images/s;
- freshness: a signal added through the API on one connection, then looked up on
  fresh connections (which land on either worker) until found; seconds from the add
  returning to the first lookup that finds it, and the same for lookups answered by
  the other worker (told apart by the X-Leakshield-Worker header);
- each worker's resident memory (RSS, and PSS, which splits the memory-mapped index
  the workers share).
Peer, same run: HMA 2.0's matching path (bench/peers/hma_matcher.py: Flask, gunicorn
with one sync worker as HMA's Dockerfile runs it, and the PDQ index HMA loads,
python-threatexchange's PDQIndex over faiss IndexBinaryMultiHash) over the same
hashes (or the first --peer-hashes), at the same concurrency on `/m/raw_lookup`.

Usage: python bench/service_bench.py [--hashes 10000000] [--seconds 15]
       [--database auto|sqlite|postgresql] [--peer-hashes N] [--no-peer]
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._http import request_bytes, run_load, run_once

HOST = "127.0.0.1"
BANK = "BENCH_BANK"


def make_hashes(n: int, seed: int = 5) -> np.ndarray:
    """N hashes as uint8 rows of 32; 10% are families of ten near-duplicates."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    families = np.arange(0, n // 10, 10)
    for member in range(1, 10):
        hashes[families + member] = flip(rng, hashes[families], 40)
    return hashes


def flip(rng: np.random.Generator, rows: np.ndarray, most: int) -> np.ndarray:
    """Copies of ``rows`` with 0 to ``most`` random bits flipped each."""
    bits = np.unpackbits(rows, axis=1)
    for row, count in zip(bits, rng.integers(0, most + 1, len(rows)), strict=True):
        row[rng.choice(256, count, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def make_queries(hashes: np.ndarray, count: int) -> list[str]:
    """Half stored hashes with 0 to 40 bits flipped, half random misses, as hex."""
    rng = np.random.default_rng(11)
    near = flip(rng, hashes[rng.integers(0, len(hashes), count // 2)], 40)
    misses = rng.integers(0, 256, size=(count - len(near), 32), dtype=np.uint8)
    rows = np.concatenate([near, misses])
    rng.shuffle(rows)
    return [row.tobytes().hex() for row in rows]


class HashListStream(io.RawIOBase):
    """A ThreatExchange-style hash list (``pdq,<hex>`` lines) made on the fly."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.hashes = hashes
        self.at = 0
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self.pending) < len(buffer) and self.at < len(self.hashes):
            chunk = self.hashes[self.at : self.at + 20_000]
            self.at += len(chunk)
            self.pending += "".join(f"pdq,{row.tobytes().hex()}\n" for row in chunk).encode()
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def database(kind: str, folder: Path) -> Iterator[tuple[str, str]]:
    """(URL, backend) of an empty database: a throwaway PostgreSQL, or SQLite."""
    from tests._postgres import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    if kind == "postgresql" or (kind == "auto" and bin_dir is not None):
        if bin_dir is None:
            raise SystemExit("PostgreSQL is not installed; use --database sqlite")
        server = PostgresServer(bin_dir)
        server.start()
        try:
            with server.fresh_database() as url:
                yield url, "postgresql"
        finally:
            server.stop()
    else:
        yield f"sqlite:///{folder / 'data' / 'leakshield.db'}", "sqlite"


def seed(url: str, data_dir: Path, hashes: np.ndarray) -> dict[str, Any]:
    """Import the hashes into one bank; create API keys. Returns figures and keys."""
    os.environ["NUMBA_CACHE_DIR"] = str(data_dir / "cache" / "numba")
    from leakshield.apikeys import ApiKeys
    from leakshield.banks import BankStore, import_hash_list
    from leakshield.store import Database

    db = Database(url)
    db.upgrade()
    store = BankStore(db)
    store.create_bank(BANK)
    store.create_bank("FRESH")
    started = time.perf_counter()
    report = import_hash_list(
        store, BANK, io.BufferedReader(HashListStream(hashes)), "threatexchange"
    )
    seconds = time.perf_counter() - started
    keys = ApiKeys(db)
    _, lookup_key = keys.create("lookup", "bench")
    _, curate_key = keys.create("curate", "bench")
    db.dispose()
    print(
        f"import: {report.added:,} hashes in {seconds:.1f} s = {report.added / seconds:,.0f}/s",
        file=sys.stderr,
    )
    return {
        "import_seconds": round(seconds, 1),
        "import_per_second": round(report.added / seconds),
        "lookup_key": lookup_key,
        "curate_key": curate_key,
    }


class Server:
    """`leakshield serve` as a subprocess."""

    def __init__(self, url: str, data_dir: Path, workers: int) -> None:
        self.port = free_port()
        # The default log level: one JSON access line per request, as in production.
        env = {**os.environ, "LEAKSHIELD_DATABASE_URL": url}
        env.pop("NUMBA_CACHE_DIR", None)
        command = [sys.executable, "-m", "leakshield", "serve", "--port", str(self.port)]
        command += ["--workers", str(workers), "--data-dir", str(data_dir)]
        self.log = data_dir.parent / f"server-{self.port}.log"
        self.started = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, env=env, start_new_session=True, stdout=log, stderr=log
            )
        self.ready_seconds = self.wait_ready()

    def wait_ready(self, timeout: float = 900) -> float:
        """Seconds until /status answers 200."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"the server exited with {self.process.returncode}:\n{tail}")
            try:
                status, _, _ = run_once(HOST, self.port, request_bytes("GET", "/status", host=HOST))
                if status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the server did not become ready")

    def worker_memory_mb(self) -> list[dict[str, float]]:
        """RSS and PSS of each worker process, in MB."""
        found = []
        for pid in descendants(self.process.pid) or [self.process.pid]:
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            fields = {
                line.split(":")[0]: int(line.split()[1])
                for line in rollup.splitlines()[1:]
                if line.split()[-1] == "kB"
            }
            found.append(
                {"pid": pid, "rss_mb": fields["Rss"] / 1024, "pss_mb": fields["Pss"] / 1024}
            )
        return found

    def stop(self) -> None:
        """Stop the server and its workers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid`` (uvicorn's workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def lookups(
    port: int, key: str, queries: list[str], path: str, seconds: float, concurrency: int
) -> dict[str, Any]:
    """Lookups by signal at ``concurrency``: rate and latency."""
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    if path == "native":
        targets = [f"/api/v1/lookup?signal=pdq:{q}" for q in queries]
    else:
        targets = [f"/m/raw_lookup?signal_type=pdq&signal={q}" for q in queries]
    requests = [request_bytes("GET", t, host=HOST, headers=auth) for t in targets]
    result = run_load(
        HOST, port, lambda i: requests[i % len(requests)], concurrency=concurrency, seconds=seconds
    )
    return {
        "requests_per_second": round(result.rate),
        "p50_ms": round(result.percentile_ms(50), 2),
        "p99_ms": round(result.percentile_ms(99), 2),
        "requests": result.requests,
        "errors": result.errors,
    }


def bulk(
    port: int, key: str, queries: list[str], seconds: float, concurrency: int
) -> dict[str, Any]:
    """Bulk lookups of 1,000 signals a request: signals/s."""
    auth = {"Authorization": f"Bearer {key}"}
    bodies = []
    for start in range(0, len(queries) - 999, 1000):
        body = json.dumps({"signals": [f"pdq:{q}" for q in queries[start : start + 1000]]}).encode()
        bodies.append(
            request_bytes(
                "POST",
                "/api/v1/lookup/bulk",
                host=HOST,
                headers=auth,
                body=body,
                content_type="application/json",
            )
        )
    result = run_load(
        HOST, port, lambda i: bodies[i % len(bodies)], concurrency=concurrency, seconds=seconds
    )
    return {
        "signals_per_second": round(result.rate * 1000),
        "requests": result.requests,
        "p99_ms": round(result.percentile_ms(99), 1),
        "errors": result.errors,
    }


def sample_jpegs(count: int) -> list[bytes]:
    """About 1 MP JPEGs made from scikit-image's bundled photos."""
    from PIL import Image
    from skimage import data

    photos = [
        data.astronaut(),
        data.chelsea(),
        data.coffee(),
        data.rocket(),
        data.immunohistochemistry(),
    ]
    out = []
    for i in range(count):
        image = Image.fromarray(photos[i % len(photos)]).resize((1152, 864))
        if i >= len(photos):
            image = image.rotate(3 * i)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def uploads(port: int, key: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """Hash-and-lookup of uploaded 1 MP JPEGs: images/s."""
    auth = {"Authorization": f"Bearer {key}"}
    boundary = uuid.uuid4().hex
    requests = []
    for i, jpeg in enumerate(sample_jpegs(10)):
        body = (
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{i}.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + jpeg
            + f"\r\n--{boundary}--\r\n".encode()
        )
        requests.append(
            request_bytes(
                "POST",
                "/api/v1/lookup",
                host=HOST,
                headers=auth,
                body=body,
                content_type=f"multipart/form-data; boundary={boundary}",
            )
        )
    result = run_load(
        HOST, port, lambda i: requests[i % len(requests)], concurrency=concurrency, seconds=seconds
    )
    return {
        "images_per_second": round(result.rate, 1),
        "p50_ms": round(result.percentile_ms(50), 1),
        "errors": result.errors,
    }


def freshness(port: int, lookup_key: str, curate_key: str, trials: int) -> dict[str, Any]:
    """Seconds from an add returning to the first lookup that finds the new signal."""
    rng = np.random.default_rng(99)
    seen: list[float] = []
    cross: list[float] = []
    misses = 0
    for _ in range(trials):
        value = rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()
        body = json.dumps({"signals": [f"pdq:{value}"]}).encode()
        add = request_bytes(
            "POST",
            "/api/v1/banks/FRESH/signals",
            host=HOST,
            headers={"Authorization": f"Bearer {curate_key}"},
            body=body,
            content_type="application/json",
        )
        status, headers, text = run_once(HOST, port, add)
        if status not in (200, 201):
            raise SystemExit(f"adding a signal failed: {status} {text[:300]!r}")
        added_at = time.perf_counter()
        adder = headers.get("x-leakshield-worker")
        query = request_bytes(
            "GET",
            f"/api/v1/lookup?signal=pdq:{value}&bank=FRESH",
            host=HOST,
            headers={"Authorization": f"Bearer {lookup_key}"},
        )
        found_any = found_other = None
        while time.perf_counter() - added_at < 5 and (found_any is None or found_other is None):
            status, headers, text = run_once(HOST, port, query)
            hit = status == 200 and json.loads(text)["matches"]
            now = time.perf_counter() - added_at
            if hit and found_any is None:
                found_any = now
            if (
                hit
                and found_other is None
                and headers.get("x-leakshield-worker") not in (None, adder)
            ):
                found_other = now
        if found_any is None:
            misses += 1
        else:
            seen.append(found_any)
        if found_other is not None:
            cross.append(found_other)

    def pct(values: list[float], q: float) -> float | None:
        return round(float(np.percentile(values, q)), 3) if values else None

    return {
        "trials": trials,
        "not_found_within_5s": misses,
        "any_worker_p50_s": pct(seen, 50),
        "any_worker_p99_s": pct(seen, 99),
        "other_worker_trials": len(cross),
        "other_worker_p50_s": pct(cross, 50),
        "other_worker_p99_s": pct(cross, 99),
        "other_worker_max_s": round(max(cross), 3) if cross else None,
    }


def peer(
    folder: Path, hashes: np.ndarray, queries: list[str], seconds: float, concurrency: int
) -> dict[str, Any]:
    """HMA's matcher (Flask + gunicorn 1 sync worker + PDQIndex2) on /m/raw_lookup."""
    np.save(folder / "peer.npy", hashes)
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "1",
        "-b",
        f"{HOST}:{port}",
        "--timeout",
        "600",
        f"bench.peers.hma_matcher:create_app('{folder / 'peer.npy'}')",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit("the peer exited")
            try:
                if run_once(HOST, port, request_bytes("GET", "/status", host=HOST))[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        ready = time.perf_counter() - started
        figures = lookups(port, "", queries, "hma", seconds, concurrency)
        figures["ready_seconds"] = round(ready, 1)
        figures["hashes"] = len(hashes)
        rss = [
            int(line.split()[1]) / 1024
            for pid in descendants(process.pid)
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS")
        ]
        figures["worker_rss_mb"] = round(max(rss), 0) if rss else None
        return figures
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--peer-hashes", type=int, default=0, help="default: --hashes")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bulk-concurrency", type=int, default=4, help="bulk requests in flight")
    parser.add_argument("--database", choices=("auto", "sqlite", "postgresql"), default="auto")
    parser.add_argument("--freshness-trials", type=int, default=40)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="leakshield-service-bench-"))
    data_dir = folder / "data"
    results: dict[str, Any] = {
        "hashes": args.hashes,
        "workers": args.workers,
        "concurrency": args.concurrency,
    }
    try:
        hashes = make_hashes(args.hashes)
        queries = make_queries(hashes, 20_000)
        with database(args.database, folder) as (url, backend):
            results["database"] = backend
            seeded = seed(url, data_dir, hashes)
            lookup_key, curate_key = seeded.pop("lookup_key"), seeded.pop("curate_key")
            results.update(seeded)
            peer_hashes = hashes[: args.peer_hashes or len(hashes)].copy()
            del hashes

            server = Server(url, data_dir, args.workers)
            results["ready_cold_seconds"] = round(server.ready_seconds, 1)
            server.stop()
            server = Server(url, data_dir, args.workers)
            results["ready_warm_seconds"] = round(server.ready_seconds, 1)
            print(
                f"ready: cold {results['ready_cold_seconds']} s, "
                f"warm {results['ready_warm_seconds']} s",
                file=sys.stderr,
            )
            try:
                # Not reported: the workers fault their memory-mapped index in first.
                lookups(server.port, lookup_key, queries, "native", 10.0, args.concurrency)
                results["lookup"] = lookups(
                    server.port, lookup_key, queries, "native", args.seconds, args.concurrency
                )
                print(f"lookup: {results['lookup']}", file=sys.stderr)
                results["lookup_hma_route"] = lookups(
                    server.port, lookup_key, queries, "hma", args.seconds, args.concurrency
                )
                print(f"lookup (HMA route): {results['lookup_hma_route']}", file=sys.stderr)
                results["bulk"] = bulk(
                    server.port, lookup_key, queries, args.seconds, args.bulk_concurrency
                )
                print(f"bulk: {results['bulk']}", file=sys.stderr)
                results["upload"] = uploads(
                    server.port, lookup_key, args.seconds, args.bulk_concurrency
                )
                print(f"upload: {results['upload']}", file=sys.stderr)
                results["freshness"] = freshness(
                    server.port, lookup_key, curate_key, args.freshness_trials
                )
                print(f"freshness: {results['freshness']}", file=sys.stderr)
                memory = server.worker_memory_mb()
                results["worker_memory_mb"] = [{k: round(v) for k, v in m.items()} for m in memory]
                print(f"memory: {results['worker_memory_mb']}", file=sys.stderr)
            finally:
                server.stop()
        if not args.no_peer:
            results["peer"] = peer(folder, peer_hashes, queries, args.seconds, args.concurrency)
            print(f"peer (HMA matcher): {results['peer']}", file=sys.stderr)
            ours, theirs = results["lookup_hma_route"], results["peer"]
            results["ratio_lookup_rate_vs_peer"] = round(
                ours["requests_per_second"] / max(theirs["requests_per_second"], 1), 1
            )
            results["ratio_p99_vs_peer"] = round(theirs["p99_ms"] / max(ours["p99_ms"], 1e-6), 1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
