"""Compiled inner loops of the index: chunk tables, multi-index probes and scans.

A 256-bit hash is four ``uint64`` words. The multi-index tables cut it into ``m``
chunks (``starts``/``bits``); chunk ``j`` of every stored hash is a key into table
``j``, a CSR layout of ``offsets`` into ``slots``. A query within distance ``t``
of a stored hash differs from it by at most ``radii[j]`` bits in some chunk ``j``
when ``sum(radii[j] + 1) > t`` (pigeonhole), so probing every key within
``radii[j]`` of the query's chunk, in every table, finds every match.

An entry is live in a snapshot of version ``v`` while ``dead[slot] > v``; an
empty ``dead`` array means nothing in that segment was ever removed.

Kernels release the GIL, so reader threads search in parallel. Results go into
caller-owned buffers; a kernel returns how many it needed, and the caller grows
the buffers and runs it again when that was more than it had.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_U1 = np.uint64(1)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)

# How many items ahead the search passes prefetch.
_AHEAD = 10

# Keys this narrow are sorted in one counting pass; its counters fit in cache.
_ONE_PASS_BITS = 16

# Entries whose "dead from" version is this are alive in every snapshot.
ALIVE = np.iinfo(np.uint64).max


@intrinsic
def _prefetch_intrinsic(typingctx: Any, array: Any, index: Any) -> Any:
    """Ask the CPU to start loading ``array[index]`` into cache (LLVM's prefetch)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, array_type, data, [args[1]], wraparound=False
        )
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0",
        )
        # A read, kept in every cache level, of data (not instructions).
        flags = [ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        builder.call(function, [builder.bitcast(pointer, byte_pointer), *flags])
        return context.get_dummy_value()

    return types.void(array, index), codegen


_prefetch: Any = _prefetch_intrinsic  # numba supplies typingctx; mypy cannot tell


@njit(cache=True, nogil=True, inline="always")
def _popcount(x: np.uint64) -> np.int64:
    # LLVM turns this idiom into one POPCNT instruction where the CPU has it.
    x = x - ((x >> _U1) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@njit(cache=True, nogil=True, inline="always")
def _distance(a: np.ndarray, b: np.ndarray) -> np.int64:
    return (
        _popcount(a[0] ^ b[0])
        + _popcount(a[1] ^ b[1])
        + _popcount(a[2] ^ b[2])
        + _popcount(a[3] ^ b[3])
    )


@njit(cache=True, nogil=True, inline="always")
def _chunk(h: np.ndarray, start: np.int64, bits: np.int64) -> np.uint64:
    word = start >> 6
    shift = start & 63
    key = h[word] >> np.uint64(shift)
    if shift + bits > 64:
        key |= h[word + 1] << np.uint64(64 - shift)
    return np.uint64(key & ((_U1 << np.uint64(bits)) - _U1))


@njit(cache=True, nogil=True)
def _radix_pass(
    keys: np.ndarray,
    slots: np.ndarray,
    shift: int,
    width: int,
    out_keys: np.ndarray,
    out_slots: np.ndarray,
) -> None:
    n = keys.shape[0]
    mask = (1 << width) - 1
    start = np.zeros((1 << width) + 1, np.int64)
    for s in range(n):
        start[((keys[s] >> shift) & mask) + 1] += 1
    for b in range(1 << width):
        start[b + 1] += start[b]
    for s in range(n):
        b = (keys[s] >> shift) & mask
        p = start[b]
        out_keys[p] = keys[s]
        out_slots[p] = slots[s]
        start[b] = p + 1


@njit(cache=True, nogil=True)
def build_tables(
    hashes: np.ndarray,
    starts: np.ndarray,
    bits: np.ndarray,
    bases: np.ndarray,
    offsets: np.ndarray,
    slots: np.ndarray,
) -> None:
    """Fill every chunk table: ``slots[j]`` sorted by chunk key, ``offsets`` where keys start.

    Each table is a two-pass LSD radix sort: a pass scatters into few enough
    buckets to stay in cache, which one scatter into 2**bits buckets does not.
    The scratch arrays are shared by all tables: fresh pages are slow to fault in.
    """
    n = hashes.shape[0]
    keys = np.empty(n, np.uint32)
    order = np.arange(n).astype(np.uint32)
    tmp_keys = np.empty(n, np.uint32)
    tmp_slots = np.empty(n, np.uint32)
    for j in range(starts.shape[0]):
        for s in range(n):
            keys[s] = _chunk(hashes[s], starts[j], bits[j])
            order[s] = s
        if bits[j] <= _ONE_PASS_BITS:
            _radix_pass(keys, order, 0, bits[j], tmp_keys, slots[j])
            keys[:] = tmp_keys
        else:
            low = bits[j] // 2
            _radix_pass(keys, order, 0, low, tmp_keys, tmp_slots)
            _radix_pass(tmp_keys, tmp_slots, low, bits[j] - low, keys, slots[j])
        p = 0
        base = bases[j]
        for k in range(1 << bits[j]):
            offsets[base + k] = p
            while p < n and keys[p] == k:
                p += 1
        offsets[base + (1 << bits[j])] = n


@njit(cache=True, nogil=True)
def flip_masks(bits: int, radius: int) -> np.ndarray:
    """Every ``bits``-bit mask with at most ``radius`` bits set, fewest bits first."""
    total = 0
    choose = 1
    for k in range(radius + 1):
        total += choose
        choose = choose * (bits - k) // (k + 1)
    out = np.empty(total, np.uint64)
    out[0] = 0
    n = 1
    top = _U1 << np.uint64(bits)
    for k in range(1, radius + 1):
        # Gosper's hack walks the k-bit masks in increasing order.
        v = (_U1 << np.uint64(k)) - _U1
        while v < top:
            out[n] = v
            n += 1
            c = v & (~v + _U1)
            r = v + c
            v = (((r ^ v) >> np.uint64(2)) // c) | r
    return out


@njit(cache=True, nogil=True, inline="always")
def _record(
    found: int,
    query: int,
    slot: int,
    distance: np.int64,
    out_query: np.ndarray,
    out_slot: np.ndarray,
    out_distance: np.ndarray,
) -> int:
    # Past the buffers' end, only count: the caller grows them and searches again.
    if found < out_slot.shape[0]:
        out_query[found] = query
        out_slot[found] = slot
        out_distance[found] = distance
    return found + 1


@njit(cache=True, nogil=True)
def search_tables(
    queries: np.ndarray,
    threshold: int,
    version: np.uint64,
    hashes: np.ndarray,
    dead: np.ndarray,
    starts: np.ndarray,
    bits: np.ndarray,
    bases: np.ndarray,
    offsets: np.ndarray,
    slots: np.ndarray,
    radii: np.ndarray,
    masks: np.ndarray,
    mask_starts: np.ndarray,
    out_query: np.ndarray,
    out_slot: np.ndarray,
    out_distance: np.ndarray,
) -> int:
    """Every live entry within ``threshold`` of each query, through the chunk tables.

    Nearly every load here misses the cache, so the work is done in three passes
    (bucket bounds, candidate slots, distances) whose loads do not depend on each
    other within a pass, and each pass prefetches a few items ahead: the CPU then
    has many misses in flight at once (this halved a lookup at 1M entries).
    """
    m = starts.shape[0]
    has_dead = dead.shape[0] > 0
    found = 0
    qkeys = np.empty(m, np.uint64)
    first = np.empty(masks.shape[0], np.uint32)
    size = np.empty(masks.shape[0], np.uint32)
    table_of = np.empty(masks.shape[0], np.uint8)
    candidates = np.empty(4096, np.uint32)
    candidate_table = np.empty(4096, np.uint8)
    for qi in range(queries.shape[0]):
        q = queries[qi]
        for j in range(m):
            qkeys[j] = _chunk(q, starts[j], bits[j])
        buckets = 0
        total = 0
        for j in range(m):
            end = mask_starts[j + 1]
            for mi in range(mask_starts[j], min(mask_starts[j] + _AHEAD, end)):
                _prefetch(offsets, bases[j] + np.int64(qkeys[j] ^ masks[mi]))
            for mi in range(mask_starts[j], end):
                if mi + _AHEAD < end:
                    _prefetch(offsets, bases[j] + np.int64(qkeys[j] ^ masks[mi + _AHEAD]))
                key = bases[j] + np.int64(qkeys[j] ^ masks[mi])
                first[buckets] = offsets[key]
                size[buckets] = offsets[key + 1] - offsets[key]
                table_of[buckets] = j
                total += size[buckets]
                buckets += size[buckets] != 0
        if total > candidates.shape[0]:
            candidates = np.empty(2 * total, np.uint32)
            candidate_table = np.empty(2 * total, np.uint8)
        c = 0
        for b in range(buckets):
            if b + _AHEAD < buckets:
                _prefetch(slots[np.int64(table_of[b + _AHEAD])], np.int64(first[b + _AHEAD]))
            table = slots[np.int64(table_of[b])]
            for p in range(np.int64(first[b]), np.int64(first[b]) + np.int64(size[b])):
                candidates[c] = table[p]
                candidate_table[c] = table_of[b]
                c += 1
        flat = hashes.reshape(-1)
        for ci in range(min(c, _AHEAD)):
            _prefetch(flat, np.int64(candidates[ci]) * 4)
        for ci in range(c):
            if ci + _AHEAD < c:
                _prefetch(flat, np.int64(candidates[ci + _AHEAD]) * 4)
            s = candidates[ci]
            h = hashes[s]
            d = _distance(h, q)
            if d > threshold or (has_dead and dead[s] <= version):
                continue
            # Report each entry once: from the first table that finds it.
            seen = False
            for i in range(np.int64(candidate_table[ci])):
                if (
                    radii[i] >= 0
                    and _popcount(_chunk(h, starts[i], bits[i]) ^ qkeys[i]) <= radii[i]
                ):
                    seen = True
                    break
            if not seen:
                found = _record(found, qi, s, d, out_query, out_slot, out_distance)
    return found


@njit(cache=True, nogil=True)
def search_scan(
    queries: np.ndarray,
    threshold: int,
    version: np.uint64,
    hashes: np.ndarray,
    dead: np.ndarray,
    count: int,
    out_query: np.ndarray,
    out_slot: np.ndarray,
    out_distance: np.ndarray,
) -> int:
    """Every live entry among the first ``count`` within ``threshold``, by a full scan."""
    has_dead = dead.shape[0] > 0
    found = 0
    for qi in range(queries.shape[0]):
        q = queries[qi]
        for s in range(count):
            d = _distance(hashes[s], q)
            if d <= threshold and (not has_dead or dead[s] > version):
                found = _record(found, qi, s, d, out_query, out_slot, out_distance)
    return found


@njit(cache=True, nogil=True)
def mark_dead(
    ids: np.ndarray, order: np.ndarray, targets: np.ndarray, dead: np.ndarray, version: np.uint64
) -> int:
    """Mark every live entry whose id is in ``targets`` dead from ``version``; count them.

    ``order`` sorts ``ids``; ``targets`` is sorted.
    """
    n = order.shape[0]
    marked = 0
    lo = 0
    for t in targets:
        # ``targets`` is sorted, so each search starts where the last one ended.
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            if ids[order[mid]] < t:
                lo = mid + 1
            else:
                hi = mid
        p = lo
        while p < n and ids[order[p]] == t:
            s = order[p]
            if dead[s] == ALIVE:
                dead[s] = version
                marked += 1
            p += 1
    return marked


@njit(cache=True, nogil=True)
def tables_agree(
    hashes: np.ndarray,
    starts: np.ndarray,
    bits: np.ndarray,
    bases: np.ndarray,
    offsets: np.ndarray,
    slots: np.ndarray,
) -> bool:
    """Whether every table lists each entry once, under its own chunk's key.

    The offsets must already be known to rise from 0 to n and the slots to be below n.
    """
    n = hashes.shape[0]
    seen = np.zeros(n, np.uint8)
    for j in range(starts.shape[0]):
        seen[:] = 0
        table = slots[j]
        base = bases[j]
        for k in range(1 << bits[j]):
            for p in range(offsets[base + k], offsets[base + k + 1]):
                s = table[p]
                if seen[s] or _chunk(hashes[s], starts[j], bits[j]) != k:
                    return False
                seen[s] = 1
    return True
