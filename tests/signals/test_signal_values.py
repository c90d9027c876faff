"""Signals are value objects: parse and format round-trip, ``a - b`` is the Hamming distance."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakshield.signals import (
    FixedHash,
    Md5Hash,
    PdqHash,
    Sha256Hash,
    SignalError,
    VpdqHash,
    parse_signal,
    signal_type,
    signal_types,
)

FIXED: list[type[FixedHash]] = [PdqHash, Md5Hash, Sha256Hash]


def test_the_registry_knows_the_four_types() -> None:
    assert list(signal_types()) == ["md5", "pdq", "sha256", "vpdq"]
    assert signal_type(" PDQ ") is PdqHash


@pytest.mark.parametrize("kind", list(signal_types().values()), ids=lambda k: k.type_name)
def test_every_example_parses_and_formats_back(kind: type) -> None:
    assert kind.examples()
    for example in kind.examples():
        signal = kind.parse(example)
        assert str(signal) == example
        assert parse_signal(signal.typed()) == signal


@pytest.mark.parametrize("kind", FIXED, ids=lambda k: k.type_name)
@given(data=st.data())
def test_round_trip_and_distance(kind: type[FixedHash], data: st.DataObject) -> None:
    a = kind(data.draw(st.binary(min_size=kind.size, max_size=kind.size)))
    b = kind(data.draw(st.binary(min_size=kind.size, max_size=kind.size)))
    assert kind.parse(str(a)) == a
    assert kind.parse(str(a).upper()) == a
    assert a - a == 0
    assert a - b == b - a
    expected = sum(bin(x ^ y).count("1") for x, y in zip(a.digest, b.digest, strict=True))
    assert a - b == expected


def test_distance_between_types_is_refused() -> None:
    pdq = PdqHash.parse(PdqHash.examples()[0])
    sha = Sha256Hash.parse(Sha256Hash.examples()[0])
    with pytest.raises(TypeError):
        _ = pdq - sha  # type: ignore[operator]


@pytest.mark.parametrize(
    "text",
    [
        "pdq:xyz",
        "pdq:" + "0" * 63,
        "pdq:" + "g" * 64,
        "md5:" + "0" * 64,
        "sha256:",
        "nope:00",
        "abc",
    ],
)
def test_malformed_signals_say_what_was_expected(text: str) -> None:
    with pytest.raises(SignalError) as caught:
        parse_signal(text)
    assert caught.value.message


def test_md5_and_sha256_examples_are_real_digests() -> None:
    assert (
        str(Md5Hash.parse(Md5Hash.examples()[0]))
        == hashlib.md5(b"", usedforsecurity=False).hexdigest()
    )
    assert str(Sha256Hash.parse(Sha256Hash.examples()[0])) == hashlib.sha256(b"").hexdigest()


def test_vpdq_accepts_the_reference_file_format() -> None:
    text = "0,100,{},0.000\n30,87,{},1.000\n".format(*PdqHash.examples()[:2])
    video = VpdqHash.parse(text)
    assert [(f.frame, f.quality, f.timestamp) for f in video.frames] == [
        (0, 100, 0.0),
        (30, 87, 1.0),
    ]
    assert VpdqHash.parse(str(video)) == video


@pytest.mark.parametrize("text", ["", "1,2,3", "0,101,{0},0", "x,100,{0},0", "0,100,abc,0"])
def test_vpdq_rejects_malformed_frames(text: str) -> None:
    with pytest.raises(SignalError):
        VpdqHash.parse(text.format(PdqHash.examples()[0]))
