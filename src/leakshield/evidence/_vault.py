"""Cases: created under a passphrase, opened with it, and every action on them recorded
in a tamper-evident log signed with the case's own key."""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leakshield.errors import LeakshieldError
from leakshield.evidence._crypto import (
    KEY_BYTES,
    DecryptingReader,
    KdfParams,
    derive_key,
    open_sealed,
    seal,
    seal_stream,
)
from leakshield.evidence._merkle import (
    TreeHead,
    leaf_hash,
    node_hash,
    public_key_id,
    root_hash,
    sign_tree_head,
    verify_tree_head,
)
from leakshield.evidence._model import (
    CaseNotFoundError,
    CaseSummary,
    DamagedCaseError,
    EvidenceItem,
    PassphraseError,
    canonical_json,
)
from leakshield.evidence._storage import CaseFiles

__all__ = ["OpenCase", "Vault", "item_of", "now", "who"]


def now() -> str:
    """The time now, UTC, to the second, as the log records it."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def who() -> str:
    """Who is acting: the operating system's user name."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return f"uid {os.getuid()}"


class Vault:
    """Every case under one folder (``<data dir>/cases``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def create(
        self,
        title: str,
        passphrase: bytes,
        *,
        actor: str | None = None,
        kdf: KdfParams | None = None,
    ) -> OpenCase:
        """A new case, encrypted under ``passphrase``, its first log entry written."""
        if not passphrase:
            raise PassphraseError(
                "a case needs a passphrase (--passphrase-file or LEAKSHIELD_CASE_PASSPHRASE)"
            )
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        case_id = secrets.token_hex(5)
        # Built in a staging folder and renamed into place once its first record and tree
        # head are written: a crash or an error never leaves a case without a log.
        files = CaseFiles(self.root / f"tmp-{case_id}")
        params = kdf or KdfParams(os.urandom(16))
        case_key, signer = os.urandom(KEY_BYTES), Ed25519PrivateKey.generate()
        raw_private = signer.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        aad = case_id.encode()
        header = {
            "format": "leakshield-case/1",
            "id": case_id,
            "created": now(),
            "kdf": params.to_record(),
            "wrapped_key": seal(derive_key(passphrase, params), case_key, b"case-key:" + aad).hex(),
            "signing_key": seal(case_key, raw_private, b"signing-key:" + aad).hex(),
            "public_key": _public_raw(signer).hex(),
            "title": seal(case_key, title.encode(), b"title:" + aad).hex(),
        }
        files.write_header(header)
        files.lock()
        case = OpenCase(files, header, case_key, signer, [], [])
        try:
            case.append("case-created", None, {"title": title}, actor)
            case.files = files.moved_to(self.root / case_id)
        except BaseException:
            files.unlock()
            shutil.rmtree(files.folder, ignore_errors=True)
            raise
        return case

    def open(self, reference: str, passphrase: bytes | None) -> OpenCase:
        """The case ``reference`` (its id, or a unique start of it), opened for work; what
        an interrupted write left behind is recovered first."""
        files = CaseFiles(self.resolve(reference))
        header = files.read_header()
        if not passphrase:
            raise PassphraseError(
                "this case needs its passphrase (--passphrase-file or LEAKSHIELD_CASE_PASSPHRASE)"
            )
        aad = str(header["id"]).encode()
        wrapping = derive_key(passphrase, KdfParams.from_record(header["kdf"]))
        case_key = open_sealed(
            wrapping, bytes.fromhex(header["wrapped_key"]), b"case-key:" + aad, passphrase=True
        )
        raw = open_sealed(case_key, bytes.fromhex(header["signing_key"]), b"signing-key:" + aad)
        signer = Ed25519PrivateKey.from_private_bytes(raw)
        files.lock()
        try:
            heads = [_head(h) for h in files.read_heads()]
            committed = heads[-1].size if heads else 0
            records = [
                _load_record(case_key, aad, number, blob)
                for number, blob in enumerate(files.read_records(committed))
            ]
            case = OpenCase(files, header, case_key, signer, records, heads)
            case.recover()
        except BaseException:
            files.unlock()
            raise
        return case

    def resolve(self, reference: str) -> Path:
        """The folder of the case whose id is or starts with ``reference``."""
        reference = reference.strip().lower()
        if not reference or not all(c in "0123456789abcdef" for c in reference):
            raise CaseNotFoundError(f"{reference!r} is not a case id (see `leakshield case list`)")
        found = [p for p in self._folders() if p.name.startswith(reference)]
        if len(found) != 1:
            what = "no case" if not found else f"{len(found)} cases"
            raise CaseNotFoundError(
                f"{what} with an id starting {reference!r}; see `leakshield case list`"
            )
        return found[0]

    def summaries(self) -> list[CaseSummary]:
        """Every case, oldest first, without opening any (titles are encrypted)."""
        found = []
        for folder in self._folders():
            files = CaseFiles(folder)
            try:
                header = files.read_header()
                heads = [_head(h) for h in files.read_heads(repair=False)]
                key_id = public_key_id(bytes.fromhex(str(header["public_key"])))
                summary = CaseSummary(
                    str(header["id"]),
                    str(header["created"]),
                    heads[-1].size if heads else 0,
                    heads[-1].time if heads else None,
                    key_id,
                )
            except (LeakshieldError, KeyError, ValueError, TypeError):
                continue  # a damaged case must not hide the others; `case show` names it
            found.append(summary)
        return sorted(found, key=lambda s: s.created)

    def _folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [
            p
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith("tmp-") and (p / "case.json").is_file()
        ]


class OpenCase:
    """A case opened with its passphrase: read its items, add to it, export it. Close it
    (or use it as a context manager) to let another process open it."""

    def __init__(
        self,
        files: CaseFiles,
        header: dict[str, Any],
        key: bytes,
        signer: Ed25519PrivateKey,
        records: list[dict[str, Any]],
        heads: list[TreeHead],
    ) -> None:
        self.files, self.header, self._key, self._signer = files, header, key, signer
        self.records, self.tree_heads = records, heads
        self.case_id: str = header["id"]
        self.created: str = header["created"]
        self.public_key = bytes.fromhex(header["public_key"])
        self.key_id = public_key_id(self.public_key)
        aad = self.case_id.encode()
        self.title = open_sealed(key, bytes.fromhex(header["title"]), b"title:" + aad).decode()
        self._leaves = [leaf_hash(canonical_json(r)) for r in records]
        self._tree = _Tree(self._leaves)

    def __enter__(self) -> OpenCase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.files.unlock()

    # Reading

    def items(self) -> list[EvidenceItem]:
        """Every item, in the order added."""
        return [item_of(r) for r in self.records if r.get("item")]

    def item_file(self, item_id: str, name: str) -> BinaryIO:
        """A stored file of an item, decrypted as it is read."""
        for record in self.records:
            item = record.get("item") or {}
            objects = (record.get("details") or {}).get("objects", {})
            if item.get("id") == item_id and name in objects:
                object_id = objects[name]
                source = self.files.open_object(object_id)
                return DecryptingReader(self._key, source, object_id.encode())  # type: ignore[return-value]
        raise CaseNotFoundError(f"case {self.case_id} has no file {name!r} in item {item_id!r}")

    # Writing

    def next_item_id(self) -> str:
        return f"item-{sum(1 for r in self.records if r.get('item')) + 1:04d}"

    def store(
        self,
        source: BinaryIO,
        on_bytes: Callable[[bytes], None] | None = None,
        *,
        sync_folder: bool = True,
    ) -> tuple[str, int]:
        """Seal ``source`` into a new object; returns its id and plaintext size. It belongs
        to the case only once a committed record names it."""
        reader = _Tap(source, on_bytes) if on_bytes else source
        with self.files.new_object(sync_folder=sync_folder) as (object_id, handle):
            size = seal_stream(self._key, reader, handle, object_id.encode())  # type: ignore[arg-type]
        return object_id, size

    def append(
        self,
        action: str,
        item: dict[str, Any] | None,
        details: dict[str, Any],
        actor: str | None,
    ) -> dict[str, Any]:
        """Commit one log record (sealed, appended, synced), then sign the new tree head."""
        return self.append_many([(action, item, details, actor)])[0]

    def append_many(
        self, entries: list[tuple[str, dict[str, Any] | None, dict[str, Any], str | None]]
    ) -> list[dict[str, Any]]:
        """Commit several records with one write and one sync (a group commit), then sign
        one tree head over them all."""
        records: list[dict[str, Any]] = []
        sealed: list[bytes] = []
        for action, item, details, actor in entries:
            seq = len(self.records) + len(records)
            record = {
                "seq": seq,
                "action": action,
                "time": now(),
                "actor": actor or who(),
                "case": self.case_id,
                "item": item,
                "details": details,
            }
            aad = self.case_id.encode() + b":%d" % seq
            sealed.append(seal(self._key, canonical_json(record), aad))
            records.append(record)
        self.files.append_record(*sealed)
        for record in records:
            self.records.append(record)
            self._leaves.append(leaf_hash(canonical_json(record)))
            self._tree.add(self._leaves[-1])
        self._sign_head()
        return records

    def change_passphrase(self, new: bytes, *, actor: str | None = None) -> None:
        """Wrap the case's key under ``new``; nothing stored is re-encrypted."""
        if not new:
            raise PassphraseError("the new passphrase is empty")
        params = KdfParams(os.urandom(16), *_cost(self.header))
        wrapped = seal(derive_key(new, params), self._key, b"case-key:" + self.case_id.encode())
        self.header = {**self.header, "kdf": params.to_record(), "wrapped_key": wrapped.hex()}
        self.files.write_header(self.header)
        self.append("passphrase-changed", None, {}, actor)

    def recover(self) -> None:
        """Check every signed tree head against the log, then, after a crash, sign what the
        log holds beyond the last head and drop what interrupted writes left."""
        if self.tree_heads and self.tree_heads[-1].size > len(self.records):
            raise DamagedCaseError("the case's log is shorter than its last signed tree head")
        roots = prefix_roots(self._leaves)
        previous = 0
        for number, head in enumerate(self.tree_heads, 1):
            if not verify_tree_head(head, self.public_key):
                raise DamagedCaseError(f"signed tree head {number} of the case fails its signature")
            if head.size < previous or not 1 <= head.size <= len(roots):
                raise DamagedCaseError(f"signed tree head {number} of the case has a wrong size")
            if head.root != roots[head.size - 1].hex():
                raise DamagedCaseError(f"the case's log does not match signed tree head {number}")
            previous = head.size
        if self.records and (not self.tree_heads or self.tree_heads[-1].size < len(self.records)):
            self._sign_head()
        self.files.sweep(self._objects())

    def _objects(self) -> set[str]:
        found: set[str] = set()
        for record in self.records:
            found.update((record.get("details") or {}).get("objects", {}).values())
        return found

    def _sign_head(self) -> None:
        head = sign_tree_head(len(self._leaves), self._tree.root(), self._signer)
        self.files.append_head(head.to_record())
        self.tree_heads.append(head)


def item_of(record: dict[str, Any]) -> EvidenceItem:
    """The item a log record added."""
    item = record["item"]
    return EvidenceItem(
        item["id"],
        item["kind"],
        item["added_at"],
        item["added_by"],
        item["sha256"],
        record["seq"],
        item,
    )


class _Tap:
    """A reader that shows every chunk it hands out to ``on_bytes`` (hashing on the way)."""

    def __init__(self, source: BinaryIO, on_bytes: Callable[[bytes], None]) -> None:
        self.source, self.on_bytes = source, on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.on_bytes(data)
        return data


def _head(record: dict[str, Any]) -> TreeHead:
    try:
        return TreeHead.from_record(record)
    except LeakshieldError:
        raise DamagedCaseError("a signed tree head of the case is damaged") from None


class _Tree:
    """The log's Merkle tree as a stack of complete subtrees: adding a leaf and taking the
    root cost O(log n), so a long log does not slow each action down."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.stack: list[tuple[int, bytes]] = []
        for leaf in leaves:
            self.add(leaf)

    def add(self, leaf: bytes) -> None:
        size, node = 1, leaf
        while self.stack and self.stack[-1][0] == size:
            below = self.stack.pop()[1]
            size, node = size * 2, node_hash(below, node)
        self.stack.append((size, node))

    def root(self) -> bytes:
        """RFC 6962's root: the subtrees folded from the right, as it splits a tree."""
        if not self.stack:
            return root_hash([])
        root = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            root = node_hash(left, root)
        return root


def prefix_roots(leaves: list[bytes]) -> list[bytes]:
    """The Merkle root of every prefix of ``leaves`` (sizes 1 to n), in one pass."""
    tree, roots = _Tree([]), []
    for leaf in leaves:
        tree.add(leaf)
        roots.append(tree.root())
    return roots


def _load_record(key: bytes, aad: bytes, number: int, blob: bytes) -> dict[str, Any]:
    import json

    try:
        text = open_sealed(key, blob, aad + b":%d" % number)
    except DamagedCaseError:
        raise DamagedCaseError(
            f"record {number} of the case log failed its integrity check"
        ) from None
    record: dict[str, Any] = json.loads(text)
    if record.get("seq") != number:
        raise DamagedCaseError(f"record {number} of the case log is out of place")
    return record


def _public_raw(signer: Ed25519PrivateKey) -> bytes:
    return signer.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _cost(header: dict[str, Any]) -> tuple[int, int, int]:
    kdf = header["kdf"]
    return int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
