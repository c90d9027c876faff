"""`leakshield analyze` on the command line: one JSON object per file in input order, your
photos found (registered by `protect` or given with --reference), reports written where asked,
and nothing written outside the data directory. Hostile inputs: test_analyze_cli_inputs.py."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import skimage.data
from PIL import Image

from tests._commands import isolated, run_commands, tree
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A photo of "yours", a flipped crop of it, an unrelated photo, and two hostile files."""
    root = tmp_path_factory.mktemp("analyze-cli")
    photo = Image.fromarray(skimage.data.astronaut()).resize((600, 560))
    photo.save(root / "photo.jpg", quality=92)
    photo.crop((90, 50, 470, 430)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
        root / "crop.jpg", quality=85
    )
    Image.fromarray(skimage.data.coffee()).resize((520, 390)).save(root / "other.png")
    (root / "notes.jpg").write_text("not an image at all\n")
    whole = (root / "photo.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    return {path.name: path for path in root.iterdir()}


def by_analyzer(record: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [f for f in record["findings"] if f["analyzer"] == name]


def test_json_is_one_object_per_file_in_input_order(cli: Cli, files: dict[str, Path]) -> None:
    result = cli("analyze", "--json", str(files["other.png"]), str(files["photo.jpg"]))
    assert result.exit_code == 0, result.stderr
    records = result.json_lines()
    assert [r["subject"]["path"] for r in records] == [
        str(files["other.png"]),
        str(files["photo.jpg"]),
    ]
    for record in records:
        assert {"subject", "shows", "cannot_tell", "findings"} <= set(record)
        assert record["subject"]["problem"] is None
        assert record["shows"] and all(isinstance(line, str) for line in record["shows"])
        assert "reports" not in record
    assert records[1]["subject"]["format"] == "JPEG"
    assert (records[1]["subject"]["width"], records[1]["subject"]["height"]) == (600, 560)
    names = {f["analyzer"] for f in records[0]["findings"]}
    assert {"provenance", "your-watermark", "generator-watermark", "derivation"} <= names


def test_without_json_it_reads_as_a_report(cli: Cli, files: dict[str, Path]) -> None:
    result = cli("analyze", str(files["photo.jpg"]))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    shows, findings, cannot = (
        out.index("What this file shows:"),
        out.index("Findings:"),
        out.index("What this analysis cannot tell:"),
    )
    assert shows < findings < cannot
    assert "Content Credentials (C2PA): The file carries no Content Credentials." in out


def test_a_reference_photo_is_found_in_a_flipped_crop_and_not_stored(
    cli: Cli, files: dict[str, Path]
) -> None:
    result = cli(
        "analyze", "--json", "--reference", str(files["photo.jpg"]), str(files["crop.jpg"])
    )
    assert result.exit_code == 0, result.stderr
    [record] = result.json_lines()
    [found] = by_analyzer(record, "derivation")
    assert (found["strength"], found["direction"]) == ("strong", "made-from-your-photo")
    assert "made from your photo 'photo.jpg'" in found["summary"]
    assert "flipped" in found["summary"]
    assert found["evidence"]["flipped"] is True
    assert record["shows"][0] == f"Strong evidence: {found['summary']}"
    assert not any(line.startswith("Whether it was made from") for line in record["cannot_tell"])

    [again] = cli("analyze", "--json", str(files["crop.jpg"])).json_lines()
    [nothing] = by_analyzer(again, "derivation")
    assert nothing["summary"] == "Not checked: none of your photos are registered."


def test_an_unrelated_photo_is_not_matched_to_the_reference(
    cli: Cli, files: dict[str, Path]
) -> None:
    result = cli(
        "analyze", "--json", "--reference", str(files["photo.jpg"]), str(files["other.png"])
    )
    [record] = result.json_lines()
    [derivation] = by_analyzer(record, "derivation")
    assert derivation["strength"] == "none"
    assert "None of your 1 photos" in derivation["summary"]


def test_report_and_pdf_are_written_and_listed_in_the_record(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    html, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    result = cli(
        "analyze", "--json", "--report", str(html), "--pdf", str(pdf),
        "--reference", str(files["photo.jpg"]), str(files["crop.jpg"]),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [record] = result.json_lines()
    assert record["reports"] == [str(html), str(pdf)]
    text = html.read_text(encoding="utf-8")
    assert "What this file shows" in text
    assert "made from your photo &#39;photo.jpg&#39;" in text  # the finding, HTML-escaped
    assert pdf.read_bytes().startswith(b"%PDF")
    assert f"report written to {html}" in " ".join(result.stderr.split())


def test_a_report_for_two_files_is_a_usage_error_that_writes_nothing(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    report = out / "report.html"
    result = cli(
        "analyze", "--report", str(report), str(files["photo.jpg"]), str(files["crop.jpg"])
    )
    assert result.exit_code == 2
    assert "--report" in result.stderr and "one FILE" in result.stderr
    assert result.stdout == ""
    pdf = cli(
        "analyze", "--pdf", str(out / "r.pdf"), str(files["photo.jpg"]), str(files["crop.jpg"])
    )
    assert pdf.exit_code == 2
    assert list(out.iterdir()) == []


def test_a_bank_that_does_not_exist_is_a_clear_error(cli: Cli, files: dict[str, Path]) -> None:
    result = cli("analyze", "--json", "--bank", "NOPE", str(files["photo.jpg"]))
    assert result.exit_code == 3
    assert "There is no bank named 'NOPE'" in result.stderr
    assert result.stdout == ""


def test_after_protect_a_crop_of_your_photo_is_found_through_your_bank(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    """The main story: protect your photos once; later, a crop of one is recognised, and a
    reposted copy of the protected photo is traced by its watermark and credentials."""
    src, out = tmp_path / "my-photos", tmp_path / "protected"
    src.mkdir()
    shutil.copyfile(files["photo.jpg"], src / "beach.jpg")
    shutil.copyfile(files["other.png"], src / "coffee.png")
    protected = cli("protect", "--json", str(src), str(out))
    assert protected.exit_code == 0, protected.stderr
    with Image.open(src / "beach.jpg") as image:
        image.crop((60, 40, 460, 440)).save(tmp_path / "crop.jpg", quality=80)
    with Image.open(out / "beach.jpg") as image:
        image.resize((560, 523)).save(tmp_path / "repost.jpg", quality=80)

    result = cli("analyze", "--json", str(tmp_path / "crop.jpg"), str(tmp_path / "repost.jpg"))
    assert result.exit_code == 0, result.stderr
    crop, repost = result.json_lines()
    [found] = by_analyzer(crop, "derivation")
    assert (found["strength"], found["direction"]) == ("strong", "made-from-your-photo")
    assert "made from your photo 'beach.jpg'" in found["summary"]
    assert crop["shows"][0].startswith("Strong evidence: This image was made from your photo")

    [mark] = by_analyzer(repost, "your-watermark")
    assert (mark["strength"], mark["direction"]) == ("strong", "made-from-your-photo")
    assert "It identifies your photo 'beach.jpg'" in mark["summary"]
    [credentials] = by_analyzer(repost, "provenance")
    assert credentials["evidence"]["recovered"]["via"] == "watermark"
    assert credentials["strength"] == "strong"


def test_nothing_is_written_outside_the_data_directory_and_the_named_reports(
    files: dict[str, Path], tmp_path: Path
) -> None:
    home, work, data, env = isolated(tmp_path)
    shutil.copyfile(files["photo.jpg"], work / "photo.jpg")
    shutil.copyfile(files["crop.jpg"], work / "crop.jpg")
    commands = [
        ["analyze", "--json", "--reference", "photo.jpg", "--report", "report.html", "crop.jpg"],
        ["analyze", "--json", str(files["notes.jpg"]), str(files["truncated.jpg"])],
    ]
    before = (tree(home), tree(files["photo.jpg"].parent), tree(work))
    done = run_commands(commands, cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    assert '"made-from-your-photo"' in done.stdout
    assert set(tree(work)) == {"photo.jpg", "crop.jpg", "report.html"}
    assert {k: v for k, v in tree(work).items() if k != "report.html"} == before[2]
    assert (tree(home), tree(files["photo.jpg"].parent)) == before[:2]
    written = {p.name for p in data.iterdir()} - {"leakshield.db.migrate-lock"}
    assert written == {"leakshield.db"}  # no key, no identity made by looking
