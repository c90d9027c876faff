"""A writer to kill: adds files and notes to a case, printing each item's id and SHA-256 to
stdout (flushed) as soon as `add_file` or `add_note` has returned, i.e. once committed.

``python -m tests.evidence._crash_driver VAULT CASE PASSPHRASE_HEX`` imports and warms up
everything once, says ``ready``, then reads commands on stdin:

- ``run SEED OUT``: fork a writer whose stdout is the file OUT; answers ``started PID``.
  The writer opens the case (running its recovery) and adds items until it is killed.
- ``reap PID``: wait for that writer to end; answers ``ended PID STATUS``.

Forking from a warm process lets the test kill a writer within milliseconds of its start
(a fresh interpreter spends its first half second importing), so the random kill points
cover opening and recovery as well as every step of adding.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import sys
import traceback
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"  # no thread pools in the parent: its children are forked

from leakshield.evidence import Vault, add_file, add_note  # noqa: E402
from leakshield.media import MediaLimits  # noqa: E402
from leakshield.signals import HashOptions, hash_file  # noqa: E402
from tests.evidence._cases import photo  # noqa: E402

MAX_ITEMS = 400  # a writer nobody kills stops here
# Mostly small, so that kills land often in the short steps of a commit; some of two
# sealed chunks (1 MiB each).
SIZES = [700, 700, 5_000, 20_000, 20_000, 300_000, 1_500_000]


def write(vault: Path, case_id: str, passphrase: bytes, seed: int, workdir: Path) -> None:
    """Add items until killed; print each committed one."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    limits = MediaLimits()
    with Vault(vault).open(case_id, passphrase) as case:
        for number in itertools.count():
            if number >= MAX_ITEMS:
                return
            choice = rng.random()
            if choice < 0.5:
                item = add_note(case, f"note {seed}-{number} " + "x" * rng.randrange(2000))
            else:
                path = workdir / f"{seed}-{number}.bin"
                if choice < 0.6:
                    path = workdir / f"{seed}-{number}.jpg"
                    shutil.copyfile(workdir / "photo.jpg", path)
                else:
                    path.write_bytes(rng.randbytes(rng.choice(SIZES)))
                item = add_file(case, path, limits=limits)
            print(item.id, item.sha256, flush=True)


def main(argv: list[str]) -> None:
    vault, case_id, passphrase = Path(argv[0]), argv[1], bytes.fromhex(argv[2])
    workdir = vault.parent / "driver-files"
    workdir.mkdir(exist_ok=True)
    hash_file(photo(workdir / "photo.jpg", size=(160, 120)), HashOptions(MediaLimits()))
    print("ready", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "run":
            pid = os.fork()
            if pid == 0:
                out = os.open(args[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(out, 1)
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                try:
                    write(vault, case_id, passphrase, int(args[0]), workdir)
                except BaseException:
                    traceback.print_exc()
                    sys.stderr.flush()
                    os._exit(1)
                os._exit(0)
            print("started", pid, flush=True)
        elif command == "reap":
            _, status = os.waitpid(int(args[0]), 0)
            print("ended", args[0], status, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
