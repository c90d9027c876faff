"""The compiled inner loop of derivation: for each suspect descriptor and each reference
photo, the nearest and second-nearest descriptor of that photo (Hamming distance)."""

from __future__ import annotations

import numpy as np
from numba import njit

_U1 = np.uint64(1)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_FAR = 257  # more than any distance between two 256-bit descriptors


@njit(cache=True, nogil=True, inline="always")
def _popcount(x: np.uint64) -> np.int64:
    # LLVM turns this idiom into one POPCNT instruction where the CPU has it.
    x = x - ((x >> _U1) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@njit(cache=True, nogil=True)
def nearest_two(
    queries: np.ndarray,
    stored: np.ndarray,
    offsets: np.ndarray,
    prune: int,
    best: np.ndarray,
    second: np.ndarray,
    where: np.ndarray,
) -> None:  # pragma: no cover  (compiled; tested through its callers)
    """Fill ``best[i, r]``, ``second[i, r]`` and ``where[i, r]`` (the index into ``stored``)
    for query ``i`` and photo ``r`` (rows ``offsets[r]:offsets[r + 1]`` of ``stored``).

    A stored descriptor whose first 64 bits already differ by more than ``prune`` is
    skipped: it cannot be a match worth having, and skipping it is most of the speed.
    """
    photos = offsets.shape[0] - 1
    for r in range(photos):
        start = offsets[r]
        stop = offsets[r + 1]
        for i in range(queries.shape[0]):
            q0 = queries[i, 0]
            b1 = np.int64(_FAR)
            b2 = np.int64(_FAR)
            at = np.int64(-1)
            for j in range(start, stop):
                d = _popcount(q0 ^ stored[j, 0])
                if d > prune:
                    continue
                d += _popcount(queries[i, 1] ^ stored[j, 1])
                d += _popcount(queries[i, 2] ^ stored[j, 2])
                d += _popcount(queries[i, 3] ^ stored[j, 3])
                if d < b1:
                    b2 = b1
                    b1 = d
                    at = np.int64(j)
                elif d < b2:
                    b2 = d
            best[i, r] = b1
            second[i, r] = b2
            where[i, r] = at
