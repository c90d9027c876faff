"""Settings as data: each one has a name, a default and a help text, documented in one place."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from leakshield.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

ENV_PREFIX = "LEAKSHIELD_"
# Variables under this prefix belong to the test suite, not to settings.
TEST_ENV_PREFIX = ENV_PREFIX + "TEST_"
# Secrets read from the environment by the commands that need them, never kept in settings
# (a config file or `config show` must not hold them).
SECRET_ENV_VARS = (ENV_PREFIX + "IDENTITY_PASSPHRASE", ENV_PREFIX + "CASE_PASSPHRASE")
DATA_DIR_ENV = ENV_PREFIX + "DATA_DIR"
CONFIG_FILE_ENV = ENV_PREFIX + "CONFIG_FILE"
CONFIG_FILE_NAME = "config.toml"
# Where the config file lives is decided before it is read, so it cannot set these.
_NOT_IN_FILE = frozenset({"data_dir", "config_file"})
_MAX_CONFIG_BYTES = 1 << 20


def _make_url(value: str) -> URL:
    """SQLAlchemy's URL parser, loaded on first use: most commands never need SQLAlchemy."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(value)
    except ArgumentError as exc:
        raise ValueError(str(exc)) from None


def default_data_dir() -> Path:
    """The per-user data directory for this platform (e.g. ``~/.local/share/leakshield``)."""
    return Path(platformdirs.user_data_dir("leakshield", appauthor=False))


class Settings(BaseSettings):
    """Every setting of leakshield. Field descriptions are the user documentation."""

    # An empty variable (LEAKSHIELD_DATA_DIR=) counts as unset, never as "the current directory".
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", frozen=True
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory for the database, keys and case files. "
        "Also `--data-dir`. Cannot be set in the config file.",
    )
    config_file: Path | None = Field(
        default=None,
        description="TOML config file. Default: `config.toml` in the data directory. "
        "Also `--config`. Cannot be set in the config file.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database, e.g. "
        "`postgresql+psycopg://user@host/leakshield`. Default: SQLite in the data directory.",
    )
    host: str = Field(
        default="127.0.0.1",
        description="Address `leakshield serve` binds to. Keep the loopback default "
        "unless the server sits behind authentication.",
    )
    port: int = Field(default=8750, ge=1, le=65535, description="Port `leakshield serve` uses.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Least severe log level written."
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="Server log lines: one JSON object each, or plain text."
    )

    media_max_file_bytes: int = Field(
        default=4 << 30,
        ge=1,
        description="Largest media file leakshield reads, in bytes; larger ones are refused.",
    )
    media_max_pixels: int = Field(
        default=150_000_000,
        ge=1,
        description="Most pixels an image or a video frame may have; a header claiming more "
        "is refused before anything is decoded.",
    )
    media_max_video_seconds: float = Field(
        default=4 * 3600.0, gt=0, description="Longest video leakshield decodes, in seconds."
    )
    media_max_video_frames: int = Field(
        default=1_000_000, ge=1, description="Most frames leakshield decodes from one video."
    )

    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes `leakshield serve` runs; each holds the matcher in memory.",
    )
    max_upload_bytes: int = Field(
        default=200 << 20,
        ge=1,
        description="Largest file the server accepts in one upload, in bytes.",
    )
    fetch_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts the server may fetch media from when a request names a URL "
        "(exact names, or `*.example.com`). Empty: the server fetches no URL.",
    )
    matcher_refresh_seconds: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="How often each matcher applies changes committed to the banks.",
    )
    tsa_url: str | None = Field(
        default=None,
        description="RFC 3161 time-stamp authority that `sign` and `protect` use. None: sign "
        "offline, without a time stamp.",
    )
    trust_anchors: list[Path] = Field(
        default_factory=list,
        description="PEM files of root certificates `verify` trusts, besides your own identity.",
    )
    chromium_path: Path | None = Field(
        default=None,
        description="The Chromium that `case capture` drives. None: Debian's chromium "
        "(/usr/bin/chromium), or the first chromium on PATH.",
    )
    capture_allow_private: bool = Field(
        default=False,
        description="Whether `case capture` may load pages on private, loopback or "
        "link-local addresses (off: a capture cannot reach into your network).",
    )
    timezone: str | None = Field(
        default=None,
        description="The time zone (IANA name, e.g. Europe/London) in which `notice` shows "
        "deadlines. None: the system's ($TZ, else /etc/localtime), else UTC.",
    )
    detector_model: Path | None = Field(
        default=None,
        description="An ONNX model of a learned AI-image detector that `analyze` runs, with "
        "a JSON description beside it (MODEL.json). None: no learned detector.",
    )

    @field_validator("tsa_url")
    @classmethod
    def _check_tsa_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("a time-stamp authority URL starts with http:// or https://")
        return value or None

    @field_validator("data_dir", "config_file")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Absolute, so that the SQLite URL and messages do not depend on the working directory.
        return None if value is None else value.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = _make_url(value)
        except ValueError:
            raise ValueError("not a database URL") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("only sqlite:// and postgresql+psycopg:// URLs are supported")
        return value

    @property
    def database_url_or_default(self) -> str:
        """The database URL in force: the configured one, or SQLite in the data directory."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'leakshield.db'}"

    @property
    def cache_dir(self) -> Path:
        """Where leakshield keeps what it can rebuild (matcher snapshots, compiled code)."""
        return self.data_dir / "cache"

    def prepare_runtime(self) -> None:
        """Point numba's compiled-code cache into the data directory. Call before anything
        imports numba (the index, the banks), so nothing is written beside the package."""
        os.environ.setdefault("NUMBA_CACHE_DIR", str(self.cache_dir / "numba"))

    @property
    def config_path(self) -> Path:
        """The config file in force, whether or not it exists."""
        return self.config_file or self.data_dir / CONFIG_FILE_NAME


SettingSource = Literal["default", "file", "env", "cli"]


@dataclass(frozen=True)
class LoadedSettings:
    """Settings together with where each value came from."""

    settings: Settings
    sources: dict[str, SettingSource]


def redact_url(url: str) -> str:
    """A database URL safe to print: the password is masked."""
    try:
        return _make_url(url).render_as_string(hide_password=True)
    except ValueError:
        return "<unparseable URL>"


def load_settings(**overrides: Any) -> LoadedSettings:
    """Load settings; keyword arguments are command-line values and win over everything.

    Raises `ConfigError` with the offending setting named when a value or the
    config file is invalid.
    """
    cli = {k: v for k, v in overrides.items() if v is not None}
    env = _env_values()
    data_dir = Path(cli.get("data_dir") or env.get("data_dir") or default_data_dir())
    config_file = cli.get("config_file") or env.get("config_file")
    path = Path(config_file) if config_file else data_dir / CONFIG_FILE_NAME
    from_file = _read_config_file(path, required=config_file is not None)

    values = {**from_file, **env, **cli}
    layers: tuple[tuple[SettingSource, dict[str, Any]], ...] = (
        ("cli", cli),
        ("env", env),
        ("file", from_file),
    )
    sources: dict[str, SettingSource] = {
        name: next((source for source, layer in layers if name in layer), "default")
        for name in Settings.model_fields
    }
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, sources, path)) from None
    return LoadedSettings(settings=settings, sources=sources)


def _env_values() -> dict[str, Any]:
    try:
        return dict(EnvSettingsSource(Settings)())
    except Exception as exc:  # pydantic-settings raises its own error for bad JSON values
        raise ConfigError(f"A {ENV_PREFIX}* environment variable is invalid: {exc}") from None


def _read_config_file(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise ConfigError(
                f"Config file {path} does not exist. Create it, or unset "
                f"{CONFIG_FILE_ENV} / --config to use the defaults."
            )
        return {}
    try:
        if path.stat().st_size > _MAX_CONFIG_BYTES:
            raise ConfigError(f"Config file {path} is larger than 1 MiB; is it the right file?")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}. Fix it.") from None
    misplaced = sorted(_NOT_IN_FILE & data.keys())
    if misplaced:
        raise ConfigError(
            f"Config file {path} sets {', '.join(misplaced)}, which only the command line "
            f"or the environment can set ({DATA_DIR_ENV}, {CONFIG_FILE_ENV}). Remove it."
        )
    unknown = sorted(data.keys() - Settings.model_fields.keys())
    if unknown:
        known = ", ".join(sorted(Settings.model_fields.keys() - _NOT_IN_FILE))
        raise ConfigError(
            f"Config file {path} has unknown setting(s) {', '.join(unknown)}. Known: {known}."
        )
    return data


def _describe(exc: ValidationError, sources: dict[str, SettingSource], path: Path) -> str:
    where = {
        "cli": "on the command line",
        "env": "in the environment",
        "file": f"in {path}",
        "default": "by default",
    }
    parts = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        origin = where[sources.get(name, "default")]
        env_name = ENV_PREFIX + name.upper()
        parts.append(f"setting {name} ({env_name}) {origin}: {error['msg']}")
    return "Invalid configuration: " + "; ".join(parts) + ". Correct the value and try again."
