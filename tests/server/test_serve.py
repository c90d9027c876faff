"""`leakshield serve` as a user runs it: a real process, a real port, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from leakshield import __version__
from tests._postgres import free_port

LEAKSHIELD = Path(sys.executable).parent / "leakshield"


def _start(data_dir: Path, *args: str, within: float = 30) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    process = subprocess.Popen(
        [str(LEAKSHIELD), "serve", "--port", str(port), "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"LEAKSHIELD_LOG_FORMAT": "json"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited early: {process.communicate()[1]}")
        try:
            if httpx.get(base + "/status", timeout=1).status_code == 200:
                return base, process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"serve did not answer within {within} s: {process.communicate()[1][-2000:]}")


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.terminate()
    return process.communicate(timeout=30)[1]


@pytest.fixture
def server(data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    base, process = _start(data_dir)
    yield base, process
    _stop(process)


def test_serve_migrates_and_answers_status(
    server: tuple[str, subprocess.Popen[str]], data_dir: Path
) -> None:
    base, process = server
    response = httpx.get(base + "/status", headers={"X-Request-ID": "from-test"})
    assert response.status_code == 200
    assert response.json()["version"] == __version__
    assert response.json()["database"]["schema_up_to_date"] is True
    assert (data_dir / "leakshield.db").exists()

    stderr = _stop(process)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert any(
        line["request_id"] == "from-test" and line["status"] == 200 and line["path"] == "/status"
        for line in access
    )
    assert any(line.get("event") == "database ready" for line in lines)


def test_serve_binds_to_loopback_by_default(server: tuple[str, subprocess.Popen[str]]) -> None:
    base, _process = server
    port = base.rsplit(":", 1)[1]
    listening = Path("/proc/net/tcp").read_text()
    # 0100007F is 127.0.0.1 in /proc/net/tcp's little-endian hex; 00000000 would be 0.0.0.0.
    ours = [line for line in listening.splitlines()[1:] if f":{int(port):04X} " in line]
    local_addresses = {line.split()[1].split(":")[0] for line in ours if line.split()[3] == "0A"}
    assert local_addresses == {"0100007F"}


PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def _found_everywhere(base: str, signal: str, expected: bool) -> None:
    # A new connection per request, so that either worker may answer each one.
    for _ in range(20):
        response = httpx.get(base + "/api/v1/lookup", params={"signal": signal}, timeout=5)
        assert response.status_code == 200
        assert bool(response.json()["matches"]) is expected


def test_workers_see_each_others_writes_within_a_second(data_dir: Path) -> None:
    base, process = _start(data_dir, "--workers", "2", "--no-auth", within=90)
    try:
        assert httpx.post(base + "/api/v1/banks", json={"name": "B"}, timeout=5).status_code == 201
        for bits in (0, 64, 128):
            value = int(PDQ, 16) ^ ((1 << bits) - 1)
            signal = f"pdq:{value:064x}"
            added = httpx.post(
                base + "/api/v1/banks/B/signals", json={"signals": [signal]}, timeout=5
            )
            assert added.json()["added"] == 1
            time.sleep(1.0)  # the promise: every worker finds it within a second
            _found_everywhere(base, signal, True)
            removed = httpx.post(
                base + "/api/v1/banks/B/signals/remove", json={"signals": [signal]}, timeout=5
            )
            assert removed.json() == {"removed": 1}
            time.sleep(1.0)
            _found_everywhere(base, signal, False)
    finally:
        stderr = _stop(process)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert sum(line.get("event") == "matcher ready" for line in lines) == 2  # one per worker


def test_readme_server_example_runs(data_dir: Path) -> None:
    """The README's server block, as written: a lookup key, `serve --workers 2`, and the
    curl lookup (sent here with httpx, on the test's own port)."""
    from tests.test_readme import code_blocks

    [block] = [b for b in code_blocks("Usage") if any("leakshield serve --workers" in x for x in b)]
    create, serve, curl = (line.split("  #")[0].strip() for line in block)
    assert create.startswith("KEY=$(leakshield ") and create.endswith(")")
    created = subprocess.run(
        [
            str(LEAKSHIELD),
            *create[len("KEY=$(leakshield ") : -1].split(),
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip()
    assert key.startswith("lsk_")
    base, process = _start(data_dir, *serve.split()[2:])
    try:
        assert curl.startswith('curl -H "Authorization: Bearer $KEY" ')
        url = curl.split('"')[3].replace("127.0.0.1:8750", base.removeprefix("http://"))
        denied = httpx.get("http://" + url, timeout=10)
        assert denied.status_code == 401
        answer = httpx.get("http://" + url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["matches"] == []
    finally:
        _stop(process)
