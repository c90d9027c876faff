"""Health checks: the database and every optional component, each ok or missing with a fix."""

from leakshield.doctor._registry import Check, CheckResult, CheckStatus, register, run_checks

# Importing the module registers the built-in checks.
from leakshield.doctor import _checks  # noqa: F401  isort: skip

__all__ = ["Check", "CheckResult", "CheckStatus", "register", "run_checks"]
