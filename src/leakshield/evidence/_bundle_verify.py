"""Verifying a court bundle with nothing but the bundle: no vault, no passphrase, no network.

The signed log is the authority. Each item in the manifest must be the item of its log
record, each file must hash to what that record says, and the records must hash to the
root of the last tree head, whose signature and whose consistency with every earlier head
are checked too. Every failure is named: which item, which file, which record, which head.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakshield.evidence._bundle_format import (
    DOCUMENTS,
    FORMAT,
    MANIFEST,
    METADATA,
    BundleLimits,
    Problem,
    Problems,
    item_path,
    name_part_problem,
    shown,
)
from leakshield.evidence._bundle_log import LogFacts, check_key, check_log
from leakshield.evidence._bundle_zip import ZIP_ERRORS, BundleZip, open_bundle
from leakshield.evidence._merkle import TreeHead, public_key_id
from leakshield.evidence._model import canonical_json

__all__ = ["BundleVerification", "verify_bundle"]

_EXPORT_FIELDS = ("leaf_index", "included")  # what a manifest item adds to its ItemRecord


@dataclass(frozen=True)
class BundleVerification:
    """The outcome of verifying a bundle: ok, or every problem found."""

    path: str
    ok: bool
    problems: tuple[Problem, ...]
    case_id: str | None
    key_id: str | None  # of the public key in the manifest, when it holds one
    items: int  # in the manifest
    files: int  # evidence files hashed
    bytes: int  # their size together
    records: int
    tree_heads: int
    last_head: TreeHead | None

    def to_record(self) -> dict[str, Any]:
        """This verification as a JSON object."""
        return {
            "path": self.path,
            "ok": self.ok,
            "problems": [problem.to_record() for problem in self.problems],
            "case": self.case_id,
            "key_id": self.key_id,
            "items": self.items,
            "files": self.files,
            "bytes": self.bytes,
            "records": self.records,
            "tree_heads": self.tree_heads,
            "last_head": self.last_head.to_record() if self.last_head else None,
        }


@dataclass(frozen=True)
class _Expected:
    item_id: str
    name: str
    sha256: str
    size: int


def verify_bundle(
    path: Path, *, expected_key_id: str | None = None, limits: BundleLimits | None = None
) -> BundleVerification:
    """Check the bundle at ``path``, streaming its entries (nothing is extracted).

    ``expected_key_id`` (a key id, or the key's SHA-256 fingerprint), when given, must be
    the key the bundle is signed with. Raises `InputError` only when ``path`` cannot be
    opened; whatever its content, the answer is a `BundleVerification`.
    """
    limits = limits or BundleLimits()
    problems = Problems()
    manifest: dict[str, Any] | None = None
    log = LogFacts([], [])
    items = files = size = 0
    with open_bundle(path, limits, problems) as bundle:
        if bundle is not None:
            manifest = _manifest(bundle, limits, problems)
            key = check_key(manifest, expected_key_id, problems) if manifest else None
            log = check_log(bundle, key, limits, problems)
            if manifest is not None:
                _check_case(manifest, log, problems)
                expected, added = _check_items(manifest["items"], log, problems)
                items = len(manifest["items"])
                files, size = _check_files(bundle, expected, added, problems)
    listed = problems.listed()
    case = manifest.get("case") if manifest else None
    public_key = manifest.get("public_key") if manifest else None
    return BundleVerification(
        path=str(path),
        ok=not listed,
        problems=listed,
        case_id=str(case.get("id")) if isinstance(case, dict) else None,
        key_id=_key_id(public_key),
        items=items,
        files=files,
        bytes=size,
        records=len(log.records),
        tree_heads=len(log.heads),
        last_head=log.last,
    )


def _manifest(bundle: BundleZip, limits: BundleLimits, problems: Problems) -> dict[str, Any] | None:
    data = bundle.read(MANIFEST, limits.max_metadata_bytes, problems)
    if data is None:
        return None
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        problems.add("bad-manifest", f"{MANIFEST} is not JSON ({exc})", path=MANIFEST)
        return None
    if not isinstance(manifest, dict):
        problems.add("bad-manifest", f"{MANIFEST} is not a JSON object", path=MANIFEST)
        return None
    if manifest.get("format") != FORMAT:
        problems.add(
            "bad-manifest",
            f"{MANIFEST} is not a {FORMAT} manifest (format "
            f"{str(manifest.get('format'))[:60]!r}); a newer leakshield may read it",
            path=MANIFEST,
        )
        return None
    if not isinstance(manifest.get("items"), list) or not isinstance(manifest.get("case"), dict):
        problems.add("bad-manifest", f"{MANIFEST} lacks its case or its items", path=MANIFEST)
        return None
    return manifest


def _check_case(manifest: Mapping[str, Any], log: LogFacts, problems: Problems) -> None:
    case_id = manifest["case"].get("id")
    for record in log.records:
        if record is not None and record.get("case") != case_id:
            problems.add(
                "case-mismatch",
                f"{MANIFEST} is for case {str(case_id)[:40]!r}, but "
                f"the log's records are for case {str(record.get('case'))[:40]!r}",
                path=MANIFEST,
            )
            return


def _check_items(
    manifest_items: list[Any], log: LogFacts, problems: Problems
) -> tuple[dict[str, _Expected], set[str]]:
    """Check every manifest item against its log record.

    Returns the files each included item must have, and the ids of items the log does
    not hold (already named, so their files are not reported as extra).
    """
    logged: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, record in enumerate(log.records):
        item = record.get("item") if record else None
        if item is None:
            continue
        if (
            not isinstance(item, dict)
            or _files_problem(item)
            or not isinstance(item.get("id"), str)
        ):
            problems.add("bad-record", f"record {index} holds an item that is not well formed")
        elif item["id"] in logged:
            problems.add(
                "duplicate-item",
                f"the log adds item {shown(item['id'])} twice "
                f"(records {logged[item['id']][0]} and {index})",
                item_id=item["id"],
            )
        else:
            logged[item["id"]] = (index, item)
    expected: dict[str, _Expected] = {}
    seen: set[str] = set()
    added: set[str] = set()
    for entry in manifest_items:
        item_id = _checked_item_id(entry, seen, problems)
        if item_id is None:
            continue
        if item_id not in logged:
            added.add(item_id)
            problems.add(
                "item-added",
                f"item {shown(item_id)} is in {MANIFEST} but no log record "
                "adds it: it was slipped into the bundle",
                item_id=item_id,
            )
            continue
        index, item = logged[item_id]
        _compare(entry, index, item, problems)
        if entry["included"]:
            for file in item["files"]:
                path = item_path(item_id, file["name"])
                expected[path] = _Expected(item_id, file["name"], file["sha256"], file["size"])
    for item_id, (index, _) in logged.items():
        if item_id not in seen:
            problems.add(
                "item-removed",
                f"item {shown(item_id)}, added by log record {index}, is missing from {MANIFEST}",
                item_id=item_id,
            )
    return expected, added


def _checked_item_id(entry: Any, seen: set[str], problems: Problems) -> str | None:
    item_id = entry.get("id") if isinstance(entry, dict) else None
    label = shown(item_id) if isinstance(item_id, str) else "without an id"
    index = entry.get("leaf_index") if isinstance(entry, dict) else None
    if (
        not isinstance(item_id, str)
        or name_part_problem(item_id)
        or not isinstance(index, int)
        or isinstance(index, bool)
        or not isinstance(entry.get("included"), bool)
        or _files_problem(entry)
    ):
        problems.add(
            "bad-manifest", f"item {label} in {MANIFEST} is not well formed", path=MANIFEST
        )
        return None
    if item_id in seen:
        problems.add("duplicate-item", f"{MANIFEST} lists item {label} twice", item_id=item_id)
        return None
    seen.add(item_id)
    return item_id


def _compare(entry: dict[str, Any], index: int, item: dict[str, Any], problems: Problems) -> None:
    item_id = entry["id"]
    if entry["leaf_index"] != index:
        problems.add(
            "item-edited",
            f"item {shown(item_id)} in {MANIFEST} points at log record "
            f"{entry['leaf_index']}, but record {index} adds it",
            item_id=item_id,
        )
        return
    body = {k: v for k, v in entry.items() if k not in _EXPORT_FIELDS}
    if canonical_json(body) == canonical_json(item):
        return
    fields = sorted(
        key
        for key in set(body) | set(item)
        if key not in body
        or key not in item
        or canonical_json({"v": body[key]}) != canonical_json({"v": item[key]})
    )
    problems.add(
        "item-edited",
        f"item {shown(item_id)} in {MANIFEST} differs from its signed log "
        f"record {index} in: {', '.join(shown(f, 40) for f in fields[:10])}",
        item_id=item_id,
    )


def _files_problem(item: Mapping[str, Any]) -> bool:
    files = item.get("files")
    if not isinstance(files, list):
        return True
    names = set()
    for file in files:
        if not (
            isinstance(file, dict)
            and isinstance(file.get("name"), str)
            and name_part_problem(file["name"]) is None
            and isinstance(file.get("sha256"), str)
            and isinstance(file.get("size"), int)
        ):
            return True
        names.add(file["name"])
    return len(names) != len(files)


def _check_files(
    bundle: BundleZip, expected: dict[str, _Expected], added: set[str], problems: Problems
) -> tuple[int, int]:
    """Hash every evidence file in the zip; how many were hashed, and their bytes.

    Each is checked against its log record; extra and missing files are named too.
    """
    files = total = 0
    for name, info in bundle.entries.items():
        if name in METADATA or name in DOCUMENTS:
            continue
        want = expected.pop(name, None)
        if want is None:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "items" and parts[1] in added:
                continue  # part of an item already named as added
            problems.add(
                "extra-file",
                f"the zip holds {shown(name)}, which no item of the "
                "signed log lists: a file was added to the bundle",
                path=name,
            )
            continue
        try:
            digest, size = bundle.digest(info)
        except ZIP_ERRORS as exc:
            problems.add(
                "file-altered",
                f"item {shown(want.item_id)} file {shown(name)} cannot be "
                f"read back: its bytes are damaged or were changed ({str(exc)[:200]})",
                item_id=want.item_id,
                path=name,
            )
            continue
        files, total = files + 1, total + size
        if digest != want.sha256 or size != want.size:
            problems.add(
                "file-altered",
                f"item {shown(want.item_id)} file {shown(name)} has "
                f"SHA-256 {digest} ({size:,} bytes), but its log record says "
                f"{want.sha256[:64]} ({want.size:,} bytes): the file was changed",
                item_id=want.item_id,
                path=name,
            )
    for name, want in expected.items():
        problems.add(
            "file-missing",
            f"item {shown(want.item_id)} file {shown(name)} is missing from the zip",
            item_id=want.item_id,
            path=name,
        )
    return files, total


def _key_id(public_key: Any) -> str | None:
    try:
        raw = bytes.fromhex(public_key) if isinstance(public_key, str) else b""
    except ValueError:
        return None
    return public_key_id(raw) if len(raw) == 32 else None
