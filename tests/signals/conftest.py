"""Paths to the shared conformance data (reference outputs of Meta's implementations)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance"
PDQ_DIR = CONFORMANCE / "pdq"
VPDQ_DIR = CONFORMANCE / "vpdq"


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
    if not PDQ_DIR.is_dir():
        pytest.skip(f"conformance data not found at {PDQ_DIR}")
    with (PDQ_DIR / "expected.csv").open(newline="") as handle:
        return [
            PdqCase(PDQ_DIR / row["path"], row["pdq_cpp_pillow"], int(row["quality"]))
            for row in csv.DictReader(handle)
        ]
