"""`leakshield lookup`: what a file or a hash matches in the banks, and how close."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import skimage.data
from PIL import Image

from leakshield.media import MediaLimits
from leakshield.signals import Md5Hash, PdqHash, pdq_from_file
from tests._commands import isolated, run_commands, tree
from tests.conftest import CliResult
from tests.test_readme import code_blocks

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.timeout(60)

PDQ = PdqHash.examples()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A photo, a smaller JPEG-recompressed copy, a rotated copy, and an unrelated image."""
    root = tmp_path_factory.mktemp("lookup-cli")
    photo = Image.fromarray(skimage.data.astronaut()).resize((256, 256))
    photo.save(root / "photo.png")
    photo.resize((160, 160)).save(root / "copy.jpg", quality=60)
    photo.rotate(90).save(root / "rotated.png")
    Image.fromarray(skimage.data.coffee()).resize((256, 170)).save(root / "other.png")
    return {path.stem: path for path in root.iterdir()}


def pdq(path: Path) -> PdqHash:
    return pdq_from_file(path, MediaLimits()).hash


def lookup(cli: Cli, *args: str) -> list[dict[str, object]]:
    result = cli("lookup", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return result.json_lines()


def matches(cli: Cli, path: Path, *args: str) -> list[tuple[object, ...]]:
    """(bank, signal_type, distance) of each match of one input."""
    [record] = lookup(cli, str(path), *args)
    found = record["matches"]
    assert isinstance(found, list)
    return [(m["bank"], m["signal_type"], m["distance"]) for m in found]


@pytest.fixture
def banked(cli: Cli, images: dict[str, Path]) -> int:
    """The photo in bank MINE; returns its content id."""
    assert cli("bank", "create", "MINE").exit_code == 0
    [added] = cli("bank", "add", "MINE", str(images["photo"]), "--json").json_lines()
    return int(added["content_id"])  # type: ignore[call-overload]


def test_a_file_matches_itself_and_its_copies_not_other_images(
    cli: Cli, images: dict[str, Path], banked: int
) -> None:
    [exact, copy, other] = lookup(
        cli, str(images["photo"]), str(images["copy"]), str(images["other"])
    )
    assert exact == {
        "input": str(images["photo"]),
        "matches": [
            {"bank": "MINE", "content_id": banked, "signal_type": "md5", "distance": 0},
            {"bank": "MINE", "content_id": banked, "signal_type": "pdq", "distance": 0},
        ],
    }
    distance = pdq(images["copy"]) - pdq(images["photo"])
    assert 0 < distance <= 31
    assert copy["matches"] == [
        {"bank": "MINE", "content_id": banked, "signal_type": "pdq", "distance": distance}
    ]
    assert other["matches"] == []

    human = cli("lookup", str(images["copy"]), str(images["other"]))
    assert human.exit_code == 0
    assert "1 match" in human.stdout and "MINE" in human.stdout
    assert "other.png: no match" in human.stdout


def test_signals_are_looked_up_too(cli: Cli, images: dict[str, Path], banked: int) -> None:
    photo = pdq(images["photo"])
    near = PdqHash(bytes([photo.digest[0] ^ 0b111, *photo.digest[1:]]))
    md5 = Md5Hash.examples()[0]
    found = lookup(cli, f"pdq:{near}", f"md5:{md5}")
    assert found == [
        {
            "input": f"pdq:{near}",
            "matches": [
                {"bank": "MINE", "content_id": banked, "signal_type": "pdq", "distance": 3}
            ],
        },
        {"input": f"md5:{md5}", "matches": []},
    ]


def write_clip(path: Path, size: tuple[int, int]) -> Path:
    """Three seconds of a picture panning sideways, at ``size``."""
    base = np.asarray(Image.fromarray(skimage.data.coffee()).resize((128, 96)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.codec_context.thread_count = 1
        for index in range(30):
            picture = Image.fromarray(np.roll(base, 3 * index, axis=1)).resize(size)
            container.mux(stream.encode(av.VideoFrame.from_image(picture)))
        container.mux(stream.encode(None))
    return path


def test_a_video_matches_by_the_vpdq_rule(
    cli: Cli, images: dict[str, Path], tmp_path: Path
) -> None:
    original = write_clip(tmp_path / "a.mp4", (128, 96))
    smaller = write_clip(tmp_path / "b.mp4", (96, 72))
    cli("bank", "create", "VIDEOS")
    [added] = cli("bank", "add", "VIDEOS", str(original), "--json").json_lines()
    assert [s.split(":")[0] for s in added["signals"]] == ["vpdq", "md5"]  # type: ignore[attr-defined]
    [same, copy, photo] = lookup(cli, str(original), str(smaller), str(images["photo"]))
    assert [m["signal_type"] for m in same["matches"]] == ["md5", "vpdq"]  # type: ignore[attr-defined]
    [match] = copy["matches"]  # type: ignore[misc]
    assert (match["signal_type"], match["query_match_percent"]) == ("vpdq", 100.0)
    assert 0 < match["distance"] <= 31
    assert photo["matches"] == []


def test_json_gives_one_line_per_input_in_order_and_exit_3_on_failures(
    cli: Cli, images: dict[str, Path], banked: int, tmp_path: Path
) -> None:
    inputs = [
        str(images["other"]),
        str(tmp_path / "missing.jpg"),
        "pdq:1234",
        str(images["photo"]),
        f"pdq:{PDQ[0]}",
    ]
    result = cli("lookup", "--json", *inputs)
    assert result.exit_code == 3
    records = result.json_lines()
    assert [r["input"] for r in records] == inputs
    assert [sorted(r) for r in records] == [
        ["input", "matches"],
        ["error", "input"],
        ["error", "input"],
        ["input", "matches"],
        ["input", "matches"],
    ]
    assert records[1]["error"]["code"] == "not-found"  # type: ignore[index]
    assert records[2]["error"]["code"] == "bad-signal"  # type: ignore[index]
    assert "2 of 5 inputs" in " ".join(result.stderr.split())


def test_dihedral_finds_a_rotated_copy(cli: Cli, images: dict[str, Path], banked: int) -> None:
    assert matches(cli, images["rotated"]) == []
    [(bank, kind, distance)] = matches(cli, images["rotated"], "--dihedral")
    assert (bank, kind) == ("MINE", "pdq")
    assert isinstance(distance, int) and distance <= 31


def test_a_negative_bank_suppresses_the_match(
    cli: Cli, images: dict[str, Path], banked: int
) -> None:
    cli("bank", "create", "KNOWN_OK", "--negative")
    cli("bank", "add", "KNOWN_OK", str(images["photo"]))
    [record] = lookup(cli, str(images["copy"]))
    assert [(m["bank"], m.get("negative")) for m in record["matches"]] == [("KNOWN_OK", True)]  # type: ignore[attr-defined]
    assert "false positive" in cli("lookup", str(images["copy"])).stdout
    raw = matches(cli, images["copy"], "--raw")
    assert [bank for bank, _, _ in raw] == ["KNOWN_OK", "MINE"]


def test_each_bank_has_its_own_threshold(cli: Cli, images: dict[str, Path], banked: int) -> None:
    cli("bank", "create", "STRICT", "--threshold", "pdq=2")
    cli("bank", "add", "STRICT", str(images["photo"]))
    assert [bank for bank, _, _ in matches(cli, images["copy"])] == ["MINE"]
    exact = [bank for bank, _, _ in matches(cli, images["photo"])]
    assert exact == ["MINE", "MINE", "STRICT", "STRICT"]
    cli("bank", "update", "STRICT", "--threshold", "pdq=31")
    assert [bank for bank, _, _ in matches(cli, images["copy"])] == ["MINE", "STRICT"]


def test_disabled_banks_are_not_searched_unless_raw(
    cli: Cli, images: dict[str, Path], banked: int
) -> None:
    assert cli("bank", "update", "MINE", "--disable").exit_code == 0
    assert matches(cli, images["copy"]) == []
    assert [bank for bank, _, _ in matches(cli, images["copy"], "--raw")] == ["MINE"]
    cli("bank", "update", "MINE", "--enable")
    assert [bank for bank, _, _ in matches(cli, images["copy"])] == ["MINE"]


def test_bank_option_limits_the_search(cli: Cli, images: dict[str, Path], banked: int) -> None:
    cli("bank", "create", "OTHER")
    cli("bank", "add", "OTHER", str(images["photo"]))
    assert {b for b, _, _ in matches(cli, images["copy"])} == {"MINE", "OTHER"}
    assert {b for b, _, _ in matches(cli, images["copy"], "--bank", "OTHER")} == {"OTHER"}
    unknown = cli("lookup", str(images["copy"]), "--bank", "NOPE", "--json")
    assert unknown.exit_code == 3
    assert "NOPE" in unknown.stderr
    assert unknown.stdout == ""


def test_changes_are_seen_by_the_next_lookup(
    cli: Cli, images: dict[str, Path], banked: int
) -> None:
    assert matches(cli, images["other"]) == []  # the matcher snapshot is written here
    cli("bank", "add", "MINE", str(images["other"]))
    assert [kind for _, kind, _ in matches(cli, images["other"])] == ["md5", "pdq"]
    cli("bank", "remove", "MINE", f"pdq:{pdq(images['other'])}")
    assert [kind for _, kind, _ in matches(cli, images["other"])] == ["md5"]
    cli("bank", "delete", "MINE", "--yes")
    assert matches(cli, images["photo"]) == []


def test_readme_bank_example_runs(
    cli: Cli, images: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [block] = [b for b in code_blocks("Usage") if any("leakshield bank" in line for line in b)]
    monkeypatch.chdir(tmp_path)
    Image.open(images["photo"]).save("photo.jpg", quality=95)
    Image.open(images["photo"]).resize((200, 200)).save("leak.jpg", quality=70)
    (tmp_path / "hashes.csv").write_text(f"signal_type,signal,metadata\npdq,{PDQ[0]},\n")
    for command in (line.split("#")[0] for line in block):
        result = cli(*shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}: {result.stderr}"
        if "lookup" in command:
            assert "MY_PHOTOS" in result.stdout
    assert Path("my-photos.csv").is_file()


def test_nothing_is_written_outside_the_data_directory(
    images: dict[str, Path], tmp_path: Path
) -> None:
    home, work, data, env = isolated(tmp_path)
    (work / "list.csv").write_text(f"signal_type,signal,metadata\npdq,{PDQ[0]},\n")
    package = Path(__import__("leakshield").__file__).parent

    def compiled() -> dict[str, int]:
        return {str(p): p.stat().st_mtime_ns for p in package.rglob("*.nb[ic]")}

    commands = [
        ["bank", "import", "MINE", "list.csv", "--create"],
        ["bank", "add", "MINE", str(images["photo"])],
        ["lookup", "--json", str(images["copy"]), f"pdq:{PDQ[0]}"],
        ["bank", "export", "MINE", "--output", "named.csv"],
        ["apikey", "create", "--role", "lookup"],
    ]
    # One process for all (each start costs seconds), numba imported by the commands only.
    before = (tree(home), tree(work), compiled())
    done = run_commands(commands, cwd=work, env=env, then="assert 'numba' in sys.modules\n")
    assert done.returncode == 0, done.stderr
    assert '"MINE"' in done.stdout
    after_work = tree(work)
    assert after_work.pop("named.csv")  # the one path the user named
    assert (tree(home), after_work, compiled()) == before
    assert any((data / "cache" / "numba").iterdir())  # numba's cache went to the data dir
