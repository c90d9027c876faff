"""`leakshield watermark`: make a key, mark image files, and read marks back."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leakshield.cli._lookup import RecursiveOption, error_record, one_input, with_progress
from leakshield.cli._output import Output
from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.errors import ExitCode, LeakshieldError, UsageError

if TYPE_CHECKING:
    from leakshield.config import Settings
    from leakshield.media import MediaLimits
    from leakshield.watermark import WatermarkKey
    from leakshield.watermark._files import FileDetection

# NumPy, Pillow and OpenCV are imported by the commands that need them, so that every other
# command starts quickly.

watermark_app = typer.Typer(
    help="Invisible watermarks: a keyed mark that ties a leaked copy back to the file it was "
    "made from.",
    no_args_is_help=True,
)
app.add_typer(watermark_app, name="watermark")

DEFAULT_KEY_NAME = "default"
_KEY_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PAYLOAD_HEX = re.compile(r"(?:0[xX])?([0-9a-fA-F]{16})")

KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        "-k",
        help="Watermark key file (default: the data directory's default key, made by "
        "`leakshield watermark keygen`).",
        dir_okay=False,
        show_default=False,
    ),
]


def key_path(settings: Settings, name: str = DEFAULT_KEY_NAME) -> Path:
    """Where the key called ``name`` lives in the data directory."""
    return settings.data_dir / "watermark" / f"{name}.key"


def _load_key(settings: Settings, path: Path | None) -> WatermarkKey:
    from leakshield.watermark import WatermarkKey

    return WatermarkKey.load(path if path is not None else key_path(settings))


def parse_payload(text: str) -> bytes:
    """A payload given on the command line: 16 hex digits, optionally after ``0x``."""
    from leakshield.watermark import WatermarkError

    match = _PAYLOAD_HEX.fullmatch(text.strip())
    if match is None:
        raise WatermarkError(
            f"--payload takes exactly 16 hex digits (64 bits), e.g. 0123456789abcdef; got {text!r}"
        )
    return bytes.fromhex(match.group(1))


@watermark_app.command("keygen")
def keygen(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Option("--name", help="Key name: the file is <data dir>/watermark/NAME.key.")
    ] = DEFAULT_KEY_NAME,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace an existing key (marks made with it can no longer be read)."
        ),
    ] = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Make a new secret watermark key in the data directory (readable by you only).

    Keep a backup of the key file: marks made with it can be read only with it.
    """
    from leakshield.watermark import WatermarkKey

    if not _KEY_NAME.fullmatch(name):
        raise UsageError(f"--name takes letters, digits, '-' and '_' (at most 64); got {name!r}")
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    path = key_path(state.settings().settings, name)
    replaced = path.exists()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = WatermarkKey.generate()
    key.save(path, overwrite=force)
    record = {"name": name, "path": str(path), "key_id": key.key_id, "replaced": replaced}
    state.output.result(record, f"{escape(str(path))}\nkey id {key.key_id}")
    Console(stderr=True, highlight=False).print(
        f"{'replaced' if replaced else 'created'} watermark key {escape(name)}. "
        "[bold]Keep a backup of the file:[/] marks made with this key can be read only with it."
    )


@watermark_app.command("embed")
def embed_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(metavar="IN", help="The image to mark.")],
    output: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write the marked copy.")],
    key: KeyOption = None,
    payload: Annotated[
        str | None,
        typer.Option(
            "--payload",
            help="16 hex digits (64 bits) to hide in the copy (default: random, printed).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Write a marked copy of IN to OUT, in IN's format, with its metadata.

    The payload is what ties a leaked copy back to this file: give each person their own
    copy with its own payload, and note who got which. IN is never changed.
    """
    from leakshield.media import MediaLimits
    from leakshield.watermark._files import embed_file

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    settings = state.settings().settings
    chosen = parse_payload(payload) if payload is not None else secrets.token_bytes(8)
    watermark_key = _load_key(settings, key)
    out = state.output
    stderr = Console(stderr=True, highlight=False)
    try:
        result = embed_file(
            source,
            output,
            watermark_key,
            chosen,
            limits=MediaLimits.from_settings(settings),
            overwrite=force,
        )
    except LeakshieldError as exc:
        _report_failure(out, stderr, str(source), exc)
        raise typer.Exit(int(ExitCode.BAD_INPUT)) from None
    out.result(result.to_record())
    notes = "".join(f"\n  note: {escape(note)}" for note in result.notes)
    stderr.print(
        f"marked {escape(str(source))} -> {escape(str(output))}\n"
        f"  payload [bold]{result.payload_hex}[/] (key id {result.key_id}){notes}\n"
        "  Note who gets this copy: the payload ties a leaked copy back to it."
    )


@watermark_app.command("detect")
def detect_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="Images (or directories).")
    ],
    key: KeyOption = None,
    recursive: RecursiveOption = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Look for the key's watermark in images, and for image generators' public marks.

    A file that cannot be read gets an error line, the others go on, and the exit code is
    then 3.
    """
    from leakshield.media import MediaLimits
    from leakshield.signals import expand_paths

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    settings = state.settings().settings
    watermark_key = _load_key(settings, key)
    files = expand_paths(paths, recursive=recursive)
    if not files:
        raise UsageError("no files under the directories given")
    limits = MediaLimits.from_settings(settings)
    out = state.output
    stderr = Console(stderr=True, highlight=False)
    found: list[FileDetection] = []
    failed = 0
    for path in with_progress(files, "detecting", stderr):
        try:
            result = _detect_one(path, watermark_key, limits)
        except LeakshieldError as exc:
            failed += 1
            _report_failure(out, stderr, str(path), exc)
            continue
        out.result(result.to_record())
        found.append(result)
    if not out.json_mode and found:
        out.stdout.print(_table(found))
        if any(mark.present for result in found for mark in result.generator_marks):
            stderr.print(
                "A generator mark is a cue, not proof: anyone can add one, and most edits "
                "remove it."
            )
    if failed:
        stderr.print(f"{failed} of {len(files)} files could not be checked")
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def _detect_one(path: Path, key: WatermarkKey, limits: MediaLimits) -> FileDetection:
    from leakshield.watermark._files import detect_file

    with one_input():
        return detect_file(path, key, limits=limits)


def _report_failure(out: Output, stderr: Console, path: str, exc: LeakshieldError) -> None:
    """A file that failed: its JSON line in --json mode, and always a line on stderr."""
    error = error_record(path, exc)["error"]
    record: dict[str, Any] = {"path": path, "error": error}
    if out.json_mode:
        out.result(record)
    stderr.print(f"[red]{escape(path)}: {error['code']}:[/] {escape(exc.message)}")


def _table(results: list[FileDetection]) -> Table:
    table = Table("file", "watermark", "payload", "confidence", "generator marks", box=None)
    for result in results:
        found = result.detection
        generators = ", ".join(m.name for m in result.generator_marks if m.present)
        table.add_row(
            escape(str(result.path)),
            "[bold]found[/]" if found.present else "none",
            found.payload_hex or "",
            f"{found.confidence:.2f}" if found.present else "",
            escape(generators) or "none",
        )
    return table
