"""Hashing files: every signal a file has, one file or many in parallel, in input order."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from leakshield.media import MediaError, MediaLimits, MediaType, detect_media_type
from leakshield.signals._digests import Md5Hash, Sha256Hash, file_digests
from leakshield.signals._pdq import PdqResult, pdq_from_file
from leakshield.signals._vpdq import VpdqHash, vpdq_from_file


@dataclass(frozen=True)
class HashOptions:
    """How to hash: the limits on each file, and one video frame per ``every`` seconds
    (None hashes every frame, as the vPDQ reference does)."""

    limits: MediaLimits = field(default_factory=MediaLimits)
    every: float | None = 1.0


@dataclass(frozen=True)
class FileHashes:
    """The signals of one file: digests always, PDQ for an image, vPDQ for a video."""

    path: str
    media_type: MediaType
    md5: Md5Hash
    sha256: Sha256Hash
    pdq: PdqResult | None = None
    vpdq: VpdqHash | None = None

    def to_record(self) -> dict[str, Any]:
        """The documented JSON form of ``leakshield hash --json``."""
        record: dict[str, Any] = {
            "path": self.path,
            "media_type": self.media_type,
            "md5": str(self.md5),
            "sha256": str(self.sha256),
        }
        if self.pdq is not None:
            record["pdq"] = {
                "hash": str(self.pdq.hash),
                "quality": self.pdq.quality,
                "usable": self.pdq.usable,
            }
        if self.vpdq is not None:
            record["vpdq"] = {
                "frames": [
                    {
                        "frame": f.frame,
                        "timestamp": round(f.timestamp, 3),
                        "quality": f.quality,
                        "hash": str(f.hash),
                    }
                    for f in self.vpdq.frames
                ]
            }
        return record


@dataclass(frozen=True)
class HashFailure:
    """A file that could not be hashed, and why."""

    path: str
    code: str
    message: str

    def to_record(self) -> dict[str, Any]:
        """The documented JSON form of a failed input."""
        return {"path": self.path, "error": {"code": self.code, "message": self.message}}


HashOutcome = FileHashes | HashFailure


def hash_file(path: Path, options: HashOptions | None = None) -> FileHashes:
    """Every signal of one file; raises `MediaError` if it is refused or unreadable."""
    options = options or HashOptions()
    media_type = detect_media_type(path, options.limits)
    if media_type == "image":
        pdq, vpdq = pdq_from_file(path, options.limits), None
    else:
        pdq, vpdq = None, vpdq_from_file(path, options.limits, every=options.every)
    try:
        md5, sha256 = file_digests(path)
    except OSError as exc:
        raise MediaError("unreadable", f"cannot read the file: {exc.strerror}") from None
    return FileHashes(str(path), media_type, md5, sha256, pdq, vpdq)


def hash_outcome(path: Path, options: HashOptions) -> HashOutcome:
    """`hash_file`, with a refused or broken file turned into a `HashFailure`."""
    try:
        return hash_file(path, options)
    except MediaError as exc:
        return HashFailure(str(path), exc.code, exc.message)
    except Exception as exc:  # one bad file must not stop a batch
        message = f"unexpected error ({type(exc).__name__}: {exc}); please report it"
        return HashFailure(str(path), "internal-error", message)


def hash_files(
    paths: Iterable[Path], options: HashOptions | None = None, *, jobs: int = 1
) -> Iterator[HashOutcome]:
    """Hash many files with ``jobs`` processes, yielding outcomes in input order.

    Each process does its linear algebra on one thread: hashing is parallel across
    files, and BLAS threads inside each would only compete for the same cores.
    """
    options = options or HashOptions()
    if jobs <= 1:
        with threadpool_limits(limits=1, user_api="blas"):
            for path in paths:
                yield hash_outcome(path, options)
        return
    # spawn, not fork: the caller may run threads (a progress bar) that fork would copy.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_one_blas_thread)
    with pool:
        pending: deque[Future[HashOutcome]] = deque()
        remaining = iter(paths)
        try:
            for path in remaining:
                pending.append(pool.submit(hash_outcome, path, options))
                # A bounded window keeps memory flat however many files there are.
                if len(pending) >= jobs * 4:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _one_blas_thread() -> None:
    # The matrices are small: BLAS threads only spin against the other workers.
    threadpool_limits(limits=1, user_api="blas")


def expand_paths(inputs: Sequence[Path], *, recursive: bool) -> list[Path]:
    """The files to hash: each input, with directories replaced by the files under them
    (sorted by path) when ``recursive``. A directory without ``recursive`` stays, to be reported."""
    files: list[Path] = []
    for item in inputs:
        if recursive and item.is_dir():
            # Symlinked directories are not followed, so a link loop cannot recurse forever.
            found = (Path(root, name) for root, _, names in os.walk(item) for name in names)
            files.extend(sorted(path for path in found if path.is_file()))
        else:
            files.append(item)
    return files


def default_jobs() -> int:
    """One process per available core."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
