"""Hash lists read and write as a user would see them: signals, metadata, line numbers."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from leakshield.banks import _formats
from leakshield.banks._formats import (
    HashRecord,
    ImportFormat,
    ImportFormatError,
    SkippedLine,
    detect_format,
    read_records,
    write_records,
)
from leakshield.signals import Md5Hash, PdqHash, Sha256Hash, Signal, VpdqHash, parse_signal

PDQ = PdqHash.examples()
MD5 = Md5Hash.examples()
SHA = Sha256Hash.examples()
VPDQ = VpdqHash.examples()[0]
BOM = b"\xef\xbb\xbf"


def read(data: bytes, fmt: ImportFormat = "auto", **options: Any) -> list[Any]:
    return list(read_records(io.BytesIO(data), fmt, **options))


def summary(outcomes: list[Any]) -> list[tuple[Any, ...]]:
    """Records as (line, TYPE:VALUE, metadata, withdrawn); skipped lines as (line, 'skipped')."""
    return [
        (o.line, o.signal.typed(), o.metadata, o.withdrawn)
        if isinstance(o, HashRecord)
        else (o.line, "skipped")
        for o in outcomes
    ]


def stopncii(kind: str, value: str, status: str = "Active", **extra: Any) -> dict[str, Any]:
    return {"signalType": kind, "hashValue": value, "hashStatus": status, **extra}


def lines(*items: str) -> bytes:
    return "".join(f"{item}\n" for item in items).encode()


VALID = {
    "csv": (
        lines(
            "signal_type,signal,metadata",
            f"pdq,{PDQ[0].upper()},",
            "",
            f'MD5 , {MD5[0]} ,"{{""case"": ""c-1""}}"',
            f'vpdq,"{VPDQ}",{{}}',
        ),
        [
            (2, f"pdq:{PDQ[0]}", {}, False),
            (4, f"md5:{MD5[0]}", {"case": "c-1"}, False),
            (5, f"vpdq:{VPDQ}", {}, False),
        ],
    ),
    "jsonl": (
        lines(
            json.dumps({"signal_type": "pdq", "signal": PDQ[0].upper(), "metadata": {"n": 1}}),
            "   ",
            json.dumps({"signal_type": "sha256", "signal": SHA[0]}),
            json.dumps({"signal_type": "vpdq", "signal": VPDQ, "metadata": None}),
        ),
        [
            (1, f"pdq:{PDQ[0]}", {"n": 1}, False),
            (3, f"sha256:{SHA[0]}", {}, False),
            (4, f"vpdq:{VPDQ}", {}, False),
        ],
    ),
    "threatexchange": (
        lines(
            "# exported from ThreatExchange",
            f"pdq,{PDQ[0].upper()}",
            "",
            f"video_md5 {MD5[0]}",
            f"photo_md5, {MD5[1]}",
            f"HASH_PDQ\t{PDQ[1]}",
            f"video_sha256,{SHA[0]}",
            f"vpdq,{VPDQ}",
        ),
        [
            (2, f"pdq:{PDQ[0]}", {}, False),
            (4, f"md5:{MD5[0]}", {}, False),
            (5, f"md5:{MD5[1]}", {}, False),
            (6, f"pdq:{PDQ[1]}", {}, False),
            (7, f"sha256:{SHA[0]}", {}, False),
            (8, f"vpdq:{VPDQ}", {}, False),
        ],
    ),
    "stopncii": (
        lines(
            json.dumps(
                stopncii("ImagePDQ", PDQ[0].upper(), caseNumbers={"x": "1"}, lastModtimestamp=7)
            ),
            "",
            json.dumps(stopncii("VideoMD5", MD5[0], "Received", CSPFeedbacks=[])),
        ),
        [
            (
                1,
                f"pdq:{PDQ[0]}",
                {"source": "stopncii", "case_numbers": {"x": "1"}, "last_modified": 7},
                False,
            ),
            (3, f"md5:{MD5[0]}", {"source": "stopncii"}, False),
        ],
    ),
}


@pytest.mark.parametrize("fmt", list(VALID))
def test_each_format_reads_canonical_signals_and_metadata(fmt: ImportFormat) -> None:
    data, expected = VALID[fmt]
    assert summary(read(data, fmt)) == expected


@pytest.mark.parametrize("fmt", list(VALID))
def test_auto_detects_each_format(fmt: ImportFormat) -> None:
    data, expected = VALID[fmt]
    assert detect_format(data[:4096]) == fmt
    assert summary(read(data)) == expected
    assert summary(read(BOM + data)) == expected


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b'{\n  "count": 1,\n  "hashRecords": [\n', "", "stopncii"),
        (b"SIGNAL_TYPE,Signal\n", "", "csv"),
        (b"signal,signal_type\n", "", "csv"),
        (b"# a comment\n\npdq " + PDQ[0].encode(), "", "threatexchange"),
        (b"", "list.csv", "csv"),
        (b"", "list.NDJSON", "jsonl"),
        (b"not a hash list\n", "list.jsonl", "jsonl"),
    ],
)
def test_detection_uses_content_then_file_name(head: bytes, name: str, expected: str) -> None:
    assert detect_format(head, name) == expected


@pytest.mark.parametrize("head", [b"", b"hello world\n", b"[1, 2]\n", b"pdqx,abc\n"])
def test_undetectable_input_asks_for_format(head: bytes) -> None:
    with pytest.raises(ImportFormatError) as caught:
        detect_format(head, "list.txt")
    assert caught.value.line == 1
    assert "csv, jsonl, threatexchange, stopncii" in caught.value.message
    assert "--format" in caught.value.message


def test_unknown_content_is_refused_on_read() -> None:
    with pytest.raises(ImportFormatError, match="--format"):
        read(b"hello world\n")


@pytest.mark.parametrize("fmt", ["auto", *VALID])
@pytest.mark.parametrize("data", [b"", b"\n  \n", BOM])
def test_empty_input_has_no_records(fmt: ImportFormat, data: bytes) -> None:
    assert read(data, fmt) == []


ROUND_TRIP: list[tuple[Signal, dict[str, Any]]] = [
    (PdqHash.parse(PDQ[0]), {}),
    (PdqHash.parse(PDQ[1]), {"case": "c-1", "tags": ["a,b", 'quote "x"'], "nested": {"z": 1}}),
    (Md5Hash.parse(MD5[0]), {"note": "Zoë, ünïcode\nand a newline"}),
    (Sha256Hash.parse(SHA[0]), {"n": 1.5, "ok": True, "none": None}),
    (VpdqHash.parse(VPDQ), {"source": "stopncii"}),
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_written_lists_read_back_equal(fmt: Any) -> None:
    out = io.StringIO()
    assert write_records(iter(ROUND_TRIP), out, fmt) == len(ROUND_TRIP)
    back = read(out.getvalue().encode())
    assert [(r.signal, r.metadata) for r in back] == ROUND_TRIP
    assert not any(r.withdrawn for r in back)


def test_written_csv_has_a_header_and_compact_sorted_metadata() -> None:
    out = io.StringIO()
    write_records([(PdqHash.parse(PDQ[0]), {"b": 1, "a": [1, 2]})], out, "csv")
    assert (
        out.getvalue() == f'signal_type,signal,metadata\npdq,{PDQ[0]},"{{""a"":[1,2],""b"":1}}"\n'
    )


def test_written_jsonl_is_one_object_per_line() -> None:
    out = io.StringIO()
    write_records([(Md5Hash.parse(MD5[0]), {"b": 1, "a": 2})], out, "jsonl")
    assert out.getvalue() == (
        f'{{"signal_type":"md5","signal":"{MD5[0]}","metadata":{{"a":2,"b":1}}}}\n'
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_writing_nothing_still_reads_back(fmt: Any) -> None:
    out = io.StringIO()
    assert write_records([], out, fmt) == 0
    assert read(out.getvalue().encode(), fmt) == []


def stopncii_document(*records: dict[str, Any], indent: int | None = 2) -> bytes:
    page = {"count": len(records), "nextPageToken": "t", "hasMoreRecords": False}
    return json.dumps({**page, "hashRecords": list(records)}, indent=indent).encode()


@pytest.mark.parametrize("indent", [2, None], ids=["pretty", "one-line"])
@pytest.mark.parametrize("fmt", ["auto", "stopncii"])
def test_stopncii_document_numbers_records_by_index(indent: int | None, fmt: Any) -> None:
    data = stopncii_document(
        stopncii("ImagePDQ", PDQ[0], lastModtimestamp=1700000000),
        stopncii("VideoTMK", "anything at all"),
        stopncii("VideoMD5", MD5[0].upper(), "Withdrawn"),
        indent=indent,
    )
    assert summary(read(data, fmt)) == [
        (1, f"pdq:{PDQ[0]}", {"source": "stopncii", "last_modified": 1700000000}, False),
        (2, "skipped"),
        (3, f"md5:{MD5[0]}", {"source": "stopncii"}, True),
    ]


@pytest.mark.parametrize(
    ("status", "withdrawn"),
    [("Received", False), ("Active", False), ("Withdrawn", True), ("Deleted", True)],
)
def test_stopncii_withdrawn_and_deleted_hashes_are_marked_for_removal(
    status: str, withdrawn: bool
) -> None:
    (record,) = read(lines(json.dumps(stopncii("ImagePDQ", PDQ[0], status))), "stopncii")
    assert isinstance(record, HashRecord)
    assert record.withdrawn is withdrawn


@pytest.mark.parametrize("kind", ["VideoTMK", "Text", "URL"])
def test_stopncii_types_we_cannot_match_are_always_skipped(kind: str) -> None:
    data = lines(
        json.dumps(stopncii(kind, "not even a hash")), json.dumps(stopncii("ImagePDQ", PDQ[0]))
    )
    outcomes = read(data)  # no skip_invalid: this is not an error
    assert outcomes[0] == SkippedLine(1, f"StopNCII {kind} hashes are not supported")
    assert summary(outcomes[1:]) == [(2, f"pdq:{PDQ[0]}", {"source": "stopncii"}, False)]


def test_threatexchange_text_and_url_signals_are_always_skipped() -> None:
    data = lines("url,https://example.com/x", f"pdq,{PDQ[0]}", "raw_text some words")
    assert summary(read(data)) == [(1, "skipped"), (2, f"pdq:{PDQ[0]}", {}, False), (3, "skipped")]


def test_a_withdrawn_stopncii_hash_is_still_validated() -> None:
    data = lines(json.dumps(stopncii("ImagePDQ", "xyz", "Withdrawn")))
    with pytest.raises(ImportFormatError, match="line 1: 'xyz' is not a pdq hash"):
        read(data)


OVERSIZED = "x" * ((1 << 20) + 1)
LONE = {"text": "\ud800"}  # JSON can escape a lone surrogate, UTF-8 cannot hold one
BIG = {"blob": "y" * (64 << 10)}


def csv_cells(*cells: str) -> str:
    return ",".join(cells)


def quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


# (format, a bad line, part of the reason); each is read between two good lines.
BAD_LINES: list[tuple[str, str | bytes, str]] = [
    ("csv", csv_cells("pdq", "xyz", ""), "'xyz' is not a pdq hash: expected 64 hex digits"),
    ("csv", csv_cells("phash", PDQ[0], ""), "unknown signal type 'phash'"),
    ("csv", csv_cells("pdq", PDQ[0]), "expected 3 cells (signal_type, signal, metadata), found 2"),
    ("csv", csv_cells("pdq", PDQ[0], "{}", "extra"), "found 4"),
    ("csv", csv_cells("pdq", PDQ[0], "{oops"), "not valid JSON"),
    ("csv", csv_cells("pdq", PDQ[0], "[1]"), "metadata must be a JSON object"),
    ("csv", csv_cells("pdq", PDQ[0], "NaN"), "NaN is not allowed"),
    ("csv", csv_cells("pdq", PDQ[0], quoted(json.dumps(BIG))), "over 64 KiB"),
    ("csv", csv_cells("pdq", PDQ[0], '"{}"x'), "bad csv"),
    ("csv", OVERSIZED, "longer than 1 MiB"),
    ("csv", b"pdq,\xff\xfe,", "not UTF-8"),
    ("jsonl", '{"signal_type": "pdq", ', "not valid JSON"),
    ("jsonl", "[" * 100_000, "not valid JSON"),
    ("jsonl", '["pdq", "x"]', "expected a JSON object"),
    ("jsonl", json.dumps({"signal_type": "pdq"}), "missing signal"),
    ("jsonl", json.dumps({"signal": PDQ[0]}), "missing signal_type"),
    ("jsonl", json.dumps({"signal_type": "pdq", "signal": 5}), "must be strings"),
    ("jsonl", json.dumps({"signal_type": "pdq", "signal": PDQ[0], "id": 1}), "unexpected keys id"),
    ("jsonl", json.dumps({"signal_type": "md4", "signal": MD5[0]}), "unknown signal type 'md4'"),
    ("jsonl", json.dumps({"signal_type": "md5", "signal": PDQ[0]}), "not a md5 hash"),
    ("jsonl", json.dumps({"signal_type": "pdq", "signal": PDQ[0], "metadata": 3}), "JSON object"),
    ("jsonl", json.dumps({"signal_type": "pdq", "signal": PDQ[0], "metadata": BIG}), "64 KiB"),
    ("jsonl", json.dumps({"signal_type": "pdq", "signal": PDQ[0], "metadata": LONE}), "Unicode"),
    ("jsonl", OVERSIZED, "longer than 1 MiB"),
    ("jsonl", b'{"signal_type": "pdq", "signal": "\xc3"}', "not UTF-8"),
    ("threatexchange", "pdq", "expected TYPE,VALUE"),
    ("threatexchange", "phash,abc", "unknown signal type 'phash'"),
    ("threatexchange", "video_md5,xyz", "'xyz' is not a md5 hash"),
    ("threatexchange", f"pdq,{PDQ[0]},extra", "not a pdq hash"),
    ("threatexchange", OVERSIZED, "longer than 1 MiB"),
    ("threatexchange", b"pdq \xff", "not UTF-8"),
    ("stopncii", "{nope", "not valid JSON"),
    ("stopncii", "[]", "expected a StopNCII hash record"),
    ("stopncii", json.dumps({"hashValue": PDQ[0], "hashStatus": "Active"}), "missing signalType"),
    ("stopncii", json.dumps(stopncii("ImageSSCD", PDQ[0])), "unknown StopNCII signalType"),
    ("stopncii", json.dumps(stopncii("ImagePDQ", PDQ[0], "Paused")), "hashStatus must be"),
    ("stopncii", json.dumps(stopncii("ImagePDQ", "xyz", "Deleted")), "'xyz' is not a pdq hash"),
    ("stopncii", json.dumps(stopncii("VideoMD5", PDQ[0])), "not a md5 hash"),
    ("stopncii", json.dumps({"signalType": "ImagePDQ", "hashStatus": "Active"}), "must be strings"),
    ("stopncii", json.dumps(stopncii("ImagePDQ", PDQ[0], caseNumbers=BIG)), "64 KiB"),
    ("stopncii", OVERSIZED, "longer than 1 MiB"),
]
GOOD = {
    "csv": (f"pdq,{PDQ[0]},", f"md5,{MD5[0]},"),
    "jsonl": tuple(
        json.dumps({"signal_type": t, "signal": v}) for t, v in (("pdq", PDQ[0]), ("md5", MD5[0]))
    ),
    "threatexchange": (f"pdq,{PDQ[0]}", f"md5,{MD5[0]}"),
    "stopncii": (
        json.dumps(stopncii("ImagePDQ", PDQ[0])),
        json.dumps(stopncii("VideoMD5", MD5[0])),
    ),
}


def with_bad_line(fmt: str, bad: str | bytes) -> tuple[bytes, int]:
    """The bad line between two good ones, and the bad line's number."""
    header = b"signal_type,signal,metadata\n" if fmt == "csv" else b""
    first, last = (line.encode() + b"\n" for line in GOOD[fmt])
    bad_bytes = bad if isinstance(bad, bytes) else bad.encode()
    return header + first + bad_bytes + b"\n" + last, 2 + (fmt == "csv")


def bad_line_id(case: tuple[str, str | bytes, str]) -> str:
    return f"{case[0]}-{case[2][:30]}"


@pytest.mark.parametrize(("fmt", "bad", "reason"), BAD_LINES, ids=map(bad_line_id, BAD_LINES))
def test_a_bad_line_stops_the_import_naming_the_line(
    fmt: Any, bad: str | bytes, reason: str
) -> None:
    data, line = with_bad_line(fmt, bad)
    with pytest.raises(ImportFormatError) as caught:
        read(data, fmt)
    assert caught.value.line == line
    assert caught.value.message.startswith(f"line {line}: ")
    assert reason in caught.value.message
    assert caught.value.message.endswith("fix the line or use --skip-invalid")


@pytest.mark.parametrize(("fmt", "bad", "reason"), BAD_LINES, ids=map(bad_line_id, BAD_LINES))
def test_skip_invalid_reports_the_bad_line_and_keeps_the_rest(
    fmt: Any, bad: str | bytes, reason: str
) -> None:
    data, line = with_bad_line(fmt, bad)
    outcomes = read(data, skip_invalid=True)
    assert [o.line for o in outcomes] == [line - 1, line, line + 1]
    assert isinstance(outcomes[1], SkippedLine)
    assert reason in outcomes[1].reason
    assert [o.signal for o in (outcomes[0], outcomes[2])] == [
        parse_signal(f"pdq:{PDQ[0]}"),
        parse_signal(f"md5:{MD5[0]}"),
    ]


def test_a_bad_stopncii_document_record_is_numbered_by_index() -> None:
    data = stopncii_document(
        stopncii("ImagePDQ", PDQ[0]), stopncii("ImagePDQ", "xyz"), stopncii("VideoMD5", MD5[0])
    )
    with pytest.raises(ImportFormatError, match=r"^line 2: 'xyz' is not a pdq hash"):
        read(data)
    assert [o.line for o in read(data, skip_invalid=True)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"hashRecords": [\n  {"signalType": \n', "line 3: not valid JSON"),
        (b'{"hashRecords": {}}', "line 1: a StopNCII document needs a hashRecords list"),
    ],
)
def test_a_broken_stopncii_document_is_refused_even_with_skip_invalid(
    data: bytes, message: str
) -> None:
    with pytest.raises(ImportFormatError, match=message):
        read(data, skip_invalid=True)


def test_an_oversized_stopncii_document_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_formats, "_MAX_DOCUMENT_BYTES", 200)
    data = stopncii_document(*(stopncii("ImagePDQ", p) for p in PDQ))
    with pytest.raises(ImportFormatError, match="over 0 MiB"):
        read(data, skip_invalid=True)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("signal_type,signal,metadata,source,notes", "unexpected csv columns source, notes"),
        (f"pdq,{PDQ[0]},", "the first row must be the header signal_type,signal,metadata"),
        ("signal_type,metadata", "needs both signal_type and signal"),
        ("signal_type,signal,signal", "repeats a column"),
    ],
)
def test_a_bad_csv_header_is_refused_even_with_skip_invalid(header: str, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message) as caught:
        read(lines(header, f"pdq,{PDQ[1]},"), "csv", skip_invalid=True)
    assert caught.value.line == 1


def test_csv_columns_may_come_in_any_order_and_metadata_is_optional() -> None:
    data = lines("signal,signal_type", f"{PDQ[0]},pdq")
    assert summary(read(data)) == [(2, f"pdq:{PDQ[0]}", {}, False)]


def test_a_quoted_csv_cell_may_span_lines_and_the_row_keeps_its_first_line() -> None:
    data = lines("signal_type,signal,metadata", f'pdq,{PDQ[0]},"{{""a"":', '1}"', f"md5,{MD5[0]},")
    assert summary(read(data)) == [
        (2, f"pdq:{PDQ[0]}", {"a": 1}, False),
        (4, f"md5:{MD5[0]}", {}, False),
    ]


def test_windows_line_endings_and_a_bom_are_accepted() -> None:
    data = BOM + f"signal_type,signal\r\npdq,{PDQ[0]}\r\n".encode()
    assert summary(read(data)) == [(2, f"pdq:{PDQ[0]}", {}, False)]


def test_reading_streams_instead_of_loading_the_whole_file() -> None:
    body = "".join(f"pdq,{PDQ[i % 3]}\n" for i in range(200_000)).encode()
    source = io.BytesIO(body)
    first = next(read_records(source))
    assert isinstance(first, HashRecord)
    assert source.tell() < len(body) // 10


def test_the_error_is_a_bad_hash_list_problem() -> None:
    with pytest.raises(ImportFormatError) as caught:
        read(lines(f"pdq,{PDQ[0]}", "pdq,xyz"))
    problem = caught.value.to_problem()
    assert problem["type"] == "urn:leakshield:problem:bad-hash-list"
    assert problem["title"] == "Bad hash list"
    assert problem["line"] == 2
