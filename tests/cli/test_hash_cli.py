"""`leakshield hash` and `leakshield compare` on the command line, on generated media."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import skimage.data
from PIL import Image

from tests.conftest import CliResult

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.timeout(60)

_HEX = re.compile(r"[0-9a-f]+")
_IMAGE_KEYS = {"path", "media_type", "md5", "sha256", "pdq"}
_VIDEO_KEYS = {"path", "media_type", "md5", "sha256", "vpdq"}


def _is_hex(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and bool(_HEX.fullmatch(value))


def _write_clip(path: Path, *, frames: int, fps: int, size: tuple[int, int] = (96, 64)) -> Path:
    """A clip of a picture panning sideways."""
    width, height = size
    base = np.asarray(Image.fromarray(skimage.data.coffee()).resize((width, height)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        for index in range(frames):
            picture = np.ascontiguousarray(np.roll(base, 3 * index, axis=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hash-cli")
    coffee = Image.fromarray(skimage.data.coffee())
    coffee.save(root / "coffee.png")
    coffee.rotate(90, expand=True).save(root / "coffee-rotated.png")
    Image.fromarray(skimage.data.chelsea()).save(root / "chelsea.jpg", quality=90)
    Image.fromarray(skimage.data.astronaut()).save(root / "astronaut.jpg", quality=90)
    (root / "broken.jpg").write_bytes(np.random.default_rng(3).bytes(10_000))
    _write_clip(root / "clip.mp4", frames=30, fps=10)
    return {path.name: path for path in root.iterdir()}


def _digests(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()


# --- hash ----------------------------------------------------------------------------


def test_hash_json_prints_one_record_per_image_in_order(cli: Cli, files: dict[str, Path]) -> None:
    inputs = [files["coffee.png"], files["chelsea.jpg"]]
    result = cli("hash", "--json", *(str(path) for path in inputs))
    assert result.exit_code == 0, result.stderr
    records = result.json_lines()
    assert [record["path"] for record in records] == [str(path) for path in inputs]
    for record, path in zip(records, inputs, strict=True):
        assert set(record) == _IMAGE_KEYS
        assert record["media_type"] == "image"
        pdq = record["pdq"]
        assert isinstance(pdq, dict)
        assert set(pdq) == {"hash", "quality", "usable"}
        assert _is_hex(pdq["hash"], 64)
        assert isinstance(pdq["quality"], int)
        assert 50 <= pdq["quality"] <= 100
        assert pdq["usable"] is True
        assert _is_hex(record["md5"], 32)
        assert _is_hex(record["sha256"], 64)
        assert (record["md5"], record["sha256"]) == _digests(path)
    assert records[0]["pdq"] != records[1]["pdq"]


def test_hash_without_json_prints_the_hashes_on_stdout(cli: Cli, files: dict[str, Path]) -> None:
    json_result = cli("hash", "--json", str(files["coffee.png"]))
    [record] = json_result.json_lines()
    result = cli("hash", str(files["coffee.png"]))
    assert result.exit_code == 0
    text = "".join(result.stdout.split())  # rich may wrap the path
    assert record["pdq"]["hash"] in text  # type: ignore[index]
    assert str(record["md5"]) in text
    assert "coffee.png" in text
    assert result.stdout.lstrip()[0] != "{"


def test_hash_recursive_walks_nested_directories_in_sorted_order(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    layout = ["1.png", "a/2.jpg", "a/b/3.png", "a/b/c/4.jpg", "d/5.png"]
    sources = [files["coffee.png"], files["chelsea.jpg"], files["coffee-rotated.png"]]
    for index, name in enumerate(reversed(layout)):  # created out of order on purpose
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(sources[index % len(sources)].read_bytes())
    result = cli("hash", "--json", "--recursive", str(tree))
    assert result.exit_code == 0, result.stderr
    records = result.json_lines()
    assert [record["path"] for record in records] == [str(tree / name) for name in layout]
    assert all(record["media_type"] == "image" for record in records)
    assert cli("hash", "--json", "-r", str(tree)).json_lines() == records


def test_hash_recursive_on_an_empty_directory_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    result = cli("hash", "--recursive", str(tmp_path / "empty"))
    assert result.exit_code == 2
    assert "no files" in result.stderr


def test_hash_a_directory_without_recursive_is_an_error_line(
    cli: Cli, files: dict[str, Path]
) -> None:
    folder = files["coffee.png"].parent
    result = cli("hash", "--json", str(folder))
    assert result.exit_code == 3
    [record] = result.json_lines()
    assert record == {"path": str(folder), "error": record["error"]}
    error = record["error"]
    assert isinstance(error, dict)
    assert error["code"] == "unreadable"
    assert "--recursive" in error["message"]
    assert "unreadable" in result.stderr

    human = cli("hash", str(folder))
    assert human.exit_code == 3
    assert human.stdout == ""
    assert "--recursive" in human.stderr


def test_hash_mixed_batch_in_parallel_keeps_input_order(cli: Cli, files: dict[str, Path]) -> None:
    inputs = [files["coffee.png"], files["broken.jpg"], files["chelsea.jpg"]]
    result = cli("hash", "--json", "--jobs", "2", *(str(path) for path in inputs))
    assert result.exit_code == 3
    records = result.json_lines()
    assert [record["path"] for record in records] == [str(path) for path in inputs]
    assert records[0]["media_type"] == "image"
    assert records[1]["error"]["code"] == "unsupported-format"  # type: ignore[index]
    assert records[2]["media_type"] == "image"
    assert (records[2]["md5"], records[2]["sha256"]) == _digests(files["chelsea.jpg"])
    assert "broken.jpg" in result.stderr
    assert "1 of 3 files could not be hashed" in result.stderr
    # The same records as one process gives.
    serial = cli("hash", "--json", "--jobs", "1", *(str(path) for path in inputs))
    assert serial.json_lines() == records


def _frames(result: CliResult) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.stderr
    [record] = result.json_lines()
    assert set(record) == _VIDEO_KEYS
    assert record["media_type"] == "video"
    vpdq = record["vpdq"]
    assert isinstance(vpdq, dict)
    frames: list[dict[str, object]] = vpdq["frames"]
    for frame in frames:
        assert set(frame) == {"frame", "timestamp", "quality", "hash"}
        assert _is_hex(frame["hash"], 64)
    return frames


def test_hash_video_every_frame(cli: Cli, files: dict[str, Path]) -> None:
    frames = _frames(cli("hash", "--json", "--every-frame", str(files["clip.mp4"])))
    assert len(frames) == 30
    assert [frame["frame"] for frame in frames] == list(range(30))
    timestamps = [frame["timestamp"] for frame in frames]
    assert timestamps == pytest.approx([index / 10 for index in range(30)], abs=0.01)


def test_hash_video_samples_one_frame_a_second_by_default(cli: Cli, files: dict[str, Path]) -> None:
    path = files["clip.mp4"]
    result = cli("hash", "--json", str(path))
    frames = _frames(result)
    assert [frame["timestamp"] for frame in frames] == pytest.approx([0.0, 1.0, 2.0], abs=0.05)
    assert [frame["frame"] for frame in frames] == [0, 10, 20]
    assert all(frame["quality"] >= 50 for frame in frames)  # type: ignore[operator]
    [record] = result.json_lines()
    assert (record["md5"], record["sha256"]) == _digests(path)

    every_frame = _frames(cli("hash", "--json", "--every-frame", str(path)))
    by_number = {frame["frame"]: frame["hash"] for frame in every_frame}
    assert all(by_number[frame["frame"]] == frame["hash"] for frame in frames)


@pytest.mark.parametrize(
    ("every", "expected"),
    [("0.5", [0, 5, 10, 15, 20, 25]), ("0.3", [0, 3, 6, 9, 12, 15, 18, 21, 24, 27])],
)
def test_hash_video_every_samples_the_frame_at_each_time(
    cli: Cli, files: dict[str, Path], every: str, expected: list[int]
) -> None:
    # Each sample is the first frame at or after its time, whatever kind of frame the
    # encoder made it (the clip's B-frames included): the same frames --every-frame sees.
    path = str(files["clip.mp4"])
    sampled = _frames(cli("hash", "--json", "--every", every, path))
    assert [frame["frame"] for frame in sampled] == expected
    every_frame = _frames(cli("hash", "--json", "--every-frame", path))
    by_number = {frame["frame"]: frame["hash"] for frame in every_frame}
    assert [frame["hash"] for frame in sampled] == [by_number[number] for number in expected]


def test_hash_video_without_json(cli: Cli, files: dict[str, Path]) -> None:
    result = cli("hash", str(files["clip.mp4"]))
    assert result.exit_code == 0
    assert "3 frames" in result.stdout


# --- compare -------------------------------------------------------------------------


def _compare(cli: Cli, *args: str) -> dict[str, object]:
    result = cli("compare", "--json", *args)
    assert result.exit_code == 0, result.stderr
    [record] = result.json_lines()
    return record


def test_compare_an_image_with_its_rotation_matches_with_a_transform(
    cli: Cli, files: dict[str, Path]
) -> None:
    record = _compare(cli, str(files["coffee.png"]), str(files["coffee-rotated.png"]))
    assert record["signal_type"] == "pdq"
    assert record["match"] is True
    assert record["transform"] in ("rotate90", "rotate270")
    assert isinstance(record["distance"], int)
    assert record["distance"] <= 31
    assert record["threshold"] == 31


def test_compare_unrelated_images_does_not_match(cli: Cli, files: dict[str, Path]) -> None:
    record = _compare(cli, str(files["coffee.png"]), str(files["chelsea.jpg"]))
    assert record["signal_type"] == "pdq"
    assert record["match"] is False
    assert "transform" not in record
    assert isinstance(record["distance"], int)
    assert record["distance"] > 31


def test_compare_an_image_with_its_own_pdq_hash(cli: Cli, files: dict[str, Path]) -> None:
    path = files["chelsea.jpg"]
    [hashed] = cli("hash", "--json", str(path)).json_lines()
    signal = f"pdq:{hashed['pdq']['hash']}"  # type: ignore[index]
    for a, b in ((str(path), signal), (signal, str(path))):
        record = _compare(cli, a, b)
        assert (record["a"], record["b"]) == (a, b)
        assert record["match"] is True
        assert record["distance"] == 0
    upper = _compare(cli, str(path), signal.upper().replace("PDQ:", "pdq:"))
    assert upper["distance"] == 0


def test_compare_a_file_with_its_md5(cli: Cli, files: dict[str, Path]) -> None:
    path = files["coffee.png"]
    md5, sha256 = _digests(path)
    assert _compare(cli, str(path), f"md5:{md5}")["match"] is True
    assert _compare(cli, f"sha256:{sha256}", str(path))["match"] is True
    other = _compare(cli, str(files["chelsea.jpg"]), f"md5:{md5}")
    assert other["match"] is False


def test_compare_two_equal_md5_signals(cli: Cli) -> None:
    value = "d41d8cd98f00b204e9800998ecf8427e"
    record = _compare(cli, f"md5:{value}", f"md5:{value}")
    assert record["signal_type"] == "md5"
    assert record["match"] is True
    assert record["distance"] == 0


def test_compare_a_malformed_pdq_signal_exits_3(cli: Cli, files: dict[str, Path]) -> None:
    result = cli("compare", str(files["coffee.png"]), "pdq:xyz")
    assert result.exit_code == 3
    assert "pdq" in result.stderr
    assert "64 hex" in result.stderr
    assert result.stdout == ""


def test_compare_an_image_with_a_video_exits_2(cli: Cli, files: dict[str, Path]) -> None:
    result = cli("compare", str(files["coffee.png"]), str(files["clip.mp4"]))
    assert result.exit_code == 2
    assert "image" in result.stderr
    assert "video" in result.stderr


def test_compare_signals_of_two_types_exits_2(cli: Cli) -> None:
    result = cli("compare", "md5:d41d8cd98f00b204e9800998ecf8427e", "pdq:" + "0" * 64)
    assert result.exit_code == 2


def test_compare_a_missing_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("compare", str(tmp_path / "nothing.png"), "md5:" + "0" * 32)
    assert result.exit_code == 2
    assert "neither a file nor a signal" in result.stderr


def test_compare_a_video_with_itself_matches(cli: Cli, files: dict[str, Path]) -> None:
    path = str(files["clip.mp4"])
    record = _compare(cli, path, path)
    assert record["signal_type"] == "vpdq"
    assert record["match"] is True
    assert record["query_match_percent"] == 100.0


def test_compare_without_json_says_match(cli: Cli, files: dict[str, Path]) -> None:
    result = cli("compare", str(files["coffee.png"]), str(files["coffee-rotated.png"]))
    assert result.exit_code == 0
    assert result.stdout.startswith("match")
    unrelated = cli("compare", str(files["coffee.png"]), str(files["chelsea.jpg"]))
    assert unrelated.exit_code == 0
    assert unrelated.stdout.startswith("no match")
