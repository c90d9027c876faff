"""The README's Quick start is exactly `make run` and `make test`, and its examples run."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

README = Path(__file__).parents[1] / "README.md"


def code_blocks(section: str) -> list[list[str]]:
    text = README.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", body, flags=re.S)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def test_quick_start_is_exactly_make_run_and_make_test() -> None:
    assert code_blocks("Quick start") == [["make run", "make test"]]


def test_usage_examples_run(cli: Callable[..., CliResult]) -> None:
    commands = [line.split("#")[0] for line in code_blocks("Usage")[0]]
    ran = 0
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "leakshield"
        if "serve" in argv:
            continue  # runs until stopped; tests/server/test_serve.py starts it for real
        result = cli(*argv[1:])
        assert result.exit_code == 0, f"{command}: {result.stderr}"
        ran += 1
    assert ran >= 4
