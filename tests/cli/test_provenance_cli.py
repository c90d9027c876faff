"""`leakshield sign`, `verify` and `protect` on the command line: JSON lines in input order,
clear errors that let the batch go on, and nothing written outside the data directory."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from leakshield.media import MediaLimits
from leakshield.provenance import SignOptions, create_identity, fingerprint_file, sign_file
from tests._commands import isolated, run_commands, tree
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("provenance-cli")
    photo = Image.fromarray(skimage.data.astronaut()).resize((600, 560))
    photo.save(root / "photo.jpg", quality=92)
    photo.save(root / "photo.bmp")
    (root / "notes.jpg").write_text("not an image")
    return {path.name: path for path in root.iterdir()}


def test_sign_then_verify(cli: Cli, photos: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "signed.jpg"
    signed = cli("sign", "--json", str(photos["photo.jpg"]), str(out))
    assert signed.exit_code == 0, signed.stderr
    [record] = signed.json_lines()
    assert record["output"] == str(out) and record["manifest"].startswith("urn:")
    assert [b["alg"] for b in record["soft_bindings"]] == ["org.leakshield.pdq.1"]
    assert record["timestamped"] is False
    [verified] = cli("verify", "--json", str(out)).json_lines()
    assert (verified["state"], verified["trust_anchor"]) == ("Trusted", "identity")
    assert verified["manifest_label"] == record["manifest"]
    assert verified["summary"].startswith("The credentials are intact")
    human = cli("verify", str(out))
    assert "Trusted" in human.stdout and "your own identity" in human.stdout


def test_verify_reports_every_file_in_order_and_goes_on_after_errors(
    cli: Cli, photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "signed.jpg"
    assert cli("sign", str(photos["photo.jpg"]), str(out)).exit_code == 0
    data = bytearray(out.read_bytes())
    data[-200] ^= 0x01
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    inputs = [out, photos["notes.jpg"], tampered, photos["photo.jpg"], tmp_path / "missing.jpg"]
    result = cli("verify", "--json", *map(str, inputs))
    assert result.exit_code == 3
    lines = result.json_lines()
    assert [line.get("state") for line in lines] == ["Trusted", None, "Invalid", "NoManifest", None]
    assert lines[1]["error"]["code"] == "unsupported-format"
    assert lines[4]["error"]["code"] == "not-found"
    assert "assertion.dataHash.mismatch" in {f["code"] for f in lines[2]["failures"]}
    assert "2 of 5 files could not be checked" in result.stderr


def test_trust_adds_another_signer_root(cli: Cli, photos: dict[str, Path], tmp_path: Path) -> None:
    other = create_identity(tmp_path / "other")
    out = tmp_path / "theirs.jpg"
    src = photos["photo.jpg"]
    fingerprint = fingerprint_file(src, MediaLimits())
    sign_file(src, out, other, other.private_key_pem(), fingerprint, SignOptions())
    root = tmp_path / "their-root.pem"
    root.write_bytes(other.root_pem)
    [plain] = cli("verify", "--json", str(out)).json_lines()
    assert (plain["state"], plain["trust_anchor"]) == ("Valid", "none")
    [trusted] = cli("verify", "--json", "--trust", str(root), str(out)).json_lines()
    assert (trusted["state"], trusted["trust_anchor"]) == ("Trusted", "user")
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    assert cli("verify", "--trust", str(bad), str(out)).exit_code == 4


def test_a_failed_sign_writes_nothing(
    cli: Cli, photos: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path = tmp_path / "outputs"
    tmp_path.mkdir()
    result = cli("sign", "--json", str(photos["photo.bmp"]), str(tmp_path / "out.bmp"))
    assert result.exit_code == 3
    assert result.json_lines()[0]["error"]["code"] == "unsupported-format"
    monkeypatch.setenv("LEAKSHIELD_TSA_URL", "http://127.0.0.1:9/tsa")
    stamped = cli("sign", str(photos["photo.jpg"]), str(tmp_path / "out.jpg"))
    assert stamped.exit_code == 3
    assert "time-stamp authority" in stamped.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_locked_identity_without_its_passphrase_is_a_clear_error(
    cli: Cli, photos: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse\n")
    assert cli("identity", "create", "--passphrase-file", str(secret)).exit_code == 0
    out = tmp_path / "out.jpg"
    locked = cli("sign", str(photos["photo.jpg"]), str(out))
    assert locked.exit_code == 4
    assert "--passphrase-file" in locked.stderr
    assert not out.exists()
    opened = cli("sign", "--passphrase-file", str(secret), str(photos["photo.jpg"]), str(out))
    assert opened.exit_code == 0
    monkeypatch.setenv("LEAKSHIELD_IDENTITY_PASSPHRASE", "wrong")
    assert cli("protect", str(photos["photo.jpg"]), str(tmp_path / "p")).exit_code == 4


def test_protect_then_a_stripped_copy_is_recovered(
    cli: Cli, photos: dict[str, Path], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(photos["photo.jpg"], src / "photo.jpg")
    (src / "notes.txt").write_text("a note")
    result = cli("protect", "--json", str(src), str(tmp_path / "out"))
    assert result.exit_code == 3  # notes.txt failed; the photo was protected
    lines = result.json_lines()
    assert [(line["path"], line["status"]) for line in lines] == [
        ("notes.txt", "failed"),
        ("photo.jpg", "protected"),
    ]
    assert "created your watermark key" in result.stderr
    assert "created your signing identity" in result.stderr
    assert "1 protected, 0 done before, 1 failed" in result.stderr
    with Image.open(tmp_path / "out" / "photo.jpg") as image:
        image.resize((560, 523)).save(tmp_path / "reposted.jpg", quality=85)
    [found] = cli("verify", "--json", str(tmp_path / "reposted.jpg")).json_lines()
    assert found["state"] == "NoManifest"
    assert found["recovered"]["via"] == "watermark"
    assert found["recovered"]["manifest"] == lines[1]["manifest"]
    [off] = cli("verify", "--json", "--no-recover", str(tmp_path / "reposted.jpg")).json_lines()
    assert off["recovered"] is None
    human = cli("protect", str(src), str(tmp_path / "out"))
    assert "done-before" in human.stdout


def test_nothing_is_written_outside_the_data_directory(
    photos: dict[str, Path], tmp_path: Path
) -> None:
    home, work, data, env = isolated(tmp_path)

    photo = str(photos["photo.jpg"])
    commands = [
        ["sign", photo, "signed.jpg"],
        ["verify", "--json", "signed.jpg", photo],
        ["protect", photo, "protected"],
        ["identity", "export-trust", "root.pem"],
    ]
    before = (tree(home), tree(photos["photo.jpg"].parent))
    done = run_commands(commands, cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    named = {"signed.jpg", "root.pem", "protected"}
    assert {name.split("/")[0] for name in tree(work)} == named
    assert (tree(home), tree(photos["photo.jpg"].parent)) == before
    written = {p.name for p in data.iterdir()} - {"leakshield.db.migrate-lock"}
    assert written == {"identity", "leakshield.db", "watermark"}
