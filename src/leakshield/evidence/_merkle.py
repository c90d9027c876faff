"""The case log as an RFC 6962 Merkle tree: root hashes, inclusion and consistency proofs,
and signed tree heads.

Everything here is a pure function over bytes. The tree is built level by level (a lone
last node moves up unpaired, which gives exactly RFC 6962's MTH), so a proof over 100k
leaves costs one pass of hashing and no deep recursion. The verifiers take untrusted
input: they answer False, never raise, whatever they are given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from leakshield.errors import InputError
from leakshield.evidence._model import canonical_json

__all__ = [
    "TREE_HEAD_DOMAIN",
    "TreeHead",
    "consistency_proof",
    "inclusion_proof",
    "inclusion_proofs",
    "leaf_hash",
    "node_hash",
    "public_key_id",
    "root_hash",
    "sign_tree_head",
    "verify_consistency",
    "verify_inclusion",
    "verify_tree_head",
]

TREE_HEAD_DOMAIN = b"leakshield-tree-head-v1\n"
_HASH_BYTES = 32


def leaf_hash(data: bytes) -> bytes:
    """The hash of one log entry: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first, root last (the tree must not be empty)."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def _subtree(levels: list[list[bytes]], start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range that is a node of the tree."""
    height = (end - start - 1).bit_length()
    return levels[height][start >> height]


def _split(size: int) -> int:
    """The largest power of two below `size` (size > 1): where RFC 6962 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (MTH) of these leaf hashes; SHA-256(b"") for no leaves."""
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    return _levels(leaf_hashes)[-1][0]


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise InputError(
            f"leaf {index} is not in a log of {size} entries; ask for a leaf from 0 to {size - 1}."
        )


def _path(levels: list[list[bytes]], index: int) -> list[bytes]:
    proof = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index >>= 1
    return proof


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path (RFC 6962 PATH) showing that leaf `index` is in this tree."""
    _check_index(index, len(leaf_hashes))
    return _path(_levels(leaf_hashes), index)


def inclusion_proofs(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """The audit path of every leaf, hashing the tree once (for a bundle's proofs)."""
    if not leaf_hashes:
        return []
    levels = _levels(leaf_hashes)
    return [_path(levels, index) for index in range(len(leaf_hashes))]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The RFC 6962 proof that the tree of `old_size` leaves is a prefix of this tree."""
    size = len(leaf_hashes)
    if not 0 < old_size <= size:
        raise InputError(
            f"cannot prove a log of {old_size} entries is a prefix of one of {size}; "
            f"the older size must be from 1 to {size}."
        )
    levels = _levels(leaf_hashes)
    # RFC 6962 SUBPROOF, unrolled: walk down from the root, noting each sibling on the way.
    siblings: list[bytes] = []
    start, end, complete = 0, size, True
    while old_size != end:
        half = start + _split(end - start)
        if old_size <= half:
            siblings.append(_subtree(levels, half, end))
            end = half
        else:
            siblings.append(_subtree(levels, start, half))
            start, complete = half, False
    if not complete:
        siblings.append(_subtree(levels, start, end))
    return siblings[::-1]


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == _HASH_BYTES


def _all_hashes(values: Sequence[object]) -> bool:
    return all(_is_hash(value) for value in values)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows `leaf_hash` at `index` in the tree of `size` leaves with `root`."""
    if not (0 <= index < size and _is_hash(leaf_hash) and _is_hash(root)):
        return False
    if not _all_hashes(proof):
        return False
    # RFC 9162 section 2.1.3.2.
    node, last, computed = index, size - 1, leaf_hash
    for sibling in proof:
        if last == 0:
            return False
        if node & 1 or node == last:
            computed = node_hash(sibling, computed)
            while not node & 1 and node:
                node, last = node >> 1, last >> 1
        else:
            computed = node_hash(computed, sibling)
        node, last = node >> 1, last >> 1
    return last == 0 and computed == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree of `old_size` with `old_root` is a prefix of the newer."""
    if not (0 < old_size <= new_size and _is_hash(old_root) and _is_hash(new_root)):
        return False
    if not _all_hashes(proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    # RFC 9162 section 2.1.4.2.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    node, last = old_size - 1, new_size - 1
    while node & 1:
        node, last = node >> 1, last >> 1
    old, new = path[0], path[0]
    for sibling in path[1:]:
        if last == 0:
            return False
        if node & 1 or node == last:
            old, new = node_hash(sibling, old), node_hash(sibling, new)
            while not node & 1 and node:
                node, last = node >> 1, last >> 1
        else:
            new = node_hash(new, sibling)
        node, last = node >> 1, last >> 1
    return last == 0 and old == old_root and new == new_root


def public_key_id(public_key_raw: bytes) -> str:
    """The short id of a raw Ed25519 public key: its SHA-256, first 16 hex digits."""
    return hashlib.sha256(public_key_raw).hexdigest()[:16]


def _utc(when: datetime | None) -> str:
    moment = datetime.now(UTC) if when is None else when
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class TreeHead:
    """A signed statement of the log's size and root hash at a time."""

    size: int
    root: str  # hex
    time: str  # UTC, ISO 8601
    signature: str  # hex Ed25519 signature over signed_bytes()
    key_id: str  # public_key_id() of the signing key

    def signed_bytes(self) -> bytes:
        """The exact bytes the signature covers: the domain line, then canonical JSON."""
        body = {"size": self.size, "root": self.root, "time": self.time, "key_id": self.key_id}
        return TREE_HEAD_DOMAIN + canonical_json(body)

    def to_record(self) -> dict[str, Any]:
        """This head as a JSON object (one line of log/tree_heads.jsonl)."""
        return {
            "size": self.size,
            "root": self.root,
            "time": self.time,
            "signature": self.signature,
            "key_id": self.key_id,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TreeHead:
        """Read a head written by `to_record`; a malformed one raises `InputError`."""
        fields = {"size", "root", "time", "signature", "key_id"}
        if not isinstance(record, Mapping) or set(record) != fields:
            found = sorted(record) if isinstance(record, Mapping) else type(record).__name__
            raise InputError(
                f"a tree head must have exactly the fields {sorted(fields)}, not {found}; "
                "the log's tree heads are damaged or were written by another program."
            )
        size = record["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InputError(f"a tree head's size must be a whole number >= 0, not {size!r}.")
        for name in ("root", "time", "signature", "key_id"):
            if not isinstance(record[name], str):
                raise InputError(f"a tree head's {name} must be text, not {record[name]!r}.")
        return cls(size, record["root"], record["time"], record["signature"], record["key_id"])


def sign_tree_head(
    size: int, root_bytes: bytes, private_key: Ed25519PrivateKey, when: datetime | None = None
) -> TreeHead:
    """Sign the head of a log of `size` entries with root hash `root_bytes`, at `when` (now)."""
    if size < 0 or not _is_hash(root_bytes):
        raise InputError(
            f"cannot sign a tree head of size {size} with a {len(root_bytes)}-byte root; "
            "give the 32-byte root hash of a log of 0 or more entries."
        )
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    unsigned = TreeHead(size, root_bytes.hex(), _utc(when), "", public_key_id(raw))
    signature = private_key.sign(unsigned.signed_bytes()).hex()
    return TreeHead(unsigned.size, unsigned.root, unsigned.time, signature, unsigned.key_id)


def verify_tree_head(head: TreeHead, public_key_raw: bytes) -> bool:
    """Whether `head` was signed by this raw 32-byte Ed25519 public key, unchanged."""
    if len(public_key_raw) != 32 or head.key_id != public_key_id(public_key_raw):
        return False
    try:
        root = bytes.fromhex(head.root)
        signature = bytes.fromhex(head.signature)
        key = Ed25519PublicKey.from_public_bytes(public_key_raw)
        key.verify(signature, head.signed_bytes())
    except (ValueError, TypeError, InvalidSignature):
        return False
    return len(root) == _HASH_BYTES and head.root == root.hex()
