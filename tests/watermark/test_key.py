"""Watermark keys: generation, key files (0600, never replaced by accident), clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from leakshield.errors import InputError
from leakshield.watermark import KEY_BYTES, WatermarkKey, WatermarkKeyError


def test_a_key_is_32_random_bytes_and_shows_only_its_id() -> None:
    key, other = WatermarkKey.generate(), WatermarkKey.generate()
    assert len(key.secret) == KEY_BYTES and key.secret != other.secret
    assert key.key_id != other.key_id and len(key.key_id) == 16
    assert key.secret.hex() not in repr(key) and key.key_id in repr(key)
    with pytest.raises(WatermarkKeyError):
        WatermarkKey(bytes(31))


def test_derived_streams_are_stable_and_separate() -> None:
    key = WatermarkKey(bytes(range(32)))
    assert key.derive("a", 16) == WatermarkKey(bytes(range(32))).derive("a", 16)
    assert key.derive("a", 16) != key.derive("b", 16)
    assert (key.rng("x").integers(0, 1 << 30, 4) == key.rng("x").integers(0, 1 << 30, 4)).all()


def test_save_and_load_round_trip_with_mode_0600(tmp_path: Path) -> None:
    key = WatermarkKey.generate()
    path = tmp_path / "keys" / "mine.key"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert WatermarkKey.load(path) == key
    assert json.loads(path.read_text())["key_id"] == key.key_id
    assert [p.name for p in path.parent.iterdir()] == ["mine.key"]  # no temporary left


def test_a_key_file_is_never_replaced_by_accident(tmp_path: Path) -> None:
    path = tmp_path / "mine.key"
    first, second = WatermarkKey.generate(), WatermarkKey.generate()
    first.save(path)
    with pytest.raises(WatermarkKeyError, match="--force"):
        second.save(path)
    assert WatermarkKey.load(path) == first
    second.save(path, overwrite=True)
    assert WatermarkKey.load(path) == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "not a leakshield watermark key"),
        ("{}", "not a leakshield watermark key"),
        ('{"type": "leakshield-watermark-key", "version": 1, "secret": "zz"}', "not a leakshield"),
        ('{"type": "leakshield-watermark-key", "version": 1, "secret": "00"}', "not a leakshield"),
        ('{"type": "leakshield-watermark-key", "version": 9, "secret": ""}', "version 9"),
        ("x" * 5000, "not a leakshield watermark key"),
    ],
)
def test_bad_key_files_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content)
    with pytest.raises(WatermarkKeyError, match=message) as info:
        WatermarkKey.load(path)
    assert isinstance(info.value, InputError)


def test_a_damaged_or_missing_key_file_is_named(tmp_path: Path) -> None:
    key = WatermarkKey.generate()
    path = tmp_path / "k.key"
    key.save(path)
    document = json.loads(path.read_text())
    document["key_id"] = "0" * 16
    path.write_text(json.dumps(document))
    with pytest.raises(WatermarkKeyError, match="damaged"):
        WatermarkKey.load(path)
    with pytest.raises(WatermarkKeyError, match="keygen"):
        WatermarkKey.load(tmp_path / "missing.key")
