"""An in-memory case for bundle tests (what the vault hands `export_bundle`), and tools to
rewrite, patch and inspect the zips it makes."""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PIL import Image

from leakshield.evidence._merkle import TreeHead, leaf_hash, root_hash, sign_tree_head
from leakshield.evidence._model import canonical_json

START = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
CAPTURE_FILES = ("screenshot.png", "page.html", "page.mhtml", "headers.json")


def png(seed: int, size: tuple[int, int] = (48, 32)) -> bytes:
    """A small PNG of noise (so it does not compress), different for each seed."""
    noise = random.Random(seed).randbytes(size[0] * size[1] * 3)  # noqa: S311  (not secret)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, noise).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class FakeCase:
    """A case held in memory: log records, a tree head signed after each, and file bytes."""

    case_id: str = "c0ffee1234"
    title: str = "Photos posted on a forum"
    signer: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    records: list[dict[str, Any]] = field(default_factory=list)
    tree_heads: list[TreeHead] = field(default_factory=list)
    content: dict[tuple[str, str], bytes] = field(default_factory=dict)

    @property
    def created(self) -> str:
        return _at(0)

    @property
    def public_key(self) -> bytes:
        return self.signer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def item_file(self, item_id: str, name: str) -> BinaryIO:
        return io.BytesIO(self.content[(item_id, name)])

    def append(
        self, action: str, item: dict[str, Any] | None, details: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        seq = len(self.records)
        record = {
            "seq": seq, "action": action, "time": _at(seq), "actor": actor,
            "case": self.case_id, "item": item, "details": details,
        }  # fmt: skip
        self.records.append(record)
        leaves = [leaf_hash(canonical_json(r)) for r in self.records]
        when = START + timedelta(minutes=seq, seconds=1)
        self.tree_heads.append(sign_tree_head(len(leaves), root_hash(leaves), self.signer, when))
        return record

    def add_files(
        self,
        kind: str,
        files: Mapping[str, tuple[bytes, str | None]],
        actor: str = "alex",
        **fields: Any,
    ) -> str:
        item_id = f"item-{sum(1 for r in self.records if r['item']) + 1:04d}"
        entries = []
        for name, (data, media_type) in files.items():
            self.content[(item_id, name)] = data
            entries.append(
                {"name": name, "sha256": _sha(data), "size": len(data), "media_type": media_type}
            )
        main = entries[0]["sha256"] if entries else _sha(fields.get("text", "").encode())
        item = {
            "id": item_id, "kind": kind, "added_at": _at(len(self.records)), "added_by": actor,
            "files": entries, "sha256": main, "pdq": None, "vpdq": None, "original_path": None,
            "mtime": None, "text": None, "capture": None,
        }  # fmt: skip
        item.update(fields)
        action = {"file": "file-added", "note": "note-added", "capture": "capture-added"}[kind]
        if kind == "capture" and fields["capture"].get("error"):
            action = "capture-failed"
        objects = {name: f"obj-{item_id}-{n}" for n, name in enumerate(files)}
        self.append(action, item, {"objects": objects}, actor)
        return item_id


def sample_case(*, title: str = "Photos posted on a forum") -> FakeCase:
    """A case with two photos, a note, a capture with four files, and a failed capture."""
    case = FakeCase(title=title)
    case.append("case-created", None, {"title": title}, "alex")
    case.add_files(
        "file", {"IMG_0412.png": (png(1), "image/png")},
        pdq="f" * 64, original_path="/home/alex/Pictures/IMG_0412.png", mtime=_at(0),
    )  # fmt: skip
    case.add_files("file", {"IMG_0413.png": (png(2), "image/png")}, actor="sam")
    case.add_files("note", {}, text="Posted by user 'throwaway99'; reported to the forum.")
    html = b"<html><head><title>Forum thread</title></head><body>posts</body></html>"
    headers = {"content-type": "text/html", "server": "nginx"}
    case.add_files(
        "capture",
        {
            "screenshot.png": (png(3, (64, 96)), "image/png"),
            "page.html": (html, "text/html"),
            "page.mhtml": (b"MIME-Version: 1.0\r\n\r\n" + html * 20, "multipart/related"),
            "headers.json": (json.dumps(headers).encode(), "application/json"),
        },
        capture=capture_details("https://forum.example/thread/1", headers),
    )
    case.add_files(
        "capture", {}, capture=capture_details("https://gone.example/", {}, error="DNS failure")
    )
    return case


def capture_details(url: str, headers: dict[str, str], error: str | None = None) -> dict[str, Any]:
    return {
        "url": url, "final_url": url, "redirects": [], "status": None if error else 200,
        "headers": headers, "title": "Forum thread", "captured_at": _at(4),
        "tool_versions": {"leakshield": "0.1.0", "playwright": "1.50", "chromium": "133"},
        "with_media": False, "error": error,
    }  # fmt: skip


def entries(path: Path) -> dict[str, bytes]:
    """Every entry of a zip, by name."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rewrite(
    source: Path,
    target: Path,
    *,
    change: Mapping[str, Callable[[bytes], bytes]] | None = None,
    drop: set[str] | frozenset[str] = frozenset(),
    add: Mapping[str, bytes] | None = None,
) -> Path:
    """A copy of the zip ``source`` with some entries changed, dropped or added."""
    change = change or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in drop:
                continue
            data = old.read(info)
            if info.filename in change:
                data = change[info.filename](data)
            new.writestr(info, data)
        for name, data in (add or {}).items():
            new.writestr(zipfile.ZipInfo(name), data)
    return target


def edit_json(edit: Callable[[Any], None]) -> Callable[[bytes], bytes]:
    """A `rewrite` change that loads an entry's JSON, edits it in place and writes it back."""

    def change(data: bytes) -> bytes:
        value = json.loads(data)
        edit(value)
        return json.dumps(value, ensure_ascii=False, indent=1).encode()

    return change


def edit_line(number: int, edit: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    """A `rewrite` change to one line of a JSON-lines entry, written back canonically."""

    def change(data: bytes) -> bytes:
        lines = data.split(b"\n")
        value = json.loads(lines[number])
        edit(value)
        lines[number] = canonical_json(value)
        return b"\n".join(lines)

    return change


def patch_central(data: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    """``data`` (a zip) with one field of ``name``'s central directory record set."""
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + length] == name.encode():
            patched = bytearray(data)
            struct.pack_into(fmt, patched, at + offset, value)
            return bytes(patched)
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{name} is not in the zip")


def _at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
