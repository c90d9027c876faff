"""`leakshield doctor`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from leakshield.doctor import CheckResult

_STYLE = {"ok": "green", "missing": "yellow", "error": "red"}


@app.command()
def doctor(ctx: typer.Context, data_dir: DataDirOption = None, json: JsonOption = False) -> None:
    """Check the configuration, the database and every optional component.

    Exits 4 when something leakshield needs is not ok; optional components that are
    missing are reported with how to add them, and do not change the exit code.
    """
    # Imported here so that other commands start without loading the store.
    from leakshield.doctor import CheckResult, CheckStatus, run_checks

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    try:
        loaded = state.settings()
    except ConfigError as exc:
        fix = "correct the setting the detail names, or remove it to use the default"
        results = [CheckResult("configuration", CheckStatus.ERROR, exc.message, True, fix)]
    else:
        path = loaded.settings.config_path
        detail = f"{path}" if path.exists() else f"no config file at {path}; defaults in force"
        results = [CheckResult("configuration", CheckStatus.OK, detail, True)]
        results += run_checks(loaded.settings)

    out = state.output
    for result in results:
        record = dataclasses.asdict(result)
        out.result({"check": record.pop("name"), **record})
    if not out.json_mode:
        out.stdout.print(_table(results))
    if any(result.blocking for result in results):
        raise typer.Exit(int(ExitCode.CONFIG))


def _table(results: list[CheckResult]) -> Table:
    table = Table(title="leakshield doctor", title_justify="left")
    for column in ("check", "status", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for result in results:
        style = _STYLE[result.status.value]
        optional = "" if result.required else " (optional)"
        table.add_row(
            result.name + optional,
            f"[{style}]{result.status.value}[/]",
            escape(result.detail),
            escape(result.fix or ""),
        )
    return table
