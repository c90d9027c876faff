"""API keys with roles, stored hashed, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from leakshield.apikeys import ROLES, ApiKey, ApiKeyError, ApiKeys, _keys, role_allows
from leakshield.errors import NotFoundError
from leakshield.store import Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def keys(database: Database) -> ApiKeys:
    return ApiKeys(database)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def same(a: ApiKey | None, b: ApiKey) -> bool:
    return a is not None and (a.id, a.name, a.role, a.prefix) == (b.id, b.name, b.role, b.prefix)


def test_a_created_key_is_accepted_with_its_role(keys: ApiKeys) -> None:
    for role in ROLES:
        key, secret = keys.create(role, name=f"{role} bot")

        assert secret.startswith(f"lsk_{key.prefix}_")
        assert (key.role, key.name, key.revoked_at) == (role, f"{role} bot", None)
        checked = keys.check(secret)
        assert same(checked, key)
        assert checked is not None and checked.role == role
        assert same(ApiKeys(keys.database).check(secret), key), "another server accepts it too"


def test_a_wrong_or_malformed_key_is_refused(keys: ApiKeys) -> None:
    key, secret = keys.create("admin")
    other, other_secret = keys.create("lookup")
    own_part = secret.split("_", 2)[2]
    last = secret[-1]

    for presented in (
        secret[:-1] + ("A" if last != "A" else "B"),  # wrong secret
        f"lsk_{other.prefix}_{own_part}",  # a real secret under another key's prefix
        f"lsk_000000000000_{own_part}",  # unknown prefix
        f"lsk_{key.prefix}_",
        f"lsk_{key.prefix}",
        secret + "x",
        "x" + secret,
        f"Bearer {secret}",
        f"LSK_{key.prefix}_{own_part}",
        "",
        "lsk",
        "lsk__",
        "nonsense",
    ):
        assert keys.check(presented) is None, presented
    assert same(keys.check(other_secret), other)


def test_a_revoked_key_stops_working_within_two_seconds(
    keys: ApiKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(_keys, "time", clock)
    key, secret = keys.create("curate")
    kept, kept_secret = keys.create("curate")
    assert same(keys.check(secret), key)

    revoked = keys.revoke(key.id)

    assert revoked.revoked_at is not None
    assert ApiKeys(keys.database).check(secret) is None, "a server that had not seen it"
    clock.now += 1.9
    assert same(keys.check(secret), key), "this server's cache may keep it two seconds"
    clock.now += 0.2
    assert keys.check(secret) is None
    assert same(keys.check(kept_secret), kept)
    assert keys.revoke(key.id).revoked_at == revoked.revoked_at, "revoking again changes nothing"


def test_revoking_an_unknown_key_is_not_found(keys: ApiKeys) -> None:
    with pytest.raises(NotFoundError, match="42"):
        keys.revoke(42)


def test_keys_are_listed_oldest_first_without_their_secrets(keys: ApiKeys) -> None:
    first, first_secret = keys.create("lookup", name="first")
    second, _ = keys.create("admin", name="second")
    keys.revoke(first.id)

    listed = keys.list()

    assert [(k.id, k.name, k.role) for k in listed] == [
        (first.id, "first", "lookup"),
        (second.id, "second", "admin"),
    ]
    assert listed[0].revoked_at is not None and listed[1].revoked_at is None
    assert first.prefix != second.prefix
    record = listed[0].to_record()
    assert set(record) == {"id", "name", "role", "prefix", "created_at", "revoked_at"}
    assert first_secret.split("_", 2)[2] not in str(record)


def test_secrets_are_not_stored_in_clear(keys: ApiKeys, database: Database) -> None:
    _, secret = keys.create("admin", name="ops")
    part = secret.split("_", 2)[2]

    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_keys")).mappings().all()

    [row] = rows
    stored = " ".join(str(value) for value in row.values())
    assert part not in stored
    assert secret not in stored
    assert row["secret_sha256"] == hashlib.sha256(part.encode()).hexdigest()


def test_an_unknown_role_or_a_long_name_is_refused(keys: ApiKeys) -> None:
    with pytest.raises(ApiKeyError, match="role"):
        keys.create("superuser")
    with pytest.raises(ApiKeyError, match="100"):
        keys.create("admin", name="n" * 101)
    assert keys.list() == []


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", {"lookup", "curate", "admin"}),
        ("curate", {"lookup", "curate"}),
        ("lookup", {"lookup"}),
        ("superuser", set()),
        ("", set()),
    ],
)
def test_a_role_allows_what_it_and_the_roles_below_it_may_do(role: str, allowed: set[str]) -> None:
    assert {needed for needed in ROLES if role_allows(role, needed)} == allowed


def test_random_wrong_keys_do_not_fill_memory(keys: ApiKeys) -> None:
    for i in range(10_050):
        assert keys.check(f"wrong-{i}") is None
    assert len(keys._cache) <= 10_001
