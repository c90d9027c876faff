"""Signed tree heads: what the signature covers, who can verify it, and their records."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from leakshield.errors import InputError
from leakshield.evidence._merkle import (
    TreeHead,
    leaf_hash,
    public_key_id,
    root_hash,
    sign_tree_head,
    verify_tree_head,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
ROOT = root_hash([leaf_hash(b"case-created"), leaf_hash(b"file-added")])
WHEN = datetime(2025, 3, 4, 5, 6, 7, 890, tzinfo=UTC)


def _head() -> TreeHead:
    return sign_tree_head(2, ROOT, KEY, when=WHEN)


def test_a_signed_head_states_size_root_time_and_key() -> None:
    head = _head()
    assert (head.size, head.root, head.time) == (2, ROOT.hex(), "2025-03-04T05:06:07Z")
    assert head.key_id == hashlib.sha256(PUBLIC).hexdigest()[:16] == public_key_id(PUBLIC)
    assert len(bytes.fromhex(head.signature)) == 64
    assert verify_tree_head(head, PUBLIC)


def test_the_signature_covers_the_domain_line_and_canonical_json() -> None:
    head = _head()
    body = {"key_id": head.key_id, "root": head.root, "size": 2, "time": head.time}
    expected = b"leakshield-tree-head-v1\n" + json.dumps(body, separators=(",", ":")).encode()
    assert head.signed_bytes() == expected
    KEY.public_key().verify(bytes.fromhex(head.signature), expected)


def test_time_is_utc_and_defaults_to_now() -> None:
    later = datetime(2025, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    assert sign_tree_head(2, ROOT, KEY, when=later).time == "2025-03-04T05:06:07Z"
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = datetime.fromisoformat(sign_tree_head(2, ROOT, KEY).time)
    assert before <= stamp <= datetime.now(UTC)


@pytest.mark.parametrize(
    "change",
    [
        {"size": 3},
        {"size": 1},
        {"root": root_hash([leaf_hash(b"case-created")]).hex()},
        {"time": "2025-03-04T05:06:08Z"},
        {"key_id": "0" * 16},
        {"signature": "00" * 64},
        {"signature": ""},
        {"signature": "not hex"},
        {"root": "not hex"},
    ],
)
def test_a_changed_field_fails(change: dict[str, Any]) -> None:
    assert not verify_tree_head(dataclasses.replace(_head(), **change), PUBLIC)


def test_a_flipped_signature_bit_fails() -> None:
    head = _head()
    signature = bytearray(bytes.fromhex(head.signature))
    for position in (0, 31, 63):
        signature[position] ^= 0x01
        changed = dataclasses.replace(head, signature=signature.hex())
        assert not verify_tree_head(changed, PUBLIC)
        signature[position] ^= 0x01


def test_another_key_fails() -> None:
    other = Ed25519PrivateKey.generate()
    other_public = other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert not verify_tree_head(_head(), other_public)
    # Signed by another key that claims ours: the key id matches, the signature does not.
    forged = dataclasses.replace(sign_tree_head(2, ROOT, other, when=WHEN), key_id=_head().key_id)
    assert not verify_tree_head(forged, PUBLIC)


@pytest.mark.parametrize("public", [b"", PUBLIC[:31], PUBLIC + b"\x00"])
def test_a_malformed_public_key_fails(public: bytes) -> None:
    assert not verify_tree_head(_head(), public)


def test_signing_refuses_a_root_that_is_not_a_hash() -> None:
    with pytest.raises(InputError):
        sign_tree_head(2, ROOT[:16], KEY)
    with pytest.raises(InputError):
        sign_tree_head(-1, ROOT, KEY)


def test_an_empty_log_can_be_signed() -> None:
    assert verify_tree_head(sign_tree_head(0, root_hash([]), KEY), PUBLIC)


def test_record_round_trip_through_json() -> None:
    head = _head()
    record = json.loads(json.dumps(head.to_record()))
    assert record == {
        "size": 2,
        "root": ROOT.hex(),
        "time": "2025-03-04T05:06:07Z",
        "signature": head.signature,
        "key_id": head.key_id,
    }
    assert TreeHead.from_record(record) == head
    assert verify_tree_head(TreeHead.from_record(record), PUBLIC)


@pytest.mark.parametrize(
    "change",
    [
        {"size": "2"},
        {"size": True},
        {"size": -1},
        {"size": 2.0},
        {"root": None},
        {"time": 5},
        {"signature": b"00"},
        {"key_id": None},
        {"extra": 1},
    ],
)
def test_a_malformed_record_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="tree head"):
        TreeHead.from_record({**_head().to_record(), **change})


def test_a_record_missing_a_field_is_refused() -> None:
    record = _head().to_record()
    del record["signature"]
    with pytest.raises(InputError, match="exactly the fields"):
        TreeHead.from_record(record)
