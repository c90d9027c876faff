"""Safe decoding of video frames to luma planes, every frame or sampled by time.

Sampling decodes as little as it can: packets between samples are held back and
dropped at the next keyframe if no sample falls before it, and decoders that know
which frames are never referenced (H.264, HEVC) skip those.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import av.error
import av.video.frame
import av.video.stream
import numpy as np
from numpy.typing import NDArray

from leakshield.media._errors import MediaError
from leakshield.media._image import rgb_to_luma
from leakshield.media._limits import MediaLimits

# Pixel formats whose first plane is 8-bit luma, so no colour conversion is needed.
_Y_PLANE_FORMATS = frozenset(
    {"yuv420p", "yuv422p", "yuv444p", "yuv440p", "yuv411p", "nv12", "nv21", "gray"}
    | {"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p", "yuvj411p"}
)
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
_SKIP_NONREF_CODECS = frozenset({"h264", "hevc"})
_EPSILON = 1e-6


@dataclass(frozen=True)
class VideoFrameLuma:
    """One decoded frame: its number, its time from the start in seconds, and its luma."""

    index: int
    timestamp: float
    plane: NDArray[np.float32]


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about its first video stream."""

    codec: str
    width: int
    height: int
    fps: float | None
    duration: float | None


def has_video_stream(path: Path) -> bool | None:
    """Whether the file has a video stream; None when FFmpeg does not read it at all."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video)
    except Exception:  # any failure to open means "not a container we read"
        return None


def iter_video_luma(
    path: Path, limits: MediaLimits, *, every: float | None = 1.0
) -> Iterator[VideoFrameLuma]:
    """Yield the luma of every frame (``every=None``) or of one frame per ``every`` seconds.

    A sampled frame is the first frame at or after each multiple of ``every``; its
    own timestamp is reported. Raises `MediaError` when the file is refused or
    cannot be decoded, possibly after some frames were yielded.
    """
    if every is not None and every <= 0:
        raise ValueError("every must be positive, or None for every frame")
    limits.check_file(path)
    timed = every is not None and _has_timestamps(path, limits)
    container = _open(path)
    try:
        stream = _video_stream(container, limits)
        if every is not None and timed:
            yield from _sampled(container, stream, limits, every)
        else:
            # Every frame, or a raw stream with no timestamps to skip by: decode it all
            # (timed by frame count where there are no timestamps).
            yield from _decode_all(container, stream, limits, every)
    except MediaError:
        raise
    except (av.error.FFmpegError, ValueError, OverflowError) as exc:
        raise MediaError("corrupt", f"the video could not be decoded: {exc}") from None
    finally:
        container.close()


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except av.error.InvalidDataError:
        raise MediaError("unsupported-format", "not a video format leakshield can read") from None
    except av.error.FFmpegError as exc:
        raise MediaError("corrupt", f"the video could not be opened: {exc}") from None


def _has_timestamps(path: Path, limits: MediaLimits) -> bool:
    """Whether the first video packet carries a presentation timestamp."""
    with _open(path) as container:
        stream = _video_stream(container, limits)
        try:
            packet = next((p for p in container.demux(stream) if p.size), None)
        except (av.error.FFmpegError, ValueError):
            return False
        return packet is not None and packet.pts is not None


def video_info(path: Path, limits: MediaLimits) -> VideoInfo:
    """The codec, size, frame rate and duration of the file's first video stream."""
    limits.check_file(path)
    try:
        with _open(path) as container:
            stream = _video_stream(container, limits)
            rate = stream.average_rate or stream.guessed_rate
            return VideoInfo(
                codec=stream.codec_context.name,
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                fps=float(rate) if rate else None,
                duration=_duration(container, stream),
            )
    except MediaError:
        raise
    except av.error.FFmpegError as exc:
        raise MediaError("corrupt", f"the video could not be read: {exc}") from None


def _video_stream(
    container: av.container.InputContainer, limits: MediaLimits
) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise MediaError("no-video-stream", "the file has no video stream")
    stream = container.streams.video[0]
    limits.check_pixels(stream.codec_context.width, stream.codec_context.height)
    duration = _duration(container, stream)
    if duration is not None and duration > limits.max_video_seconds:
        raise _too_long(f"it lasts {duration:g} s", limits)
    return stream


def _duration(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _too_long(what: str, limits: MediaLimits) -> MediaError:
    return MediaError(
        "video-too-long",
        f"{what}, over the limit of {limits.max_video_seconds:g} s or "
        f"{limits.max_video_frames:,} frames; raise LEAKSHIELD_MEDIA_MAX_VIDEO_SECONDS "
        "or LEAKSHIELD_MEDIA_MAX_VIDEO_FRAMES to allow it",
    )


class _Clock:
    """Stream timestamps as seconds from the first frame, and the limits on them."""

    def __init__(self, stream: av.video.stream.VideoStream, limits: MediaLimits) -> None:
        self.time_base: Fraction = stream.time_base or Fraction(1, 90000)
        self.start = stream.start_time or 0
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else None
        self.limits = limits
        self.packets = 0

    def seconds(self, pts: int | None) -> float | None:
        return None if pts is None else float((pts - self.start) * self.time_base)

    def frame_seconds(self, frame: av.video.frame.VideoFrame, index: int) -> float:
        """The frame's time, or its number over the frame rate when it has no timestamp."""
        seconds = self.seconds(frame.pts)
        if seconds is None:
            seconds = index / self.fps if self.fps else 0.0
        return seconds

    def count_packet(self, seconds: float | None) -> None:
        self.packets += 1
        if self.packets > self.limits.max_video_frames:
            raise _too_long(
                f"it has more than {self.limits.max_video_frames:,} frames", self.limits
            )
        if seconds is not None and seconds > self.limits.max_video_seconds:
            raise _too_long(f"it runs past {seconds:g} s", self.limits)


def _decode_all(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    limits: MediaLimits,
    every: float | None,
) -> Iterator[VideoFrameLuma]:
    """Decode every frame; yield each (``every=None``) or the first at or after each
    multiple of ``every`` seconds."""
    clock = _Clock(stream, limits)
    next_time = 0.0
    for index, frame in enumerate(container.decode(stream)):
        seconds = clock.frame_seconds(frame, index)
        clock.count_packet(seconds)
        if every is None or seconds >= next_time - _EPSILON:
            while every is not None and next_time <= seconds + _EPSILON:
                next_time += every
            yield VideoFrameLuma(index, seconds, frame_luma(frame))


def _sampled(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    limits: MediaLimits,
    every: float,
) -> Iterator[VideoFrameLuma]:
    clock = _Clock(stream, limits)
    decoder = stream.codec_context
    # Frames nothing refers to are only worth decoding when they may be the sample.
    skip_nonref = decoder.name in _SKIP_NONREF_CODECS
    sampler = _Sampler(clock, every)

    def decode(packet: av.Packet[Any]) -> Iterator[VideoFrameLuma]:
        if skip_nonref:
            seconds = clock.seconds(packet.pts)
            wanted = seconds is None or seconds >= sampler.next_time - _EPSILON
            decoder.skip_frame = "DEFAULT" if wanted else "NONREF"
        yield from sampler.take(decoder.decode(packet))

    pending: list[av.Packet[Any]] = []
    live = False  # the decoder holds state from packets sent since its last flush
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        seconds = clock.seconds(packet.pts)
        clock.count_packet(seconds)
        if packet.is_keyframe:
            # No sample fell among the held-back packets, and nothing after a keyframe
            # refers to them: drop them and restart the decoder here.
            pending.clear()
            if live:
                yield from sampler.take(decoder.decode(None))
                decoder.flush_buffers()
                live = False
            sampler.floor = seconds
        pending.append(packet)
        if seconds is not None and seconds >= sampler.next_time - _EPSILON:
            for held in pending:
                yield from decode(held)
            pending.clear()
            live = True
    for held in pending:
        yield from decode(held)
        live = True
    if live:
        yield from sampler.take(decoder.decode(None))


class _Sampler:
    """Picks, for each multiple of ``every`` seconds, the first frame at or after it."""

    def __init__(self, clock: _Clock, every: float) -> None:
        self.clock = clock
        self.every = every
        self.next_time = 0.0
        # After a restart at a keyframe, frames shown before it may be broken (open GOPs).
        self.floor: float | None = None

    def take(self, frames: Iterable[av.video.frame.VideoFrame]) -> Iterator[VideoFrameLuma]:
        for frame in frames:
            seconds = self.clock.seconds(frame.pts)
            if seconds is None or seconds < self.next_time - _EPSILON:
                continue
            if self.floor is not None and seconds < self.floor - _EPSILON:
                continue
            while self.next_time <= seconds + _EPSILON:
                self.next_time += self.every
            index = round(seconds * self.clock.fps) if self.clock.fps else 0
            yield VideoFrameLuma(index, seconds, frame_luma(frame))


def frame_luma(frame: av.video.frame.VideoFrame) -> NDArray[np.float32]:
    """The frame's luma as 0..255 floats, as an RGB conversion followed by BT.601 luma gives."""
    if frame.format.name in _Y_PLANE_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
        luma: NDArray[np.float32] = rows[: frame.height, : frame.width].astype(np.float32)
        full = frame.format.name.startswith(("yuvj", "gray")) or frame.color_range == _FULL_RANGE
        if not full:
            # Limited range (16..235) stretched to 0..255, as FFmpeg's RGB conversion does.
            luma = np.clip((luma - 16.0) * np.float32(255.0 / 219.0), 0.0, 255.0)
        return luma
    rgb = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    return rgb_to_luma(rgb)
