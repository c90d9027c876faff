"""Encryption at rest for a case: a key from the passphrase (scrypt, memory-hard), the
case's own random key wrapped under it, and AES-256-GCM for everything stored.

Files are sealed in chunks, each with its position and whether it is the last in its
associated data, so a chunk cannot be reordered, dropped, moved to another file or cut
off without the read failing.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from leakshield.evidence._model import DamagedCaseError, PassphraseError

__all__ = [
    "CHUNK",
    "KEY_BYTES",
    "DecryptingReader",
    "KdfParams",
    "derive_key",
    "open_sealed",
    "seal",
    "seal_stream",
]

KEY_BYTES = 32
CHUNK = 1 << 20
_NONCE = 12
_MAGIC = b"LSE1"
_PREFIX = 8  # random bytes of each file's nonces; the other 4 count its chunks
_LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class KdfParams:
    """scrypt's cost: ``n`` x ``r`` x 128 bytes of memory (128 MiB by default), which makes
    each guess at a passphrase cost as much."""

    salt: bytes
    n: int = 1 << 17
    r: int = 8
    p: int = 1

    def to_record(self) -> dict[str, object]:
        return {"alg": "scrypt", "n": self.n, "r": self.r, "p": self.p, "salt": self.salt.hex()}

    @classmethod
    def from_record(cls, record: dict[str, object]) -> KdfParams:
        if record.get("alg") != "scrypt":
            raise DamagedCaseError(f"unknown key derivation {record.get('alg')!r}")
        n, r, p = (int(str(record[k])) for k in ("n", "r", "p"))
        if not (2 <= n <= 1 << 22 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
            raise DamagedCaseError("the case's key derivation parameters are out of range")
        return cls(bytes.fromhex(str(record["salt"])), n, r, p)


def derive_key(passphrase: bytes, params: KdfParams) -> bytes:
    """The key that wraps a case's key, from its passphrase."""
    kdf = Scrypt(salt=params.salt, length=KEY_BYTES, n=params.n, r=params.r, p=params.p)
    return kdf.derive(passphrase)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``plaintext`` encrypted and authenticated under ``key``, bound to ``aad``."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes, *, passphrase: bool = False) -> bytes:
    """What `seal` sealed; a wrong key or any change is an error (a `PassphraseError`
    when ``passphrase``: the only cause a user can fix)."""
    try:
        return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], aad)
    except (InvalidTag, ValueError):
        if passphrase:
            raise PassphraseError(
                "wrong passphrase for this case (nothing was changed); check "
                "--passphrase-file or LEAKSHIELD_CASE_PASSPHRASE"
            ) from None
        raise DamagedCaseError("stored data failed its integrity check") from None


def seal_stream(key: bytes, source: BinaryIO, target: BinaryIO, object_id: bytes) -> int:
    """Encrypt ``source`` into ``target`` chunk by chunk; returns the plaintext size."""
    prefix = os.urandom(_PREFIX)
    target.write(_MAGIC + prefix)
    aead = AESGCM(key)
    total, index = 0, 0
    chunk = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if chunk else b""
        last = not following
        nonce = prefix + struct.pack(">I", index)
        sealed = aead.encrypt(nonce, chunk, _chunk_aad(object_id, index, last))
        target.write(_LENGTH.pack(len(sealed)) + sealed)
        total += len(chunk)
        if last:
            return total
        chunk, index = following, index + 1


class DecryptingReader(io.RawIOBase):
    """A sealed file read back as plaintext, a chunk at a time; any change, truncation or
    reordering raises `DamagedCaseError` at the chunk where it is found."""

    def __init__(self, key: bytes, source: BinaryIO, object_id: bytes) -> None:
        self._chunks = _open_chunks(key, source, object_id)
        self._buffer = b""
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = chunk
        count = min(len(buffer), len(self._buffer))
        buffer[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count

    def close(self) -> None:
        self._source.close()
        super().close()


def _open_chunks(key: bytes, source: BinaryIO, object_id: bytes) -> Iterator[bytes]:
    head = source.read(len(_MAGIC) + _PREFIX)
    if len(head) != len(_MAGIC) + _PREFIX or not head.startswith(_MAGIC):
        raise DamagedCaseError("a stored file is not a sealed file")
    prefix, aead, index = head[len(_MAGIC) :], AESGCM(key), 0
    while True:
        size = source.read(_LENGTH.size)
        if len(size) != _LENGTH.size:
            raise DamagedCaseError("a stored file is cut short")
        (length,) = _LENGTH.unpack(size)
        if length > CHUNK + 16:
            raise DamagedCaseError("a stored file has a damaged chunk")
        sealed = source.read(length)
        nonce = prefix + struct.pack(">I", index)
        for last in (False, True):
            try:
                chunk = aead.decrypt(nonce, sealed, _chunk_aad(object_id, index, last))
            except InvalidTag:
                continue
            yield chunk
            if last:
                if source.read(1):
                    raise DamagedCaseError("a stored file has data after its last chunk")
                return
            break
        else:
            raise DamagedCaseError("a stored file failed its integrity check")
        index += 1


def _chunk_aad(object_id: bytes, index: int, last: bool) -> bytes:
    return b"leakshield-object\n" + object_id + struct.pack(">I?", index, last)
