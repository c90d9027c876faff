"""Running CLI commands in a fresh interpreter, to see everything they write and import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_commands(
    commands: list[list[str]], *, cwd: Path, env: dict[str, str], then: str = ""
) -> subprocess.CompletedProcess[str]:
    """Runs each command through `leakshield.cli.main` in one new Python process (a
    non-zero exit stops it), then the Python statements ``then``."""
    script = (
        "import sys\n"
        "from leakshield.cli import main\n"
        f"for args in {commands!r}:\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exit:\n"
        "        if exit.code: raise\n"
        f"{then}"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
