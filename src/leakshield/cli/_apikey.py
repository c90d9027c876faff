"""`leakshield apikey`: create, list and revoke the API keys the server accepts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leakshield.cli._lookup import open_database
from leakshield.cli._root import CliState, DataDirOption, JsonOption, app

if TYPE_CHECKING:
    from datetime import datetime

    from leakshield.apikeys import ApiKeys

apikey_app = typer.Typer(
    help="API keys for the HTTP API, each with a role: lookup, curate or admin.",
    no_args_is_help=True,
)
app.add_typer(apikey_app, name="apikey")


@contextmanager
def _keys(state: CliState) -> Iterator[ApiKeys]:
    with open_database(state) as (_settings, database):
        from leakshield.apikeys import ApiKeys

        yield ApiKeys(database)


@apikey_app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[
        Literal["lookup", "curate", "admin"],
        typer.Option(
            "--role",
            help="lookup: match only; curate: also change banks; admin: everything.",
            show_default=False,
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="What the key is for.")] = "",
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Create a key and print its secret, this once only: only its hash is stored."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with _keys(state) as keys:
        key, secret = keys.create(role, name)
    stderr = Console(stderr=True, highlight=False)
    # The secret alone on stdout, so that `KEY=$(leakshield apikey create ...)` works.
    state.output.result({**key.to_record(), "secret": secret}, escape(secret))
    stderr.print(
        f"created API key {key.id} ({key.role}{': ' + escape(key.name) if key.name else ''}). "
        "[bold]Store the secret now: it cannot be shown again.[/] Clients send it as "
        "`Authorization: Bearer <secret>`."
    )


@apikey_app.command("list")
def list_keys(ctx: typer.Context, data_dir: DataDirOption = None, json: JsonOption = False) -> None:
    """List the keys, revoked ones too (never their secrets)."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with _keys(state) as keys:
        found = keys.list()
    out = state.output
    if out.json_mode:
        for key in found:
            out.result(key.to_record())
        return
    if not found:
        out.result({}, "no API keys yet; `leakshield apikey create --role lookup` makes one")
        return
    table = Table("id", "name", "role", "prefix", "created", "revoked", box=None)
    for key in found:
        table.add_row(
            str(key.id),
            escape(key.name),
            key.role,
            key.prefix,
            _when(key.created_at),
            _when(key.revoked_at) if key.revoked_at else "",
        )
    out.result({}, table)


@apikey_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[int, typer.Argument(metavar="ID", help="The key's id (see `apikey list`).")],
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Revoke a key: every server refuses it within two seconds."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with _keys(state) as keys:
        key = keys.revoke(key_id)
    state.output.result(key.to_record(), f"revoked API key {key.id} ({key.role})")


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
