"""The proofs a bundle carries: every leaf's inclusion in the last tree head, and every
tree head's consistency with the next, from one pass of hashing over the log.

`_merkle.consistency_proof` builds the tree of each size it is asked about; a case signs a
head after every record, so asking it once per head would hash the log once per record.
Here the tree of the whole log is built once: every node of a smaller tree is either a
node of it (a perfect, aligned subtree) or a right edge made of a few of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from leakshield.evidence._merkle import inclusion_proofs, node_hash, root_hash

__all__ = ["LogTree"]


class LogTree:
    """The Merkle tree of a whole log, answering for any prefix of it."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.leaves = list(leaf_hashes)
        # levels[h][j] is MTH of leaves [j * 2**h, (j + 1) * 2**h) where that block is whole.
        self.levels = [self.leaves]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self.leaves)

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end), a node of the tree of some size <= self.size."""
        if start >= end:
            return root_hash([])
        # Split into whole aligned blocks, largest first; RFC 6962 nests them to the right.
        blocks = []
        while start < end:
            height = (end - start).bit_length() - 1
            blocks.append(self.levels[height][start >> height])
            start += 1 << height
        node = blocks[-1]
        for block in reversed(blocks[:-1]):
            node = node_hash(block, node)
        return node

    def root(self, size: int) -> bytes:
        """The root hash of the tree of the first ``size`` leaves."""
        return self.subtree(0, size)

    def inclusion_proofs(self) -> list[list[bytes]]:
        """The audit path of every leaf in the tree of all leaves."""
        return inclusion_proofs(self.leaves)

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 6962's proof that the tree of ``old_size`` is a prefix of ``new_size``'s.

        The proof is empty when the sizes are equal or the old tree is empty.
        """
        if not 0 < old_size < new_size <= self.size:
            return []
        siblings: list[bytes] = []
        start, end, complete = 0, new_size, True
        while old_size != end:
            half = start + (1 << ((end - start - 1).bit_length() - 1))
            if old_size <= half:
                siblings.append(self.subtree(half, end))
                end = half
            else:
                siblings.append(self.subtree(start, half))
                start, complete = half, False
        if not complete:
            siblings.append(self.subtree(start, end))
        return siblings[::-1]
