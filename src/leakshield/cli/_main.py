"""The console script: runs the app and maps every outcome to a documented exit code."""

from __future__ import annotations

import sys
import traceback

from rich.console import Console
from rich.markup import escape

from leakshield.cli._root import app
from leakshield.errors import ExitCode, LeakshieldError


def main(argv: list[str] | None = None) -> None:
    """Entry point of `leakshield`: 0 ok, 2 usage, 3 bad input, 4 configuration, 70 internal."""
    stderr = Console(stderr=True, highlight=False)
    try:
        # Click exits 2 on usage errors itself; anything else it lets through to here.
        app(args=argv, prog_name="leakshield")
    except LeakshieldError as exc:
        stderr.print(f"[bold red]error:[/] {escape(exc.message)}")
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except Exception:
        stderr.print(
            "[bold red]internal error:[/] leakshield hit a bug. Please report it with the "
            "details below (they contain no file contents)."
        )
        stderr.print(escape(traceback.format_exc()))
        sys.exit(int(ExitCode.INTERNAL))
