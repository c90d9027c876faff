"""Hashes in the index's form: rows of four uint64 words, most significant first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from leakshield.errors import InputError

HASH_BYTES = 32


class HashIndexError(InputError):
    """A hash, an id or a threshold the index cannot take."""

    slug = "bad-index-input"
    title = "Bad index input"


# Anything that names one hash: hex, raw bytes, a signal such as PdqHash.
HashLike = str | bytes | Any


def _one(value: HashLike) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    elif isinstance(value, str):
        try:
            raw = bytes.fromhex(value.strip())
        except ValueError:
            raise HashIndexError(f"{value!r} is not a hex hash; give 64 hex digits") from None
    elif isinstance(getattr(value, "digest", None), bytes):
        raw = value.digest
    else:
        raise HashIndexError(f"cannot read a 256-bit hash from {type(value).__name__}")
    if len(raw) != HASH_BYTES:
        raise HashIndexError(f"a hash here is {HASH_BYTES} bytes (64 hex digits), not {len(raw)}")
    return raw


def as_words(hashes: HashLike | Iterable[HashLike] | np.ndarray) -> np.ndarray:
    """Hashes as a C-contiguous ``(n, 4)`` uint64 array.

    Takes one hash or many: hex strings, 32-byte values, signals with a 32-byte
    ``digest`` (``PdqHash``, vPDQ frame hashes), uint8 arrays of shape ``(n, 32)``
    or uint64 arrays of shape ``(n, 4)``.
    """
    if isinstance(hashes, np.ndarray):
        if hashes.dtype == np.uint64 and hashes.shape[-1:] == (4,) and hashes.ndim <= 2:
            return np.ascontiguousarray(hashes.reshape(-1, 4))
        if hashes.dtype == np.uint8 and hashes.shape[-1:] == (HASH_BYTES,) and hashes.ndim <= 2:
            return (
                np.ascontiguousarray(hashes.reshape(-1, HASH_BYTES)).view(">u8").astype(np.uint64)
            )
        raise HashIndexError(
            f"an array of hashes is uint64 (n, 4) or uint8 (n, 32), not {hashes.dtype} "
            f"{hashes.shape}"
        )
    if isinstance(hashes, str | bytes | bytearray | memoryview) or hasattr(hashes, "digest"):
        values: list[HashLike] = [hashes]
    else:
        try:
            values = list(hashes)
        except TypeError:
            raise HashIndexError(
                f"cannot read a 256-bit hash from {type(hashes).__name__}"
            ) from None
    raw = b"".join(_one(v) for v in values)
    return np.frombuffer(raw, ">u8").astype(np.uint64).reshape(-1, 4)


def as_ids(ids: int | Iterable[int] | np.ndarray, count: int | None = None) -> np.ndarray:
    """Ids as an int64 array, ``count`` of them when given."""
    try:
        array = np.asarray(ids)
    except (OverflowError, ValueError):
        array = np.asarray(ids, object)
    if array.dtype == object:
        if not all(isinstance(i, int | np.integer) for i in array.ravel()):
            raise HashIndexError("ids are integers")
        if any(not -(2**63) <= int(i) < 2**63 for i in array.ravel()):
            raise HashIndexError("ids must fit in a signed 64-bit integer")
        array = array.astype(np.int64)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.size and array.dtype.kind not in "iu":
        raise HashIndexError(f"ids are integers, not {array.dtype}")
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise HashIndexError("ids must fit in a signed 64-bit integer")
    if array.ndim != 1:
        raise HashIndexError(f"ids are one-dimensional, not of shape {array.shape}")
    if count is not None and len(array) != count:
        raise HashIndexError(f"{count} hashes but {len(array)} ids; give one id a hash")
    return array.astype(np.int64)


def to_hex(words: np.ndarray) -> list[str]:
    """Each row of ``words`` as 64 hex digits."""
    raw = np.ascontiguousarray(words, dtype=np.uint64).astype(">u8").tobytes()
    return [raw[i : i + HASH_BYTES].hex() for i in range(0, len(raw), HASH_BYTES)]
