"""`leakshield bank`: create, list, show, change and delete banks; add, remove, import and
export their hashes."""

from __future__ import annotations

import json as jsonlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from leakshield.cli._lookup import (
    InputsArgument,
    RecursiveOption,
    hash_options,
    input_signals,
    open_database,
    open_source,
    report_failure,
    resolve_inputs,
    with_progress,
    write_atomic,
)
from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.errors import ExitCode, LeakshieldError, UsageError

if TYPE_CHECKING:
    from leakshield.banks import Bank, BankStore, ImportReport

bank_app = typer.Typer(
    help="Hash banks: named lists of hashes that lookups match against.", no_args_is_help=True
)
app.add_typer(bank_app, name="bank")

NameArgument = Annotated[
    str, typer.Argument(help="Bank name, in CAPS_AND_UNDERSCORES.", show_default=False)
]
DescriptionOption = Annotated[str | None, typer.Option("--description", help="What it holds.")]
ThresholdOption = Annotated[
    list[str] | None,
    typer.Option(
        "--threshold",
        metavar="TYPE=N",
        help="Largest distance that matches for a signal type, e.g. pdq=20 (repeatable). "
        "[default: pdq=31, vpdq=31]",
    ),
]


@contextmanager
def _store(state: CliState) -> Iterator[BankStore]:
    with open_database(state) as (_settings, database):
        from leakshield.banks import BankStore

        yield BankStore(database)


@bank_app.command("create")
def create(
    ctx: typer.Context,
    name: NameArgument,
    description: DescriptionOption = None,
    negative: Annotated[
        bool,
        typer.Option("--negative", help="Known false positives: a match here hides the others."),
    ] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Not searched until enabled.")] = (
        False
    ),
    threshold: ThresholdOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Create an empty bank."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with _store(state) as store:
        bank = store.create_bank(
            name,
            description=description or "",
            enabled=not disabled,
            negative=negative,
            thresholds=_thresholds(threshold),
        )
    state.output.result(bank.to_record(), f"created bank {escape(bank.name)}")


@bank_app.command("list")
def list_banks(
    ctx: typer.Context, data_dir: DataDirOption = None, json: JsonOption = False
) -> None:
    """List the banks with their settings and how much content each holds."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with _store(state) as store:
        banks = store.banks(with_counts=True)
    out = state.output
    if out.json_mode:
        for bank in banks:
            out.result(bank.to_record())
        return
    if not banks:
        out.result({}, "no banks yet; `leakshield bank create NAME` makes one")
        return
    table = Table("name", "enabled", "kind", "pdq", "vpdq", "content", "description", box=None)
    for bank in banks:
        table.add_row(
            escape(bank.name),
            "yes" if bank.enabled else "[yellow]no[/]",
            "negative" if bank.negative else "positive",
            str(bank.threshold("pdq")),
            str(bank.threshold("vpdq")),
            str(bank.content_count),
            escape(bank.description),
        )
    out.result({}, table)


@bank_app.command("show")
def show(
    ctx: typer.Context, name: NameArgument, data_dir: DataDirOption = None, json: JsonOption = False
) -> None:
    """Show one bank's settings and how much content it holds."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with _store(state) as store:
        bank = store.bank(name, with_count=True)
    state.output.result(bank.to_record(), _describe(bank))


@bank_app.command("update")
def update(
    ctx: typer.Context,
    name: NameArgument,
    description: DescriptionOption = None,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Search the bank or not.")
    ] = None,
    negative: Annotated[
        bool | None,
        typer.Option("--negative/--positive", help="Known false positives, or hashes to find."),
    ] = None,
    threshold: ThresholdOption = None,
    rename: Annotated[str | None, typer.Option("--rename", help="New name.")] = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Change a bank's settings; what is not given stays as it is."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    if description is None and enable is None and negative is None and not threshold and not rename:
        raise UsageError("nothing to change; see `leakshield bank update --help`")
    with _store(state) as store:
        bank = store.update_bank(
            name,
            new_name=rename,
            description=description,
            enabled=enable,
            negative=negative,
            thresholds=_thresholds(threshold),
        )
    state.output.result(bank.to_record(), _describe(bank))


@bank_app.command("delete")
def delete(
    ctx: typer.Context,
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete it.")] = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Delete a bank with all its content and hashes (asks for --yes)."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with _store(state) as store:
        count = store.bank(name, with_count=True).content_count
        if not yes:
            raise UsageError(
                f"this would delete bank {name} and its {count} content items with their "
                "hashes, which cannot be undone; run again with --yes to delete it"
            )
        store.delete_bank(name)
    record = {"deleted": name, "content_count": count}
    state.output.result(record, f"deleted bank {escape(name)} ({count} content items)")


@bank_app.command("add")
def add(
    ctx: typer.Context,
    name: NameArgument,
    inputs: InputsArgument,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="A JSON object stored with each item.")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="A note stored with each item.")] = "",
    recursive: RecursiveOption = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Add files or signals to a bank, each as one content item.

    A file is hashed here (PDQ or vPDQ, and MD5) and only its hashes are stored. An input
    that fails gets an error line, the others are added, and the exit code is then 3.
    """
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    meta = _metadata(metadata)
    out, stderr = state.output, Console(stderr=True, highlight=False)
    failed = 0
    with open_database(state) as (settings, database):
        from leakshield.banks import BankStore

        store = BankStore(database)
        store.bank(name)  # a missing bank is one error, not one per input
        items = resolve_inputs(inputs, recursive=recursive)
        options = hash_options(settings)
        for item in with_progress(items, "adding", stderr):
            try:
                started = datetime.now(UTC)
                content = store.add_content(
                    name, input_signals(item, options), metadata=meta, note=note
                )
            except LeakshieldError as exc:
                failed += 1
                report_failure(out, stderr, item.label, exc)
                continue
            existing = content.created_at is not None and content.created_at < started
            signals = [s.typed() for s in content.signals]
            record = {
                "input": item.label,
                "content_id": content.id,
                "existing": existing,
                "signals": signals,
            }
            verb = "already in the bank as" if existing else "added as"
            human = f"{escape(item.label)}: {verb} content {content.id}"
            out.result(record, human + "".join(f"\n  {escape(s[:80])}" for s in signals))
    if failed:
        stderr.print(f"{failed} of {len(items)} inputs could not be added")
        raise typer.Exit(int(ExitCode.BAD_INPUT))


@bank_app.command("remove")
def remove(
    ctx: typer.Context,
    name: NameArgument,
    signals: Annotated[
        list[str], typer.Argument(help="Signals written TYPE:VALUE.", show_default=False)
    ],
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Remove signals from a bank (a withdrawn hash, a false positive).

    Content left without any signal is deleted too.
    """
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with _store(state) as store:
        from leakshield.signals import parse_signal

        parsed = list({s.typed(): s for s in map(parse_signal, signals)}.values())
        removed = store.remove_signals(name, parsed)
    missing = max(0, len(parsed) - removed)
    human = f"removed {removed} of {len(parsed)} signals from {escape(name)}"
    if missing:
        human += f" ({missing} not in the bank)"
    state.output.result({"bank": name, "removed": removed, "not_in_bank": missing}, human)


@bank_app.command("import")
def import_(
    ctx: typer.Context,
    name: NameArgument,
    source: Annotated[str, typer.Argument(help="Hash list file, or - for stdin.")],
    fmt: Annotated[
        Literal["auto", "csv", "jsonl", "threatexchange", "stopncii"],
        typer.Option("--format", help="Format of the list (auto: detected)."),
    ] = "auto",
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good lines, report the bad ones.")
    ] = False,
    create: Annotated[bool, typer.Option("--create", help="Create the bank if missing.")] = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Import a hash list: csv, jsonl, ThreatExchange or StopNCII.

    csv and jsonl hold signal_type, signal and metadata; ThreatExchange lists are
    TYPE,VALUE lines; StopNCII hashes that are Withdrawn or Deleted are removed from the
    bank. Importing the same list again changes nothing. A bad line stops the import,
    with its line number, and nothing is imported, unless --skip-invalid.
    """
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    stderr = Console(stderr=True, highlight=False)
    with open_source(source) as stream, _store(state) as store:
        from leakshield.banks import BankNotFoundError, import_hash_list

        created = False
        try:
            store.bank(name)
        except BankNotFoundError:
            if not create:
                raise BankNotFoundError(
                    f"There is no bank named {name[:100]!r}; pass --create to make it."
                ) from None
            store.create_bank(name)
            created = True
        try:
            with _line_progress(stderr) as progress:
                report = import_hash_list(
                    store,
                    name,
                    stream,
                    fmt,
                    name=source,
                    skip_invalid=skip_invalid,
                    progress=progress,
                )
        except BaseException:
            if created:  # all or nothing: no empty bank left behind either
                store.delete_bank(name)
            raise
    record = {"bank": name, "created": created, **report.to_record()}
    if state.json:
        state.output.result(record)
    else:
        _print_report(stderr, name, report)


@bank_app.command("export")
def export(
    ctx: typer.Context,
    name: NameArgument,
    fmt: Annotated[
        Literal["csv", "jsonl"] | None,
        typer.Option("--format", help="csv or jsonl [default: from --output, else csv]"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="File to write (default: stdout)."),
    ] = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Export a bank as a csv or jsonl hash list, which `bank import` reads back."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    chosen = fmt or ("jsonl" if output and output.suffix in (".jsonl", ".ndjson") else "csv")
    with _store(state) as store:
        from leakshield.banks import write_records

        store.bank(name)  # fail before creating any file

        def write(out: TextIO) -> int:
            return write_records(store.export(name), out, chosen)

        count = write(sys.stdout) if output is None else write_atomic(output, write)
    if output is None:
        return
    record = {"bank": name, "format": chosen, "output": str(output), "signals": count}
    state.output.result(record, f"exported {count} signals of {escape(name)} to {output}")


def _thresholds(items: list[str] | None) -> dict[str, int] | None:
    if not items:
        return None
    thresholds: dict[str, int] = {}
    for item in items:
        kind, _, value = item.partition("=")
        try:
            thresholds[kind.strip()] = int(value)
        except ValueError:
            raise UsageError(f"--threshold takes TYPE=N, e.g. pdq=20, not {item!r}") from None
    return thresholds


def _metadata(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = jsonlib.loads(text)
    except ValueError as exc:
        raise UsageError(f"--metadata is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError('--metadata must be a JSON object, e.g. {"case": "c-1"}')
    return value


def _describe(bank: Bank) -> str:
    state = "enabled" if bank.enabled else "[yellow]disabled[/]"
    kind = "negative (known false positives)" if bank.negative else "positive"
    lines = [f"[bold]{escape(bank.name)}[/]: {state}, {kind}"]
    if bank.description:
        lines.append(f"  {escape(bank.description)}")
    lines.append(f"  thresholds: pdq {bank.threshold('pdq')}, vpdq {bank.threshold('vpdq')}")
    if bank.content_count is not None:
        lines.append(f"  content: {bank.content_count} items")
    return "\n".join(lines)


@contextmanager
def _line_progress(stderr: Console) -> Iterator[Callable[[int], None] | None]:
    if not stderr.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("importing: {task.completed:,.0f} lines read"))
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task("import", total=None)
        yield lambda line: progress.update(task, completed=line)


def _print_report(stderr: Console, name: str, report: ImportReport) -> None:
    stderr.print(
        f"{escape(name)}: {report.added} added, {report.existing} already there, "
        f"{report.removed} removed (withdrawn), {len(report.skipped)} lines skipped"
    )
    for line, reason in report.skipped:
        stderr.print(f"  line {line}: {escape(reason)}")
