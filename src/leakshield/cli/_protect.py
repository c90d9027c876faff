"""`leakshield protect`: fingerprint, watermark and sign a folder of photos in one command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leakshield.cli._identity import PassphraseFileOption, identity_for_signing, read_passphrase
from leakshield.cli._lookup import open_database
from leakshield.cli._provenance import ActionOption, AuthorOption, SourceTypeOption
from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.cli._watermark import KeyOption, key_path
from leakshield.errors import ExitCode

if TYPE_CHECKING:
    from leakshield.banks import BankStore
    from leakshield.config import Settings
    from leakshield.provenance import ManifestRepository, ProtectItem, ProtectPlan, ProtectSummary
    from leakshield.watermark import WatermarkKey


@app.command("protect")
def protect_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(metavar="SRC", help="A photo, or a folder of them.")],
    output: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="Folder for the protected copies.", file_okay=False),
    ],
    no_watermark: Annotated[
        bool, typer.Option("--no-watermark", help="Do not embed your invisible watermark.")
    ] = False,
    no_sign: Annotated[
        bool, typer.Option("--no-sign", help="Do not add signed C2PA credentials.")
    ] = False,
    bank: Annotated[
        str, typer.Option("--bank", help="Your private bank the fingerprints go into.")
    ] = "MY_PHOTOS",
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=64, help="Photos processed at once.")
    ] = 1,
    action: ActionOption = "created",
    source_type: SourceTypeOption = "digitalCapture",
    author: AuthorOption = None,
    key: KeyOption = None,
    passphrase_file: PassphraseFileOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Protect your photos before anything happens: for each one, register its PDQ (and
    the watermarked copy's) in your private bank, embed your watermark, sign, and write the
    protected copy under OUT. Your originals are never changed.

    Videos are fingerprinted (vPDQ) and signed, not watermarked. A re-run skips what is
    done. OUT gets protect-report.json; a file that fails is reported and the others go on
    (exit code 3).
    """
    from leakshield.banks import BankStore
    from leakshield.media import MediaLimits
    from leakshield.provenance import ManifestRepository, ProtectPlan, SignOptions

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    stderr = Console(stderr=True, highlight=False)
    with open_database(state) as (settings, database):
        identity = key_pem = None
        if not no_sign:
            identity = identity_for_signing(settings, stderr)
            key_pem = identity.private_key_pem(read_passphrase(passphrase_file))
        how = ProtectPlan(
            identity=identity,
            key_pem=key_pem,
            watermark_key=None if no_watermark else _watermark_key(settings, key, stderr),
            sign_options=SignOptions(
                action=action, source_type=source_type, author=author, tsa_url=settings.tsa_url
            ),
            bank=bank,
            workers=jobs,
            limits=MediaLimits.from_settings(settings),
        )
        summary = _run(state, stderr, source, output, how, BankStore(database),
                       ManifestRepository(database))  # fmt: skip
    if not state.output.json_mode:
        state.output.stdout.print(_table(summary))
    counts = summary.counts
    stderr.print(
        f"{counts['protected']} protected, {counts['done-before']} done before, "
        f"{counts['failed']} failed; report: {escape(summary.report)}"
    )
    if counts["failed"]:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def _run(
    state: CliState,
    stderr: Console,
    source: Path,
    output: Path,
    how: ProtectPlan,
    banks: BankStore,
    repository: ManifestRepository,
) -> ProtectSummary:
    from leakshield.provenance import protect

    columns = (TextColumn("protecting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("protecting", total=None)

        def started(total: int) -> None:
            bar.update(task, total=total)

        def done(item: ProtectItem) -> None:
            bar.advance(task)
            if state.output.json_mode:
                state.output.result(item.to_record())
            if item.error:
                stderr.print(
                    f"[red]{escape(item.source)}: {item.error['code']}:[/] "
                    f"{escape(item.error['message'])}"
                )

        return protect(
            source, output, how, banks=banks, repository=repository,
            on_start=started, on_item=done,
        )  # fmt: skip


def _watermark_key(settings: Settings, path: Path | None, stderr: Console) -> WatermarkKey:
    """The key named, else the default key, made on first use."""
    from leakshield.watermark import WatermarkKey

    if path is not None:
        return WatermarkKey.load(path)
    default = key_path(settings)
    if default.exists():
        return WatermarkKey.load(default)
    default.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = WatermarkKey.generate()
    created.save(default)
    stderr.print(
        f"created your watermark key {escape(str(default))}. [bold]Keep a backup of it:[/] "
        "your marks can be read only with it."
    )
    return created


def _table(summary: ProtectSummary) -> Table:
    table = Table("file", "status", "watermark", "signed", "notes", box=None)
    for item in summary.items:
        notes = "; ".join(item.notes) or (item.error or {}).get("message", "")
        table.add_row(
            escape(item.source),
            item.status,
            item.watermark_payload or "",
            "yes" if item.manifest else "",
            escape(notes),
        )
    return table
