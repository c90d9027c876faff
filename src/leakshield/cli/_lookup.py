"""`leakshield lookup`, and what the bank commands share with it: opening the database,
reading PATH_OR_SIGNAL inputs, per-input error lines, the progress bar, and reading and
writing the files a user names."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, TextIO, TypeVar

import typer
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leakshield.cli._output import Output
from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.errors import ExitCode, InputError, LeakshieldError, UsageError

if TYPE_CHECKING:
    from leakshield.banks import Match, Matcher
    from leakshield.config import Settings
    from leakshield.signals import HashOptions, Signal
    from leakshield.store import Database

T = TypeVar("T")

RecursiveOption = Annotated[
    bool, typer.Option("--recursive", "-r", help="Take the files under directories.")
]
InputsArgument = Annotated[
    list[str],
    typer.Argument(
        help="Image or video files, directories with --recursive, or signals written "
        "TYPE:VALUE (pdq:…, vpdq:…, md5:…, sha256:…).",
        metavar="PATH_OR_SIGNAL...",
        show_default=False,
    ),
]


@contextmanager
def open_database(state: CliState) -> Iterator[tuple[Settings, Database]]:
    """The settings and the migrated database of a command; disposed of at the end."""
    settings = state.settings().settings
    # Before anything imports numba (banks, index): its cache goes into the data dir.
    settings.prepare_runtime()
    from leakshield.store import Database

    database = Database(settings.database_url_or_default)
    try:
        database.upgrade()  # commands migrate on first use, as `serve` does
        yield settings, database
    finally:
        database.dispose()


def hash_options(settings: Settings) -> HashOptions:
    """How to hash input files under the configured media limits."""
    from leakshield.media import MediaLimits
    from leakshield.signals import HashOptions

    return HashOptions(MediaLimits.from_settings(settings))


@dataclass(frozen=True)
class Input:
    """One input as the user named it: a file, or a signal when ``path`` is None."""

    label: str
    path: Path | None


def resolve_inputs(texts: Sequence[str], *, recursive: bool) -> list[Input]:
    """The inputs in order: ``TYPE:VALUE`` signals as they are, files, and the files under
    directories (sorted by path) with ``recursive``."""
    from leakshield.signals import expand_paths, signal_types

    known = signal_types()
    inputs: list[Input] = []
    for text in texts:
        kind, sep, _ = text.partition(":")
        if sep and kind.strip().lower() in known:
            inputs.append(Input(text, None))
            continue
        path = Path(text)
        if recursive and path.is_dir():
            inputs.extend(Input(str(p), p) for p in expand_paths([path], recursive=True))
        else:
            inputs.append(Input(text, path))
    if not inputs:
        raise UsageError("no files under the directories given")
    return inputs


def input_signals(
    item: Input, options: HashOptions, *, dihedral: bool = False, lookup: bool = False
) -> tuple[Signal, ...]:
    """The signals of one input: the file's (PDQ or vPDQ, and MD5), or the signal itself.
    With ``lookup`` a signal must be of a type that can be matched."""
    from leakshield.banks import file_signals, parse_lookup_signal
    from leakshield.media import MediaError
    from leakshield.signals import parse_signal

    if item.path is None:
        if lookup:
            kind, _, value = item.label.partition(":")
            return (parse_lookup_signal(kind, value),)
        return (parse_signal(item.label),)
    try:
        with one_input():
            return file_signals(item.path, options, dihedral=dihedral).signals
    except MediaError as exc:
        if exc.code == "not-found":
            raise MediaError(
                "not-found",
                "no such file; give a file, or a signal written TYPE:VALUE "
                "(e.g. pdq:<64 hex digits>)",
            ) from None
        raise


@contextmanager
def one_input() -> Iterator[None]:
    """Work on one input of a batch: an unexpected exception becomes an `InputFailure`,
    reported on that input's line, so that one bad file does not stop the others."""
    try:
        yield
    except LeakshieldError:
        raise
    except Exception as exc:
        raise InputFailure(
            "internal-error", f"unexpected error ({type(exc).__name__}: {exc}); please report it"
        ) from exc


class InputFailure(LeakshieldError):
    """One input failed in a way no other error class names."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def error_record(label: str, exc: LeakshieldError) -> dict[str, Any]:
    """The JSON line of an input that failed: its code and message."""
    code = getattr(exc, "code", None) or exc.slug
    return {"input": label, "error": {"code": str(code), "message": exc.message}}


def report_failure(out: Output, stderr: Console, label: str, exc: LeakshieldError) -> None:
    """Report a failed input: its JSON line in --json mode, and always a line on stderr."""
    record = error_record(label, exc)
    if out.json_mode:
        out.result(record)
    stderr.print(f"[red]{escape(label)}: {record['error']['code']}:[/] {escape(exc.message)}")


def with_progress(items: Sequence[T], verb: str, stderr: Console) -> Iterator[T]:
    """``items``, with a progress bar on a terminal that advances as each is done."""
    if len(items) < 2 or not stderr.is_terminal:
        yield from items
        return
    columns = (TextColumn(verb), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(verb, total=len(items))
        for item in items:
            yield item
            progress.advance(task)


@contextmanager
def open_source(source: str) -> Iterator[BinaryIO]:
    """A file the user named, or stdin for ``-``, open for reading bytes."""
    if source == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = Path(source).open("rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}") from None
    with stream:
        yield stream


def write_atomic(path: Path, write: Callable[[TextIO], int]) -> int:
    """Write through a temporary file beside ``path``, renamed over it when complete, so
    that a reader never sees half a list and a failure leaves no partial file."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            count = write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return count


@app.command("lookup")
def lookup_command(
    ctx: typer.Context,
    inputs: InputsArgument,
    bank: Annotated[
        list[str] | None,
        typer.Option("--bank", "-b", help="Search only this bank (repeat for several)."),
    ] = None,
    dihedral: Annotated[
        bool,
        typer.Option("--dihedral", help="Also match images rotated or mirrored (8 PDQ hashes)."),
    ] = False,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="Also search disabled banks and content, and do not let negative banks "
            "suppress matches.",
        ),
    ] = False,
    recursive: RecursiveOption = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Match files or signals against the banks: which content each matches, and how close.

    Files are hashed on this machine (PDQ for images, vPDQ for videos, MD5 for both); only
    the hashes are compared. An input that fails gets an error line, the others go on, and
    the exit code is then 3.
    """
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    out = state.output
    stderr = Console(stderr=True, highlight=False)
    with open_database(state) as (settings, database):
        from leakshield.banks import BankStore, matcher_cache_dir, open_matcher

        items = resolve_inputs(inputs, recursive=recursive)
        cache = matcher_cache_dir(settings.cache_dir, settings.database_url_or_default)
        matcher = open_matcher(BankStore(database), cache)
        wanted = _check_banks(matcher, bank)
        options = hash_options(settings)
        failed = 0
        for item in with_progress(items, "matching", stderr):
            try:
                signals = input_signals(item, options, dihedral=dihedral, lookup=True)
                matches = matcher.lookup(signals, banks=wanted, raw=raw)
            except LeakshieldError as exc:
                failed += 1
                report_failure(out, stderr, item.label, exc)
                continue
            record = {"input": item.label, "matches": [m.to_record() for m in matches]}
            out.result(record, _describe(item.label, matches))
    if failed:
        stderr.print(f"{failed} of {len(items)} inputs could not be looked up")
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def _check_banks(matcher: Matcher, names: Iterable[str] | None) -> list[str] | None:
    """The banks to search, all of them known; None searches every bank."""
    from leakshield.banks import BankNotFoundError

    if not names:
        return None
    wanted = list(dict.fromkeys(names))
    known = {b.name for b in matcher.banks().values()}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise BankNotFoundError(
            f"There is no bank named {', '.join(unknown)}. `leakshield bank list` lists them."
        )
    return wanted


def _describe(label: str, matches: Sequence[Match]) -> RenderableType:
    name = escape(label)
    if not matches:
        return f"{name}: [green]no match[/]"
    table = Table("bank", "content", "signal", "distance", "note", box=None, padding=(0, 2))
    for match in matches:
        note = "known false positive (negative bank)" if match.negative else ""
        if match.query_match_percent is not None:
            note = f"{match.query_match_percent:.0f}% of frames matched {note}".strip()
        table.add_row(
            escape(match.bank),
            str(match.content_id),
            match.signal_type,
            str(match.distance),
            note,
        )
    count = f"{len(matches)} match{'es' if len(matches) != 1 else ''}"
    return Group(f"{name}: [bold red]{count}[/]", table)
