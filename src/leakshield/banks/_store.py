"""Banks in the database: create, read, change and delete banks, content and signals.

Every write runs in `_writing`, which first bumps the one-row change counter. Its row
lock serialises writers, so change numbers follow commit order (matchers that follow
them never skip one), and ids are handed out from the same row, never reused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from leakshield.banks._model import (
    Bank,
    BankContent,
    BankExistsError,
    BankInputError,
    BankNotFoundError,
    check_bank_name,
    check_thresholds,
)
from leakshield.signals import Signal, signal_type
from leakshield.store import (
    BankRow,
    ChangeRow,
    ContentRow,
    Database,
    SequenceRow,
    SignalRow,
)

_MAX_NOTE = 10_000
_MAX_METADATA_BYTES = 64 * 1024
_KEY_LIMIT = 64


def utc(when: datetime | None) -> datetime | None:
    """``when`` as an aware UTC time (SQLite hands back naive ones)."""
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def value_key(value: str) -> str:
    """The unique-index key of a signal value: itself when short, else its SHA-256."""
    if len(value) <= _KEY_LIMIT:
        return value
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Writing:
    """An open write transaction: its change number and the next free ids."""

    connection: Connection
    seq: int

    def allocate(self, table: type[ContentRow] | type[SignalRow], count: int = 1) -> int:
        """Reserve ``count`` new ids of ``table``; returns the first."""
        column = SequenceRow.next_content_id if table is ContentRow else SequenceRow.next_signal_id
        first = self.connection.execute(
            update(SequenceRow)
            .where(SequenceRow.id == 1)
            .values({column: column + count})
            .returning(column)
        ).scalar_one()
        return int(first) - count

    def record(self, kind: str, object_ids: Iterable[int]) -> None:
        """Record a change that matchers must apply: signal-removed, content or bank."""
        rows = [{"seq": self.seq, "kind": kind, "object_id": i} for i in object_ids]
        if rows:
            self.connection.execute(insert(ChangeRow), rows)


class BankStore:
    """Banks, their content and signals, in one database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def writing(self) -> Iterator[Writing]:
        """A write transaction holding the change counter's row lock."""
        with self.database.engine.begin() as connection:
            seq = connection.execute(
                update(SequenceRow)
                .where(SequenceRow.id == 1)
                .values(seq=SequenceRow.seq + 1)
                .returning(SequenceRow.seq)
            ).scalar_one()
            yield Writing(connection, int(seq))

    def database_id(self) -> str:
        """A random id set when the bank tables were created: it tells databases apart."""
        with self.database.engine.connect() as connection:
            return str(connection.execute(select(SequenceRow.database_id)).scalar_one())

    def current_seq(self) -> int:
        """The number of the last committed change."""
        with self.database.engine.connect() as connection:
            return int(connection.execute(select(SequenceRow.seq)).scalar_one())

    # Banks

    def create_bank(
        self,
        name: str,
        *,
        description: str = "",
        enabled: bool = True,
        negative: bool = False,
        thresholds: Mapping[str, int] | None = None,
    ) -> Bank:
        """Create a bank; raises `BankExistsError` if the name is taken."""
        check_bank_name(name)
        checked = check_thresholds(thresholds or {})
        now = datetime.now(UTC)
        with self.writing() as w:
            if w.connection.execute(select(BankRow.id).where(BankRow.name == name)).first():
                raise BankExistsError(f"A bank named {name} exists already. Choose another name.")
            bank_id = w.connection.execute(
                insert(BankRow)
                .values(
                    name=name,
                    description=description,
                    enabled=enabled,
                    negative=negative,
                    thresholds=checked,
                    created_at=now,
                    updated_at=now,
                )
                .returning(BankRow.id)
            ).scalar_one()
            w.record("bank", [bank_id])
        return self.bank(name)

    def banks(self, *, with_counts: bool = False) -> list[Bank]:
        """Every bank, by name."""
        with self.database.engine.connect() as connection:
            rows = connection.execute(select(BankRow).order_by(BankRow.name)).all()
            counts: dict[int, int] = {}
            if with_counts:
                counts = dict(
                    connection.execute(
                        select(ContentRow.bank_id, func.count()).group_by(ContentRow.bank_id)
                    ).all()
                )
        return [bank_from_row(row, counts.get(row.id, 0) if with_counts else None) for row in rows]

    def bank(self, name: str, *, with_count: bool = False) -> Bank:
        """The bank called ``name``; raises `BankNotFoundError`."""
        with self.database.engine.connect() as connection:
            row = connection.execute(select(BankRow).where(BankRow.name == name)).first()
            if row is None:
                raise BankNotFoundError(
                    f"There is no bank named {name[:100]!r}. List the banks with "
                    "`leakshield bank list` or GET /api/v1/banks."
                )
            count = None
            if with_count:
                count = connection.execute(
                    select(func.count()).where(ContentRow.bank_id == row.id)
                ).scalar_one()
        return bank_from_row(row, count)

    def update_bank(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        negative: bool | None = None,
        thresholds: Mapping[str, int] | None = None,
    ) -> Bank:
        """Change a bank's settings; only the arguments given change."""
        bank = self.bank(name)
        values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if new_name is not None and new_name != name:
            values["name"] = check_bank_name(new_name)
        if description is not None:
            values["description"] = description
        if enabled is not None:
            values["enabled"] = enabled
        if negative is not None:
            values["negative"] = negative
        if thresholds is not None:
            values["thresholds"] = {**bank.thresholds, **check_thresholds(thresholds)}
        with self.writing() as w:
            if (
                "name" in values
                and w.connection.execute(
                    select(BankRow.id).where(BankRow.name == values["name"])
                ).first()
            ):
                raise BankExistsError(f"A bank named {values['name']} exists already.")
            w.connection.execute(update(BankRow).where(BankRow.id == bank.id).values(**values))
            w.record("bank", [bank.id])
        return self.bank(values.get("name", name))

    def delete_bank(self, name: str) -> None:
        """Delete a bank with all its content and signals."""
        bank = self.bank(name)
        with self.writing() as w:
            for table in (SignalRow, ContentRow):
                w.connection.execute(delete(table).where(table.bank_id == bank.id))
            w.connection.execute(delete(BankRow).where(BankRow.id == bank.id))
            w.record("bank", [bank.id])

    # Content

    def add_content(
        self,
        bank_name: str,
        signals: Sequence[Signal],
        *,
        metadata: Mapping[str, Any] | None = None,
        note: str = "",
        disabled_until: datetime | None = None,
    ) -> BankContent:
        """Add one content item holding ``signals``. A signal the bank holds already is
        not added twice: the existing item is returned instead."""
        if not signals:
            raise BankInputError("content needs at least one signal")
        meta = check_metadata(metadata or {})
        bank = self.bank(bank_name)
        with self.writing() as w:
            found = _find_signals(w.connection, bank.id, signals)
            if found:
                # Already held: the new signals join the item that holds the others.
                content_id = found[0][1]
                held = {(kind, key) for kind, key in _keys_of(w.connection, content_id)}
                missing = [s for s in signals if (s.type_name, value_key(str(s))) not in held]
                insert_signals(w, bank.id, [(content_id, s) for s in missing])
            else:
                content_id = w.allocate(ContentRow)
                w.connection.execute(
                    insert(ContentRow).values(
                        id=content_id,
                        bank_id=bank.id,
                        content_metadata=meta,
                        note=check_note(note),
                        created_at=datetime.now(UTC),
                        disabled_until=utc(disabled_until),
                    )
                )
                insert_signals(w, bank.id, [(content_id, s) for s in signals])
        return self.content(bank_name, content_id)

    def content(self, bank_name: str, content_id: int) -> BankContent:
        """One content item of a bank, with its signals."""
        bank = self.bank(bank_name)
        with self.database.engine.connect() as connection:
            row = connection.execute(
                select(
                    ContentRow.id,
                    ContentRow.content_metadata.label("meta"),
                    ContentRow.note,
                    ContentRow.created_at,
                    ContentRow.disabled_until,
                ).where(ContentRow.id == content_id, ContentRow.bank_id == bank.id)
            ).first()
            if row is None:
                raise BankNotFoundError(f"Bank {bank_name} has no content with id {content_id}.")
            signals = connection.execute(
                select(SignalRow.signal_type, SignalRow.value)
                .where(SignalRow.content_id == content_id)
                .order_by(SignalRow.id)
            ).all()
        return BankContent(
            id=row.id,
            bank=bank.name,
            signals=tuple(signal_type(t).parse(v) for t, v in signals),
            metadata=row.meta,
            note=row.note,
            created_at=utc(row.created_at),
            disabled_until=utc(row.disabled_until),
        )

    def list_content(self, bank_name: str, *, after: int = 0, limit: int = 100) -> list[int]:
        """Content ids of a bank in id order, a page at a time."""
        bank = self.bank(bank_name)
        with self.database.engine.connect() as connection:
            ids = connection.execute(
                select(ContentRow.id)
                .where(ContentRow.bank_id == bank.id, ContentRow.id > after)
                .order_by(ContentRow.id)
                .limit(limit)
            ).scalars()
            return [int(i) for i in ids]

    def update_content(
        self,
        bank_name: str,
        content_id: int,
        *,
        metadata: Mapping[str, Any] | None = None,
        note: str | None = None,
        disabled_until: datetime | bool | None = False,
    ) -> BankContent:
        """Change a content item's metadata, note, or disabled-until time (None enables it;
        False, the default, leaves it)."""
        self.content(bank_name, content_id)
        values: dict[str, Any] = {}
        if metadata is not None:
            values["content_metadata"] = check_metadata(metadata)
        if note is not None:
            values["note"] = check_note(note)
        if disabled_until is not False:
            assert not isinstance(disabled_until, bool)
            values["disabled_until"] = utc(disabled_until)
        if values:
            with self.writing() as w:
                w.connection.execute(
                    update(ContentRow).where(ContentRow.id == content_id).values(**values)
                )
                w.record("content", [content_id])
        return self.content(bank_name, content_id)

    def delete_content(self, bank_name: str, content_id: int) -> None:
        """Delete a content item and its signals."""
        self.content(bank_name, content_id)
        with self.writing() as w:
            ids = w.connection.execute(
                select(SignalRow.id).where(SignalRow.content_id == content_id)
            ).scalars()
            w.record("signal-removed", list(ids))
            w.connection.execute(delete(SignalRow).where(SignalRow.content_id == content_id))
            w.connection.execute(delete(ContentRow).where(ContentRow.id == content_id))

    def remove_signals(self, bank_name: str, signals: Sequence[Signal]) -> int:
        """Remove these signals from a bank, and content left with none; returns how many
        signals were removed."""
        bank = self.bank(bank_name)
        with self.writing() as w:
            return remove_signals(w, bank.id, signals)

    def export(self, bank_name: str) -> Iterator[tuple[Signal, dict[str, Any]]]:
        """Every signal of a bank with its content's metadata, in id order."""
        bank = self.bank(bank_name)
        query = (
            select(SignalRow.signal_type, SignalRow.value, ContentRow.content_metadata)
            .join(ContentRow, ContentRow.id == SignalRow.content_id)
            .where(SignalRow.bank_id == bank.id)
            .order_by(SignalRow.id)
        )
        with self.database.engine.connect() as connection:
            for kind, value, meta in connection.execution_options(yield_per=10_000).execute(query):
                yield signal_type(kind).parse(value), dict(meta or {})


def insert_signals(w: Writing, bank_id: int, pairs: Sequence[tuple[int, Signal]]) -> None:
    """Insert (content id, signal) pairs as new signal rows of change ``w.seq``."""
    if not pairs:
        return
    first = w.allocate(SignalRow, len(pairs))
    rows = []
    for offset, (content_id, signal) in enumerate(pairs):
        value = str(signal)
        rows.append(
            (first + offset, content_id, bank_id, signal.type_name, value, value_key(value), w.seq)
        )
    bulk_insert(w.connection, "bank_signals", _SIGNAL_COLUMNS, rows)


_SIGNAL_COLUMNS = ("id", "content_id", "bank_id", "signal_type", "value", "value_key", "seq")


def bulk_insert(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert many rows fast: COPY on PostgreSQL, one prepared statement on SQLite. The
    values must already be in database form (JSON as text)."""
    if not rows:
        return
    names = ", ".join(columns)
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608


def remove_signals(w: Writing, bank_id: int, signals: Sequence[Signal]) -> int:
    """Delete matching signal rows of a bank, and their content when left empty."""
    found = _find_signals(w.connection, bank_id, signals)
    if not found:
        return 0
    signal_ids = [signal_id for signal_id, _ in found]
    content_ids = {content_id for _, content_id in found}
    w.connection.execute(delete(SignalRow).where(SignalRow.id.in_(signal_ids)))
    still_used = set(
        w.connection.execute(
            select(SignalRow.content_id).where(SignalRow.content_id.in_(content_ids))
        ).scalars()
    )
    empty = content_ids - still_used
    if empty:
        w.connection.execute(delete(ContentRow).where(ContentRow.id.in_(empty)))
    w.record("signal-removed", signal_ids)
    return len(signal_ids)


def existing_keys(connection: Connection, bank_id: int, kind: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` (value keys of type ``kind``) the bank holds already."""
    found: set[str] = set()
    for start in range(0, len(keys), 5000):
        chunk = keys[start : start + 5000]
        found.update(
            connection.execute(
                select(SignalRow.value_key).where(
                    SignalRow.bank_id == bank_id,
                    SignalRow.signal_type == kind,
                    # Literal values: psycopg prepares a statement run five times, and
                    # PostgreSQL's generic plan for 5,000 IN parameters scans linearly per
                    # row (a 50k re-import took minutes); constants get a hashed lookup.
                    SignalRow.value_key.in_(
                        bindparam("keys", chunk, expanding=True, literal_execute=True)
                    ),
                )
            ).scalars()
        )
    return found


def check_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata as a JSON object of at most 64 KiB."""

    if not isinstance(metadata, Mapping):
        raise BankInputError("metadata must be a JSON object")
    try:
        size = len(json.dumps(metadata, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise BankInputError("metadata must be JSON: strings, numbers, lists, objects") from None
    if size > _MAX_METADATA_BYTES:
        raise BankInputError(f"metadata is {size} bytes as JSON; at most 64 KiB is allowed")
    return dict(metadata)


def check_note(note: str) -> str:
    """A note of at most 10,000 characters."""
    if len(note) > _MAX_NOTE:
        raise BankInputError(f"a note has at most {_MAX_NOTE} characters, not {len(note)}")
    return note


def _find_signals(
    connection: Connection, bank_id: int, signals: Sequence[Signal]
) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for signal in signals:
        rows = connection.execute(
            select(SignalRow.id, SignalRow.content_id).where(
                SignalRow.bank_id == bank_id,
                SignalRow.signal_type == signal.type_name,
                SignalRow.value_key == value_key(str(signal)),
            )
        ).all()
        found.extend((int(a), int(b)) for a, b in rows)
    return found


def _keys_of(connection: Connection, content_id: int) -> list[tuple[str, str]]:
    rows = connection.execute(
        select(SignalRow.signal_type, SignalRow.value_key).where(SignalRow.content_id == content_id)
    ).all()
    return [(str(kind), str(key)) for kind, key in rows]


def bank_from_row(row: Any, count: int | None = None) -> Bank:
    """A `Bank` from a row of the banks table."""
    return Bank(
        id=row.id,
        name=row.name,
        description=row.description,
        enabled=row.enabled,
        negative=row.negative,
        thresholds=dict(row.thresholds or {}),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        content_count=count,
    )
