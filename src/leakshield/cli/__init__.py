"""The `leakshield` command line: parses, calls the core, formats. Nothing else."""

from leakshield.cli import (  # noqa: F401  (registers commands)
    _analyze,
    _apikey,
    _bank,
    _bundle,
    _case,
    _case_export,
    _config,
    _db,
    _doctor,
    _hash,
    _identity,
    _lookup,
    _notice,
    _notice_track,
    _protect,
    _provenance,
    _serve,
    _watermark,
)
from leakshield.cli._main import main
from leakshield.cli._root import app

__all__ = ["app", "main"]
