"""Checking a bundle's signed log: the records against the last signed tree head, every
head's signature and key, every record's inclusion proof, and the consistency proof
between each head and the next."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leakshield.errors import InputError
from leakshield.evidence._bundle_format import PROOFS, RECORDS, TREE_HEADS, BundleLimits, Problems
from leakshield.evidence._bundle_zip import BundleZip
from leakshield.evidence._merkle import (
    TreeHead,
    leaf_hash,
    public_key_id,
    root_hash,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)

__all__ = ["LogFacts", "check_key", "check_log"]

_HEX = re.compile(r"[0-9a-f]*")
_EMPTY_ROOT = root_hash([]).hex()


@dataclass(frozen=True)
class LogFacts:
    """What the log holds: each record (None where a line is not one) and the heads."""

    records: list[dict[str, Any] | None]
    heads: list[TreeHead]

    @property
    def last(self) -> TreeHead | None:
        """The last signed tree head, which the records must match."""
        return self.heads[-1] if self.heads else None


def check_key(
    manifest: Mapping[str, Any], expected_key_id: str | None, problems: Problems
) -> bytes | None:
    """The manifest's public key, raw, if it is one; notes a key id that does not match it."""
    text = manifest.get("public_key")
    if not (isinstance(text, str) and len(text) == 64 and _HEX.fullmatch(text)):
        problems.add(
            "bad-manifest",
            "manifest.json has no Ed25519 public key (64 lower-case hex "
            "digits), so no signature can be checked",
        )
        return None
    key = bytes.fromhex(text)
    key_id = public_key_id(key)
    if manifest.get("key_id") != key_id:
        problems.add(
            "key-id-mismatch",
            f"manifest.json gives the key id "
            f"{str(manifest.get('key_id'))[:40]!r}, but its public key's id is {key_id}: "
            "the manifest was edited",
        )
    if expected_key_id is not None:
        wanted = expected_key_id.strip().lower()
        # The key id, the key's SHA-256 fingerprint, or the public key itself.
        if wanted not in {key_id, public_key_fingerprint(key), key.hex()}:
            problems.add(
                "unexpected-key",
                f"the bundle is signed with key {key_id}, not the key "
                f"{wanted[:64]} you expected: it was made or re-signed with "
                "another key",
            )
    return key


def public_key_fingerprint(key: bytes) -> str:
    """The SHA-256 fingerprint (hex) of a raw public key, as the report shows it."""
    import hashlib

    return hashlib.sha256(key).hexdigest()


def check_log(
    bundle: BundleZip, key: bytes | None, limits: BundleLimits, problems: Problems
) -> LogFacts:
    """Check the records, tree heads and proofs of ``bundle``, noting every failure."""
    data = bundle.read(RECORDS, limits.max_metadata_bytes, problems)
    lines = data.split(b"\n") if data else []
    if lines and not lines[-1]:
        lines.pop()
    leaves = [leaf_hash(line) for line in lines]
    records = [_record(index, line, problems) for index, line in enumerate(lines)]
    heads = _heads(bundle.read(TREE_HEADS, limits.max_metadata_bytes, problems), problems)
    proofs = _proofs(bundle.read(PROOFS, limits.max_metadata_bytes, problems), problems)
    facts = LogFacts(records, heads)
    _check_heads(heads, key, problems)
    if facts.last is None:
        problems.add(
            "missing-tree-head",
            "log/tree_heads.jsonl holds no signed tree head, so nothing in the bundle is signed",
            path=TREE_HEADS,
        )
        return facts
    _check_records(leaves, records, facts.last, proofs, problems)
    _check_consistency(heads, proofs, problems)
    return facts


def _record(index: int, line: bytes, problems: Problems) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        problems.add("bad-record", f"line {index} of {RECORDS} is not a JSON record", path=RECORDS)
        return None
    if record.get("seq") != index:
        problems.add(
            "bad-record",
            f"record {index} of {RECORDS} says it is record {str(record.get('seq'))[:20]}",
            path=RECORDS,
        )
    return record


def _heads(data: bytes | None, problems: Problems) -> list[TreeHead]:
    heads = []
    for number, line in enumerate((data or b"").splitlines()):
        try:
            heads.append(TreeHead.from_record(json.loads(line)))
        except (ValueError, InputError):  # json's errors are ValueErrors
            problems.add(
                "bad-tree-head",
                f"line {number} of {TREE_HEADS} is not a tree head; it was left out",
                path=TREE_HEADS,
            )
    return heads


def _check_heads(heads: list[TreeHead], key: bytes | None, problems: Problems) -> None:
    key_id = public_key_id(key) if key is not None else None
    previous = 0
    for number, head in enumerate(heads):
        if key_id is not None and head.key_id != key_id:
            problems.add(
                "head-key-mismatch",
                f"tree head {number} (size {head.size}) names the "
                f"key {head.key_id[:40]!r}, not the bundle's key {key_id}: it was "
                "signed with another key",
                path=TREE_HEADS,
            )
        elif key is not None and not verify_tree_head(head, key):
            problems.add(
                "head-signature",
                f"the signature of tree head {number} (size "
                f"{head.size}) does not verify with the bundle's key: the head was "
                "changed or forged",
                path=TREE_HEADS,
            )
        if head.size < previous:
            problems.add(
                "head-order",
                f"tree head {number} has size {head.size}, smaller than "
                f"the head before it ({previous}): the log shrank",
                path=TREE_HEADS,
            )
        previous = max(previous, head.size)


def _check_records(
    leaves: list[bytes],
    records: list[dict[str, Any] | None],
    last: TreeHead,
    proofs: dict[str, Any],
    problems: Problems,
) -> None:
    count = len(leaves)
    if count > last.size:
        problems.add(
            "log-size-mismatch",
            f"{RECORDS} holds {count} records but the last signed "
            f"tree head covers {last.size}: records {last.size} to {count - 1} were "
            "added without a signature",
            path=RECORDS,
        )
    elif count < last.size:
        problems.add(
            "log-size-mismatch",
            f"{RECORDS} holds {count} records but the last signed "
            f"tree head covers {last.size}: records were removed",
            path=RECORDS,
        )
    matches = count >= last.size and root_hash(leaves[: last.size]).hex() == last.root
    if not matches:
        problems.add(
            "log-root-mismatch",
            f"the records in {RECORDS} do not hash to the root "
            f"{last.root[:64]} of the last signed tree head: the log was changed "
            "after it was signed",
            path=RECORDS,
        )
    if not proofs:
        return  # the proofs are missing or damaged, and named so already
    root = _bytes(last.root)
    inclusion = proofs["inclusion"]
    for index in range(min(count, last.size)):
        proof = _hashes(inclusion.get(str(index)))
        if (
            root is not None
            and proof is not None
            and verify_inclusion(leaves[index], index, last.size, proof, root)
        ):
            continue
        record = records[index] or {}
        item = record.get("item") if isinstance(record.get("item"), dict) else None
        item_id = str(item.get("id")) if item else None
        if matches:  # the records are right, so the proof file is what was changed
            problems.add(
                "inclusion-proof",
                f"the inclusion proof of record {index} in {PROOFS} is missing or wrong",
                item_id=item_id,
                path=PROOFS,
            )
        else:
            what = f" (item {item_id})" if item_id else ""
            problems.add(
                "record-altered",
                f"record {index}{what} of {RECORDS} is not the record "
                "that was signed: it was edited, or records before it were removed "
                "or inserted",
                item_id=item_id,
                path=RECORDS,
            )


def _check_consistency(heads: list[TreeHead], proofs: dict[str, Any], problems: Problems) -> None:
    if not proofs:
        return  # the proofs are missing or damaged, and named so already
    given: dict[tuple[Any, Any], Any] = {}
    for entry in proofs["consistency"]:
        if isinstance(entry, dict):
            given[(entry.get("from"), entry.get("to"))] = entry.get("proof")
    for number, (old, new) in enumerate(itertools.pairwise(heads)):
        if old.size > new.size:
            continue  # noted as out of order already
        if old.size == 0:
            holds = old.root == _EMPTY_ROOT
        else:
            proof = _hashes(given.get((old.size, new.size), [] if old.size == new.size else None))
            old_root, new_root = _bytes(old.root), _bytes(new.root)
            holds = (
                proof is not None
                and old_root is not None
                and new_root is not None
                and verify_consistency(old.size, new.size, old_root, new_root, proof)
            )
        if not holds:
            problems.add(
                "consistency-proof",
                f"tree head {number} (size {old.size}) is not a "
                f"prefix of tree head {number + 1} (size {new.size}) by the proof in "
                f"{PROOFS}: the log was rewritten between them, or the proof is "
                "damaged",
                path=PROOFS,
            )


def _proofs(data: bytes | None, problems: Problems) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        proofs = json.loads(data)
    except ValueError:
        proofs = None
    if not (
        isinstance(proofs, dict)
        and isinstance(proofs.get("inclusion"), dict)
        and isinstance(proofs.get("consistency"), list)
    ):
        problems.add(
            "bad-proofs",
            f"{PROOFS} is not a proofs file; no proof in it could be checked",
            path=PROOFS,
        )
        return {}
    return proofs


def _hashes(value: Any) -> list[bytes] | None:
    if not isinstance(value, list):
        return None
    found = [_bytes(text) for text in value]
    return None if any(h is None for h in found) else [h for h in found if h is not None]


def _bytes(text: Any) -> bytes | None:
    """A SHA-256 hash from its 64 lower-case hex digits, or None for anything else."""
    if not (isinstance(text, str) and len(text) == 64):
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    return raw if raw.hex() == text else None  # fromhex also takes spaces and upper case
