"""Court bundles: one zip holding a case's evidence files, its signed log and the proofs
that tie them together, which anyone can check without the case's passphrase."""

from __future__ import annotations

import itertools
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from leakshield import __version__
from leakshield.errors import ConfigError
from leakshield.evidence._bundle_format import (
    FORMAT,
    MANIFEST,
    PROOFS,
    RECORDS,
    REPORT_HTML,
    REPORT_PDF,
    TREE_HEADS,
    VERIFY_TXT,
    item_path,
    name_part_problem,
)
from leakshield.evidence._bundle_proofs import LogTree
from leakshield.evidence._bundle_report import render_report_html, verify_text
from leakshield.evidence._bundle_write import atomic_zip, put, put_file
from leakshield.evidence._merkle import TreeHead, leaf_hash, public_key_id, verify_tree_head
from leakshield.evidence._model import DamagedCaseError, canonical_json

__all__ = ["BundleSource", "BundleSummary", "export_bundle"]


class BundleSource(Protocol):
    """What a bundle is made from: an open case (the vault provides one)."""

    @property
    def case_id(self) -> str:
        """The case's id."""
        ...

    @property
    def title(self) -> str:
        """The case's title, as its owner gave it."""
        ...

    @property
    def created(self) -> str:
        """When the case was created (UTC, ISO 8601)."""
        ...

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 key that signs the case's tree heads."""
        ...

    @property
    def records(self) -> Sequence[Mapping[str, Any]]:
        """Every log record, in order."""
        ...

    @property
    def tree_heads(self) -> Sequence[TreeHead]:
        """Every signed tree head, in order; the last covers all the records."""
        ...

    def item_file(self, item_id: str, name: str) -> BinaryIO:
        """The decrypted content of one file of an item, as a stream."""
        ...


@dataclass(frozen=True)
class BundleSummary:
    """What an export wrote."""

    path: Path
    case_id: str
    key_id: str
    items: int
    files: int  # evidence files in the zip (0 with hashes_only)
    bytes: int  # their size together
    records: int
    tree_head: TreeHead
    hashes_only: bool
    pdf: bool  # whether report.pdf is in the bundle
    pdf_skipped: str | None  # why it is not, when it is not
    exported_at: str

    def to_record(self) -> dict[str, Any]:
        """This summary as a JSON object."""
        return {
            "path": str(self.path),
            "case": self.case_id,
            "key_id": self.key_id,
            "items": self.items,
            "files": self.files,
            "bytes": self.bytes,
            "records": self.records,
            "tree_head": self.tree_head.to_record(),
            "hashes_only": self.hashes_only,
            "pdf": self.pdf,
            "pdf_skipped": self.pdf_skipped,
            "exported_at": self.exported_at,
        }


def export_bundle(
    source: BundleSource, out: Path, *, hashes_only: bool = False, pdf: bool = True
) -> BundleSummary:
    """Write the court bundle of ``source`` to ``out``, whole or not at all.

    With ``hashes_only`` the evidence files are left out (their hashes stay in). Without
    the Pango library the PDF report is skipped, not the export; the summary says so.
    """
    records = list(source.records)
    lines = [canonical_json(record) for record in records]
    tree = LogTree([leaf_hash(line) for line in lines])
    heads = list(source.tree_heads)
    _check_log(source, tree, heads)
    moment = datetime.now(UTC).replace(microsecond=0)
    manifest = _manifest(source, records, hashes_only, moment.isoformat())
    html = render_report_html(manifest, records, heads[-1])
    if pdf:
        pdf_data, pdf_skipped = _pdf(render_report_html(manifest, records, heads[-1], for_pdf=True))
    else:
        pdf_data, pdf_skipped = None, "not asked for"
    stamp = moment.timetuple()[:6]
    with atomic_zip(out) as archive:
        put(archive, MANIFEST, _json_bytes(manifest), stamp)
        put(archive, VERIFY_TXT, verify_text(manifest, heads[-1]).encode("utf-8"), stamp)
        put(archive, RECORDS, b"".join(line + b"\n" for line in lines), stamp)
        heads_data = b"".join(canonical_json(h.to_record()) + b"\n" for h in heads)
        put(archive, TREE_HEADS, heads_data, stamp)
        put(archive, PROOFS, _json_bytes(_proofs(tree, heads), indent=None), stamp)
        put(archive, REPORT_HTML, html.encode("utf-8"), stamp)
        if pdf_data is not None:
            put(archive, REPORT_PDF, pdf_data, stamp, stored=True)
        files = copied = 0
        for item in [] if hashes_only else manifest["items"]:
            for entry in item["files"]:
                copied += _copy_file(archive, source, item["id"], entry, stamp)
                files += 1
    return BundleSummary(
        out, source.case_id, manifest["key_id"], len(manifest["items"]), files, copied,
        len(records), heads[-1], hashes_only, pdf_data is not None, pdf_skipped,
        manifest["exported_at"],
    )  # fmt: skip


def _check_log(source: BundleSource, tree: LogTree, heads: list[TreeHead]) -> None:
    # A bundle that would fail verification is no use to anyone: refuse to write it.
    if not heads or heads[-1].size != tree.size:
        raise DamagedCaseError(
            f"case {source.case_id}: its last signed tree head does not cover all "
            f"{tree.size} log records; open the case again so it signs one, then export."
        )
    previous = 0
    for number, head in enumerate(heads):
        if head.size < previous or head.size > tree.size:
            raise DamagedCaseError(f"case {source.case_id}: tree head {number} is out of order")
        if head.root != tree.root(head.size).hex():
            raise DamagedCaseError(
                f"case {source.case_id}: the log does not match its tree head {number} "
                f"(size {head.size}); the case is damaged or was tampered with."
            )
        if not verify_tree_head(head, source.public_key):
            raise DamagedCaseError(
                f"case {source.case_id}: the signature of tree head {number} does not verify"
            )
        previous = head.size


def _manifest(
    source: BundleSource, records: list[Mapping[str, Any]], hashes_only: bool, when: str
) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        item = record.get("item")
        if not item:
            continue
        _check_item(source.case_id, item, seen)
        items.append({**item, "leaf_index": index, "included": not hashes_only})
    return {
        "format": FORMAT,
        "case": {"id": source.case_id, "title": source.title, "created": source.created},
        "public_key": source.public_key.hex(),
        "key_id": public_key_id(source.public_key),
        "items": items,
        "exported_at": when,
        "tool_version": __version__,
    }


def _check_item(case_id: str, item: Mapping[str, Any], seen: set[str]) -> None:
    # The checks verification makes of an item, so that no bundle is made that fails them.
    item_id, files = item.get("id"), item.get("files")
    if (
        not isinstance(item_id, str)
        or not isinstance(files, list)
        or not all(
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("sha256"), str)
            and isinstance(f.get("size"), int)
            for f in files
        )
    ):
        raise DamagedCaseError(f"case {case_id}: the log holds an item that is not well formed")
    if item_id in seen:
        raise DamagedCaseError(f"case {case_id}: the log adds item {item_id!r} twice")
    seen.add(item_id)
    names = [entry["name"] for entry in files]
    for part in [item_id, *names]:
        why = name_part_problem(part)
        if why is not None:
            raise DamagedCaseError(
                f"case {case_id}: item {item_id!r} has a name that cannot go in a bundle "
                f"({part!r} {why})"
            )
    if len(set(names)) != len(names):
        raise DamagedCaseError(f"case {case_id}: item {item_id!r} names one file twice")


def _proofs(tree: LogTree, heads: list[TreeHead]) -> dict[str, Any]:
    inclusion = {str(i): [h.hex() for h in path] for i, path in enumerate(tree.inclusion_proofs())}
    consistency = [
        {"from": a.size, "to": b.size, "proof": [h.hex() for h in tree.consistency(a.size, b.size)]}
        for a, b in itertools.pairwise(heads)
    ]
    return {"inclusion": inclusion, "consistency": consistency}


def _pdf(html: str) -> tuple[bytes | None, str | None]:
    from leakshield._pdf import pdf_bytes

    try:
        return pdf_bytes(html), None
    except ConfigError as exc:
        return None, exc.message
    except ImportError as exc:  # WeasyPrint itself is missing
        return None, f"WeasyPrint is not installed ({exc}); report.html is in the bundle"


def _copy_file(
    archive: zipfile.ZipFile,
    source: BundleSource,
    item_id: str,
    entry: Mapping[str, Any],
    stamp: tuple[int, ...],
) -> int:
    name = str(entry["name"])
    digest, size = put_file(
        archive, item_path(item_id, name), lambda: source.item_file(item_id, name), entry, stamp
    )
    if size != entry["size"] or digest != entry["sha256"]:
        raise DamagedCaseError(
            f"item {item_id} file {name!r} no longer matches the hash its log record holds; "
            "the case is damaged. Nothing was exported."
        )
    return size


def _json_bytes(value: Any, indent: int | None = 1) -> bytes:
    # Indented for people who open the file; the proofs, for programs, are not (and
    # json encodes far faster without indent).
    return json.dumps(value, ensure_ascii=False, indent=indent).encode("utf-8") + b"\n"
