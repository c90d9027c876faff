"""`leakshield hash` and `leakshield compare`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from leakshield.config import Settings
    from leakshield.media import MediaLimits
    from leakshield.signals import Comparison, FileHashes, HashOutcome

# The signal modules load NumPy, Pillow and FFmpeg: they are imported by the commands
# that need them, so that every other command (and each --jobs worker) starts quickly.

_PARALLEL_FROM = 64

EveryOption = Annotated[
    float,
    typer.Option("--every", min=0.001, help="Hash one video frame per this many seconds."),
]
EveryFrameOption = Annotated[
    bool,
    typer.Option(
        "--every-frame", help="Hash every video frame, as the vPDQ reference implementation does."
    ),
]


def media_limits(settings: Settings) -> MediaLimits:
    """The media limits the settings ask for."""
    from leakshield.media import MediaLimits

    return MediaLimits.from_settings(settings)


@app.command("hash")
def hash_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Image or video files (or directories).")],
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Hash the files under directories.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Processes to use (default: one per core for 64 files or more).",
        ),
    ] = None,
    every: EveryOption = 1.0,
    every_frame: EveryFrameOption = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Fingerprint images (PDQ) and videos (vPDQ), with MD5 and SHA-256 of every file.

    Only hashes are printed; the media never leaves this machine. A file that cannot
    be hashed gets an error line and the others go on; the exit code is then 3.
    """
    from leakshield.signals import FileHashes, HashOptions, default_jobs, expand_paths, hash_files

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    settings = state.settings().settings
    options = HashOptions(media_limits(settings), None if every_frame else every)
    files = expand_paths(paths, recursive=recursive)
    if not files:
        raise UsageError("no files to hash under the directories given")
    # Starting a process costs about a second: not worth it for a handful of files.
    workers = min(jobs or (default_jobs() if len(files) >= _PARALLEL_FROM else 1), len(files))
    out = state.output
    stderr = Console(stderr=True, highlight=False)
    failed = 0
    for outcome in _with_progress(hash_files(files, options, jobs=workers), len(files), stderr):
        if isinstance(outcome, FileHashes):
            out.result(outcome.to_record(), _describe(outcome))
        else:
            failed += 1
            if out.json_mode:
                out.result(outcome.to_record())
            stderr.print(
                f"[red]{escape(outcome.path)}: {outcome.code}:[/] {escape(outcome.message)}"
            )
    if failed:
        stderr.print(f"{failed} of {len(files)} files could not be hashed")
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def _with_progress(
    outcomes: Iterator[HashOutcome], total: int, stderr: Console
) -> Iterator[HashOutcome]:
    if total < 2 or not stderr.is_terminal:
        yield from outcomes
        return
    columns = (
        TextColumn("hashing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task("hash", total=total)
        for outcome in outcomes:
            yield outcome
            progress.advance(task)


def _describe(hashes: FileHashes) -> str:
    name = escape(hashes.path)
    if hashes.pdq is not None:
        note = "" if hashes.pdq.usable else " [yellow](low quality: not used for matching)[/]"
        pdq = f"pdq {hashes.pdq.hash} quality {hashes.pdq.quality}{note}"
        return f"{name}\n  {pdq}\n  md5 {hashes.md5}"
    frames = hashes.vpdq.frames if hashes.vpdq else ()
    return f"{name}\n  vpdq {len(frames)} frames\n  md5 {hashes.md5}"


@app.command("compare")
def compare_command(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="A file, or a signal written TYPE:VALUE.")],
    b: Annotated[str, typer.Argument(help="A file, or a signal written TYPE:VALUE.")],
    threshold: Annotated[
        int | None,
        typer.Option(
            "--threshold",
            min=0,
            max=256,
            help="Largest PDQ distance that counts as a match. [default: 31]",
        ),
    ] = None,
    query_percent: Annotated[
        float | None,
        typer.Option(
            "--query-percent",
            min=0,
            max=100,
            help="vPDQ: share of A's frames that must match. [default: 80]",
        ),
    ] = None,
    compared_percent: Annotated[
        float | None,
        typer.Option(
            "--compared-percent",
            min=0,
            max=100,
            help="vPDQ: share of B's frames that must match. [default: 0]",
        ),
    ] = None,
    every: EveryOption = 1.0,
    every_frame: EveryFrameOption = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Say whether A and B match: two images by PDQ (rotations and mirror images too),
    two videos by the vPDQ rule, or either against a hash.
    """
    from leakshield.signals import CompareOptions, HashOptions, compare, parse_operand

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    settings = state.settings().settings
    default = CompareOptions()
    options = CompareOptions(
        hashing=HashOptions(media_limits(settings), None if every_frame else every),
        distance=default.distance if threshold is None else threshold,
        query_percent=default.query_percent if query_percent is None else query_percent,
        compared_percent=(
            default.compared_percent if compared_percent is None else compared_percent
        ),
    )
    result = compare(parse_operand(a), parse_operand(b), options)
    state.output.result(result.to_record(), _verdict(result))


def _verdict(result: Comparison) -> str:
    word = "[green]match[/]" if result.match else "[red]no match[/]"
    return f"{word} ({result.signal_type}): {escape(result.reason)}"
