"""`leakshield analyze`: one forensic report on a suspect image, in calibrated words."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.text import Text

from leakshield.cli._lookup import one_input, open_database, report_failure
from leakshield.cli._provenance import TrustOption, _anchors, watermark_key_or_none
from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.cli._watermark import KeyOption
from leakshield.errors import ExitCode, LeakshieldError, UsageError

if TYPE_CHECKING:
    from leakshield.forensics import Analysis, AnalysisContext, ReferenceSet
    from leakshield.media import MediaLimits
    from leakshield.provenance import ManifestRepository
    from leakshield.store import Database

_STYLE = {"strong": "bold red", "moderate": "yellow", "weak": "cyan", "none": "dim"}


@app.command("analyze")
def analyze_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Images to examine.")],
    bank: Annotated[
        str | None,
        typer.Option(
            "--bank",
            help="Bank of your photos to look for in the image (default: MY_PHOTOS, which "
            "`leakshield protect` fills).",
            show_default=False,
        ),
    ] = None,
    reference: Annotated[
        list[Path] | None,
        typer.Option(
            "--reference",
            help="A photo of yours to compare with directly (repeatable); it is not stored.",
            dir_okay=False,
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write an HTML report here.", dir_okay=False),
    ] = None,
    pdf: Annotated[
        Path | None,
        typer.Option("--pdf", help="Write a PDF report here.", dir_okay=False),
    ] = None,
    trust: TrustOption = None,
    key: KeyOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Examine images for Content Credentials, your watermark, generator traces, reuse of
    your photos (and what was changed), and their JPEG history.

    Every finding says how strong it is and which way it points; the tool never calls an
    image fake or real without the evidence that says so. Nothing leaves this machine.
    """
    from leakshield.forensics import AnalysisContext, write_html, write_pdf
    from leakshield.media import MediaLimits

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    if (report or pdf) and len(paths) != 1:
        raise UsageError("--report and --pdf take one FILE; analyze the others separately")
    stderr = Console(stderr=True, highlight=False)
    failed = 0
    with open_database(state) as (settings, database):
        limits = MediaLimits.from_settings(settings)
        watermark = watermark_key_or_none(settings, key)
        context = AnalysisContext(
            watermark_keys=(watermark,) if watermark else (),
            references=_references(database, bank, reference or [], limits, stderr),
            anchors=_anchors(settings, trust or []),
            repository=_repository(database),
            detector_model=settings.detector_model,
            limits=limits,
            images=bool(report or pdf),
        )
        for path in paths:
            try:
                analysis = _analyze_one(path, context, stderr)
            except LeakshieldError as exc:
                failed += 1
                report_failure(state.output, stderr, str(path), exc)
                continue
            record = analysis.to_record()
            for target, write in ((report, write_html), (pdf, write_pdf)):
                if target is not None:
                    write(analysis, target)
                    record.setdefault("reports", []).append(str(target))
                    stderr.print(f"report written to {escape(str(target))}")
            state.output.result(record, describe(analysis))
    if failed:
        stderr.print(f"{failed} of {len(paths)} files could not be examined")
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def _analyze_one(path: Path, context: AnalysisContext, stderr: Console) -> Analysis:
    from leakshield.forensics import analyze as run

    with one_input():
        if not stderr.is_terminal:
            return run(path, context)
        with stderr.status(f"examining {escape(path.name)}") as status:
            return run(
                path,
                context,
                on_analyzer=lambda a: status.update(f"{escape(path.name)}: {a.title.lower()}"),
            )


def _references(
    database: Database,
    bank: str | None,
    photos: list[Path],
    limits: MediaLimits,
    stderr: Console,
) -> ReferenceSet:
    """The user's photos to look for: the bank's registered ones and any given directly."""
    from leakshield.banks import BankStore
    from leakshield.forensics import ReferenceSet, ReferenceStore, reference_from_file
    from leakshield.provenance import DEFAULT_BANK

    name = bank or DEFAULT_BANK
    if bank is not None:
        BankStore(database).bank(bank)  # a bank named that does not exist is an error
    stored = ReferenceStore(database).load(name)
    given = []
    for photo in photos:
        try:
            given.append(reference_from_file(photo, limits))
        except LeakshieldError as exc:
            raise UsageError(f"--reference {photo}: {exc.message}") from None
    if given:
        return ReferenceSet([*stored.references, *given], bank=name if stored.references else None)
    return stored


def _repository(database: Database) -> ManifestRepository:
    from leakshield.provenance import ManifestRepository

    return ManifestRepository(database)


def describe(analysis: Analysis) -> RenderableType:
    """An analysis for people: what the file shows, then each finding in a line."""
    subject = analysis.subject
    lines: list[RenderableType] = [Text.from_markup(f"[bold]{escape(subject.path)}[/]")]
    lines.append(Text("What this file shows:", style="bold"))
    lines.extend(Text(f"  - {line}") for line in analysis.shows)
    lines.append(Text("Findings:", style="bold"))
    for finding in analysis.findings:
        strength = "error" if finding.error else str(finding.strength)
        style = "red" if finding.error else _STYLE.get(strength, "")
        lines.append(
            Text.assemble(
                "  ", (f"{strength:>8}", style), f"  {finding.examined}: ", finding.summary
            )
        )
    lines.append(Text("What this analysis cannot tell:", style="bold"))
    lines.extend(Text(f"  - {line}") for line in analysis.cannot_tell)
    return Group(*lines)
