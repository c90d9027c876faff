"""The README's Quick start is exactly `make run` and `make test`, and its examples run."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import skimage.data
from PIL import Image

from tests.conftest import CliResult

README = Path(__file__).parents[1] / "README.md"


def code_blocks(section: str) -> list[list[str]]:
    text = README.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", body, flags=re.S)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def test_quick_start_is_exactly_make_run_and_make_test() -> None:
    assert code_blocks("Quick start") == [["make run", "make test"]]


def test_usage_examples_run(cli: Callable[..., CliResult]) -> None:
    commands = [line.split("#")[0] for line in code_blocks("Usage")[0]]
    ran = 0
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "leakshield"
        if "serve" in argv:
            continue  # runs until stopped; tests/server/test_serve.py starts it for real
        result = cli(*argv[1:])
        assert result.exit_code == 0, f"{command}: {result.stderr}"
        ran += 1
    assert ran >= 4


def test_fingerprint_examples_run(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = Image.fromarray(skimage.data.astronaut())
    photo.save(tmp_path / "photo.jpg")
    photo.rotate(90, expand=True).save(tmp_path / "photo-rotated.jpg")
    _write_clip(tmp_path / "clip.mp4", np.asarray(photo))
    (tmp_path / "Pictures" / "2026").mkdir(parents=True)
    photo.save(tmp_path / "Pictures" / "2026" / "a.png")
    monkeypatch.chdir(tmp_path)
    commands = [line.split("#")[0] for line in code_blocks("Usage")[1]]
    assert len(commands) == 4
    for command in commands:
        result = cli(*shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}: {result.stderr}"
        if "photo-rotated.jpg" in command:
            assert result.stdout.startswith("match"), result.stdout


def _write_clip(path: Path, picture: np.ndarray) -> None:
    """Two seconds of a slow pan over ``picture``, 10 frames a second."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        for i in range(20):
            frame = np.ascontiguousarray(picture[i * 4 : i * 4 + 256, i * 4 : i * 4 + 256])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())


def test_index_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body = README.read_text().split("## Usage", 1)[1]
    (block,) = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})  # noqa: S102 (our own README)
    assert capsys.readouterr().out.split("\n")[:2] == ["[(17, 1)]", "1"]
    assert (tmp_path / "bank.lsidx").is_file()


def test_watermark_examples_run(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Image.fromarray(skimage.data.coffee()).resize((900, 600)).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    [block] = [b for b in code_blocks("Usage") if any("leakshield watermark" in x for x in b)]
    assert len(block) == 3
    results = []
    for line in block:
        result = cli(*shlex.split(line.split("#")[0])[1:])
        assert result.exit_code == 0, f"{line}: {result.stderr}"
        results.append(result)
    record = json.loads(results[-1].stdout)
    assert record["present"] is True and record["payload_hex"] == "0123456789abcdef"


def test_provenance_examples_run(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    photo = Image.fromarray(skimage.data.astronaut()).resize((700, 700))
    photo.save(pictures / "photo.jpg", quality=92)
    photo.save(tmp_path / "photo.jpg", quality=92)
    # The leak: the protected copy, reposted smaller (the repost strips the credentials).
    monkeypatch.chdir(tmp_path)
    [block] = [b for b in code_blocks("Usage") if any("leakshield protect" in x for x in b)]
    assert len(block) == 5
    results = []
    for line in block:
        if "leak.jpg" in line:
            with Image.open(tmp_path / "Protected" / "photo.jpg") as copy:
                copy.resize((500, 500)).save(tmp_path / "leak.jpg", quality=80)
        result = cli(*shlex.split(line.split("#")[0])[1:])
        assert result.exit_code == 0, f"{line}: {result.stderr}"
        results.append(result)
    [signed] = results[2].json_lines()
    assert signed["state"] == "Trusted" and signed["author"] == ["Jane Doe"]
    protected, leak = results[3].json_lines()
    assert protected["state"] == "Trusted"
    assert leak["state"] == "NoManifest"
    assert leak["recovered"]["via"] == "watermark"
    assert leak["recovered"]["manifest"] == protected["manifest_label"]
    assert (tmp_path / "my-root.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_analyze_examples_run(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    photo = Image.fromarray(skimage.data.astronaut()).resize((700, 700))
    photo.save(pictures / "IMG_0412.jpg", quality=92)
    photo.save(tmp_path / "photo.jpg", quality=90)  # another copy of it, not registered
    monkeypatch.chdir(tmp_path)
    assert cli("protect", "--no-sign", "Pictures", "Protected").exit_code == 0
    # The leak: a flipped crop of the photo with a region replaced from another picture.
    leak = np.asarray(photo)[50:650, 60:640].copy()
    leak[80:260, 200:420] = np.asarray(Image.fromarray(skimage.data.coffee()).resize((220, 180)))
    Image.fromarray(np.ascontiguousarray(leak[:, ::-1])).save(tmp_path / "leak.jpg", quality=85)
    [block] = [b for b in code_blocks("Usage") if any("leakshield analyze" in x for x in b)]
    assert len(block) == 3
    results = []
    for line in block:
        result = cli(*shlex.split(line.split("#")[0])[1:])
        assert result.exit_code == 0, f"{line}: {result.stderr}"
        results.append(result)
    assert "made from your photo 'IMG_0412.jpg'" in results[0].stdout.replace("\n", " ")
    assert (tmp_path / "leak.html").read_text().count("What this file shows") >= 1
    assert (tmp_path / "leak.pdf").read_bytes().startswith(b"%PDF")
    [record] = results[2].json_lines()
    sources = [f for f in record["findings"] if f["direction"] == "made-from-your-photo"]
    assert {f["evidence"]["your_photo"] for f in sources} >= {"IMG_0412.jpg", "photo.jpg"}
    regions = next(f for f in sources if f["analyzer"] == "derivation")["evidence"]
    assert len(regions["changed_regions"]) >= 1


def test_evidence_examples_run(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Image.fromarray(skimage.data.coffee()).save(tmp_path / "leak.jpg", quality=85)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEAKSHIELD_CASE_PASSPHRASE", "correct horse battery staple")
    [block] = [b for b in code_blocks("Usage") if any("leakshield case new" in x for x in b)]
    assert len(block) == 4
    case_id = ""
    results = []
    for line in block:
        words = [case_id if w == "CASE" else w for w in shlex.split(line.split("#")[0])[1:]]
        result = cli(*words, "--json") if words[0] == "case" else cli(*words)
        assert result.exit_code == 0, f"{line}: {result.stderr}"
        results.append(result)
        case_id = case_id or results[0].json_lines()[0]["id"]
    [added] = results[1].json_lines()
    assert added["files"][0]["name"] == "leak.jpg" and added["pdq"]
    assert (tmp_path / "bundle.zip").is_file()
    assert "bundle.zip: intact" in results[3].stdout


def test_notice_examples_run(
    cli: Callable[..., CliResult], data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.evidence._cases import PASSPHRASE
    from tests.notices._notice_cases import case_with_pages

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEAKSHIELD_CASE_PASSPHRASE", PASSPHRASE.decode())
    url = "https://x.com/someone/status/1234567890"
    with case_with_pages(data_dir / "cases", tmp_path / "work", [url]) as case:
        case_id = case.case_id
    [block] = [b for b in code_blocks("Usage") if any("leakshield notice" in x for x in b)]
    assert len(block) == 5
    results = []
    for line in block:
        words = [case_id if w == "CASE" else w for w in shlex.split(line.split("#")[0])[1:]]
        result = cli(*words, "--json")
        assert result.exit_code == 0, f"{line}: {result.stderr}"
        results.append(result.json_lines())
    assert "x" in {row["platform_id"] for row in results[0]}
    [drafted] = results[2]
    assert drafted["ready"] is True and url in (tmp_path / "x.txt").read_text()
    [marked] = results[3]
    assert marked["state"] == "sent" and marked["deadline"]
    [due] = results[4] or [None]
    assert due is None  # sent just now: 48 hours left, outside the next 24
