"""Each error maps to one exit code and one RFC 9457 problem."""

from __future__ import annotations

import pytest

from leakshield.errors import (
    ConfigError,
    DatabaseUnavailableError,
    ExitCode,
    InputError,
    InternalError,
    LeakshieldError,
    NotFoundError,
    UsageError,
)


@pytest.mark.parametrize(
    ("error", "exit_code", "status"),
    [
        (UsageError, 2, 400),
        (InputError, 3, 422),
        (NotFoundError, 3, 404),
        (ConfigError, 4, 500),
        (DatabaseUnavailableError, 4, 503),
        (InternalError, 70, 500),
    ],
)
def test_error_maps_to_exit_code_and_http_status(
    error: type[LeakshieldError], exit_code: int, status: int
) -> None:
    assert error.exit_code == exit_code
    assert error.http_status == status
    problem = error("what happened; what to do").to_problem(instance="/x")
    assert problem["status"] == status
    assert problem["detail"] == "what happened; what to do"
    assert problem["type"].startswith("urn:leakshield:problem:")
    assert problem["title"]
    assert problem["instance"] == "/x"


def test_problem_types_are_distinct() -> None:
    classes = [UsageError, InputError, NotFoundError, ConfigError, DatabaseUnavailableError]
    assert len({cls.problem_type() for cls in classes}) == len(classes)


def test_extra_fields_appear_in_the_problem() -> None:
    problem = InputError("bad line", line=12).to_problem()
    assert problem["line"] == 12


def test_exit_codes_are_the_documented_ones() -> None:
    assert [int(code) for code in ExitCode] == [0, 2, 3, 4, 70]
