"""`leakshield db`: migrations and schema state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from leakshield.cli._root import CliState, DataDirOption, JsonOption, app

if TYPE_CHECKING:
    from leakshield.store import Database, SchemaState

db_app = typer.Typer(help="Database schema: show and apply migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command()
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Apply every pending migration (safe to run again)."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    from leakshield.store import Database

    database = Database(state.settings().settings.database_url_or_default)
    try:
        before = database.schema_state().current
        after = database.upgrade(revision)
    finally:
        database.dispose()
    _report(state, database, after, migrated_from=before)


@db_app.command()
def current(ctx: typer.Context, data_dir: DataDirOption = None, json: JsonOption = False) -> None:
    """Show the applied and the latest schema revision."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    from leakshield.store import Database

    database = Database(state.settings().settings.database_url_or_default)
    try:
        schema = database.schema_state()
    finally:
        database.dispose()
    _report(state, database, schema)


def _report(
    state: CliState, database: Database, schema: SchemaState, migrated_from: str | None = ""
) -> None:
    record = {
        "database": database.display_url,
        "backend": database.backend,
        "revision": schema.current,
        "head": schema.head,
        "up_to_date": schema.up_to_date,
    }
    if schema.up_to_date:
        human = f"{database.display_url}: at revision {schema.current} (latest)"
    else:
        human = (
            f"{database.display_url}: at revision {schema.current or 'none'}, latest is "
            f"{schema.head}; run `leakshield db upgrade`"
        )
    if migrated_from != schema.current:
        human += f" (migrated from {migrated_from or 'an empty database'})"
    state.output.result(record, human)
