"""The case log's Merkle tree: RFC 6962 roots and proofs, checked against the published test
vectors and against a plain recursive reference, for every index and size up to 40 leaves."""

from __future__ import annotations

import hashlib

import pytest

from leakshield.errors import InputError
from leakshield.evidence._merkle import (
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# The reference leaves and roots of certificate-transparency's and transparency-dev/merkle's
# test suites (testonly/constants.go, proof/verify_test.go).
LEAVES = [b"", b"\x00", b"\x10", b" !", b"01", b"@ABC", b"PQRSTUVW", b"`abcdefghijklmno"]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (index, size, proof)
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]
MAX = 40


def _hashes(count: int) -> list[bytes]:
    return [leaf_hash(b"record %d" % i) for i in range(count)]


# A reference written straight from RFC 6962 section 2.1, recursion over lists and all.
def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _split(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _split(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
    if m == len(d):
        return [] if complete else [ref_mth(d)]
    k = _split(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], complete), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def _sides(m: int, n: int) -> list[bool]:
    """Which side each sibling of leaf m is on (True: left), the leaf's own sibling first."""
    if n == 1:
        return []
    k = _split(n)
    return [*_sides(m, k), False] if m < k else [*_sides(m - k, n - k), True]


HASHES = _hashes(MAX)
REF_ROOTS = [ref_mth(HASHES[:n]) for n in range(MAX + 1)]


def test_leaf_and_node_hashes_are_rfc6962() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"L", b"R") == hashlib.sha256(b"\x01LR").digest()


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_root_matches_the_published_vectors(size: int) -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES[:size]]
    assert root_hash(hashes).hex() == ROOTS[size]


def _matches(proof: list[bytes], prefixes: list[str]) -> bool:
    return len(proof) == len(prefixes) and all(
        p.hex().startswith(want) for p, want in zip(proof, prefixes, strict=True)
    )


@pytest.mark.parametrize(("index", "size", "want"), INCLUSION)
def test_inclusion_proof_matches_the_published_vectors(
    index: int, size: int, want: list[str]
) -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES[:size]]
    proof = inclusion_proof(hashes, index)
    assert _matches(proof, want)
    assert verify_inclusion(hashes[index], index, size, proof, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "want"), CONSISTENCY)
def test_consistency_proof_matches_the_published_vectors(
    old: int, new: int, want: list[str]
) -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES[:new]]
    proof = consistency_proof(hashes, old)
    assert _matches(proof, want)
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    assert verify_consistency(old, new, old_root, new_root, proof)


def test_roots_match_the_reference_for_every_size() -> None:
    assert [root_hash(HASHES[:n]) for n in range(MAX + 1)] == REF_ROOTS


def test_every_inclusion_proof_matches_the_reference_and_verifies() -> None:
    for size in range(1, MAX + 1):
        tree = HASHES[:size]
        every = inclusion_proofs(tree)
        for index in range(size):
            proof = inclusion_proof(tree, index)
            assert proof == ref_path(index, tree) == every[index], (index, size)
            assert verify_inclusion(tree[index], index, size, proof, REF_ROOTS[size])


def test_every_consistency_proof_matches_the_reference_and_verifies() -> None:
    for new in range(1, MAX + 1):
        for old in range(1, new + 1):
            proof = consistency_proof(HASHES[:new], old)
            assert proof == ref_subproof(old, HASHES[:new], True), (old, new)
            assert verify_consistency(old, new, REF_ROOTS[old], REF_ROOTS[new], proof)


def _flipped(proof: list[bytes], item: int, byte: int) -> list[bytes]:
    changed = bytearray(proof[item])
    changed[byte] ^= 0x01
    return [*proof[:item], bytes(changed), *proof[item + 1 :]]


def _one_byte_changes(proof: list[bytes]) -> list[list[bytes]]:
    return [_flipped(proof, item, byte) for item in range(len(proof)) for byte in (0, 31)]


def _other(value: bytes) -> bytes:
    return bytes([value[0] ^ 0x80]) + value[1:]


def test_an_inclusion_proof_fails_when_anything_changes() -> None:
    for size in range(1, MAX + 1):
        tree, root = HASHES[:size], REF_ROOTS[size]
        for index in range(size):
            proof, leaf = inclusion_proof(tree, index), tree[index]
            for bad in _one_byte_changes(proof):
                assert not verify_inclusion(leaf, index, size, bad, root)
            assert not verify_inclusion(_other(leaf), index, size, proof, root)
            assert not verify_inclusion(leaf, index, size, proof, _other(root))
            for other in {index - 1, index + 1, index ^ 2} - {index}:
                assert not verify_inclusion(leaf, other, size, proof, root), (other, size)
            for other in {size + 1, size * 2, size // 2, size - 1} - {size}:
                # The signed head binds the size; a path of the same shape cannot tell sizes apart.
                if index >= other or _sides(index, other) != _sides(index, size):
                    assert not verify_inclusion(leaf, index, other, proof, root), (other, size)
            assert not verify_inclusion(leaf, index, size, [*proof, root], root)
            assert not verify_inclusion(leaf, index, size, [root, *proof], root)
            if proof:
                assert not verify_inclusion(leaf, index, size, proof[:-1], root)


def test_a_consistency_proof_fails_when_anything_changes() -> None:
    for new in range(2, MAX + 1):
        for old in range(1, new):
            proof = consistency_proof(HASHES[:new], old)
            old_root, new_root = REF_ROOTS[old], REF_ROOTS[new]
            for bad in _one_byte_changes(proof):
                assert not verify_consistency(old, new, old_root, new_root, bad)
            assert not verify_consistency(old, new, _other(old_root), new_root, proof)
            assert not verify_consistency(old, new, old_root, _other(new_root), proof)
            assert not verify_consistency(old, new, new_root, old_root, proof)
            assert not verify_consistency(old, new, old_root, new_root, [])
            assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
            assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])
            assert not verify_consistency(old, new, old_root, new_root, [proof[0], *proof])
            for other in {old - 1, old + 1, old ^ 2} - {old}:
                if 0 < other < new:
                    assert not verify_consistency(other, new, old_root, new_root, proof)


def test_a_log_that_was_rewritten_is_not_consistent() -> None:
    rewritten = [*HASHES[:10], leaf_hash(b"a changed record"), *HASHES[11:30]]
    for old in range(11, 30):
        proof = consistency_proof(rewritten, old)
        assert not verify_consistency(old, 30, REF_ROOTS[old], root_hash(rewritten), proof)


def test_equal_sizes_are_consistent_only_with_equal_roots_and_no_proof() -> None:
    root = REF_ROOTS[5]
    assert consistency_proof(HASHES[:5], 5) == []
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, REF_ROOTS[6], [])
    assert not verify_consistency(5, 5, root, root, [root])


@pytest.mark.parametrize("index", [-1, 5, 6])
def test_an_inclusion_proof_for_a_leaf_outside_the_log_is_refused(index: int) -> None:
    with pytest.raises(InputError, match="not in a log of 5 entries"):
        inclusion_proof(HASHES[:5], index)


def test_an_empty_log_has_no_inclusion_proofs() -> None:
    with pytest.raises(InputError, match="not in a log of 0 entries"):
        inclusion_proof([], 0)
    assert inclusion_proofs([]) == []


@pytest.mark.parametrize("old", [-1, 0, 6])
def test_a_consistency_proof_for_an_impossible_size_is_refused(old: int) -> None:
    with pytest.raises(InputError, match="older size must be from 1 to 5"):
        consistency_proof(HASHES[:5], old)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (5, 5), (6, 5), (-1, 5)])
def test_verify_inclusion_rejects_impossible_sizes(index: int, size: int) -> None:
    assert not verify_inclusion(HASHES[0], index, size, [], REF_ROOTS[1])


@pytest.mark.parametrize(("old", "new"), [(0, 0), (0, 5), (6, 5), (2, 1), (-1, 3)])
def test_verify_consistency_rejects_impossible_sizes(old: int, new: int) -> None:
    empty = hashlib.sha256(b"").digest()
    for old_root, new_root in ((empty, empty), (REF_ROOTS[1], REF_ROOTS[1])):
        assert not verify_consistency(old, new, old_root, new_root, [])


def test_verifiers_reject_hashes_of_the_wrong_length() -> None:
    proof = inclusion_proof(HASHES[:8], 3)
    assert not verify_inclusion(HASHES[3], 3, 8, [*proof[:-1], proof[-1] + b"\x00"], REF_ROOTS[8])
    assert not verify_inclusion(HASHES[3][:31], 3, 8, proof, REF_ROOTS[8])
    assert not verify_inclusion(b"", 0, 1, [], b"")
    assert not verify_consistency(3, 3, b"", b"", [])


def test_large_logs_give_correct_proofs() -> None:
    size = 100_000
    tree = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    root = root_hash(tree)
    for index in (0, 65_536, size - 1):
        proof = inclusion_proof(tree, index)
        assert len(proof) <= 17
        assert verify_inclusion(tree[index], index, size, proof, root)
    for old in (65_536, 99_999):
        proof = consistency_proof(tree, old)
        assert verify_consistency(old, size, root_hash(tree[:old]), root, proof)
