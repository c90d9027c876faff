"""`leakshield case capture` and `case export`: a page in a real browser, a court bundle."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from leakshield.cli._case import (
    ActorOption,
    CaseArgument,
    PassphraseOption,
    case_app,
    opened_case,
)
from leakshield.cli._root import CliState, DataDirOption, JsonOption
from leakshield.errors import ExitCode, UsageError

AllowPrivateOption = Annotated[
    bool,
    typer.Option("--allow-private", help="Allow private, loopback and link-local addresses."),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for each page (at most 600).")
]


def check_timeout(timeout: float) -> None:
    """Refuse a page timeout that is not a number of seconds above 0 and at most 600."""
    if not 0 < timeout <= 600:
        raise UsageError("--timeout is a number of seconds above 0 and at most 600")


@case_app.command("capture")
def capture_command(
    ctx: typer.Context,
    case: CaseArgument,
    url: Annotated[str, typer.Argument(help="The page to capture (http or https).")],
    with_media: Annotated[
        bool,
        typer.Option(
            "--with-media",
            help="Also load the page's images, video and audio (off: "
            "intimate content is not pulled by default).",
        ),
    ] = False,
    allow_private: AllowPrivateOption = False,
    timeout: TimeoutOption = 30.0,
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Capture a web page in headless Chromium: final URL, redirects, status, headers, a
    full-page screenshot, the rendered HTML and an MHTML archive, sealed into the case.

    A page that fails to load is recorded as a failed capture with the reason (exit 3).
    """
    from leakshield.evidence import CaptureOptions, add_capture, capture, chromium_path

    check_timeout(timeout)
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    stderr = Console(stderr=True, highlight=False)
    with opened_case(state, case, passphrase_file) as (settings, opened):
        options = CaptureOptions(
            with_media=with_media,
            allow_private=allow_private or settings.capture_allow_private,
            timeout_s=timeout,
            chromium=chromium_path(settings.chromium_path),
        )
        workdir = opened.files.workspace()
        try:
            with stderr.status(f"capturing {escape(url)}"):
                result = capture(url, workdir, options)
            item = add_capture(opened, result, actor=actor)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    human = (
        f"{item.id}  {escape(result.final_url or url)}  status {result.status}  "
        f"screenshot sha256 {item.sha256}"
        if not result.error
        else f"{item.id}  {escape(url)}  failed capture recorded"
    )
    state.output.result(item.to_record(), human)
    if result.error:
        stderr.print(f"[red]capture failed:[/] {escape(result.error)} (recorded as {item.id})")
        raise typer.Exit(int(ExitCode.BAD_INPUT))


@case_app.command("export")
def export_command(
    ctx: typer.Context,
    case: CaseArgument,
    output: Annotated[Path, typer.Argument(metavar="OUT.zip", help="Where to write the bundle.")],
    hashes_only: Annotated[
        bool,
        typer.Option("--hashes-only", help="Leave the evidence files out; keep their hashes."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT.zip if it exists.")] = False,
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Write the court bundle: the evidence (or only its hashes), the manifest, the signed
    log with its proofs, a report (HTML and PDF) and how to verify it."""
    from leakshield.evidence import export_bundle

    if output.exists() and not force:
        raise UsageError(f"{output} exists; choose another name or pass --force")
    if output.suffix.lower() != ".zip":
        raise UsageError("the bundle is a zip file: name it OUT.zip")
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with opened_case(state, case, passphrase_file) as (_, opened):
        # Logged first, so that the bundle's last signed head covers its own export.
        opened.append("exported", None, {"bundle": output.name, "hashes_only": hashes_only}, actor)
        summary = export_bundle(opened, output, hashes_only=hashes_only)
    if summary.pdf_skipped:
        Console(stderr=True, highlight=False).print(
            f"report.pdf left out: {escape(summary.pdf_skipped)} (report.html is in the bundle)"
        )
    state.output.result(
        {"case": opened.case_id, "bundle": str(output), **summary.to_record()},
        f"bundle written to {escape(str(output))}; check it with `leakshield bundle verify "
        f"{escape(str(output))}`",
    )
