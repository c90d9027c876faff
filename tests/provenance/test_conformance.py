"""../shared/conformance/c2pa: for each file, the validation state and active-manifest failure
codes in expected.csv, with no trust anchors configured."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from leakshield.provenance import TrustAnchors, VerifyOptions, verify_file
from tests._conformance import find_conformance

CONFORMANCE = (find_conformance() or Path("/nonexistent")) / "c2pa"
EXPECTED = CONFORMANCE / "expected.csv"

if not EXPECTED.exists():
    pytest.skip(
        "conformance data not found (set LEAKSHIELD_TEST_CONFORMANCE_DIR)", allow_module_level=True
    )

with EXPECTED.open(newline="") as handle:
    ROWS = list(csv.DictReader(handle))


def test_the_expected_file_lists_every_conformance_file() -> None:
    listed = {row["file"] for row in ROWS}
    present = {path.name for path in CONFORMANCE.iterdir() if path.suffix in {".jpg", ".jpeg"}}
    assert listed == present
    assert len(ROWS) >= 10


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_state_and_failure_codes_match(row: dict[str, str]) -> None:
    result = verify_file(CONFORMANCE / row["file"], VerifyOptions(anchors=TrustAnchors()))
    state = row["validation_state_c2pa_python_0_38_1"]
    assert result.state == state
    if state == "NoManifest":
        assert not result.manifest_present and result.failures == ()
        return
    expected = set(row["active_manifest_failure_codes"].split())
    assert {f.code for f in result.failures} == expected
    assert all(f.explanation for f in result.failures)
