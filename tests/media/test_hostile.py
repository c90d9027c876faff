"""Hostile and unusual media: each refusal has its code and comes quickly, and a batch goes on.

Every file here is generated: gradients, noise, silence and scikit-image's bundled samples.
"""

from __future__ import annotations

import io
import os
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import skimage.data
from numpy.typing import NDArray
from PIL import Image, ImageFile

from leakshield.media import (
    MediaError,
    MediaLimits,
    decode_luma,
    detect_media_type,
    iter_video_luma,
)
from leakshield.signals import (
    FileHashes,
    HashFailure,
    HashOptions,
    hash_file,
    hash_files,
)
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

# A hostile file must be refused in well under this; a hang fails the test instead of the run.
pytestmark = pytest.mark.timeout(30)
QUICK_S = 5.0

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --- generated media ---------------------------------------------------------------


def _coffee(width: int = 240, height: int = 160) -> Image.Image:
    """A structured RGB picture (high PDQ quality), resized to ``width`` x ``height``."""
    return Image.fromarray(skimage.data.coffee()).resize((width, height))


def _luma_reference(image: Image.Image) -> NDArray[np.float32]:
    return np.asarray(image.convert("L"), dtype=np.float32)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header claims ``width`` x ``height`` 8-bit grey pixels,
    with a few bytes of pixel data: decoding it would allocate width * height bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 17)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG with its SOF0 header patched to claim ``width`` x ``height``."""
    buffer = io.BytesIO()
    _coffee(64, 48).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif_claiming(width: int, height: int) -> bytes:
    """A small real GIF whose logical screen claims ``width`` x ``height``."""
    buffer = io.BytesIO()
    _coffee(64, 48).save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def _write_clip(
    path: Path,
    *,
    frames: int,
    fps: int,
    size: tuple[int, int] = (64, 64),
    codec: str = "libx264",
    container_format: str | None = None,
) -> Path:
    """A clip of a picture panning sideways, one frame per step."""
    width, height = size
    base = np.asarray(_coffee(width, height).convert("RGB"))
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1  # the same bytes on every run
        for index in range(frames):
            picture = np.ascontiguousarray(np.roll(base, 3 * index, axis=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def _write_audio_only(path: Path) -> Path:
    """One second of AAC silence, with no video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        silence = np.zeros((1, 1024), dtype=np.float32)
        for _ in range(0, 44100, 1024):
            frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
            frame.sample_rate = 44100
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good and hostile files, made once for the module."""
    root = tmp_path_factory.mktemp("media")
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        files[name] = root / name
        files[name].write_bytes(data)

    _coffee().save(root / "good.png")
    files["good.png"] = root / "good.png"
    Image.fromarray(skimage.data.chelsea()).save(root / "good.jpg", quality=90)
    files["good.jpg"] = root / "good.jpg"

    put("empty.jpg", b"")
    jpeg = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(jpeg, "JPEG", quality=90)
    put("truncated.jpg", jpeg.getvalue()[: len(jpeg.getvalue()) * 6 // 10])
    put("random.jpg", np.random.default_rng(7).bytes(20_000))
    put("random.bin", np.random.default_rng(8).bytes(20_000))
    put("bomb.png", _png_claiming(100_000, 100_000))
    put("bomb.jpg", _jpeg_claiming(65_500, 65_500))
    put("bomb.gif", _gif_claiming(65_000, 65_000))
    files["audio.m4a"] = _write_audio_only(root / "audio.m4a")
    files["clip.mp4"] = _write_clip(root / "clip.mp4", frames=10, fps=10)
    (root / "folder").mkdir()
    (root / "folder" / "inside.png").write_bytes(files["good.png"].read_bytes())
    files["folder"] = root / "folder"
    files["missing.png"] = root / "missing.png"
    (root / "dangling.png").symlink_to(root / "nowhere.png")
    files["dangling.png"] = root / "dangling.png"
    (root / "loop.png").symlink_to(root / "loop.png")
    files["loop.png"] = root / "loop.png"
    files["through-a-file.png"] = files["good.png"] / "child.png"
    return files


def _refusal(action: Callable[[], object]) -> tuple[MediaError, float]:
    start = time.perf_counter()
    with pytest.raises(MediaError) as caught:
        action()
    return caught.value, time.perf_counter() - start


# --- each hostile file, alone --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty.jpg", "empty"),
        ("truncated.jpg", "corrupt"),
        ("random.jpg", "unsupported-format"),
        ("random.bin", "unsupported-format"),
        ("bomb.png", "too-many-pixels"),
        ("bomb.jpg", "too-many-pixels"),
        ("bomb.gif", "too-many-pixels"),
        ("audio.m4a", "no-video-stream"),
        ("missing.png", "not-found"),
        ("dangling.png", "not-found"),
        ("folder", "unreadable"),
        ("loop.png", "unreadable"),
        ("through-a-file.png", "unreadable"),
    ],
)
def test_a_hostile_file_is_refused_with_its_code(
    media: dict[str, Path], name: str, code: str
) -> None:
    error, elapsed = _refusal(lambda: hash_file(media[name]))
    assert error.code == code, error.message
    assert error.message
    assert elapsed < QUICK_S


def test_a_truncated_jpeg_is_an_image_that_fails_to_decode(media: dict[str, Path]) -> None:
    path = media["truncated.jpg"]
    assert detect_media_type(path, MediaLimits()) == "image"
    error, _ = _refusal(lambda: decode_luma(path, MediaLimits()))
    assert error.code == "corrupt"


@pytest.mark.parametrize("name", ["bomb.png", "bomb.jpg", "bomb.gif"])
def test_a_pixel_bomb_is_refused_from_its_header_without_decoding(
    media: dict[str, Path], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("the pixels were decoded")

    # Decoding would fail with "corrupt" (decode_luma catches the AssertionError).
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    tracemalloc.start()
    try:
        error, elapsed = _refusal(lambda: decode_luma(media[name], MediaLimits()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.code == "too-many-pixels"
    assert "LEAKSHIELD_MEDIA_MAX_PIXELS" in error.message
    assert elapsed < 1.0
    assert peak < 16 << 20
    # The guard works: a picture within the limits does reach the decoder.
    control, _ = _refusal(lambda: decode_luma(media["good.png"], MediaLimits()))
    assert control.code == "corrupt"


def test_the_pixel_limit_is_inclusive(media: dict[str, Path]) -> None:
    path = media["good.png"]
    assert hash_file(path, HashOptions(MediaLimits(max_pixels=240 * 160))).pdq is not None
    error, _ = _refusal(lambda: hash_file(path, HashOptions(MediaLimits(max_pixels=240 * 160 - 1))))
    assert error.code == "too-many-pixels"


def test_a_file_over_max_file_bytes_is_refused_before_reading(media: dict[str, Path]) -> None:
    path = media["good.png"]
    size = path.stat().st_size
    assert hash_file(path, HashOptions(MediaLimits(max_file_bytes=size))).pdq is not None
    error, _ = _refusal(lambda: hash_file(path, HashOptions(MediaLimits(max_file_bytes=size - 1))))
    assert error.code == "file-too-large"
    assert "LEAKSHIELD_MEDIA_MAX_FILE_BYTES" in error.message


def test_max_file_bytes_from_the_environment(
    cli: Cli, media: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKSHIELD_MEDIA_MAX_FILE_BYTES", "1000")
    result = cli("hash", "--json", "--jobs", "1", str(media["good.png"]))
    assert result.exit_code == 3
    [record] = result.json_lines()
    assert record["error"]["code"] == "file-too-large"
    assert "file-too-large" in result.stderr


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    error, elapsed = _refusal(lambda: hash_file(fifo))
    assert error.code in ("empty", "unreadable")
    assert elapsed < QUICK_S


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their permissions")
def test_a_file_without_read_permission_is_unreadable(tmp_path: Path) -> None:
    locked = tmp_path / "locked.png"
    _coffee().save(locked)
    locked.chmod(0)
    try:
        error, _ = _refusal(lambda: hash_file(locked))
    finally:
        locked.chmod(0o644)
    assert error.code == "unreadable"


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their permissions")
def test_a_file_in_a_locked_directory_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    _coffee().save(folder / "inside.png")
    folder.chmod(0)
    try:
        error, _ = _refusal(lambda: hash_file(folder / "inside.png"))
    finally:
        folder.chmod(0o755)
    assert error.code == "unreadable"


# --- video limits --------------------------------------------------------------------


@pytest.mark.parametrize("every", [None, 1.0], ids=["every-frame", "sampled"])
@pytest.mark.parametrize(
    ("limits", "code"),
    [
        (MediaLimits(max_video_frames=5), "video-too-long"),
        (MediaLimits(max_video_seconds=0.5), "video-too-long"),
        (MediaLimits(max_pixels=64 * 64 - 1), "too-many-pixels"),
    ],
    ids=["frames", "seconds", "pixels"],
)
def test_a_video_over_a_limit_is_refused(
    media: dict[str, Path], limits: MediaLimits, code: str, every: float | None
) -> None:
    path = media["clip.mp4"]
    error, elapsed = _refusal(lambda: list(iter_video_luma(path, limits, every=every)))
    assert error.code == code, error.message
    assert elapsed < QUICK_S
    error, _ = _refusal(lambda: hash_file(path, HashOptions(limits, every)))
    assert error.code == code


@pytest.mark.parametrize("every", [None, 1.0], ids=["every-frame", "sampled"])
def test_a_video_at_its_limits_is_hashed(media: dict[str, Path], every: float | None) -> None:
    limits = MediaLimits(max_pixels=64 * 64, max_video_frames=10, max_video_seconds=1.0)
    frames = list(iter_video_luma(media["clip.mp4"], limits, every=every))
    assert len(frames) == (10 if every is None else 1)
    assert all(frame.plane.shape == (64, 64) for frame in frames)


def test_video_frame_limit_from_the_environment(
    cli: Cli, media: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKSHIELD_MEDIA_MAX_VIDEO_FRAMES", "5")
    result = cli("hash", "--json", "--jobs", "1", "--every-frame", str(media["clip.mp4"]))
    assert result.exit_code == 3
    [record] = result.json_lines()
    assert record["error"]["code"] == "video-too-long"


@pytest.fixture(scope="module")
def raw_h264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-second H.264 elementary stream (no container, so no timestamps: FFmpeg
    reads it at 25 fps)."""
    path = tmp_path_factory.mktemp("raw") / "clip.h264"
    return _write_clip(path, frames=100, fps=25, container_format="h264")


def test_a_raw_h264_stream_is_sampled_once_a_second(raw_h264: Path) -> None:
    assert detect_media_type(raw_h264, MediaLimits()) == "video"
    every_frame = list(iter_video_luma(raw_h264, MediaLimits(), every=None))
    assert len(every_frame) == 100
    sampled = list(iter_video_luma(raw_h264, MediaLimits(), every=1.0))
    assert [round(frame.timestamp) for frame in sampled] == [0, 1, 2, 3]


@pytest.mark.parametrize("every", [None, 1.0], ids=["every-frame", "sampled"])
def test_a_raw_h264_stream_over_max_video_seconds_is_refused(
    raw_h264: Path, every: float | None
) -> None:
    limits = MediaLimits(max_video_seconds=2.0)
    error, _ = _refusal(lambda: list(iter_video_luma(raw_h264, limits, every=every)))
    assert error.code == "video-too-long"


def test_a_video_damaged_midway_is_corrupt_not_an_unknown_format(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "clip.mp4", frames=30, fps=10, size=(128, 128))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = np.random.default_rng(0).bytes(2000)
    path.write_bytes(bytes(data))
    assert detect_media_type(path, MediaLimits()) == "video"
    for every in (None, 1.0):
        try:
            hashes = hash_file(path, HashOptions(every=every))
        except MediaError as error:
            # FFmpeg read it as a video: a decoding failure means damage, not a format
            # leakshield cannot read.
            assert error.code == "corrupt", f"every={every}: {error.code}: {error.message}"
        else:
            assert hashes.vpdq is not None


# --- a mixed batch -------------------------------------------------------------------

Batch = tuple[MediaLimits, list[tuple[Path, str]]]


@pytest.fixture(scope="module")
def batch(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """Good files between hostile ones, with limits that only the hostile ones break."""
    root = tmp_path_factory.mktemp("batch")
    big = root / "big.png"
    with big.open("wb") as handle:
        handle.truncate(2 << 20)  # sparse: refused on its size before any read
    long_clip = _write_clip(root / "long.mp4", frames=40, fps=4)
    wide_clip = _write_clip(root / "wide.mp4", frames=2, fps=10, size=(640, 480))
    good_clip = media["clip.mp4"]
    limits = MediaLimits(
        max_file_bytes=1 << 20, max_pixels=300_000, max_video_seconds=5.0, max_video_frames=50
    )
    expected: list[tuple[Path, str]] = [
        (media["good.png"], "image"),
        (media["empty.jpg"], "empty"),
        (media["good.jpg"], "image"),
        (media["truncated.jpg"], "corrupt"),
        (media["random.jpg"], "unsupported-format"),
        (media["bomb.png"], "too-many-pixels"),
        (good_clip, "video"),
        (media["audio.m4a"], "no-video-stream"),
        (media["folder"], "unreadable"),
        (media["dangling.png"], "not-found"),
        (media["missing.png"], "not-found"),
        (big, "file-too-large"),
        (long_clip, "video-too-long"),
        (wide_clip, "too-many-pixels"),
        (media["good.png"], "image"),
    ]
    return limits, expected


def test_a_mixed_batch_hashes_the_good_files_in_order(batch: Batch) -> None:
    limits, expected = batch
    outcomes = list(hash_files([path for path, _ in expected], HashOptions(limits)))
    assert [outcome.path for outcome in outcomes] == [str(path) for path, _ in expected]
    for outcome, (path, what) in zip(outcomes, expected, strict=True):
        if what in ("image", "video"):
            assert isinstance(outcome, FileHashes), f"{path.name}: {outcome}"
            assert outcome.media_type == what
        else:
            assert isinstance(outcome, HashFailure), f"{path.name}: {outcome}"
            assert outcome.code == what, f"{path.name}: {outcome.message}"
            record = outcome.to_record()
            assert record == {
                "path": str(path),
                "error": {"code": what, "message": outcome.message},
            }


def test_a_mixed_batch_on_the_command_line(
    cli: Cli, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits, expected = batch
    monkeypatch.setenv("LEAKSHIELD_MEDIA_MAX_FILE_BYTES", str(limits.max_file_bytes))
    monkeypatch.setenv("LEAKSHIELD_MEDIA_MAX_PIXELS", str(limits.max_pixels))
    monkeypatch.setenv("LEAKSHIELD_MEDIA_MAX_VIDEO_SECONDS", str(limits.max_video_seconds))
    monkeypatch.setenv("LEAKSHIELD_MEDIA_MAX_VIDEO_FRAMES", str(limits.max_video_frames))
    result = cli("hash", "--json", "--jobs", "1", *(str(path) for path, _ in expected))
    assert result.exit_code == 3
    records = result.json_lines()
    assert [record["path"] for record in records] == [str(path) for path, _ in expected]
    for record, (path, what) in zip(records, expected, strict=True):
        if what in ("image", "video"):
            assert record["media_type"] == what, record
        else:
            assert record["error"]["code"] == what, record  # type: ignore[index]
            # Rich wraps long lines: compare without the whitespace.
            assert f"{path.name}:{what}:" in "".join(result.stderr.split())
    failures = sum(what not in ("image", "video") for _, what in expected)
    assert f"{failures} of {len(expected)} files could not be hashed" in result.stderr
