"""Exact Hamming-radius search over 256-bit hashes (PDQ, vPDQ frames).

`HashIndex` holds (hash, id) entries and answers, exactly as a comparison with
every entry would: all entries within a threshold (0 to 256 bits, default 31)
of a query, with their distances, for one query or a batch; and the k nearest.
Adds and removals are visible to the next search, without a rebuild; a reader
that needs several searches to agree takes a `Snapshot`.

    index = HashIndex()
    index.add(["f8f8...", "0e0e..."], [1, 2])
    index.search("f8f9...").ids            # ids within 31 bits
    index.remove([2])
    index.save(path); HashIndex.load(path)
"""

from leakshield.index._file import IndexFileError, load, save
from leakshield.index._index import (
    DEFAULT_THRESHOLD,
    HashIndex,
    IndexStats,
    Matches,
    Snapshot,
)
from leakshield.index._words import HashIndexError, as_words, to_hex

__all__ = [
    "DEFAULT_THRESHOLD",
    "HashIndex",
    "HashIndexError",
    "IndexFileError",
    "IndexStats",
    "Matches",
    "Snapshot",
    "as_words",
    "load",
    "save",
    "to_hex",
]
