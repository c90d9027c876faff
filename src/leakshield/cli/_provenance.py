"""`leakshield sign` and `leakshield verify`: C2PA credentials, made and checked offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.text import Text

from leakshield.cli._identity import (
    PassphraseFileOption,
    identity_dir,
    identity_for_signing,
    read_passphrase,
)
from leakshield.cli._lookup import (
    RecursiveOption,
    one_input,
    open_database,
    report_failure,
    with_progress,
)
from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.cli._watermark import KeyOption, key_path
from leakshield.errors import ExitCode, LeakshieldError, UsageError

if TYPE_CHECKING:
    from leakshield.config import Settings
    from leakshield.provenance import TrustAnchors, Verification
    from leakshield.watermark import WatermarkKey

TrustOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--trust",
        help="PEM file of a root certificate to trust (repeatable), besides your identity.",
        dir_okay=False,
    ),
]
ActionOption = Annotated[
    str,
    typer.Option(
        "--action",
        help="created: you made this file; edited: it is an edit of the file as it was (which "
        "becomes the manifest's parent ingredient, with any credentials it had).",
    ),
]
SourceTypeOption = Annotated[
    str,
    typer.Option(
        "--source-type",
        help="IPTC digital source type of a created file: digitalCapture (a camera photo), "
        "computationalCapture, screenCapture, digitalCreation, ...",
    ),
]
AuthorOption = Annotated[
    str | None,
    typer.Option(
        "--author",
        help="Name to state as the author. Off by default: a signed file names no one.",
        show_default=False,
    ),
]


def watermark_key_or_none(settings: Settings, path: Path | None) -> WatermarkKey | None:
    """The key named by --key, else the default key if there is one, else None."""
    from leakshield.watermark import WatermarkKey

    if path is not None:
        return WatermarkKey.load(path)
    default = key_path(settings)
    return WatermarkKey.load(default) if default.exists() else None


@app.command("sign")
def sign_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(metavar="IN", help="The file to sign.")],
    output: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write the signed copy.")],
    action: ActionOption = "created",
    author: AuthorOption = None,
    source_type: SourceTypeOption = "digitalCapture",
    key: KeyOption = None,
    passphrase_file: PassphraseFileOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Write a copy of IN with signed C2PA credentials to OUT; IN is never changed.

    The manifest records the action, soft bindings to the file's watermark payload (if it
    carries your key's mark) and PDQ hash, and an author only if you name one. It is kept in
    your manifest repository, so a copy stripped of it can be tied back. Offline unless a
    time-stamp authority is configured (tsa_url). A failed sign writes nothing.
    """
    from leakshield.media import MediaLimits
    from leakshield.provenance import ManifestRepository, SignOptions, fingerprint_file, sign_file

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    stderr = Console(stderr=True, highlight=False)
    with open_database(state) as (settings, database):
        options = SignOptions(
            action=action, source_type=source_type, author=author,
            tsa_url=settings.tsa_url, overwrite=force,
        )  # fmt: skip
        identity = identity_for_signing(settings, stderr)
        key_pem = identity.private_key_pem(read_passphrase(passphrase_file))
        limits = MediaLimits.from_settings(settings)
        try:
            fingerprint = fingerprint_file(
                source, limits, watermark_key=watermark_key_or_none(settings, key)
            )
            result, stored = sign_file(source, output, identity, key_pem, fingerprint, options)
        except LeakshieldError as exc:
            report_failure(state.output, stderr, str(source), exc)
            raise typer.Exit(int(ExitCode.BAD_INPUT)) from None
        ManifestRepository(database).add(stored)
    bindings = ", ".join(f"{b.alg} {b.value}" for b in result.soft_bindings) or "none"
    state.output.result(
        result.to_record(),
        f"signed {escape(str(source))} -> {escape(str(output))}\n"
        f"  manifest {result.manifest_label}\n  soft bindings: {escape(bindings)}",
    )


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Files to check.")],
    trust: TrustOption = None,
    key: KeyOption = None,
    no_recover: Annotated[
        bool,
        typer.Option(
            "--no-recover",
            help="Do not look up files without credentials in your manifest repository.",
        ),
    ] = False,
    recursive: RecursiveOption = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Check the C2PA credentials of files: present or not, Trusted / Valid / Invalid, who
    signed, what was done, whether AI made it, and every failure explained.

    A file without credentials (a platform stripped them) is looked up in your manifest
    repository by its watermark (your key) and PDQ hash. Remote manifests are never
    fetched. A file that cannot be read gets an error line and the exit code is then 3.
    """
    from leakshield.media import MediaLimits
    from leakshield.provenance import ManifestRepository, VerifyOptions
    from leakshield.signals import expand_paths

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    files = expand_paths(paths, recursive=recursive)
    if not files:
        raise UsageError("no files under the directories given")
    stderr = Console(stderr=True, highlight=False)
    failed = 0
    with open_database(state) as (settings, database):
        options = VerifyOptions(
            anchors=_anchors(settings, trust or []),
            repository=None if no_recover else ManifestRepository(database),
            watermark_key=None if no_recover else watermark_key_or_none(settings, key),
            limits=MediaLimits.from_settings(settings),
        )
        for path in with_progress(files, "verifying", stderr):
            try:
                result = _verify_one(path, options)
            except LeakshieldError as exc:
                failed += 1
                report_failure(state.output, stderr, str(path), exc)
                continue
            state.output.result(verification_record(result), describe(result))
    if failed:
        stderr.print(f"{failed} of {len(files)} files could not be checked")
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def _verify_one(path: Path, options: Any) -> Verification:
    from leakshield.provenance import verify_file

    with one_input():
        return verify_file(path, options)


def _anchors(settings: Settings, extra: list[Path]) -> TrustAnchors:
    from leakshield.provenance import IdentityError, TrustAnchors, identity_exists, load_identity

    directory = identity_dir(settings)
    own = load_identity(directory).root_pem if identity_exists(directory) else None
    user: list[bytes] = []
    for path in [*settings.trust_anchors, *extra]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read trust anchor {path}: {exc.strerror}") from None
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise IdentityError(f"{path} holds no PEM certificate")
        user.append(data if data.endswith(b"\n") else data + b"\n")
    return TrustAnchors(own, tuple(user))


def verification_record(result: Verification) -> dict[str, Any]:
    from leakshield.provenance import STATE_EXPLANATIONS

    record = result.to_record()
    record["summary"] = STATE_EXPLANATIONS.get(result.state, "")
    return record


def describe(result: Verification) -> RenderableType:
    """A file's verification for people: the verdict first, then the evidence."""
    from leakshield.provenance import IDENTITY_ANCHOR, STATE_EXPLANATIONS

    colour = {"Trusted": "green", "Valid": "yellow", "Invalid": "red"}.get(result.state, "white")
    head = Text.from_markup(f"[bold]{escape(result.path)}[/]: [{colour}]{result.state}[/]")
    if result.state == "Trusted":
        who = "your own identity" if result.trust_anchor == IDENTITY_ANCHOR else "a root you trust"
        head.append(f" (signed under {who})")
    lines: list[RenderableType] = [head, Text("  " + STATE_EXPLANATIONS.get(result.state, ""))]
    if result.signer:
        lines.append(Text(f"  signer: {result.signer.common_name} (issuer {result.signer.issuer})"))
    for action in result.actions:
        source = (action.digital_source_type or "").rsplit("/", 1)[-1]
        lines.append(Text(f"  action: {action.action} {source} {action.when or ''}".rstrip()))
    if result.ai_generated:
        lines.append(
            Text.from_markup("  [bold red]The manifest says a generative AI model made this.[/]")
        )
    lines.extend(Text(f"  ingredient: {i.title} ({i.relationship})") for i in result.ingredients)
    lines.extend(
        Text.from_markup(f"  [red]{escape(f.code)}[/]: {escape(f.explanation)}")
        for f in result.failures
    )
    if result.recovered:
        lines.append(Text.from_markup(f"  [bold]{escape(result.recovered.describe())}[/]"))
    return Group(*lines)
