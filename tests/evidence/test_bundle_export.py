"""Exporting a court bundle: what the zip holds and how, proofs that check against the
Merkle module, a whole file or none, and refusals of a case that would not verify."""

from __future__ import annotations

import itertools
import json
import stat
import sys
import types
import zipfile
from pathlib import Path

import pytest

from leakshield.evidence._bundle import export_bundle
from leakshield.evidence._bundle_proofs import LogTree
from leakshield.evidence._bundle_verify import verify_bundle
from leakshield.evidence._merkle import (
    TreeHead,
    consistency_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from leakshield.evidence._model import DamagedCaseError, canonical_json
from tests.evidence._bundle_fakes import FakeCase, entries, png, sample_case

METADATA = {
    "manifest.json", "VERIFY.txt", "log/records.jsonl", "log/tree_heads.jsonl",
    "log/proofs.json", "report.html",
}  # fmt: skip
ITEM_FILES = {
    "items/item-0001/IMG_0412.png", "items/item-0002/IMG_0413.png",
    "items/item-0004/screenshot.png", "items/item-0004/page.html",
    "items/item-0004/page.mhtml", "items/item-0004/headers.json",
}  # fmt: skip


@pytest.fixture(scope="module")
def case() -> FakeCase:
    return sample_case()


def test_the_bundle_holds_the_log_the_proofs_the_report_and_every_file(
    case: FakeCase, tmp_path: Path
) -> None:
    out = tmp_path / "case.zip"
    summary = export_bundle(case, out, pdf=False)
    found = entries(out)
    assert set(found) == METADATA | ITEM_FILES
    assert found["items/item-0001/IMG_0412.png"] == case.content[("item-0001", "IMG_0412.png")]
    assert found["log/records.jsonl"] == b"".join(canonical_json(r) + b"\n" for r in case.records)
    heads = [
        TreeHead.from_record(json.loads(line)) for line in found["log/tree_heads.jsonl"].split()
    ]
    assert heads == case.tree_heads
    manifest = json.loads(found["manifest.json"])
    assert manifest["format"] == "leakshield-bundle/1"
    assert manifest["case"] == {"id": case.case_id, "title": case.title, "created": case.created}
    assert manifest["public_key"] == case.public_key.hex()
    assert manifest["key_id"] == case.tree_heads[-1].key_id == summary.key_id
    assert [i["id"] for i in manifest["items"]] == [f"item-000{n}" for n in range(1, 6)]
    for item in manifest["items"]:
        index, included = item.pop("leaf_index"), item.pop("included")
        assert included is True
        assert item == case.records[index]["item"]
    assert (summary.items, summary.files, summary.records) == (5, 6, 6)
    assert summary.bytes == sum(len(data) for data in case.content.values())
    assert summary.tree_head == case.tree_heads[-1]
    assert (summary.pdf, summary.pdf_skipped) == (False, "not asked for")


def test_media_is_stored_as_it_is_and_text_is_deflated(case: FakeCase, tmp_path: Path) -> None:
    out = export_bundle(case, tmp_path / "case.zip").path
    with zipfile.ZipFile(out) as archive:
        methods = {info.filename: info.compress_type for info in archive.infolist()}
    stored = {name for name in ITEM_FILES if name.endswith(".png")} | {"report.pdf"}
    for name, method in methods.items():
        assert method == (zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED), name


def test_every_proof_checks_with_the_merkle_module(case: FakeCase, tmp_path: Path) -> None:
    out = export_bundle(case, tmp_path / "case.zip", pdf=False).path
    proofs = json.loads(entries(out)["log/proofs.json"])
    leaves = [leaf_hash(canonical_json(r)) for r in case.records]
    last = case.tree_heads[-1]
    assert set(proofs["inclusion"]) == {str(i) for i in range(len(leaves))}
    for index, leaf in enumerate(leaves):
        path = [bytes.fromhex(h) for h in proofs["inclusion"][str(index)]]
        assert verify_inclusion(leaf, index, last.size, path, bytes.fromhex(last.root))
    steps = proofs["consistency"]
    assert [(s["from"], s["to"]) for s in steps] == [(n, n + 1) for n in range(1, len(leaves))]
    for step, (old, new) in zip(steps, itertools.pairwise(case.tree_heads), strict=True):
        path = [bytes.fromhex(h) for h in step["proof"]]
        roots = bytes.fromhex(old.root), bytes.fromhex(new.root)
        assert verify_consistency(old.size, new.size, *roots, path)


def test_one_tree_gives_the_proofs_the_merkle_module_gives_for_every_size() -> None:
    leaves = [leaf_hash(b"record %d" % n) for n in range(37)]
    tree = LogTree(leaves)
    for new in range(1, len(leaves) + 1):
        assert tree.root(new) == root_hash(leaves[:new])
        for old in range(1, new):
            assert tree.consistency(old, new) == consistency_proof(leaves[:new], old), (old, new)
    assert tree.root(0) == root_hash([])


def test_hashes_only_leaves_the_files_out_and_still_verifies(
    case: FakeCase, tmp_path: Path
) -> None:
    summary = export_bundle(case, tmp_path / "hashes.zip", hashes_only=True, pdf=False)
    found = entries(summary.path)
    assert set(found) == METADATA
    assert all(item["included"] is False for item in json.loads(found["manifest.json"])["items"])
    assert (summary.files, summary.bytes, summary.hashes_only) == (0, 0, True)
    result = verify_bundle(summary.path)
    assert result.ok, result.problems
    assert (result.items, result.files) == (5, 0)


def test_the_bundle_is_written_whole_readable_by_its_owner_only(
    case: FakeCase, tmp_path: Path
) -> None:
    out = tmp_path / "case.zip"
    out.write_bytes(b"an older export")
    export_bundle(case, out, pdf=False)
    assert zipfile.is_zipfile(out)
    assert [p.name for p in tmp_path.iterdir()] == ["case.zip"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_file_that_no_longer_matches_its_hash_stops_the_export_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    case = sample_case()
    case.content[("item-0002", "IMG_0413.png")] = png(99)
    out = tmp_path / "case.zip"
    out.write_bytes(b"an older export")
    with pytest.raises(DamagedCaseError, match=r"item-0002 file 'IMG_0413.png'"):
        export_bundle(case, out, pdf=False)
    assert out.read_bytes() == b"an older export"
    assert [p.name for p in tmp_path.iterdir()] == ["case.zip"]


def test_a_log_that_does_not_match_its_heads_is_not_exported(tmp_path: Path) -> None:
    case = sample_case()
    case.records[2]["actor"] = "someone else"
    with pytest.raises(DamagedCaseError, match="does not match its tree head 2"):
        export_bundle(case, tmp_path / "case.zip", pdf=False)
    unsigned = sample_case()
    unsigned.tree_heads.pop()
    with pytest.raises(DamagedCaseError, match="does not cover all 6 log records"):
        export_bundle(unsigned, tmp_path / "case.zip", pdf=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../escape.png", "a/b.png", "C:x.png", "..", "bad\x1bname"])
def test_a_file_name_that_cannot_be_a_zip_path_is_refused(name: str, tmp_path: Path) -> None:
    case = FakeCase()
    case.append("case-created", None, {}, "alex")
    case.add_files("file", {name: (png(1), "image/png")})
    with pytest.raises(DamagedCaseError, match="cannot go in a bundle"):
        export_bundle(case, tmp_path / "case.zip", pdf=False)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_a_clear_error(case: FakeCase, tmp_path: Path) -> None:
    from leakshield.errors import InputError

    with pytest.raises(InputError, match="Check the folder exists"):
        export_bundle(case, tmp_path / "nowhere" / "case.zip", pdf=False)


def test_without_pango_the_pdf_is_skipped_and_the_summary_says_why(
    case: FakeCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(name: str) -> object:
        raise OSError("cannot load library 'libpango-1.0-0'")

    broken = types.ModuleType("weasyprint")
    broken.__getattr__ = missing  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "weasyprint", broken)
    summary = export_bundle(case, tmp_path / "case.zip")
    assert summary.pdf is False
    assert summary.pdf_skipped is not None and "Pango" in summary.pdf_skipped
    assert set(entries(summary.path)) == METADATA | ITEM_FILES
    assert summary.to_record()["pdf_skipped"] == summary.pdf_skipped


def test_with_pango_the_pdf_report_is_in_the_bundle(case: FakeCase, tmp_path: Path) -> None:
    summary = export_bundle(case, tmp_path / "case.zip")
    assert (summary.pdf, summary.pdf_skipped) == (True, None)
    assert entries(summary.path)["report.pdf"].startswith(b"%PDF")
    assert verify_bundle(summary.path).ok


def test_a_file_that_deflates_too_well_is_stored_so_the_bundle_is_no_zip_bomb(
    tmp_path: Path,
) -> None:
    case = FakeCase()
    case.append("case-created", None, {}, "alex")
    text = b"".join(b"<p>post %d by someone</p>\n" % n for n in range(100_000))
    case.add_files("file", {"disk.img": (b"\x00" * (3 << 20), None)})
    case.add_files("file", {"thread.html": (text, "text/html")})
    out = export_bundle(case, tmp_path / "case.zip", pdf=False).path
    with zipfile.ZipFile(out) as archive:
        assert archive.getinfo("items/item-0001/disk.img").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("items/item-0002/thread.html").compress_type == zipfile.ZIP_DEFLATED
    assert verify_bundle(out).ok


def test_an_item_without_sizes_or_hashes_is_refused(tmp_path: Path) -> None:
    case = FakeCase()
    case.append("case-created", None, {}, "alex")
    item = {"id": "item-0001", "kind": "file", "files": [{"name": "a.png", "sha256": "00" * 32}]}
    case.append("file-added", item, {}, "alex")
    with pytest.raises(DamagedCaseError, match="not well formed"):
        export_bundle(case, tmp_path / "case.zip", pdf=False)
