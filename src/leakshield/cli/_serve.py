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
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes (default 1); each holds the matcher in memory.", min=1, max=64
        ),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Accept requests without an API key. Only allowed on a loopback address.",
        ),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Migrate the database, then serve the HTTP API (docs at /docs).

    Every route but /status and the docs needs an API key (`leakshield apikey create`).
    """
    state = CliState.of(ctx, data_dir=data_dir)
    settings = state.settings(host=host, port=port, workers=workers).settings
    # Before anything imports numba (the matcher): its cache goes into the data directory.
    settings.prepare_runtime()
    # Imported here so that other commands start without loading the server.
    from leakshield.server import serve as run_server
    from leakshield.store import Database

    database = Database(settings.database_url_or_default)
    try:
        run_server(settings, database, auth=not no_auth)
    finally:
        database.dispose()
