"""Configuration: defaults < config file (TOML) < ``LEAKSHIELD_*`` environment < command line."""

from leakshield.config._settings import (
    CONFIG_FILE_ENV,
    DATA_DIR_ENV,
    ENV_PREFIX,
    SECRET_ENV_VARS,
    TEST_ENV_PREFIX,
    LoadedSettings,
    Settings,
    default_data_dir,
    load_settings,
    redact_url,
)

__all__ = [
    "CONFIG_FILE_ENV",
    "DATA_DIR_ENV",
    "ENV_PREFIX",
    "SECRET_ENV_VARS",
    "TEST_ENV_PREFIX",
    "LoadedSettings",
    "Settings",
    "default_data_dir",
    "load_settings",
    "redact_url",
]
