"""The root command, its global options, and the state every command reads them from."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from leakshield import __version__
from leakshield.cli._output import Output
from leakshield.config import LoadedSettings, load_settings

app = typer.Typer(
    name="leakshield",
    help="Defence against leaked and AI-faked intimate media.",
    no_args_is_help=True,
    # Completion install edits shell start-up files, outside the data directory.
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Every command accepts these too, so that `leakshield serve --data-dir X` works as well
# as `leakshield --data-dir X serve`.
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (default: LEAKSHIELD_DATA_DIR, else the per-user data directory).",
        file_okay=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML config file (default: config.toml in the data dir).", dir_okay=False
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object per result, one per line.")
]


@dataclass(frozen=True)
class CliState:
    """The global options, merged with a command's own."""

    data_dir: Path | None = None
    config_file: Path | None = None
    json: bool = False

    @classmethod
    def of(
        cls, ctx: typer.Context, *, data_dir: Path | None = None, json: bool = False
    ) -> CliState:
        """The state for a command, its own options winning over the global ones."""
        root_obj = ctx.find_root().obj
        state = root_obj if isinstance(root_obj, CliState) else cls()
        return dataclasses.replace(
            state, data_dir=data_dir or state.data_dir, json=json or state.json
        )

    def settings(self, **overrides: Any) -> LoadedSettings:
        """Load settings with the command line's values on top."""
        return load_settings(data_dir=self.data_dir, config_file=self.config_file, **overrides)

    @property
    def output(self) -> Output:
        """Where results and messages go in this mode."""
        return Output(json_mode=self.json)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"leakshield {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    json: JsonOption = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print version."),
    ] = False,
) -> None:
    """leakshield: fingerprints, watermarks, provenance, evidence and removal requests.

    Exit codes: 0 success, 2 usage error, 3 bad input (one or more inputs could not be
    processed), 4 configuration or environment error, 70 internal error.
    """
    ctx.obj = CliState(data_dir=data_dir, config_file=config, json=json)
