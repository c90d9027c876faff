"""Where the shared conformance data is: $LEAKSHIELD_TEST_CONFORMANCE_DIR, else ../shared
beside the checkout, else /work/shared (where development machines keep it)."""

from __future__ import annotations

import os
from pathlib import Path


def find_conformance() -> Path | None:
    candidates = [
        os.environ.get("LEAKSHIELD_TEST_CONFORMANCE_DIR"),
        Path(__file__).resolve().parents[2] / "shared" / "conformance",
        "/work/shared/conformance",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "pdq" / "expected.csv").is_file():
            return Path(candidate)
    return None
