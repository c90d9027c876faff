"""Paths to the shared conformance data (reference outputs of Meta's implementations)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._conformance import find_conformance

CONFORMANCE = find_conformance()
PDQ_DIR = (CONFORMANCE or Path("/nonexistent")) / "pdq"
VPDQ_DIR = (CONFORMANCE or Path("/nonexistent")) / "vpdq"
_MISSING = "conformance data not found (set LEAKSHIELD_TEST_CONFORMANCE_DIR): tests skipped"


def require_conformance() -> None:
    """Skip the calling test module, loudly, when the conformance data is absent."""
    if CONFORMANCE is None:
        pytest.skip(_MISSING, allow_module_level=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say it loudly when the conformance tests did not run."""
    if CONFORMANCE is None:
        terminalreporter.write_sep("!", "WARNING: " + _MISSING, red=True, bold=True)


@dataclass(frozen=True)
class PdqCase:
    """One row of pdq/expected.csv."""

    path: Path
    expected: str
    quality: int

    @property
    def name(self) -> str:
        return str(self.path.relative_to(PDQ_DIR))


def pdq_cases() -> list[PdqCase]:
    """Every image of the PDQ conformance set with its reference hash and quality."""
    require_conformance()
    with (PDQ_DIR / "expected.csv").open(newline="") as handle:
        return [
            PdqCase(PDQ_DIR / row["path"], row["pdq_cpp_pillow"], int(row["quality"]))
            for row in csv.DictReader(handle)
        ]
