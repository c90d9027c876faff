"""Settings: defaults < config file < environment < command line, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakshield.config import Settings, default_data_dir, load_settings, redact_url
from leakshield.errors import ConfigError


def write_config(data_dir: Path, text: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "config.toml"
    path.write_text(text)
    return path


def test_defaults_bind_to_loopback_and_use_sqlite_in_the_data_dir(data_dir: Path) -> None:
    loaded = load_settings()
    settings = loaded.settings
    assert settings.host == "127.0.0.1"
    assert settings.port == 8750
    assert settings.data_dir == data_dir
    assert settings.database_url_or_default == f"sqlite:///{data_dir / 'leakshield.db'}"
    assert loaded.sources["host"] == "default"
    assert loaded.sources["data_dir"] == "env"


def test_without_the_environment_the_data_dir_is_the_platform_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEAKSHIELD_DATA_DIR")
    assert load_settings().settings.data_dir == default_data_dir()
    assert "leakshield" in str(default_data_dir())


def test_precedence_file_then_environment_then_command_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(data_dir, 'port = 9001\nlog_level = "debug"\nhost = "127.0.0.2"\n')
    monkeypatch.setenv("LEAKSHIELD_PORT", "9002")
    monkeypatch.setenv("LEAKSHIELD_LOG_LEVEL", "warning")

    loaded = load_settings(log_level="error")

    assert loaded.settings.host == "127.0.0.2"
    assert loaded.settings.port == 9002
    assert loaded.settings.log_level == "error"
    assert loaded.sources == loaded.sources | {"host": "file", "port": "env", "log_level": "cli"}


def test_command_line_data_dir_wins_and_its_config_file_is_read(tmp_path: Path) -> None:
    other = tmp_path / "other"
    write_config(other, "port = 9100\n")
    settings = load_settings(data_dir=other).settings
    assert settings.data_dir == other
    assert settings.port == 9100


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("LEAKSHIELD_PORT", "")
    monkeypatch.setenv("LEAKSHIELD_DATA_DIR", "")
    settings = load_settings().settings
    assert settings.port == 8750
    assert settings.data_dir == default_data_dir()


def test_a_relative_data_dir_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=Path("rel")).settings
    assert settings.data_dir == tmp_path / "rel"
    assert settings.database_url_or_default == f"sqlite:///{tmp_path / 'rel' / 'leakshield.db'}"


def test_explicit_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("port = 9200\n")
    monkeypatch.setenv("LEAKSHIELD_CONFIG_FILE", str(path))
    assert load_settings().settings.port == 9200


def test_a_named_config_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_file=tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port = ", "not valid TOML"),
        ("colour = 'red'\n", "unknown setting"),
        ("data_dir = '/tmp/x'\n", "only the command line"),
        ("port = 'many'\n", "setting port"),
        ("port = 70000\n", "setting port"),
        ("log_format = 'xml'\n", "setting log_format"),
        ("database_url = 'mysql://u@h/db'\n", "setting database_url"),
    ],
)
def test_a_bad_config_file_names_the_file_and_the_problem(
    data_dir: Path, text: str, message: str
) -> None:
    path = write_config(data_dir, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings()
    assert str(path) in caught.value.message or "setting" in caught.value.message


def test_a_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKSHIELD_PORT", "eighty")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "LEAKSHIELD_PORT" in caught.value.message
    assert "in the environment" in caught.value.message


def test_every_setting_has_help_text() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"


def test_redact_url_masks_the_password() -> None:
    shown = redact_url("postgresql+psycopg://alice:hunter2@db.example/leakshield")
    assert "hunter2" not in shown
    assert "alice" in shown
