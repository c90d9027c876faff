"""Settings are documented from one place: the docs list every setting, with its default."""

from __future__ import annotations

from pathlib import Path

from leakshield.config import Settings

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented_with_its_variable_and_default() -> None:
    text = DOCS.read_text()
    for name, field in Settings.model_fields.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, f"docs/configuration.md has no row for {name}"
        assert f"`LEAKSHIELD_{name.upper()}`" in row
        if field.default is not None and not callable(field.default_factory):
            assert f"`{field.default}`" in row, f"default of {name} differs in the docs"


def test_the_docs_list_no_setting_that_does_not_exist() -> None:
    documented = {
        line.split("`")[1]
        for line in DOCS.read_text().splitlines()
        if line.startswith("| `") and "LEAKSHIELD_" in line
    }
    assert documented == set(Settings.model_fields)
