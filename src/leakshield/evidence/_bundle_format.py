"""What a court bundle is made of: its entry names, the rules its paths follow, its limits,
and the problems verification names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHUNK",
    "DOCUMENTS",
    "FORMAT",
    "ITEM_KEYS",
    "MANIFEST",
    "METADATA",
    "PROOFS",
    "RECORDS",
    "REPORT_HTML",
    "REPORT_PDF",
    "TREE_HEADS",
    "VERIFY_TXT",
    "BundleLimits",
    "Problem",
    "Problems",
    "is_compressed",
    "item_path",
    "name_part_problem",
    "shown",
    "zip_name_problem",
]

FORMAT = "leakshield-bundle/1"
MANIFEST = "manifest.json"
RECORDS = "log/records.jsonl"
TREE_HEADS = "log/tree_heads.jsonl"
PROOFS = "log/proofs.json"
REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
VERIFY_TXT = "VERIFY.txt"
METADATA = (MANIFEST, RECORDS, TREE_HEADS, PROOFS)
# For people to read; the evidence is the signed log and the files, which verification checks.
DOCUMENTS = frozenset({REPORT_HTML, REPORT_PDF, VERIFY_TXT})
ITEM_KEYS = frozenset(
    {"id", "kind", "added_at", "added_by", "files", "sha256", "pdq", "vpdq",
     "original_path", "mtime", "text", "capture"}
)  # fmt: skip
CHUNK = 1 << 20  # hashing and copying in 1 MiB reads keeps hashlib at full speed

_MiB, _GiB = 1 << 20, 1 << 30
_DRIVE = re.compile(r"^[A-Za-z]:")
# Media formats that are compressed already: deflating them again costs time for nothing.
_COMPRESSED_TYPES = {"application/pdf", "application/zip", "application/gzip"}
_COMPRESSIBLE_MEDIA = {"image/bmp", "image/x-ms-bmp", "image/svg+xml", "image/tiff"}
_COMPRESSED_SUFFIXES = {
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".avif", ".mp4", ".mov",
    ".m4v", ".webm", ".mkv", ".mp3", ".m4a", ".ogg", ".zip", ".gz", ".pdf", ".wacz",
}  # fmt: skip


@dataclass(frozen=True)
class BundleLimits:
    """How much a bundle may hold before verification refuses to read it (a zip bomb)."""

    max_entries: int = 100_000
    max_total_bytes: int = 64 * _GiB  # uncompressed, all entries together
    max_ratio: float = 100.0  # uncompressed / compressed, for entries above ratio_floor
    ratio_floor: int = 1 * _MiB  # small entries may compress well without harm
    max_metadata_bytes: int = 512 * _MiB  # manifest and log files, which are parsed in memory
    max_directory_bytes: int = 64 * _MiB  # the zip's central directory


@dataclass(frozen=True)
class Problem:
    """One thing that fails in a bundle, naming the item and the file where there is one."""

    code: str
    item_id: str | None
    path: str | None
    message: str

    def to_record(self) -> dict[str, Any]:
        """This problem as a JSON object."""
        return {"code": self.code, "item": self.item_id, "path": self.path, "message": self.message}


class Problems:
    """The problems found so far, at most ``limit`` of each kind listed.

    Past the limit they are only counted: one record inserted into the log makes every
    later record fail, and a reader needs the first few, not thousands.
    """

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self._found: list[Problem] = []
        self._counts: dict[str, int] = {}

    def add(
        self, code: str, message: str, *, item_id: str | None = None, path: str | None = None
    ) -> None:
        """Note one problem."""
        count = self._counts[code] = self._counts.get(code, 0) + 1
        if count <= self.limit:
            self._found.append(Problem(code, item_id, path, message))

    def __bool__(self) -> bool:
        return bool(self._found)

    def listed(self) -> tuple[Problem, ...]:
        """Every problem noted, with one more for each kind that had too many to list."""
        more = [
            Problem(code, None, None, f"… and {count - self.limit:,} more problems of this kind")
            for code, count in self._counts.items()
            if count > self.limit
        ]
        return (*self._found, *more)


def item_path(item_id: str, name: str) -> str:
    """Where a file of an item lies in the zip."""
    return f"items/{item_id}/{name}"


def name_part_problem(part: str) -> str | None:
    """Why ``part`` (an item id or a file name) cannot be one segment of a zip path, or None."""
    if not part or part in {".", ".."}:
        return "is empty, '.' or '..'"
    if "/" in part or "\\" in part:
        return "contains a slash or a backslash"
    if ":" in part:
        return "contains ':' (a drive letter or an alternate data stream on Windows)"
    if any(ord(c) < 32 or ord(c) == 127 for c in part):
        return "contains control characters"
    if len(part.encode("utf-8", "surrogatepass")) > 255:
        return "is longer than 255 bytes"
    return None


def zip_name_problem(name: str) -> str | None:
    """Why ``name`` is an unsafe zip entry name, or None when it is safe.

    Unsafe: it could write outside a folder when extracted, or pass for another name.
    """
    if not name:
        return "has no name"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains control characters"
    if "\\" in name:
        return "contains a backslash (a Windows path separator)"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        return "has an empty, '.' or '..' path segment"
    return None


def shown(name: str, limit: int = 200) -> str:
    """``name`` as it can be printed safely: quoted, with anything unprintable escaped."""
    text = ascii(name) if not name.isprintable() else repr(name)
    return text if len(text) <= limit else text[:limit] + "…"


def is_compressed(name: str, media_type: str | None) -> bool:
    """Whether a file is compressed already, so it is stored in the zip as it is."""
    kind = (media_type or "").lower()
    if kind in _COMPRESSIBLE_MEDIA:
        return False
    if kind.startswith(("image/", "video/", "audio/")) or kind in _COMPRESSED_TYPES:
        return True
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return suffix in _COMPRESSED_SUFFIXES
