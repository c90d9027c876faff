"""The secret key of a watermark: 32 random bytes, kept in a 0600 file in the data directory.

Everything the watermark draws at random (its patterns, where each bit goes, the check on the
payload) is derived from the key with keyed BLAKE2b under a label, so one key never reuses a
stream for two purposes and nothing can be read or forged without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from leakshield.errors import InputError

__all__ = ["KEY_BYTES", "WatermarkKey", "WatermarkKeyError"]

KEY_BYTES = 32
_FILE_TYPE = "leakshield-watermark-key"
_FILE_VERSION = 1
_MAX_FILE_BYTES = 4096


class WatermarkKeyError(InputError):
    """A key file that cannot be read, or a key that is not a key."""

    slug = "bad-watermark-key"
    title = "Bad watermark key"


@dataclass(frozen=True, repr=False)
class WatermarkKey:
    """A watermark key. Its ``repr`` shows only the public key id, never the secret."""

    secret: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) != KEY_BYTES:
            raise WatermarkKeyError(f"a watermark key is {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return f"WatermarkKey(id={self.key_id})"

    @classmethod
    def generate(cls) -> WatermarkKey:
        """A new key from the operating system's random source."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @property
    def key_id(self) -> str:
        """16 hex digits that name the key without revealing it (safe to show and log)."""
        return self.derive("key-id", 8).hex()

    def derive(self, label: str, size: int) -> bytes:
        """``size`` bytes (at most 64) bound to this key and ``label``."""
        return hashlib.blake2b(label.encode(), key=self.secret, digest_size=size).digest()

    def rng(self, label: str) -> np.random.Generator:
        """A NumPy generator seeded from the key and ``label`` (the same on every machine)."""
        seed = int.from_bytes(self.derive(label, 32), "little")
        return np.random.Generator(np.random.PCG64(seed))

    # ---- key files ------------------------------------------------------------------------

    def save(self, path: Path, *, overwrite: bool = False) -> None:
        """Writes the key to ``path`` with mode 0600; refuses to replace a file unless asked."""
        document = {
            "type": _FILE_TYPE,
            "version": _FILE_VERSION,
            "key_id": self.key_id,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "secret": self.secret.hex(),
        }
        data = (json.dumps(document, indent=2) + "\n").encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not overwrite:
            raise WatermarkKeyError(
                f"{path} already exists; a key cannot be replaced by accident, because "
                "watermarks made with it could no longer be read. Pass --force to replace it."
            )
        # A new file renamed into place: an interrupted write never leaves half a key.
        fd, temporary = tempfile.mkstemp(prefix=".key-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if overwrite:
                Path(temporary).replace(path)
            else:
                os.link(temporary, path)  # fails if a file appeared meanwhile
                Path(temporary).unlink()
        except FileExistsError:
            Path(temporary).unlink()
            raise WatermarkKeyError(f"{path} already exists; pass --force to replace it") from None
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> WatermarkKey:
        """Reads a key file written by `save`; a clear error for anything else."""
        try:
            with path.open("rb") as handle:
                data = handle.read(_MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise WatermarkKeyError(
                f"no watermark key at {path}; create one with `leakshield watermark keygen`"
            ) from None
        except OSError as exc:
            raise WatermarkKeyError(
                f"cannot read the watermark key {path}: {exc.strerror}"
            ) from None
        problem = f"{path} is not a leakshield watermark key file"
        if len(data) > _MAX_FILE_BYTES:
            raise WatermarkKeyError(problem)
        try:
            document = json.loads(data)
        except ValueError:
            raise WatermarkKeyError(problem) from None
        if not isinstance(document, dict) or document.get("type") != _FILE_TYPE:
            raise WatermarkKeyError(problem)
        if document.get("version") != _FILE_VERSION:
            raise WatermarkKeyError(
                f"{path} is a version {document.get('version')} watermark key; this "
                f"leakshield reads version {_FILE_VERSION}. Upgrade leakshield."
            )
        try:
            key = cls(bytes.fromhex(document["secret"]))
        except (ValueError, KeyError, TypeError, WatermarkKeyError):
            raise WatermarkKeyError(problem) from None
        if document.get("key_id") not in (None, key.key_id):
            raise WatermarkKeyError(f"{path} is damaged: its key id does not match its secret")
        return key
