"""Running CLI commands in a fresh interpreter, to see everything they write and import."""

from __future__ import annotations

import os
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


def isolated(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, str]]:
    """A home, a working directory (both made) and a data directory (not made) under
    ``tmp_path``, and an environment that points at them and sets nothing else of ours."""
    home, work, data = tmp_path / "home", tmp_path / "work", tmp_path / "data"
    home.mkdir()
    work.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LEAKSHIELD_", "NUMBA_", "XDG_"))
    }
    env.update(HOME=str(home), LEAKSHIELD_DATA_DIR=str(data))
    return home, work, data, env


def tree(root: Path) -> dict[str, int]:
    """Every path under ``root`` with its modification time: what changed, and what appeared."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}
