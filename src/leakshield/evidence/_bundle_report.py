"""A bundle for people: the HTML report (rendered to PDF by the forensics report's guarded
renderer) and VERIFY.txt, which says how to check the bundle with or without leakshield.

Every string in a case may come from a hostile source (a captured page's title and
headers, a file name), so the template escapes all of it and the report shows no
pictures: the evidence is often the intimate image itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2

from leakshield._files import human_size
from leakshield.evidence._bundle_format import item_path
from leakshield.evidence._merkle import TreeHead

__all__ = [
    "ACTION_WORDS",
    "MAX_ROWS",
    "PDF_ITEMS",
    "PDF_RECORDS",
    "render_report_html",
    "verify_text",
]

ACTION_WORDS = {
    "case-created": "Case opened",
    "file-added": "File added",
    "note-added": "Note added",
    "capture-added": "Web page captured",
    "capture-failed": "Web capture failed",
    "exported": "Bundle exported",
    "passphrase-changed": "Passphrase changed",
    "notice-profile-set": "Requester details set",
    "notice-drafted": "Removal request drafted",
    "notice-updated": "Removal request updated",
    "notice-rechecked": "Reported URL checked again",
}
# The report is read, not searched: past these the full data is in the bundle's JSON.
MAX_TEXT = 2_000
MAX_ROWS = 1_000
# WeasyPrint lays out about ten items or a hundred log rows a second: the PDF shows fewer
# and sends the reader to report.html for the rest.
PDF_ITEMS = 100
PDF_RECORDS = 300
MAX_HEADERS = 60

_TEMPLATES = jinja2.Environment(
    # The forensics loader second: the bundle report shares its stylesheet (report.css).
    loader=jinja2.ChoiceLoader(
        [
            jinja2.PackageLoader("leakshield.evidence", "templates"),
            jinja2.PackageLoader("leakshield.forensics", "templates"),
        ]
    ),
    autoescape=True,  # .html.j2 is not matched by select_autoescape, so say it outright
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ItemView:
    """One item as the report shows it."""

    id: str
    kind: str
    label: str
    facts: list[tuple[str, str]]
    files: list[tuple[str, str, str, str]]  # name, size, type, SHA-256
    folder: str  # where the files are in the bundle; "" when they are not in it
    capture: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    headers_more: int


def render_report_html(
    manifest: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    head: TreeHead,
    *,
    for_pdf: bool = False,
) -> str:
    """The bundle's report as one self-contained HTML page (no scripts, no links out).

    ``for_pdf`` shows fewer items and records, and says where the rest are.
    """
    max_items, max_records = (PDF_ITEMS, PDF_RECORDS) if for_pdf else (MAX_ROWS, MAX_ROWS)
    case = manifest["case"]
    items = list(manifest["items"])
    public_key = bytes.fromhex(manifest["public_key"])
    included = any(item.get("included") for item in items)
    return _TEMPLATES.get_template("bundle_report.html.j2").render(
        case_id=_clip(case["id"]),
        title=_clip(case["title"]),
        details=[
            ("Case", _clip(case["id"])),
            ("Opened", _utc(case["created"])),
            ("Items", f"{len(items):,}"),
            ("Log records", f"{len(records):,}"),
            ("Evidence files", "included" if included else "not included (hashes only)"),
            ("Exported", _utc(manifest["exported_at"])),
            ("Tool", f"leakshield {manifest['tool_version']}"),
        ],
        signing=[
            ("Key id", manifest["key_id"]),
            ("Key fingerprint (SHA-256)", hashlib.sha256(public_key).hexdigest()),
            ("Public key (Ed25519)", manifest["public_key"]),
            ("Log size", f"{head.size:,} records"),
            ("Root hash", head.root),
            ("Signed", _utc(head.time)),
        ],
        items=[_item(item) for item in items[:max_items]],
        items_more=max(0, len(items) - max_items),
        timeline=[_event(record) for record in records[:max_records]],
        timeline_more=max(0, len(records) - max_records),
        rest_in="report.html and manifest.json" if for_pdf else "manifest.json",
        records_in="report.html and log/records.jsonl" if for_pdf else "log/records.jsonl",
        custody=_custody(records),
    )


def verify_text(manifest: Mapping[str, Any], head: TreeHead) -> str:
    """VERIFY.txt: how to check this bundle, with leakshield and by hand."""
    fingerprint = hashlib.sha256(bytes.fromhex(manifest["public_key"])).hexdigest()
    return _VERIFY.format(
        case=manifest["case"]["id"], key_id=manifest["key_id"], fingerprint=fingerprint,
        size=head.size, root=head.root, time=head.time,
    )  # fmt: skip


def _item(item: Mapping[str, Any]) -> ItemView:
    kind = str(item.get("kind"))
    facts = [
        ("Added", _utc(item.get("added_at"))),
        ("Added by", _clip(item.get("added_by"))),
        ("SHA-256", _clip(item.get("sha256"))),
        ("Log record", str(item.get("leaf_index"))),
    ]
    optional = [("PDQ", "pdq"), ("vPDQ", "vpdq"), ("Original path", "original_path")]
    facts += [(label, _clip(item[key])) for label, key in optional if item.get(key)]
    if item.get("mtime"):
        facts.append(("File last modified", _utc(item["mtime"])))
    if item.get("text") is not None:
        facts.append(("Text", _clip(item["text"])))
    files = [
        (
            _clip(entry.get("name")),
            human_size(entry.get("size")),
            _clip(entry.get("media_type") or "unknown"),
            _clip(entry.get("sha256")),
        )
        for entry in item.get("files") or []
    ]
    capture = item.get("capture") or {}
    headers = list((capture.get("headers") or {}).items())
    return ItemView(
        id=_clip(item.get("id")),
        kind=kind,
        label=_label(item),
        facts=facts,
        files=files,
        folder=_clip(item_path(str(item.get("id")), "")) if item.get("included") else "",
        capture=_capture_facts(capture) if capture else [],
        headers=[(_clip(k, 200), _clip(v)) for k, v in headers[:MAX_HEADERS]],
        headers_more=max(0, len(headers) - MAX_HEADERS),
    )


def _capture_facts(capture: Mapping[str, Any]) -> list[tuple[str, str]]:
    versions = capture.get("tool_versions") or {}
    facts = [
        ("Address asked for", _clip(capture.get("url"))),
        ("Address reached", _clip(capture.get("final_url"))),
        ("Redirects", _clip(" → ".join(map(str, capture.get("redirects") or []))) or "none"),
        ("HTTP status", _clip(capture.get("status"))),
        ("Page title", _clip(capture.get("title"))),
        ("Captured", _utc(capture.get("captured_at"))),
        ("Tools", _clip(", ".join(f"{k} {v}" for k, v in versions.items())) or "—"),
        ("Pictures and video", "fetched" if capture.get("with_media") else "not fetched"),
    ]
    if capture.get("error"):
        facts.append(("Failed", _clip(capture["error"])))
    return facts


def _label(item: Mapping[str, Any]) -> str:
    kind = item.get("kind")
    if kind == "note":
        return _clip(item.get("text"), 60)
    if kind == "capture":
        return _clip((item.get("capture") or {}).get("url"), 200)
    files = item.get("files") or []
    return _clip(files[0].get("name") if files else item.get("id"), 200)


def _event(record: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    action = str(record.get("action"))
    item = record.get("item") or {}
    what = f"{item.get('id')}: {_label(item)}" if item else ""
    # The vault's storage ids of sealed files say nothing to a reader.
    details = {k: v for k, v in (record.get("details") or {}).items() if k != "objects"}
    shown = _notice_summary(action, details) or "; ".join(
        f"{k}: {_clip(v, 300)}" for k, v in details.items()
    )
    return (
        str(record.get("seq")),
        _utc(record.get("time")),
        _clip(record.get("actor"), 200),
        _clip(ACTION_WORDS.get(action, action), 200),
        _clip(" — ".join(part for part in (what, shown) if part)),
    )


def _notice_summary(action: str, details: Mapping[str, Any]) -> str | None:
    """A removal request's record in a line (the full record is in the bundle's log)."""
    if action == "notice-profile-set":
        return "the requester's contact details (in log/records.jsonl)"
    if action == "notice-drafted":
        n = details.get("notice") or {}
        ready = "ready" if n.get("ready") else "not ready"
        urls = len(n.get("locations") or [])
        return (
            f"{n.get('notice_id')} to {n.get('platform_name')} under {n.get('regime_name')} "
            f"({ready}; {urls} URL{'s' if urls != 1 else ''})"
        )
    if action == "notice-updated":
        change = details.get("change") or {}
        reference = f", reference {change.get('reference')}" if change.get("reference") else ""
        return f"{details.get('notice')}: {change.get('state')} at {change.get('at')}{reference}"
    if action == "notice-rechecked":
        seen = details.get("observation") or {}
        return f"{seen.get('url')}: {seen.get('outcome')} ({seen.get('reason')})"
    return None


def _custody(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Who held the case and did what: each actor with their first and last action."""
    people: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        people.setdefault(str(record.get("actor")), []).append(record)
    rows = []
    for actor, done in people.items():
        counts: dict[str, int] = {}
        for record in done:
            words = ACTION_WORDS.get(str(record.get("action")), str(record.get("action")))
            counts[words] = counts.get(words, 0) + 1
        summary = ", ".join(
            f"{words} ({n} times)" if n > 1 else words for words, n in counts.items()
        )
        rows.append(
            (_clip(actor, 200), _utc(done[0].get("time")), _utc(done[-1].get("time")),
             _clip(summary))
        )  # fmt: skip
    return rows[:MAX_ROWS]


def _clip(value: Any, limit: int = MAX_TEXT) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters in all)"


def _utc(stamp: Any) -> str:
    if not isinstance(stamp, str):
        return "—"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return _clip(stamp, 100)
    if moment.tzinfo is None:
        return f"{moment:%Y-%m-%d %H:%M:%S} (time zone not recorded)"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


_VERIFY = """\
How to check this evidence bundle
=================================

Case:            {case}
Signing key:     Ed25519, key id {key_id}
Key fingerprint: {fingerprint}
                 (the SHA-256 of the raw public key)
Last tree head:  {size} log records, signed {time}
Root hash:       {root}

Compare the key fingerprint with one you got another way (a notice sent earlier, a
printout, the victim's own device): anyone can sign a bundle with a key of their own,
but only the case's key makes these signatures.

With leakshield (offline, no passphrase needed):

    leakshield bundle verify THIS.zip

It names every file, item or log record that fails, and exits 0 only when all is well.

By hand:

1. Files. items/<item id>/<file name> holds each evidence file. Its SHA-256 (sha256sum)
   and size must equal those in manifest.json under that item's "files".
2. Items. Each item in manifest.json, without its "leaf_index" and "included" fields,
   must equal the "item" of line number leaf_index (counting from 0) of
   log/records.jsonl, and every item in the log must be in manifest.json.
3. Log. Each line of log/records.jsonl (its bytes, without the newline) is a leaf of
   an RFC 6962 Merkle tree: leaf hash = SHA-256(0x00 || line), inner node =
   SHA-256(0x01 || left || right). The tree hash of all the lines must equal the
   "root" of the last line of log/tree_heads.jsonl, and its "size" the number of lines.
4. Signatures. Each tree head's "signature" (hex) is an Ed25519 signature, by the
   manifest's "public_key" (hex), over the bytes "leakshield-tree-head-v1" and a newline
   followed by the JSON of its "key_id", "root", "size" and "time" with sorted keys and
   no spaces. Its "key_id" is the first 16 hex digits of the SHA-256 of the public key.
5. Proofs. log/proofs.json holds the RFC 6962 inclusion proof of every record in the
   last tree head and the consistency proof between each tree head and the next, which
   shows that no earlier record was changed or removed after it was signed.

report.html and report.pdf are for reading; they are not part of what is checked.
"""
