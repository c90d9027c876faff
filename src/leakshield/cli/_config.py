"""`leakshield config`."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.config import Settings, redact_url

config_app = typer.Typer(help="Show the configuration in force.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command()
def show(ctx: typer.Context, data_dir: DataDirOption = None, json: JsonOption = False) -> None:
    """Show every setting, its value, and where the value came from."""
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    loaded = state.settings()
    settings = loaded.settings
    values = _printable(settings)
    record = {
        "config_file": str(settings.config_path),
        "config_file_exists": settings.config_path.exists(),
        "database": redact_url(settings.database_url_or_default),
        "settings": values,
        "sources": loaded.sources,
    }
    table = Table(title=f"config file: {settings.config_path}", title_justify="left")
    for column in ("setting", "value", "from", "environment variable"):
        table.add_column(column, overflow="fold")
    for name, value in values.items():
        shown = "(unset)" if value is None else str(value)
        table.add_row(name, escape(shown), loaded.sources[name], f"LEAKSHIELD_{name.upper()}")
    state.output.result(record, table)


def _printable(settings: Settings) -> dict[str, Any]:
    values = settings.model_dump(mode="json")
    if settings.database_url is not None:
        values["database_url"] = redact_url(settings.database_url)
    return values
