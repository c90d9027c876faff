"""The check interface and its registry: one class per component, registered in one place."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from leakshield.config import Settings
from leakshield.errors import LeakshieldError


class CheckStatus(StrEnum):
    """The outcome of one check."""

    OK = "ok"
    MISSING = "missing"
    ERROR = "error"


@dataclass(frozen=True)
class CheckResult:
    """What one check found, and how to fix it when it is not ok."""

    name: str
    status: CheckStatus
    detail: str
    required: bool
    fix: str | None = None

    @property
    def blocking(self) -> bool:
        """True when leakshield cannot work until this is fixed."""
        return self.required and self.status is not CheckStatus.OK


class Check(ABC):
    """One component to check. ``required`` checks failing make `doctor` exit non-zero."""

    name: ClassVar[str]
    required: ClassVar[bool] = False

    @abstractmethod
    def run(self, settings: Settings) -> CheckResult:
        """Look at the component without changing anything."""

    def result(self, status: CheckStatus, detail: str, fix: str | None = None) -> CheckResult:
        """A result for this check."""
        return CheckResult(self.name, status, detail, self.required, fix)


_REGISTRY: list[type[Check]] = []


def register(check: type[Check]) -> type[Check]:
    """Class decorator adding a check; checks run in the order they were registered."""
    if any(existing.name == check.name for existing in _REGISTRY):
        raise ValueError(f"a check named {check.name!r} is already registered")
    _REGISTRY.append(check)
    return check


def run_checks(settings: Settings) -> list[CheckResult]:
    """Run every registered check; a check that raises is reported as an error, not raised."""
    results = []
    for check_class in _REGISTRY:
        check = check_class()
        try:
            results.append(check.run(settings))
        except LeakshieldError as exc:
            results.append(check.result(CheckStatus.ERROR, exc.message))
        except Exception as exc:
            detail = f"the check itself failed: {type(exc).__name__}: {exc}"
            results.append(check.result(CheckStatus.ERROR, detail, "please report this bug"))
    return results
