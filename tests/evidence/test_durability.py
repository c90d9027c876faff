"""Killing the writer at random: whatever point a SIGKILL lands on, the case opens, keeps
every item that was committed, shows no half item and leaves nothing behind."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO

import pytest

from leakshield.evidence import Vault
from leakshield.evidence._merkle import TreeHead
from tests.evidence._cases import (
    CASE_FILES,
    PASSPHRASE,
    check_folder,
    check_heads,
    check_items,
    new_case,
    read_heads,
)

REPO = Path(__file__).resolve().parents[2]
KILLS = 60
MAX_DELAY_S = 0.3

pytestmark = pytest.mark.timeout(180)


class Driver:
    """The warm process that forks writers (tests/evidence/_crash_driver.py)."""

    def __init__(self, vault: Path, case_id: str, errors: IO[str]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.evidence._crash_driver",
                str(vault),
                case_id,
                PASSPHRASE.hex(),
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert self._answer() == ["ready"]

    def _answer(self) -> list[str]:
        assert self.process.stdout is not None
        return self.process.stdout.readline().split()

    def _ask(self, *words: object) -> list[str]:
        assert self.process.stdin is not None
        self.process.stdin.write(" ".join(map(str, words)) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def start(self, seed: int, out: Path) -> int:
        answer = self._ask("run", seed, out)
        assert answer[0] == "started", answer
        return int(answer[1])

    def reap(self, pid: int) -> int:
        answer = self._ask("reap", pid)
        assert answer[:2] == ["ended", str(pid)], answer
        return int(answer[2])

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _first_commit(out: Path, errors: Path, limit_s: float = 20.0) -> None:
    """Wait until the writer has printed its first item."""
    deadline = time.monotonic() + limit_s
    while not out.exists() or not out.stat().st_size:
        assert time.monotonic() < deadline, (
            f"nothing committed in {limit_s} s: {errors.read_text()}"
        )
        time.sleep(0.001)


def _left_behind(folder: Path) -> Counter[str]:
    """What a killed writer left for recovery, before the case is opened again."""
    found: Counter[str] = Counter()
    log = (folder / "log.bin").read_bytes()
    at, records = 0, 0
    while at + 4 <= len(log) and at + 4 + int.from_bytes(log[at : at + 4]) <= len(log):
        at, records = at + 4 + int.from_bytes(log[at : at + 4]), records + 1
    found["a partial log record"] += at != len(log)
    heads = (folder / "heads.jsonl").read_text()
    found["a partial tree head"] += not heads.endswith("\n")
    complete = heads.count("\n")
    last = heads.splitlines()[complete - 1] if complete else ""
    found["a record without its head"] += bool(last) and f'"size": {records},' not in last
    found["a temporary file"] += any(p.name.startswith("tmp-") for p in folder.rglob("*"))
    found["something else in the folder"] += any(p.name not in CASE_FILES for p in folder.iterdir())
    return found


def _objects(folder: Path) -> set[str]:
    objects = folder / "objects"
    return {p.name for p in objects.iterdir()} if objects.exists() else set()


def test_a_writer_killed_at_random_points_loses_nothing_committed(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "cases")
    with new_case(vault.root) as case:
        case_id, folder = case.case_id, case.files.folder
    rng = random.Random(20261130)  # noqa: S311 (kill times, not secrets)
    committed: dict[str, str] = {}  # item id -> SHA-256, as the writers printed them
    records: list[dict[str, object]] = []  # the log as last seen: it may only grow
    heads: list[TreeHead] = []
    seen: Counter[str] = Counter()
    items_checked = 0
    errors_file = tmp_path / "driver-errors.txt"
    with errors_file.open("w") as errors:
        driver = Driver(vault.root, case_id, errors)
        try:
            for run in range(KILLS):
                out = tmp_path / f"run-{run}.txt"
                pid = driver.start(run, out)
                if run % 2:  # half the kills land after a first commit, however slow the host
                    _first_commit(out, errors_file)
                time.sleep(rng.uniform(0, MAX_DELAY_S))
                os.kill(pid, signal.SIGKILL)
                status = driver.reap(pid)
                assert os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0, (
                    f"run {run}: the writer failed ({status}): {errors_file.read_text()}"
                )
                printed = [line.split() for line in out.read_text().splitlines()]
                committed.update((item_id, digest) for item_id, digest in printed)
                seen["items printed"] += len(printed)
                seen["kills before any item"] += not printed
                seen += _left_behind(folder)
                before = _objects(folder)
                with vault.open(case_id, PASSPHRASE) as case:
                    items = {item.id: item.sha256 for item in case.items()}
                    lost = {i: d for i, d in committed.items() if items.get(i) != d}
                    assert not lost, f"run {run}: committed items lost or changed: {lost}"
                    assert case.records[: len(records)] == records, f"run {run}: log rewritten"
                    on_disk = read_heads(folder)
                    assert on_disk[: len(heads)] == heads, f"run {run}: heads rewritten"
                    check_heads(case, on_disk, start=len(heads))
                    check_items(case, start=items_checked)
                    check_folder(case)
                    swept = before - _objects(folder)
                    seen["an object no record names"] += any(len(name) == 32 for name in swept)
                    records, heads = list(case.records), on_disk
                    items_checked = len(items)
        finally:
            driver.close()
    with vault.open(case_id, PASSPHRASE) as case:
        check_items(case)
        check_heads(case, read_heads(folder))
        assert [item.id for item in case.items()] == [
            f"item-{n:04d}" for n in range(1, len(case.items()) + 1)
        ]
    print(f"\n{KILLS} kills, {len(case.items())} items; {dict(seen)}")
    assert seen["items printed"] >= KILLS // 2
