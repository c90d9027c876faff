"""What the vault tests share: cases at a low key-derivation cost, sample media, and the
checks a case must always pass (its tree heads, its objects, its folder)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import struct
from pathlib import Path
from typing import Any

import av
import numpy as np
import skimage.data
from PIL import Image

from leakshield.evidence import KdfParams, OpenCase, Vault
from leakshield.evidence._merkle import TreeHead, leaf_hash, root_hash, verify_tree_head
from leakshield.evidence._model import canonical_json

PASSPHRASE = b"correct horse battery staple"
# The case's own files: anything else in its folder is a leftover.
CASE_FILES = {".lock", "case.json", "heads.jsonl", "log.bin", "objects"}


def fast_kdf() -> KdfParams:
    """scrypt at 4 MiB instead of 128: the same code, a hundredth of the wait."""
    return KdfParams(os.urandom(16), n=1 << 12)


def new_case(root: Path, title: str = "Posts on example.org", **kwargs: Any) -> OpenCase:
    """A new case under ``root`` (a vault folder), opened, at the low cost."""
    return Vault(root).create(title, PASSPHRASE, kdf=fast_kdf(), **kwargs)


def photo(path: Path, sample: str = "astronaut", size: tuple[int, int] = (320, 240)) -> Path:
    """A JPEG of one of scikit-image's bundled photos."""
    Image.fromarray(getattr(skimage.data, sample)()).resize(size).save(path, quality=90)
    return path


def clip(path: Path, *, frames: int = 20, fps: int = 10) -> Path:
    """A short H.264 clip of a picture panning sideways."""
    width, height = 96, 64
    base = np.asarray(Image.fromarray(skimage.data.coffee()).resize((width, height)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        for index in range(frames):
            picture = np.ascontiguousarray(np.roll(base, 3 * index, axis=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def stored_bytes(case: OpenCase, item_id: str, name: str) -> bytes:
    """A stored file of an item, decrypted."""
    with case.item_file(item_id, name) as reader:
        return reader.read()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_heads(folder: Path) -> list[TreeHead]:
    """The signed tree heads as they are on disk."""
    lines = (folder / "heads.jsonl").read_text().splitlines()
    return [TreeHead.from_record(json.loads(line)) for line in lines]


def log_spans(folder: Path) -> list[tuple[int, int]]:
    """Where each sealed record of ``log.bin`` starts and ends (after its length)."""
    data, spans, at = (folder / "log.bin").read_bytes(), [], 0
    while at < len(data):
        (length,) = struct.unpack_from(">I", data, at)
        spans.append((at + 4, at + 4 + length))
        at += 4 + length
    return spans


def check_heads(case: OpenCase, heads: list[TreeHead], start: int = 0) -> None:
    """Every head from ``start`` is signed by the case's key and is the root of the log's
    first ``size`` records; sizes never go down; the last covers every record."""
    leaves = [leaf_hash(canonical_json(record)) for record in case.records]
    assert heads, "no signed tree head"
    assert heads[-1].size == len(case.records)
    for earlier, later in itertools.pairwise(heads):
        assert earlier.size <= later.size
    for number, head in enumerate(heads[start:], start):
        assert verify_tree_head(head, case.public_key), f"head {number}: bad signature"
        assert head.root == root_hash(leaves[: head.size]).hex(), f"head {number}: bad root"


def objects_named(case: OpenCase) -> set[str]:
    """The object ids committed records refer to."""
    found: set[str] = set()
    for record in case.records:
        found.update((record.get("details") or {}).get("objects", {}).values())
    return found


def check_folder(case: OpenCase) -> None:
    """Nothing in the case's folder but its own files, and every object a record names."""
    folder = case.files.folder
    assert {p.name for p in folder.iterdir()} <= CASE_FILES
    objects = folder / "objects"  # made with the first stored file
    on_disk = {p.name for p in objects.iterdir()} if objects.exists() else set()
    assert on_disk == objects_named(case)


def check_items(case: OpenCase, start: int = 0) -> None:
    """Every stored file of the items from ``start`` decrypts to its recorded SHA-256 and
    size (no half item)."""
    for item in case.items()[start:]:
        for entry in item.files:
            data = stored_bytes(case, item.id, entry["name"])
            assert (sha256(data), len(data)) == (entry["sha256"], entry["size"]), item.id
