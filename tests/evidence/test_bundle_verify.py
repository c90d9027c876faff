"""Verifying a bundle: an intact one passes, and each kind of tampering is named exactly:
which file, which item, which record, which tree head, which proof."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leakshield.evidence._bundle import export_bundle
from leakshield.evidence._bundle_verify import BundleVerification, verify_bundle
from leakshield.evidence._merkle import TreeHead, public_key_id, sign_tree_head
from leakshield.evidence._model import canonical_json
from tests.evidence._bundle_fakes import (
    FakeCase,
    edit_json,
    edit_line,
    png,
    rewrite,
    sample_case,
)

Found = list[tuple[str, str | None, str | None]]


@pytest.fixture(scope="module")
def case() -> FakeCase:
    return sample_case()


@pytest.fixture(scope="module")
def bundle(case: FakeCase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_bundle(case, tmp_path_factory.mktemp("bundle") / "case.zip", pdf=False).path


def found(result: BundleVerification) -> Found:
    assert not result.ok
    return [(p.code, p.item_id, p.path) for p in result.problems]


def test_an_intact_bundle_verifies(case: FakeCase, bundle: Path) -> None:
    result = verify_bundle(bundle)
    assert result.ok and result.problems == ()
    assert (result.case_id, result.key_id) == (case.case_id, public_key_id(case.public_key))
    assert (result.items, result.files, result.records, result.tree_heads) == (5, 6, 6, 6)
    assert result.bytes == sum(len(data) for data in case.content.values())
    assert result.last_head == case.tree_heads[-1]
    record = result.to_record()
    assert record["ok"] is True and record["last_head"] == case.tree_heads[-1].to_record()
    json.dumps(record)


def test_an_altered_file_is_named_by_item_and_path(bundle: Path, tmp_path: Path) -> None:
    path = "items/item-0002/IMG_0413.png"
    changed = rewrite(bundle, tmp_path / "b.zip", change={path: lambda _: png(7)})
    result = verify_bundle(changed)
    assert found(result) == [("file-altered", "item-0002", path)]
    assert "IMG_0413.png" in result.problems[0].message


def test_a_file_swapped_along_with_its_manifest_hash_is_still_caught(
    bundle: Path, tmp_path: Path
) -> None:
    path = "items/item-0001/IMG_0412.png"
    forged = png(8)

    def rehash(manifest: dict[str, Any]) -> None:
        import hashlib

        entry = manifest["items"][0]["files"][0]
        entry["sha256"], entry["size"] = hashlib.sha256(forged).hexdigest(), len(forged)

    changed = rewrite(
        bundle, tmp_path / "b.zip",
        change={path: lambda _: forged, "manifest.json": edit_json(rehash)},
    )  # fmt: skip
    assert found(verify_bundle(changed)) == [
        ("item-edited", "item-0001", None),
        ("file-altered", "item-0001", path),
    ]


def test_an_item_edited_in_the_manifest_differs_from_its_leaf_record(
    bundle: Path, tmp_path: Path
) -> None:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["items"][2]["text"] = "A different note."
        manifest["items"][2]["added_by"] = "someone"

    result = verify_bundle(
        rewrite(bundle, tmp_path / "b.zip", change={"manifest.json": edit_json(edit)})
    )
    assert found(result) == [("item-edited", "item-0003", None)]
    assert "in: 'added_by', 'text'" in result.problems[0].message


def test_an_item_moved_to_another_leaf_is_named(bundle: Path, tmp_path: Path) -> None:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["items"][0]["leaf_index"] = 2

    result = verify_bundle(
        rewrite(bundle, tmp_path / "b.zip", change={"manifest.json": edit_json(edit)})
    )
    assert found(result) == [("item-edited", "item-0001", None)]


def test_an_item_slipped_into_the_manifest_and_the_zip_is_named(
    bundle: Path, tmp_path: Path
) -> None:
    def edit(manifest: dict[str, Any]) -> None:
        extra = json.loads(json.dumps(manifest["items"][0]))
        extra["id"], extra["leaf_index"] = "item-0099", 9
        manifest["items"].append(extra)

    changed = rewrite(
        bundle, tmp_path / "b.zip", change={"manifest.json": edit_json(edit)},
        add={"items/item-0099/IMG_0412.png": png(1)},
    )  # fmt: skip
    assert found(verify_bundle(changed)) == [("item-added", "item-0099", None)]


def test_a_file_added_to_the_zip_is_named(bundle: Path, tmp_path: Path) -> None:
    for path in ["items/item-0001/another.png", "notes.txt", "items/item-0007/x.png"]:
        changed = rewrite(bundle, tmp_path / "b.zip", add={path: b"extra"})
        assert found(verify_bundle(changed)) == [("extra-file", None, path)]


def test_a_removed_item_and_a_missing_file_are_named(bundle: Path, tmp_path: Path) -> None:
    def drop(manifest: dict[str, Any]) -> None:
        del manifest["items"][1]

    capture = {f"items/item-0002/{name}" for name in ["IMG_0413.png"]}
    removed = rewrite(
        bundle, tmp_path / "a.zip", change={"manifest.json": edit_json(drop)}, drop=capture
    )
    assert found(verify_bundle(removed)) == [("item-removed", "item-0002", None)]
    path = "items/item-0004/page.mhtml"
    missing = rewrite(bundle, tmp_path / "b.zip", drop={path})
    assert found(verify_bundle(missing)) == [("file-missing", "item-0004", path)]


def test_an_edited_record_breaks_the_root_and_its_leaf_is_named(
    bundle: Path, tmp_path: Path
) -> None:
    def edit(record: dict[str, Any]) -> None:
        record["actor"] = "someone else"

    changed = rewrite(bundle, tmp_path / "b.zip", change={"log/records.jsonl": edit_line(2, edit)})
    result = verify_bundle(changed)
    assert found(result) == [
        ("log-root-mismatch", None, "log/records.jsonl"),
        ("record-altered", "item-0002", "log/records.jsonl"),
    ]
    assert "record 2 (item item-0002)" in result.problems[1].message


def test_a_record_and_its_manifest_item_edited_together_are_both_caught(
    bundle: Path, tmp_path: Path
) -> None:
    def edit_record(record: dict[str, Any]) -> None:
        record["item"]["text"] = "Rewritten."

    def edit_item(manifest: dict[str, Any]) -> None:
        manifest["items"][2]["text"] = "Rewritten."

    change = {"log/records.jsonl": edit_line(3, edit_record), "manifest.json": edit_json(edit_item)}
    changed = rewrite(bundle, tmp_path / "b.zip", change=change)
    assert found(verify_bundle(changed)) == [
        ("log-root-mismatch", None, "log/records.jsonl"),
        ("record-altered", "item-0003", "log/records.jsonl"),
    ]


def test_an_unsigned_record_appended_to_the_log_is_named(bundle: Path, tmp_path: Path) -> None:
    def append(data: bytes) -> bytes:
        record = {"seq": 6, "action": "note-added", "time": "2025-03-15T00:00:00+00:00",
                  "actor": "x", "case": "c0ffee1234", "item": None, "details": {}}  # fmt: skip
        return data + canonical_json(record) + b"\n"

    changed = rewrite(bundle, tmp_path / "b.zip", change={"log/records.jsonl": append})
    result = verify_bundle(changed)
    assert found(result) == [("log-size-mismatch", None, "log/records.jsonl")]
    assert "records 6 to 6 were added without a signature" in result.problems[0].message


def _heads(data: bytes) -> list[TreeHead]:
    return [TreeHead.from_record(json.loads(line)) for line in data.splitlines()]


def _write_heads(heads: list[TreeHead]) -> bytes:
    return b"".join(canonical_json(h.to_record()) + b"\n" for h in heads)


def test_a_forged_tree_head_fails_its_signature(bundle: Path, tmp_path: Path) -> None:
    def forge(data: bytes) -> bytes:
        heads = _heads(data)
        heads[3] = TreeHead(heads[3].size, heads[3].root, "2030-01-01T00:00:00Z",
                            heads[3].signature, heads[3].key_id)  # fmt: skip
        return _write_heads(heads)

    result = verify_bundle(
        rewrite(bundle, tmp_path / "b.zip", change={"log/tree_heads.jsonl": forge})
    )
    assert found(result) == [("head-signature", None, "log/tree_heads.jsonl")]
    assert "tree head 3 (size 4)" in result.problems[0].message


def test_a_head_re_signed_with_another_key_is_named(
    case: FakeCase, bundle: Path, tmp_path: Path
) -> None:
    other = Ed25519PrivateKey.generate()

    def resign(data: bytes) -> bytes:
        heads = _heads(data)
        heads[-1] = sign_tree_head(heads[-1].size, bytes.fromhex(heads[-1].root), other)
        return _write_heads(heads)

    result = verify_bundle(
        rewrite(bundle, tmp_path / "b.zip", change={"log/tree_heads.jsonl": resign})
    )
    assert found(result) == [("head-key-mismatch", None, "log/tree_heads.jsonl")]
    assert "tree head 5 (size 6)" in result.problems[0].message


def test_a_whole_bundle_re_signed_with_another_key_fails_only_against_the_expected_key(
    case: FakeCase, tmp_path: Path
) -> None:
    impostor = sample_case()  # the same evidence, another key
    forged = export_bundle(impostor, tmp_path / "forged.zip", pdf=False).path
    assert verify_bundle(forged).ok
    expected = public_key_id(case.public_key)
    result = verify_bundle(forged, expected_key_id=expected)
    assert found(result) == [("unexpected-key", None, None)]
    assert expected in result.problems[0].message
    import hashlib

    fingerprint = hashlib.sha256(impostor.public_key).hexdigest()
    assert verify_bundle(forged, expected_key_id=fingerprint.upper()).ok
    assert verify_bundle(forged, expected_key_id=public_key_id(impostor.public_key)).ok


def test_a_manifest_key_id_that_is_not_its_keys_is_named(bundle: Path, tmp_path: Path) -> None:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["key_id"] = "0" * 16

    result = verify_bundle(
        rewrite(bundle, tmp_path / "b.zip", change={"manifest.json": edit_json(edit)})
    )
    assert found(result) == [("key-id-mismatch", None, None)]


def test_a_broken_consistency_proof_names_the_two_heads(bundle: Path, tmp_path: Path) -> None:
    def edit(proofs: dict[str, Any]) -> None:
        proofs["consistency"][2]["proof"][0] = "00" * 32

    result = verify_bundle(
        rewrite(bundle, tmp_path / "b.zip", change={"log/proofs.json": edit_json(edit)})
    )
    assert found(result) == [("consistency-proof", None, "log/proofs.json")]
    assert (
        "tree head 2 (size 3) is not a prefix of tree head 3 (size 4)" in result.problems[0].message
    )


def test_a_forked_log_fails_consistency(case: FakeCase, tmp_path: Path) -> None:
    # Another history signed with the same key: record 1 differs, the last head is honest.
    fork = FakeCase(signer=case.signer)
    fork.append("case-created", None, {"title": fork.title}, "alex")
    fork.append("note-added", None, {}, "mallory")
    honest = export_bundle(case, tmp_path / "honest.zip", pdf=False).path

    def splice(data: bytes) -> bytes:
        heads = _heads(data)
        heads[1] = fork.tree_heads[1]
        return _write_heads(heads)

    result = verify_bundle(
        rewrite(honest, tmp_path / "b.zip", change={"log/tree_heads.jsonl": splice})
    )
    assert [p[0] for p in found(result)] == ["consistency-proof", "consistency-proof"]


def test_an_edited_inclusion_proof_is_named(bundle: Path, tmp_path: Path) -> None:
    def edit(proofs: dict[str, Any]) -> None:
        proofs["inclusion"]["4"][0] = "11" * 32

    result = verify_bundle(
        rewrite(bundle, tmp_path / "b.zip", change={"log/proofs.json": edit_json(edit)})
    )
    assert found(result) == [("inclusion-proof", "item-0004", "log/proofs.json")]


@pytest.mark.parametrize(
    ("entry", "change", "code"),
    [
        ("manifest.json", lambda _: b"{not json", "bad-manifest"),
        ("manifest.json", lambda _: b"[]", "bad-manifest"),
        ("manifest.json", lambda _: b'{"format": "leakshield-bundle/9"}', "bad-manifest"),
        ("log/proofs.json", lambda _: b"{}", "bad-proofs"),
        ("log/tree_heads.jsonl", lambda d: d + b'{"size": "x"}\n', "bad-tree-head"),
        ("log/records.jsonl", lambda d: d.replace(b'"seq":0', b'"seq":7', 1), "bad-record"),
    ],
)
def test_damaged_metadata_is_a_named_problem(
    bundle: Path, tmp_path: Path, entry: str, change: Any, code: str
) -> None:
    result = verify_bundle(rewrite(bundle, tmp_path / "b.zip", change={entry: change}))
    assert code in [p[0] for p in found(result)]


@pytest.mark.parametrize("entry", ["manifest.json", "log/records.jsonl", "log/tree_heads.jsonl"])
def test_a_missing_metadata_file_is_named(bundle: Path, tmp_path: Path, entry: str) -> None:
    result = verify_bundle(rewrite(bundle, tmp_path / "b.zip", drop={entry}))
    assert ("missing-entry", None, entry) in found(result)


def test_the_documents_are_for_reading_and_not_checked(bundle: Path, tmp_path: Path) -> None:
    changed = rewrite(bundle, tmp_path / "b.zip", change={"report.html": lambda _: b"<p>x</p>"})
    assert verify_bundle(changed).ok
