"""`leakshield case`: encrypted evidence cases, their items, captures and exports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from leakshield.cli._identity import read_passphrase
from leakshield.cli._lookup import RecursiveOption, one_input, report_failure, with_progress
from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.config import SECRET_ENV_VARS
from leakshield.errors import ExitCode, LeakshieldError, UsageError

if TYPE_CHECKING:
    from leakshield.config import Settings
    from leakshield.evidence import OpenCase

CASE_PASSPHRASE_ENV = SECRET_ENV_VARS[1]  # the name of the variable, not a secret

_BATCH = 32

case_app = typer.Typer(
    help="Evidence cases: encrypted at rest, every action in a signed, tamper-evident log.",
    no_args_is_help=True,
)
app.add_typer(case_app, name="case")

CaseArgument = Annotated[str, typer.Argument(metavar="CASE", help="The case id (or its start).")]
PassphraseOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"File whose first line is the case's passphrase (or set {CASE_PASSPHRASE_ENV}). "
        "Never give a passphrase on the command line.",
        dir_okay=False,
        show_default=False,
    ),
]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor", help="Who is acting, for the log (default: your user name).", show_default=False
    ),
]


def _passphrase(path: Path | None, *, new: bool = False) -> bytes:
    """The passphrase from the file or the environment, else asked for on a terminal."""
    from leakshield.evidence import PassphraseError

    found = read_passphrase(path, CASE_PASSPHRASE_ENV)
    if found:
        return found
    if not sys.stdin.isatty():
        raise PassphraseError(
            f"this needs the case's passphrase: --passphrase-file FILE or {CASE_PASSPHRASE_ENV}"
        )
    typed = typer.prompt("Case passphrase", hide_input=True, confirmation_prompt=new, err=True)
    return str(typed).encode()


@contextmanager
def opened_case(
    state: CliState, case: str, passphrase_file: Path | None
) -> Iterator[tuple[Settings, OpenCase]]:
    from leakshield.evidence import Vault

    settings = state.settings().settings
    settings.prepare_runtime()
    opened = Vault(settings.data_dir / "cases").open(case, _passphrase(passphrase_file))
    try:
        yield settings, opened
    finally:
        opened.close()


@case_app.command("new")
def new_command(
    ctx: typer.Context,
    title: Annotated[
        str, typer.Argument(help="What the case is about, for you (stored encrypted).")
    ],
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Start a case, encrypted under a passphrase, with its own signing key."""
    from leakshield.evidence import Vault

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    settings = state.settings().settings
    settings.prepare_runtime()
    case = Vault(settings.data_dir / "cases").create(
        title, _passphrase(passphrase_file, new=True), actor=actor
    )
    with case:
        state.output.result(
            {
                "id": case.case_id,
                "title": case.title,
                "created": case.created,
                "key_id": case.key_id,
            },
            f"case {case.case_id} created ({escape(title)}); keep its passphrase safe: "
            "without it the case cannot be opened",
        )


@case_app.command("list")
def list_command(
    ctx: typer.Context, data_dir: DataDirOption = None, json: JsonOption = False
) -> None:
    """Every case: id, when created, log size and last activity (titles are encrypted)."""
    from leakshield.evidence import Vault

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    settings = state.settings().settings
    summaries = Vault(settings.data_dir / "cases").summaries()
    if state.output.json_mode:
        for summary in summaries:
            state.output.result(summary.to_record())
        return
    table = Table("case", "created", "log entries", "last activity")
    for s in summaries:
        table.add_row(s.id, s.created, str(s.records), s.last_activity or "")
    state.output.result({}, table if summaries else "no cases yet (`leakshield case new TITLE`)")


@case_app.command("show")
def show_command(
    ctx: typer.Context,
    case: CaseArgument,
    passphrase_file: PassphraseOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """A case's title, items and latest signed tree head."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with opened_case(state, case, passphrase_file) as (_, opened):
        items = opened.items()
        head = opened.tree_heads[-1]
        record = {
            "id": opened.case_id,
            "title": opened.title,
            "created": opened.created,
            "key_id": opened.key_id,
            "tree_head": head.to_record(),
            "items": [item.to_record() for item in items],
        }
        table = Table("item", "kind", "added (UTC)", "by", "what", "SHA-256")
        for item in items:
            table.add_row(
                item.id,
                item.kind,
                item.added_at,
                item.added_by,
                escape(item.label),
                item.sha256[:16],
            )
        heading = Text.from_markup(
            f"[bold]{escape(opened.title)}[/]  case {opened.case_id}, created {opened.created}\n"
            f"signed tree head: {head.size} log entries, root {head.root}, {head.time}, "
            f"key {opened.key_id}"
        )
        state.output.result(record, Group(heading, table) if items else heading)


@case_app.command("add-file")
def add_file_command(
    ctx: typer.Context,
    case: CaseArgument,
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Files to copy in.")],
    recursive: RecursiveOption = False,
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Copy files into the case (the originals are never moved or changed) and record each
    with its SHA-256, PDQ or vPDQ, size, type, original path and modification time."""
    from leakshield.evidence import add_files
    from leakshield.media import MediaLimits
    from leakshield.signals import expand_paths

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    files = expand_paths(paths, recursive=recursive)
    if not files:
        raise UsageError("no files under the directories given")
    stderr, failed = Console(stderr=True, highlight=False), 0
    with opened_case(state, case, passphrase_file) as (settings, opened):
        limits = MediaLimits.from_settings(settings)
        # Committed a batch at a time: one sync of the log for many files.
        batches = [files[i : i + _BATCH] for i in range(0, len(files), _BATCH)]
        for batch in with_progress(batches, "adding", stderr):
            with one_input():
                results = add_files(opened, batch, limits=limits, actor=actor)
            for path, result in zip(batch, results, strict=True):
                if isinstance(result, LeakshieldError):
                    failed += 1
                    report_failure(state.output, stderr, str(path), result)
                    continue
                state.output.result(
                    result.to_record(), f"{result.id}  {escape(str(path))}  sha256 {result.sha256}"
                )
    if failed:
        stderr.print(f"{failed} of {len(files)} files could not be added")
        raise typer.Exit(int(ExitCode.BAD_INPUT))


@case_app.command("note")
def note_command(
    ctx: typer.Context,
    case: CaseArgument,
    text: Annotated[str, typer.Argument(help="The note ('-': read it from standard input).")],
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Record a note: what you saw, where, when."""
    from leakshield.evidence import add_note

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    body = sys.stdin.read(200_001) if text == "-" else text
    with opened_case(state, case, passphrase_file) as (_, opened):
        item = add_note(opened, body, actor=actor)
        state.output.result(item.to_record(), f"{item.id}  note recorded")


@case_app.command("passphrase")
def passphrase_command(
    ctx: typer.Context,
    case: CaseArgument,
    new_passphrase_file: Annotated[
        Path,
        typer.Option(
            "--new-passphrase-file",
            help="File whose first line is the new passphrase.",
            dir_okay=False,
        ),
    ],
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Change a case's passphrase (its key is re-wrapped; nothing is re-encrypted)."""
    new = read_passphrase(new_passphrase_file, "")
    assert new is not None
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with opened_case(state, case, passphrase_file) as (_, opened):
        opened.change_passphrase(new, actor=actor)
        state.output.result(
            {"id": opened.case_id, "passphrase_changed": True}, "passphrase changed"
        )
