"""`leakshield analyze` on hostile inputs: a file whose pixels cannot be read is still examined
by the checks that read its bytes, one that cannot be read at all is a clear error, and the
rest of the batch goes on."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import skimage.data
from PIL import Image

from tests.conftest import CliResult

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.timeout(120)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels and holds almost none."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A benign photo, and hostile files: text named .jpg, half a JPEG, a PNG claiming
    10 billion pixels."""
    root = tmp_path_factory.mktemp("analyze-inputs")
    Image.fromarray(skimage.data.astronaut()).resize((600, 560)).save(
        root / "photo.jpg", quality=92
    )
    (root / "notes.jpg").write_text("not an image at all\n")
    whole = (root / "photo.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (root / "huge.png").write_bytes(_png_claiming(100_000, 100_000))
    return {path.name: path for path in root.iterdir()}


def by_analyzer(record: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [f for f in record["findings"] if f["analyzer"] == name]


def test_hostile_files_are_still_examined_and_unreadable_ones_do_not_stop_the_batch(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    inputs = [
        files["notes.jpg"],
        files["truncated.jpg"],
        files["huge.png"],
        folder,
        tmp_path / "missing.jpg",
        files["photo.jpg"],
    ]
    result = cli("analyze", "--json", *map(str, inputs))
    assert result.exit_code == 3
    records = result.json_lines()
    assert len(records) == len(inputs)
    problems = [r["subject"]["problem"] for r in records[:3]]
    assert [p["code"] for p in problems] == ["unsupported-format", "corrupt", "too-many-pixels"]
    for record in records[:3]:
        assert any(line.startswith("Its pixels could not be read") for line in record["shows"])
        [metadata] = by_analyzer(record, "generator-metadata")
        assert metadata["error"] is None
        assert len(by_analyzer(record, "provenance")) == 1
        [pixels] = by_analyzer(record, "generator-watermark")
        assert pixels["error"] is not None  # said, never passed off as "nothing found"
    for record in records[1:3]:  # formats C2PA reads: the credentials check ran
        [credentials] = by_analyzer(record, "provenance")
        assert credentials["error"] is None
        assert credentials["evidence"]["state"] == "NoManifest"
    assert records[3]["input"] == str(folder)
    assert records[3]["error"]["code"] == "unreadable"
    assert (records[4]["input"], records[4]["error"]["code"]) == (
        str(tmp_path / "missing.jpg"),
        "not-found",
    )
    assert records[5]["subject"]["path"] == str(files["photo.jpg"])
    assert records[5]["subject"]["problem"] is None
    assert "2 of 6 files could not be examined" in result.stderr


def test_a_folder_is_refused_without_pointing_to_an_option_analyze_lacks(
    cli: Cli, tmp_path: Path
) -> None:
    result = cli("analyze", str(tmp_path))
    assert result.exit_code == 3
    assert "directory" in result.stderr
    assert "--recursive" not in result.stderr  # analyze has no such option


def test_the_pixel_limit_comes_from_the_settings(
    cli: Cli, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKSHIELD_MEDIA_MAX_PIXELS", "10000")
    result = cli("analyze", "--json", str(files["photo.jpg"]))
    assert result.exit_code == 0, result.stderr
    [record] = result.json_lines()
    assert record["subject"]["problem"]["code"] == "too-many-pixels"
    assert record["subject"]["sha256"] is not None


def test_a_pdf_written_earlier_in_the_process_does_not_let_a_truncated_file_decode(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    """Importing WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES; after that, a
    truncated JPEG would be examined as if whole, its missing half filled with grey."""
    written = cli("analyze", "--pdf", str(tmp_path / "report.pdf"), str(files["photo.jpg"]))
    assert written.exit_code == 0, written.stderr
    result = cli("analyze", "--json", str(files["truncated.jpg"]))
    [record] = result.json_lines()
    assert record["subject"]["problem"] is not None
    assert record["subject"]["problem"]["code"] == "corrupt"
