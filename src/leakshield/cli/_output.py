"""Results on stdout: JSON lines in --json mode, rich text otherwise."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console, RenderableType


class Output:
    """Writes a command's results: JSON lines with --json, rich text otherwise."""

    def __init__(self, *, json_mode: bool) -> None:
        self.json_mode = json_mode
        self.stdout = Console(highlight=False, soft_wrap=True)

    def result(self, record: dict[str, Any], human: RenderableType | None = None) -> None:
        """One result: ``record`` as a JSON line in --json mode, else ``human`` on stdout."""
        if self.json_mode:
            sys.stdout.write(json.dumps(record, default=str) + "\n")
            sys.stdout.flush()
        elif human is not None:
            self.stdout.print(human)
