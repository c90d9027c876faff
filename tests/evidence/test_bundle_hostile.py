"""Hostile zips: each is a named problem, never an exception, and verification writes
nothing anywhere (it streams entries; it never extracts)."""

from __future__ import annotations

import os
import random
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakshield.errors import InputError
from leakshield.evidence._bundle import export_bundle
from leakshield.evidence._bundle_format import BundleLimits
from leakshield.evidence._bundle_verify import BundleVerification, verify_bundle
from tests.evidence._bundle_fakes import patch_central, rewrite, sample_case

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    return export_bundle(sample_case(), folder / "case.zip", pdf=False).path


@pytest.fixture(autouse=True)
def _writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run each test from an empty folder; check nothing appeared there or escaped."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield
    assert list(work.iterdir()) == []
    assert not list(tmp_path.parent.rglob("escaped*"))
    assert not Path("/etc/escaped.txt").exists()


def codes(result: BundleVerification) -> list[str]:
    assert not result.ok
    return [p.code for p in result.problems]


def one_entry_zip(path: Path, info: zipfile.ZipInfo, data: bytes = b"x") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, data)
    return path


def test_a_file_that_is_not_a_zip(tmp_path: Path) -> None:
    for content in [b"", b"just some text\n", b"%PDF-1.7 not a zip", b"\x00" * 5000]:
        path = tmp_path / "h.zip"
        path.write_bytes(content)
        result = verify_bundle(path)
        assert codes(result) == ["not-a-zip"]
        assert "not a zip file" in result.problems[0].message


def test_a_truncated_zip(bundle: Path, tmp_path: Path) -> None:
    data = bundle.read_bytes()
    for cut in [len(data) // 2, len(data) - 30, 100]:
        path = tmp_path / "h.zip"
        path.write_bytes(data[:cut])
        assert codes(verify_bundle(path)) == ["corrupt-zip"]


def test_a_damaged_central_directory(bundle: Path, tmp_path: Path) -> None:
    data = bytearray(bundle.read_bytes())
    start = data.find(b"PK\x01\x02")
    data[start : start + 60] = b"\xff" * 60
    path = tmp_path / "h.zip"
    path.write_bytes(bytes(data))
    assert codes(verify_bundle(path)) == ["corrupt-zip"]


def test_flipped_bytes_in_a_stored_file_name_that_file(bundle: Path, tmp_path: Path) -> None:
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as archive:
        info = archive.getinfo("items/item-0001/IMG_0412.png")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    data[at] ^= 0xFF
    path = tmp_path / "h.zip"
    path.write_bytes(bytes(data))
    result = verify_bundle(path)
    assert [(p.code, p.item_id, p.path) for p in result.problems] == [
        ("file-altered", "item-0001", "items/item-0001/IMG_0412.png")
    ]


@pytest.mark.parametrize(
    "name",
    ["../escaped.txt", "items/../../escaped.txt", "/etc/escaped.txt", "items\\..\\escaped.txt",
     "C:/escaped.txt", "c:escaped.txt", "items//x.png", "./x", "x\x1b[31m.txt", "evil\x00.png"],
)  # fmt: skip
def test_entry_names_that_could_escape_a_folder(bundle: Path, tmp_path: Path, name: str) -> None:
    # zipfile cuts a name it writes at a NUL byte, so that one is patched in afterwards.
    hostile = rewrite(bundle, tmp_path / "b.zip", add={name.replace("\x00", "_"): b"escaped"})
    hostile.write_bytes(hostile.read_bytes().replace(b"evil_.png", b"evil\x00.png"))
    result = verify_bundle(hostile)
    assert codes(result) == ["unsafe-name"]
    assert result.problems[0].path == name
    assert "\x1b" not in result.problems[0].message and "\x00" not in result.problems[0].message


def test_a_symlink_entry(bundle: Path, tmp_path: Path) -> None:
    link = zipfile.ZipInfo("items/item-0001/link.png")
    link.create_system = 3
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(rewrite(bundle, tmp_path / "b.zip"), "a") as archive:
        archive.writestr(link, "/etc/passwd")
    result = verify_bundle(tmp_path / "b.zip")
    assert codes(result) == ["symlink"]
    assert result.problems[0].path == "items/item-0001/link.png"


def test_a_device_file_entry(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("fifo")
    info.external_attr = 0o010644 << 16
    assert "special-file" in codes(verify_bundle(one_entry_zip(tmp_path / "h.zip", info)))


def test_a_deflate_bomb_is_refused_unread(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("manifest.json")
    info.compress_type = zipfile.ZIP_DEFLATED
    result = verify_bundle(one_entry_zip(tmp_path / "h.zip", info, b"\x00" * (40 << 20)))
    assert codes(result) == ["zip-bomb"]
    assert "would inflate" in result.problems[0].message


def test_a_huge_declared_size_is_refused_unread(bundle: Path, tmp_path: Path) -> None:
    data = patch_central(bundle.read_bytes(), "items/item-0001/IMG_0412.png", 24, "<L", 0xFFFFFFF0)
    path = tmp_path / "h.zip"
    path.write_bytes(data)
    assert codes(verify_bundle(path)) == ["zip-bomb"]
    tight = BundleLimits(max_total_bytes=10_000, max_ratio=1e9)
    assert codes(verify_bundle(bundle, limits=tight)) == ["too-large"]


def test_many_small_entries_that_inflate_too_much_together(tmp_path: Path) -> None:
    path = tmp_path / "h.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(40):
            archive.writestr(f"items/item-0001/{n}.txt", b"\x00" * (1 << 20))
    assert codes(verify_bundle(path)) == ["zip-bomb"]


def test_overlapping_entries_are_refused(bundle: Path, tmp_path: Path) -> None:
    data = bundle.read_bytes()
    with zipfile.ZipFile(bundle) as archive:
        first = archive.getinfo("items/item-0001/IMG_0412.png").header_offset
    data = patch_central(data, "items/item-0002/IMG_0413.png", 42, "<L", first)
    path = tmp_path / "h.zip"
    path.write_bytes(data)
    result = verify_bundle(path)
    assert codes(result) == ["zip-bomb"]
    assert "overlap" in result.problems[0].message


def test_too_many_entries(bundle: Path, tmp_path: Path) -> None:
    assert codes(verify_bundle(bundle, limits=BundleLimits(max_entries=5))) == ["too-many-entries"]
    # A directory that declares more entries than allowed is refused before it is parsed.
    data = bytearray(bundle.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 0xFFFF, 0xFFFF)
    path = tmp_path / "h.zip"
    path.write_bytes(bytes(data))
    result = verify_bundle(path, limits=BundleLimits(max_entries=1000))
    assert codes(result) == ["too-many-entries"]
    assert "65,535" in result.problems[0].message


def test_duplicate_entry_names(bundle: Path, tmp_path: Path) -> None:
    path = rewrite(bundle, tmp_path / "b.zip")
    with (
        pytest.warns(UserWarning, match="Duplicate name"),
        zipfile.ZipFile(path, "a") as archive,
    ):
        archive.writestr("items/item-0001/IMG_0412.png", b"another picture")
    result = verify_bundle(path)
    assert codes(result) == ["duplicate-entry"]
    assert result.problems[0].path == "items/item-0001/IMG_0412.png"


def test_encrypted_and_unusual_compression_entries(bundle: Path, tmp_path: Path) -> None:
    name = "items/item-0004/page.html"
    path = tmp_path / "h.zip"
    path.write_bytes(patch_central(bundle.read_bytes(), name, 8, "<H", 0x1))
    assert codes(verify_bundle(path)) == ["encrypted-entry", "file-missing"]
    path.write_bytes(patch_central(bundle.read_bytes(), name, 10, "<H", zipfile.ZIP_BZIP2))
    assert codes(verify_bundle(path)) == ["unsupported-compression", "file-missing"]


def test_folder_entries_from_rezipping_are_harmless(bundle: Path, tmp_path: Path) -> None:
    path = rewrite(bundle, tmp_path / "b.zip")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(zipfile.ZipInfo("items/"), b"")
        archive.writestr(zipfile.ZipInfo("items/item-0001/"), b"")
    assert verify_bundle(path).ok


def test_a_missing_or_unreadable_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read .*Check the path"):
        verify_bundle(tmp_path / "absent.zip")
    with pytest.raises(InputError, match="it is not a file"):
        verify_bundle(tmp_path)
    os.mkfifo(tmp_path / "pipe.zip")
    with pytest.raises(InputError, match="it is not a file"):
        verify_bundle(tmp_path / "pipe.zip")


def test_random_damage_never_raises(bundle: Path, tmp_path: Path) -> None:
    data = bundle.read_bytes()
    rng = random.Random(9)  # noqa: S311  (reproducible damage, not secrets)
    path = tmp_path / "h.zip"
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if rng.random() < 0.2:
            damaged = damaged[: rng.randrange(len(damaged))]
        path.write_bytes(bytes(damaged))
        result = verify_bundle(path)  # any exception fails the test
        assert all(p.message for p in result.problems)
