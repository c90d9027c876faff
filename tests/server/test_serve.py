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


@pytest.fixture
def server(data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [str(LEAKSHIELD), "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"LEAKSHIELD_LOG_FORMAT": "json"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited early: {process.communicate()[1]}")
        try:
            httpx.get(base + "/status", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("serve did not answer within 30 s")
    yield base, process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=15)


def test_serve_migrates_and_answers_status(
    server: tuple[str, subprocess.Popen[str]], data_dir: Path
) -> None:
    base, process = server
    response = httpx.get(base + "/status", headers={"X-Request-ID": "from-test"})
    assert response.status_code == 200
    assert response.json()["version"] == __version__
    assert response.json()["database"]["schema_up_to_date"] is True
    assert (data_dir / "leakshield.db").exists()

    process.terminate()
    _, stderr = process.communicate(timeout=15)
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
