"""vPDQ agrees with Meta's reference on the shared sample videos, and its match rule holds."""

from __future__ import annotations

from functools import cache

import pytest

from leakshield.media import MediaLimits
from leakshield.signals import VpdqHash, vpdq_from_file, vpdq_match
from tests.signals.conftest import VPDQ_DIR, require_conformance

require_conformance()

LIMITS = MediaLimits()
VIDEOS = sorted(p.stem for p in VPDQ_DIR.glob("*.mp4"))


@cache
def ours(name: str, every: float | None) -> VpdqHash:
    return vpdq_from_file(VPDQ_DIR / f"{name}.mp4", LIMITS, every=every)


def reference(name: str) -> VpdqHash:
    return VpdqHash.parse((VPDQ_DIR / f"{name}.txt").read_text())


def test_every_frame_reproduces_the_reference() -> None:
    assert len(VIDEOS) == 6
    close = total = 0
    for name in VIDEOS:
        expected, got = reference(name).frames, ours(name, None).frames
        assert len(got) == len(expected), name
        for mine, theirs in zip(got, expected, strict=True):
            assert mine.frame == theirs.frame
            assert mine.timestamp == pytest.approx(theirs.timestamp, abs=0.002)
            total += 1
            close += mine.hash - theirs.hash <= 10
            # Frames with detail agree closely; featureless ones (fades) are noise anyway.
            if theirs.quality >= 50:
                assert mine.hash - theirs.hash <= 16, (name, mine.frame)
                assert abs(mine.quality - theirs.quality) <= 2
    assert close / total >= 0.95


@pytest.mark.parametrize("name", VIDEOS)
def test_sampling_takes_about_one_frame_per_second(name: str) -> None:
    every_frame = ours(name, None).frames
    sampled = ours(name, 1.0).frames
    duration = every_frame[-1].timestamp
    assert len(sampled) == int(duration) + 1
    by_time = {f.frame: f for f in every_frame}
    for second, frame in enumerate(sampled):
        assert second <= frame.timestamp < second + 0.034  # the frame at the second itself
        # A sampled frame is the same frame as in the every-frame run, bit for bit.
        assert frame.hash - by_time[frame.frame].hash == 0


@pytest.mark.parametrize("every", [1.0, None])
def test_the_grey_bar_edit_matches_the_original(every: float | None) -> None:
    result = vpdq_match(ours("chair-22-sd-grey-bar", every), ours("chair-orig-22-sd-bar", every))
    assert result.match
    assert result.query_match_percent >= 80


def test_the_large_logo_edit_scores_as_the_reference_does() -> None:
    # A logo over much of the frame moves most frame hashes past 31 in the reference's
    # own output too (about 11% of frames match), so it is no match by the vPDQ rule.
    original = "chair-orig-22-sd-bar"
    expected = vpdq_match(reference("chair-22-with-large-logo-bar"), reference(original))
    got = vpdq_match(ours("chair-22-with-large-logo-bar", None), ours(original, None))
    assert got.query_match_percent == pytest.approx(expected.query_match_percent, abs=5)
    assert got.match == expected.match


@pytest.mark.parametrize(
    "other", ["pattern-hd-no-bar", "pattern-sd-grey-bar", "doorknob-hd-no-bar"]
)
@pytest.mark.parametrize("every", [1.0, None])
def test_different_videos_do_not_match_the_chair(other: str, every: float | None) -> None:
    for chair in ("chair-orig-22-sd-bar", "chair-22-sd-grey-bar"):
        assert not vpdq_match(ours(other, every), ours(chair, every)).match
        assert not vpdq_match(ours(chair, every), ours(other, every)).match


def test_thresholds_are_configurable() -> None:
    query, compared = ours("chair-22-with-large-logo-bar", 1.0), ours("chair-orig-22-sd-bar", 1.0)
    assert not vpdq_match(query, compared).match
    assert vpdq_match(query, compared, distance=80).match
    strict = vpdq_match(ours("chair-22-sd-grey-bar", 1.0), compared, query_percent=100.0)
    assert strict.query_match_percent < 100 or strict.match
    assert not vpdq_match(query, compared, distance=80, min_quality=101).match
