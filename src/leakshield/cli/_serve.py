"""`leakshield serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from leakshield.cli._root import CliState, DataDirOption, app


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default 127.0.0.1: this machine only).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8750).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Migrate the database, then serve the HTTP API (docs at /docs)."""
    state = CliState.of(ctx, data_dir=data_dir)
    settings = state.settings(host=host, port=port).settings
    # Imported here so that other commands start without loading the server.
    from leakshield.server import serve as run_server
    from leakshield.store import Database

    database = Database(settings.database_url_or_default)
    try:
        run_server(settings, database)
    finally:
        database.dispose()
