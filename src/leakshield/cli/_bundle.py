"""`leakshield bundle`: checking a court bundle, with nothing but the bundle."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.text import Text

from leakshield.cli._root import CliState, JsonOption, app
from leakshield.errors import ExitCode

if TYPE_CHECKING:
    from leakshield.evidence._bundle_verify import BundleVerification

bundle_app = typer.Typer(
    help="Court bundles: a case's evidence, its signed log and the proofs, in one zip.",
    no_args_is_help=True,
)
app.add_typer(bundle_app, name="bundle")


@bundle_app.command("verify")
def verify_command(
    ctx: typer.Context,
    bundle: Annotated[
        Path, typer.Argument(metavar="BUNDLE.zip", help="The bundle to check.", dir_okay=False)
    ],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The key id (or SHA-256 key fingerprint) the bundle must be signed with, "
            "as you got it another way (a notice, a printout).",
            show_default=False,
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Check a court bundle offline, without the case or its passphrase.

    Checks every evidence file's hash, every item against the signed log, the log against
    its signed tree heads, and the proofs between them.

    Each problem names the item, file or record that fails. Nothing is extracted. Exit
    code 0 when the bundle is intact, 3 when anything fails.
    """
    from leakshield.evidence._bundle_verify import verify_bundle

    state = CliState.of(ctx, json=json)
    result = verify_bundle(bundle, expected_key_id=key)
    state.output.result(result.to_record(), describe(result))
    if not result.ok:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def describe(result: BundleVerification) -> RenderableType:
    """A verification for people: the verdict, what was checked, then each problem."""
    name = escape(result.path)
    if result.ok:
        head = Text.from_markup(f"[bold]{name}[/]: [green]intact[/]")
    else:
        count = len(result.problems)
        head = Text.from_markup(
            f"[bold]{name}[/]: [red]{count} problem{'s' if count != 1 else ''}[/]"
        )
    lines: list[RenderableType] = [head]
    if result.case_id is not None:
        lines.append(
            Text(
                f"  case {result.case_id}: {result.items} items, {result.files} files hashed "
                f"({result.bytes:,} bytes), {result.records} log records, "
                f"{result.tree_heads} signed tree heads"
            )
        )
    if result.last_head is not None:
        last = result.last_head
        lines.append(
            Text(f"  last tree head: size {last.size}, root {last.root[:64]}, signed {last.time}")
        )
    if result.key_id is not None:
        lines.append(
            Text(f"  signed with key {result.key_id}: compare it with one you got another way")
        )
    lines.extend(
        Text.from_markup(f"  [red]{escape(p.code)}[/]: {escape(p.message)}")
        for p in result.problems
    )
    return Group(*lines)
