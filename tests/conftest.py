"""Shared fixtures: an isolated data directory, both databases, and the CLI in-process."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._postgres import INSTALL_HINT, PostgresServer, find_bin_dir, free_port

IN_CI = os.environ.get("CI", "").lower() == "true"
_pg_skipped: list[str] = []

# Fixtures the provenance and forensics tests share (an identity, a key, a repository).
pytest_plugins = ["tests._provenance_fixtures"]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's LEAKSHIELD_* settings or writes to their data directory."""
    for name in list(os.environ):
        if name.startswith("LEAKSHIELD_") and not name.startswith("LEAKSHIELD_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LEAKSHIELD_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`serve` configures logging for the process; undo it so tests stay independent."""
    names = ("leakshield", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {name: logging.getLogger(name) for name in names}
    state = {
        name: (log.handlers[:], log.level, log.propagate, log.disabled)
        for name, log in saved.items()
    }
    yield
    for name, log in saved.items():
        log.handlers[:], log.level, log.propagate, log.disabled = state[name]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The data directory the environment points at (not created yet)."""
    return tmp_path / "data"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session. Must run under CI=true; skips loudly elsewhere."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = f"PostgreSQL is not installed, so storage tests did NOT run on it ({INSTALL_HINT})"
        if IN_CI:
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        _pg_skipped.append(reason)
        pytest.skip(reason)
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"could not start PostgreSQL from {bin_dir}: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database on each backend: the storage tests run on both."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'leakshield.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    with server.fresh_database() as url:
        yield url


@pytest.fixture
def unreachable_database_url() -> str:
    """A PostgreSQL URL, with a password, where nothing listens."""
    return f"postgresql://someone:s3cret@127.0.0.1:{free_port()}/nothing"


@dataclass
class CliResult:
    """What a `leakshield` invocation printed and returned."""

    exit_code: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict[str, object]]:
        """stdout parsed as JSON lines (fails the test if any line is not JSON)."""
        import json

        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `leakshield ARGS...` in-process through the real entry point."""
    from leakshield.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say it loudly when the PostgreSQL half of the storage tests did not run."""
    for reason in _pg_skipped[:1]:
        terminalreporter.write_sep("!", "WARNING: " + reason, red=True, bold=True)
