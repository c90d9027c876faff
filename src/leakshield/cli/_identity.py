"""`leakshield identity`: the signing identity C2PA credentials are made with, and what the
sign, verify and protect commands share: the passphrase, and the identity made on first use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.config import SECRET_ENV_VARS
from leakshield.errors import UsageError

if TYPE_CHECKING:
    from leakshield.config import Settings
    from leakshield.provenance import Identity

identity_app = typer.Typer(
    help="Your signing identity: the certificate your C2PA credentials are signed with.",
    no_args_is_help=True,
)
app.add_typer(identity_app, name="identity")

PASSPHRASE_ENV = SECRET_ENV_VARS[0]
_MAX_PASSPHRASE_BYTES = 4096

PassphraseFileOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"File whose first line is the passphrase of the signing key (or set {PASSPHRASE_ENV}"
        "). Never give a passphrase on the command line.",
        dir_okay=False,
        show_default=False,
    ),
]

ReplaceOption = Annotated[
    bool,
    typer.Option("--force", help="Replace an existing identity (kept under identity-retired/)."),
]


def identity_dir(settings: Settings) -> Path:
    return settings.data_dir / "identity"


def read_passphrase(path: Path | None, env: str = PASSPHRASE_ENV) -> bytes | None:
    """The passphrase from ``path`` (its first line) or the variable ``env``; None if
    neither."""
    if path is not None:
        try:
            with path.open("rb") as handle:
                text = handle.read(_MAX_PASSPHRASE_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        if len(text) > _MAX_PASSPHRASE_BYTES:
            raise UsageError(f"{path} is too long for a passphrase file")
        line = text.splitlines()[0] if text.strip() else b""
        if not line:
            raise UsageError(f"{path} is empty; its first line must be the passphrase")
        return line
    value = os.environ.get(env)
    return value.encode() if value else None


def identity_for_signing(settings: Settings, stderr: Console) -> Identity:
    """The user's identity, made on first use (a local CA and a signing certificate)."""
    from leakshield.provenance import create_identity, identity_exists, load_identity

    directory = identity_dir(settings)
    if identity_exists(directory):
        return load_identity(directory)
    identity = create_identity(directory)
    stderr.print(
        f"created your signing identity in {escape(str(directory))} (a local CA and a signing "
        "certificate). Others trust your signature once they add the root that "
        "`leakshield identity export-trust` writes."
    )
    return identity


@identity_app.command("create")
def create_command(
    ctx: typer.Context,
    alg: Annotated[
        str, typer.Option("--alg", help="Signature algorithm: es256 (default) or ed25519.")
    ] = "es256",
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Name in the certificate, shown to whoever verifies (default: a neutral "
            "'leakshield local signer': no name unless you choose one).",
            show_default=False,
        ),
    ] = None,
    passphrase_file: PassphraseFileOption = None,
    force: ReplaceOption = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Make a local CA and a signing certificate that C2PA validators accept.

    The CA's private key is destroyed once the certificate is issued. The signing key is
    stored readable by you only, under a passphrase if you give one.
    """
    from leakshield.provenance import create_identity

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    settings = state.settings().settings
    identity = create_identity(
        identity_dir(settings),
        alg=alg,
        name=name,
        passphrase=read_passphrase(passphrase_file),
        overwrite=force,
    )
    _print_identity(state, identity)


@identity_app.command("show")
def show_command(
    ctx: typer.Context, data_dir: DataDirOption = None, json: JsonOption = False
) -> None:
    """Show the signing identity: its certificate, root and fingerprints (never the key)."""
    from leakshield.provenance import load_identity

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    _print_identity(state, load_identity(identity_dir(state.settings().settings)))


@identity_app.command("import")
def import_command(
    ctx: typer.Context,
    certificate: Annotated[
        Path,
        typer.Argument(
            metavar="CERT",
            help="PKCS#12 bundle (.p12/.pfx), or a PEM chain with the signing certificate first.",
            dir_okay=False,
        ),
    ],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="PEM private key (for a PEM chain).", dir_okay=False),
    ] = None,
    passphrase_file: PassphraseFileOption = None,
    force: ReplaceOption = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Sign with your own certificate chain and key instead of a local CA.

    The passphrase (if any) opens the bundle or key and then protects the stored key.
    A chain C2PA validators would reject is refused, with the reasons.
    """
    from leakshield.provenance import import_identity

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    passphrase = read_passphrase(passphrase_file)
    identity = import_identity(
        identity_dir(state.settings().settings),
        certificate,
        key,
        file_passphrase=passphrase,
        passphrase=passphrase,
        overwrite=force,
    )
    _print_identity(state, identity)


@identity_app.command("export-trust")
def export_trust_command(
    ctx: typer.Context,
    output: Annotated[
        Path,
        typer.Argument(
            metavar="OUT.pem", help="Where to write the root certificate ('-': stdout)."
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Write the root certificate others add as a trust anchor to verify your files.

    It is public: share it with whoever should recognise your signature (e.g. with
    `leakshield verify --trust ROOT.pem`).
    """
    import sys

    from leakshield.cli._lookup import write_atomic
    from leakshield.provenance import load_identity

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    identity = load_identity(identity_dir(state.settings().settings))
    pem = identity.root_pem.decode("ascii")
    if str(output) == "-":
        sys.stdout.write(pem)
        return
    if output.exists() and not force:
        raise UsageError(f"{output} exists already; pass --force to replace it")
    write_atomic(output, lambda handle: handle.write(pem))
    summary = identity.summary()
    state.output.result(
        {"path": str(output), "root_subject": summary["root_subject"],
         "root_sha256": summary["root_sha256"]},
        f"wrote {escape(str(output))}: root {escape(summary['root_subject'])}\n"
        f"SHA-256 fingerprint {summary['root_sha256']}",
    )  # fmt: skip


def _print_identity(state: CliState, identity: Identity) -> None:
    summary = identity.summary()
    table = Table(show_header=False, box=None)
    for name, value in summary.items():
        table.add_row(name.replace("_", " "), escape(str(value)))
    state.output.result(summary, table)
