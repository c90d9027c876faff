"""Hash lists in and out of a bank: csv, jsonl, ThreatExchange lines and StopNCII records.

Reading streams line by line with a size bound, so a huge or hostile file costs at
most one line of memory (a StopNCII JSON document, which is one value, is the
exception and has its own bound). A bad line either stops the import with an
`ImportFormatError` naming the line, or, with ``skip_invalid``, comes out as a
`SkippedLine` so the caller can report it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, BinaryIO, Final, Literal, TextIO

from leakshield.errors import InputError, UsageError
from leakshield.signals import Signal, SignalError, signal_type

SUPPORTED_FORMATS: Final = ("csv", "jsonl", "threatexchange", "stopncii")
ImportFormat = Literal["auto", "csv", "jsonl", "threatexchange", "stopncii"]
_Format = Literal["csv", "jsonl", "threatexchange", "stopncii"]
_FORMAT_NAMES = ", ".join(SUPPORTED_FORMATS)

_MAX_LINE_BYTES = 1 << 20
_MAX_METADATA_BYTES = 64 << 10
_MAX_DOCUMENT_BYTES = 256 << 20
_HEAD_BYTES = 64 << 10
_BOM = b"\xef\xbb\xbf"
_FIX_LINE = "fix the line or use --skip-invalid"
_FIX_FILE = "fix the file"
_CSV_COLUMNS = ("signal_type", "signal", "metadata")
_SUFFIXES: dict[str, _Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_TE_LINE = re.compile(r"([^\s,]+)\s*[,\s]\s*(\S.*)")
# python-threatexchange signal type names (SignalType.get_name()) and the legacy
# ThreatExchange indicator types, to ours.
_TE_TYPES = {
    **dict.fromkeys(("pdq", "hash_pdq"), "pdq"),
    "vpdq": "vpdq",
    **dict.fromkeys(("md5", "video_md5", "photo_md5", "hash_md5", "hash_video_md5"), "md5"),
    **dict.fromkeys(("sha256", "video_sha256", "hash_sha256", "hash_video_sha256"), "sha256"),
}
# Real ThreatExchange types that match text or URLs, which a media bank cannot use.
_TE_UNSUPPORTED = {"url", "url_md5", "raw_text", "trend_query", "text_tlsh", "pdq_ocr"}
_STOPNCII_TYPES = {"imagepdq": "pdq", "videomd5": "md5"}
_STOPNCII_UNSUPPORTED = {"videotmk", "text", "url"}
# hashStatus -> withdrawn. An unknown status is a bad line rather than "active":
# guessing could keep a hash its owner has withdrawn.
_STOPNCII_STATUSES = {"received": False, "active": False, "withdrawn": True, "deleted": True}

# The csv module refuses fields over 128 Ki characters by default, which a long
# video's vPDQ hash exceeds; the line bound already caps what a field can cost.
csv.field_size_limit(max(csv.field_size_limit(), _MAX_LINE_BYTES))


@dataclass(frozen=True)
class HashRecord:
    """One hash-list entry."""

    line: int
    signal: Signal
    metadata: dict[str, Any]
    withdrawn: bool = False


@dataclass(frozen=True)
class SkippedLine:
    """A line that was left out, and why."""

    line: int
    reason: str


class ImportFormatError(InputError):
    """A hash list could not be read: a bad line, or a file in no supported format."""

    slug = "bad-hash-list"
    title = "Bad hash list"

    def __init__(self, line: int, reason: str, *, hint: str = _FIX_LINE) -> None:
        super().__init__(f"line {line}: {reason}; {hint}", line=line)
        self.line = line
        self.reason = reason


_Outcome = HashRecord | SkippedLine


class _BadLine(Exception):
    """A line that cannot be imported; becomes a SkippedLine or an ImportFormatError."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def detect_format(head: bytes, name: str = "") -> _Format:
    """Guess a hash list's format from its first bytes, then from its file name."""
    text = head.removeprefix(_BOM).decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found = _sniff(lines, text) if lines else None
    found = found or _SUFFIXES.get(PurePath(name).suffix.lower())
    if found is None:
        reason = f"cannot tell the format of the hash list; supported formats: {_FORMAT_NAMES}"
        raise ImportFormatError(1, reason, hint="pass --format")
    return found


def _sniff(lines: list[str], text: str) -> _Format | None:
    first = lines[0]
    if first.startswith("{"):
        if '"signalType"' in first:
            return "stopncii"
        if '"signal_type"' not in first and '"hashRecords"' in text:
            return "stopncii"
        return "jsonl"
    if "signal_type" in (cell.strip().strip('"').lower() for cell in first.split(",")):
        return "csv"
    first_entry = next((line for line in lines if not line.startswith("#")), "")
    match = _TE_LINE.fullmatch(first_entry)
    if match and match[1].lower() in _TE_TYPES.keys() | _TE_UNSUPPORTED:
        return "threatexchange"
    return None


def read_records(
    source: BinaryIO, fmt: ImportFormat = "auto", *, name: str = "", skip_invalid: bool = False
) -> Iterator[HashRecord | SkippedLine]:
    """Read a hash list one entry at a time; ``fmt="auto"`` detects the format."""
    if fmt != "auto" and fmt not in SUPPORTED_FORMATS:
        raise UsageError(f"unknown format {fmt!r}; use auto or one of {_FORMAT_NAMES}")
    head = source.read(_HEAD_BYTES)
    if len(head) < _HEAD_BYTES and not head.removeprefix(_BOM).strip():
        return  # an empty list imports nothing, whatever its format
    chosen = detect_format(head, name) if fmt == "auto" else fmt
    stream = _Prefixed(head, source)
    for outcome in _outcomes(stream, chosen, head):
        if isinstance(outcome, _BadLine):
            if not skip_invalid:
                raise ImportFormatError(outcome.line, outcome.reason)
            outcome = SkippedLine(outcome.line, outcome.reason)
        yield outcome


def _outcomes(stream: _Prefixed, fmt: _Format, head: bytes) -> Iterator[_Outcome | _BadLine]:
    if fmt == "csv":
        return _csv_records(_Lines(stream))
    if fmt == "stopncii" and b'"hashRecords"' in head:
        return _stopncii_document(stream)
    parsers = {"jsonl": _jsonl_line, "threatexchange": _te_line, "stopncii": _stopncii_line}
    return _line_records(_Lines(stream), parsers[fmt])


def write_records(
    records: Iterable[tuple[Signal, dict[str, Any]]], out: TextIO, fmt: Literal["csv", "jsonl"]
) -> int:
    """Write signals and their metadata as a csv or jsonl hash list; return how many."""
    if fmt not in ("csv", "jsonl"):
        raise UsageError(f"cannot export as {fmt!r}; use csv or jsonl")
    writer = csv.writer(out, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(_CSV_COLUMNS)
    count = 0
    for signal, metadata in records:
        if fmt == "csv":
            writer.writerow((signal.type_name, str(signal), _compact(metadata)))
        else:
            fields = (_compact(signal.type_name), _compact(str(signal)), _compact(metadata))
            out.write('{{"signal_type":{},"signal":{},"metadata":{}}}\n'.format(*fields))
        count += 1
    return count


class _Prefixed:
    """A byte stream with the bytes already read for detection put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = io.BytesIO(head)
        self._rest = rest

    def readline(self, limit: int) -> bytes:
        line = self._head.readline(limit)
        if line.endswith(b"\n") or len(line) == limit:
            return line
        return line + self._rest.readline(limit - len(line))

    def read(self, size: int) -> bytes:
        data = self._head.read(size)
        return data + self._rest.read(size - len(data)) if len(data) < size else data


class _Lines:
    """The decoded physical lines of a stream; a bad one raises `_BadLine` and is passed."""

    def __init__(self, stream: _Prefixed) -> None:
        self._stream = stream
        self.number = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self._stream.readline(_MAX_LINE_BYTES + 2)  # room for "\r\n"
        if not raw:
            raise StopIteration
        self.number += 1
        if self.number == 1:
            raw = raw.removeprefix(_BOM)
        if len(raw.rstrip(b"\r\n")) > _MAX_LINE_BYTES:
            if not raw.endswith(b"\n"):
                self._skip_rest_of_line()
            raise _BadLine(self.number, f"the line is longer than {_MAX_LINE_BYTES >> 20} MiB")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            reason = f"the line is not UTF-8 text (bad byte at column {error.start + 1})"
            raise _BadLine(self.number, reason) from None

    def _skip_rest_of_line(self) -> None:
        while True:
            chunk = self._stream.readline(_HEAD_BYTES)
            if not chunk or chunk.endswith(b"\n"):
                return


def _line_records(
    lines: _Lines, parse: Callable[[str, int], _Outcome | None]
) -> Iterator[_Outcome | _BadLine]:
    while True:
        try:
            outcome: _Outcome | _BadLine | None = parse(next(lines), lines.number)
        except StopIteration:
            return
        except _BadLine as bad:
            outcome = bad
        if outcome is not None:
            yield outcome


def _csv_records(lines: _Lines) -> Iterator[_Outcome | _BadLine]:
    # One reader over all lines, so a quoted cell may span lines; a row is
    # numbered by the physical line it starts on.
    reader = csv.reader(lines, strict=True)
    columns: list[str] | None = None
    while True:
        start = lines.number + 1
        try:
            row = next(reader)
            if columns is None:
                columns = _csv_header(row, start)
                continue
            outcome: _Outcome | _BadLine | None = _csv_row(row, columns, start)
        except StopIteration:
            return
        except (csv.Error, _BadLine) as error:
            outcome = error if isinstance(error, _BadLine) else _BadLine(start, f"bad csv: {error}")
            if columns is None:
                reason = f"cannot read the csv header: {outcome.reason}"
                raise ImportFormatError(outcome.line, reason, hint=_FIX_FILE) from None
        if outcome is not None:
            yield outcome


def _csv_header(row: list[str], line: int) -> list[str] | None:
    names = [cell.strip().lower() for cell in row]
    if not any(names):
        return None
    unexpected = [name for name in names if name not in _CSV_COLUMNS]
    if "signal_type" not in names and "signal" not in names:
        reason = f"the first row must be the header signal_type,signal,metadata, not {_list(row)}"
    elif unexpected:
        reason = f"unexpected csv columns {_list(unexpected)}; allowed: {', '.join(_CSV_COLUMNS)}"
    elif "signal_type" not in names or "signal" not in names:
        reason = "the csv header needs both signal_type and signal"
    elif len(set(names)) < len(names):
        reason = f"the csv header repeats a column: {_list(row)}"
    else:
        return names
    raise ImportFormatError(line, reason, hint="fix the header row")


def _csv_row(row: list[str], columns: list[str], line: int) -> HashRecord | None:
    if not any(cell.strip() for cell in row):
        return None
    if len(row) != len(columns):
        raise _BadLine(line, f"expected {len(columns)} cells ({_list(columns)}), found {len(row)}")
    cells = dict(zip(columns, row, strict=True))
    signal = _signal(cells["signal_type"], cells["signal"], line)
    text = cells.get("metadata", "").strip()
    if len(text.encode()) > _MAX_METADATA_BYTES:
        raise _BadLine(line, f"metadata is over {_MAX_METADATA_BYTES >> 10} KiB")
    return HashRecord(line, signal, _metadata(_loads(text, line) if text else None, line))


def _jsonl_line(text: str, line: int) -> HashRecord | None:
    if not text.strip():
        return None
    entry = _loads(text, line)
    if not isinstance(entry, dict):
        raise _BadLine(line, "expected a JSON object with signal_type and signal")
    unexpected = sorted(set(entry) - set(_CSV_COLUMNS))
    if unexpected:
        raise _BadLine(line, f"unexpected keys {_list(unexpected)}; allowed: {_list(_CSV_COLUMNS)}")
    missing = [key for key in _CSV_COLUMNS[:2] if key not in entry]
    if missing:
        raise _BadLine(line, f"missing {' and '.join(missing)}")
    signal = _signal(entry["signal_type"], entry["signal"], line)
    return HashRecord(line, signal, _metadata(entry.get("metadata"), line))


def _te_line(text: str, line: int) -> _Outcome | None:
    text = text.strip()
    if not text or text.startswith("#"):
        return None
    match = _TE_LINE.fullmatch(text)
    if not match:
        raise _BadLine(line, "expected TYPE,VALUE, e.g. pdq,<64 hex digits>")
    kind, value = match[1].lower(), match[2]
    if kind in _TE_UNSUPPORTED:
        return SkippedLine(line, f"ThreatExchange {kind} signals are not supported")
    if kind not in _TE_TYPES:
        known = ", ".join(sorted(_TE_TYPES))
        raise _BadLine(line, f"unknown signal type {match[1][:40]!r}; known types: {known}")
    return HashRecord(line, _signal(_TE_TYPES[kind], value, line), {})


def _stopncii_line(text: str, line: int) -> _Outcome | None:
    return _stopncii_record(_loads(text, line), line) if text.strip() else None


def _stopncii_document(stream: _Prefixed) -> Iterator[_Outcome | _BadLine]:
    data = stream.read(_MAX_DOCUMENT_BYTES + 1)
    if len(data) > _MAX_DOCUMENT_BYTES:
        reason = f"the StopNCII document is over {_MAX_DOCUMENT_BYTES >> 20} MiB"
        raise ImportFormatError(1, reason, hint="import it in smaller pages, or as JSONL")
    try:
        document = json.loads(data, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        reason = f"not valid JSON: {error.msg}"
        raise ImportFormatError(error.lineno, reason, hint=_FIX_FILE) from None
    except (ValueError, RecursionError) as error:
        raise ImportFormatError(1, f"not valid JSON: {error}", hint=_FIX_FILE) from None
    records = document.get("hashRecords") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise ImportFormatError(1, "a StopNCII document needs a hashRecords list", hint=_FIX_FILE)
    for index, record in enumerate(records, start=1):
        try:
            outcome: _Outcome | _BadLine = _stopncii_record(record, index)
        except _BadLine as bad:
            outcome = bad
        yield outcome


def _stopncii_record(record: object, line: int) -> _Outcome:
    if not isinstance(record, dict):
        raise _BadLine(line, "expected a StopNCII hash record (a JSON object)")
    kind = record.get("signalType")
    if not isinstance(kind, str):
        raise _BadLine(line, "missing signalType")
    if kind.lower() in _STOPNCII_UNSUPPORTED:
        return SkippedLine(line, f"StopNCII {kind} hashes are not supported")
    if kind.lower() not in _STOPNCII_TYPES:
        raise _BadLine(line, f"unknown StopNCII signalType {kind[:40]!r}")
    status = record.get("hashStatus")
    withdrawn = _STOPNCII_STATUSES.get(status.lower()) if isinstance(status, str) else None
    if withdrawn is None:
        raise _BadLine(line, "hashStatus must be Received, Active, Withdrawn or Deleted")
    signal = _signal(_STOPNCII_TYPES[kind.lower()], record.get("hashValue"), line)
    metadata: dict[str, Any] = {"source": "stopncii"}
    for key, ours in (("caseNumbers", "case_numbers"), ("lastModtimestamp", "last_modified")):
        if key in record:
            metadata[ours] = record[key]
    return HashRecord(line, signal, _metadata(metadata, line), withdrawn=withdrawn)


def _signal(kind: object, value: object, line: int) -> Signal:
    if not isinstance(kind, str) or not isinstance(value, str):
        raise _BadLine(line, "the signal type and the hash value must be strings")
    try:
        return signal_type(kind).parse(value)
    except SignalError as error:
        raise _BadLine(line, error.message) from None


def _metadata(value: object, line: int) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _BadLine(line, "metadata must be a JSON object")
    try:
        size = len(_compact(value).encode())
    except UnicodeEncodeError:
        # A JSON \ud800 escape decodes to a lone surrogate, which no UTF-8 file can hold.
        raise _BadLine(line, "metadata holds text that is not valid Unicode") from None
    if size > _MAX_METADATA_BYTES:
        raise _BadLine(line, f"metadata is over {_MAX_METADATA_BYTES >> 10} KiB")
    return value


def _loads(text: str, line: int) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise _BadLine(line, f"not valid JSON: {error.msg} at column {error.colno}") from None
    except (ValueError, RecursionError) as error:
        raise _BadLine(line, f"not valid JSON: {error}") from None


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; storing them would make exports unreadable elsewhere.
    raise ValueError(f"{name} is not allowed")


def _compact(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _list(items: Iterable[str]) -> str:
    text = ", ".join(items).encode("utf-8", "backslashreplace").decode()
    return text if len(text) <= 120 else f"{text[:117]}..."
