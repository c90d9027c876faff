"""`leakshield watermark`: keys in the data directory, marked copies, and what detect prints."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from leakshield.watermark import WatermarkKey
from tests._commands import isolated, run_commands, tree
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.timeout(60)

PAYLOAD = "0123456789abcdef"
_HEX16 = re.compile(r"[0-9a-f]{16}")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A photo as JPEG and PNG, and files that cannot be marked."""
    root = tmp_path_factory.mktemp("watermark-cli")
    photo = Image.fromarray(skimage.data.astronaut()).resize((600, 560))
    photo.save(root / "photo.jpg", quality=92)
    photo.save(root / "photo.png")
    photo.resize((300, 280)).save(root / "small.png")
    photo.save(root / "anim.webp", save_all=True, append_images=[photo.rotate(5)], quality=50)
    (root / "cut.jpg").write_bytes((root / "photo.jpg").read_bytes()[:30_000])
    (root / "notes.jpg").write_text("not an image")
    return {path.name: path for path in root.iterdir()}


@pytest.fixture
def key_file(data_dir: Path) -> Path:
    """The data directory's default key (a fixed one, so that results do not vary by key)."""
    path = data_dir / "watermark" / "default.key"
    WatermarkKey(bytes(range(32))).save(path)
    return path


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_keygen_writes_a_private_key_and_never_replaces_it_by_accident(
    cli: Cli, data_dir: Path
) -> None:
    made = cli("watermark", "keygen", "--json")
    assert made.exit_code == 0, made.stderr
    [record] = made.json_lines()
    path = data_dir / "watermark" / "default.key"
    key = WatermarkKey.load(path)
    assert record == {
        "name": "default",
        "path": str(path),
        "key_id": key.key_id,
        "replaced": False,
    }
    assert path.stat().st_mode & 0o777 == 0o600
    assert "backup" in made.stderr

    again = cli("watermark", "keygen")
    assert again.exit_code == 3
    assert "--force" in again.stderr
    assert WatermarkKey.load(path) == key

    forced = cli("watermark", "keygen", "--force", "--json")
    assert forced.exit_code == 0
    assert forced.json_lines()[0]["replaced"] is True
    assert WatermarkKey.load(path) != key
    assert path.stat().st_mode & 0o777 == 0o600

    named = cli("watermark", "keygen", "--name", "for-alex")
    assert named.exit_code == 0
    assert str(data_dir / "watermark" / "for-alex.key") in named.stdout
    assert cli("watermark", "keygen", "--name", "../outside").exit_code == 2


def test_embed_then_detect_through_files(
    cli: Cli, key_file: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "marked.jpg"
    embedded = cli("watermark", "embed", "--payload", PAYLOAD, str(photos["photo.jpg"]), str(out))
    assert embedded.exit_code == 0, embedded.stderr
    assert embedded.stdout == ""  # the summary goes to stderr
    assert PAYLOAD in embedded.stderr
    key_id = WatermarkKey.load(key_file).key_id

    detected = cli("watermark", "detect", "--json", str(out), str(photos["photo.jpg"]))
    assert detected.exit_code == 0, detected.stderr
    marked, clean = detected.json_lines()
    assert set(marked) == {
        "path",
        "present",
        "payload_hex",
        "confidence",
        "key_id",
        "rotation",
        "generator_marks",
    }
    assert (marked["path"], marked["present"], marked["payload_hex"]) == (str(out), True, PAYLOAD)
    assert marked["key_id"] == key_id
    assert 0 < marked["confidence"] <= 1  # type: ignore[operator]
    assert (clean["present"], clean["payload_hex"]) == (False, None)

    human = cli("watermark", "detect", str(out), str(photos["photo.jpg"]))
    assert human.exit_code == 0
    assert PAYLOAD in human.stdout and "found" in human.stdout


def test_embed_picks_a_random_payload_and_prints_it(
    cli: Cli, key_file: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "marked.png"
    result = cli("watermark", "embed", "--json", str(photos["photo.png"]), str(out))
    assert result.exit_code == 0, result.stderr
    [record] = result.json_lines()
    assert record["path"] == str(photos["photo.png"])
    assert record["output"] == str(out)
    assert record["format"] == "PNG"
    assert record["key_id"] == WatermarkKey.load(key_file).key_id
    payload = record["payload_hex"]
    assert isinstance(payload, str) and _HEX16.fullmatch(payload)
    assert payload in result.stderr
    [found] = cli("watermark", "detect", "--json", str(out)).json_lines()
    assert found["payload_hex"] == payload


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--payload", "12"], "16 hex digits"),
        (["--payload", "0123456789abcdeg"], "16 hex digits"),
        (["--key", "{tmp}/missing.key"], "keygen"),
    ],
)
def test_bad_options_exit_3_and_write_nothing(
    cli: Cli, key_file: Path, photos: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "o.png"
    result = cli("watermark", "embed", *args, str(photos["photo.png"]), str(out))
    assert result.exit_code == 3
    assert message in " ".join(result.stderr.split())
    assert listing(tmp_path / "out") == []


def test_without_a_key_embed_says_to_run_keygen(
    cli: Cli, photos: dict[str, Path], tmp_path: Path
) -> None:
    for command in (["embed", str(photos["photo.png"]), str(tmp_path / "o.png")], ["detect", "x"]):
        result = cli("watermark", *command)
        assert result.exit_code == 3
        assert "leakshield watermark keygen" in " ".join(result.stderr.split())
    assert listing(tmp_path) == []  # not even the data directory


@pytest.mark.parametrize(
    ("source", "out", "code"),
    [
        ("small.png", "o.png", "image-too-small"),
        ("notes.jpg", "o.jpg", "unsupported-format"),
        ("anim.webp", "o.webp", "animated"),
        ("cut.jpg", "o.jpg", "corrupt"),
        ("photo.png", "photo.png", "same-file"),
        ("photo.png", "o.jpg", "format-mismatch"),
        ("missing.png", "o.png", "not-found"),
    ],
)
def test_refused_files_exit_3_with_an_error_line_and_write_nothing(
    cli: Cli, key_file: Path, photos: dict[str, Path], source: str, out: str, code: str
) -> None:
    root = photos["photo.png"].parent
    before = listing(root)
    result = cli("watermark", "embed", "--json", str(root / source), str(root / out))
    assert result.exit_code == 3
    [record] = result.json_lines()
    assert record["path"] == str(root / source)
    assert record["error"]["code"] == code  # type: ignore[index]
    assert listing(root) == before
    if code == "image-too-small":
        assert "512" in result.stderr


def test_an_existing_output_is_replaced_only_with_force(
    cli: Cli, key_file: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "o.png"
    out.write_bytes(b"precious")
    refused = cli("watermark", "embed", str(photos["photo.png"]), str(out))
    assert refused.exit_code == 3
    assert "--force" in refused.stderr
    assert out.read_bytes() == b"precious"
    assert cli("watermark", "embed", "--force", str(photos["photo.png"]), str(out)).exit_code == 0
    with Image.open(out) as marked:
        assert marked.format == "PNG"


def test_detect_gives_one_line_per_file_in_order_and_exit_3_on_failures(
    cli: Cli, key_file: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    cli(
        "watermark",
        "embed",
        "--payload",
        PAYLOAD,
        str(photos["photo.png"]),
        str(tmp_path / "m.png"),
    )
    (tmp_path / "dir" / "sub" / "b.png").write_bytes((tmp_path / "m.png").read_bytes())
    (tmp_path / "dir" / "a.jpg").write_bytes(photos["photo.jpg"].read_bytes())
    inputs = [
        str(photos["notes.jpg"]),
        str(tmp_path / "m.png"),
        str(tmp_path / "missing.png"),
        str(tmp_path / "dir"),
    ]
    result = cli("watermark", "detect", "--json", "--recursive", *inputs)
    assert result.exit_code == 3
    records = result.json_lines()
    assert [r["path"] for r in records] == [
        *inputs[:3],
        str(tmp_path / "dir" / "a.jpg"),
        str(tmp_path / "dir" / "sub" / "b.png"),
    ]
    assert [r.get("error", {}).get("code") for r in records] == [  # type: ignore[attr-defined]
        "unsupported-format",
        None,
        "not-found",
        None,
        None,
    ]
    assert [r.get("payload_hex") for r in records] == [None, PAYLOAD, None, None, PAYLOAD]
    assert "2 of 5 files" in " ".join(result.stderr.split())


def test_an_explicit_key_file_and_another_key(
    cli: Cli, photos: dict[str, Path], tmp_path: Path
) -> None:
    mine, theirs = tmp_path / "mine.key", tmp_path / "theirs.key"
    WatermarkKey(bytes(range(32))).save(mine)
    WatermarkKey(bytes(32)).save(theirs)
    out = tmp_path / "m.png"
    args = ["--key", str(mine), "--payload", PAYLOAD, str(photos["photo.png"]), str(out)]
    assert cli("watermark", "embed", *args).exit_code == 0
    [found] = cli("watermark", "detect", "--json", "--key", str(mine), str(out)).json_lines()
    [other] = cli("watermark", "detect", "--json", "--key", str(theirs), str(out)).json_lines()
    assert (found["present"], found["payload_hex"]) == (True, PAYLOAD)
    assert (other["present"], other["key_id"]) == (False, WatermarkKey.load(theirs).key_id)


def test_data_dir_option_and_environment_are_honoured(
    cli: Cli, data_dir: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    chosen = tmp_path / "chosen"
    made = cli("watermark", "keygen", "--data-dir", str(chosen), "--json")
    assert made.json_lines()[0]["path"] == str(chosen / "watermark" / "default.key")
    assert not data_dir.exists()  # LEAKSHIELD_DATA_DIR's directory was not touched
    out = tmp_path / "m.png"
    embed = ["--data-dir", str(chosen), str(photos["photo.png"]), str(out), "--payload", PAYLOAD]
    assert cli("watermark", "embed", *embed).exit_code == 0
    # Without --data-dir, LEAKSHIELD_DATA_DIR is used: it has no key yet.
    assert cli("watermark", "detect", str(out)).exit_code == 3
    [found] = cli("--data-dir", str(chosen), "watermark", "detect", "--json", str(out)).json_lines()
    assert found["payload_hex"] == PAYLOAD
    assert cli("watermark", "keygen").exit_code == 0
    assert (data_dir / "watermark" / "default.key").is_file()


def test_nothing_is_written_outside_the_data_directory(
    photos: dict[str, Path], tmp_path: Path
) -> None:
    home, work, data, env = isolated(tmp_path)

    photo = str(photos["photo.png"])
    commands = [
        ["watermark", "keygen"],
        ["watermark", "embed", "--payload", PAYLOAD, photo, "marked.png"],
        ["watermark", "detect", "--json", "marked.png", photo],
    ]
    before = (tree(home), tree(work), tree(photos["photo.png"].parent))
    done = run_commands(commands, cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    assert PAYLOAD in done.stdout
    after_work = tree(work)
    assert after_work.pop("marked.png")  # the one path the user named
    assert (tree(home), after_work, tree(photos["photo.png"].parent)) == before
    assert listing(data) == ["watermark"]
    assert listing(data / "watermark") == ["default.key"]


def test_a_bug_on_one_file_does_not_stop_the_others(
    cli: Cli, key_file: Path, photos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakshield.watermark import _files

    real = _files.detect_file

    def broken_on_png(path: Path, *args: object, **kwargs: object) -> object:
        if path.suffix == ".png":
            raise ZeroDivisionError("a bug")
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_files, "detect_file", broken_on_png)
    result = cli(
        "watermark", "detect", "--json", str(photos["photo.png"]), str(photos["photo.jpg"])
    )
    assert result.exit_code == 3
    failed, checked = result.json_lines()
    assert failed["error"]["code"] == "internal-error"  # type: ignore[index]
    assert "please report" in failed["error"]["message"]  # type: ignore[index]
    assert checked["present"] is False
