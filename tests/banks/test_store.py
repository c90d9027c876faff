"""Banks, their content and signals in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from leakshield.banks import (
    BankContent,
    BankExistsError,
    BankInputError,
    BankNotFoundError,
    BankStore,
)
from leakshield.errors import InputError
from leakshield.signals import Md5Hash, PdqHash, Signal, VpdqHash
from leakshield.store import ContentRow, SignalRow

PDQ = [PdqHash.parse(h) for h in PdqHash.examples()]
MD5 = [Md5Hash.parse(h) for h in Md5Hash.examples()]
VPDQ = VpdqHash.parse(VpdqHash.examples()[0])


def count_rows(store: BankStore, table: type[ContentRow] | type[SignalRow]) -> int:
    with store.database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def typed(content: BankContent) -> list[str]:
    return [s.typed() for s in content.signals]


# Banks


def test_a_bank_is_created_with_its_settings_and_listed_by_name(store: BankStore) -> None:
    store.create_bank("ZETA")
    bank = store.create_bank(
        "MY_PHOTOS_2", description="mine", negative=True, thresholds={"pdq": 20}
    )

    assert (bank.name, bank.description, bank.enabled, bank.negative) == (
        "MY_PHOTOS_2",
        "mine",
        True,
        True,
    )
    assert bank.threshold("pdq") == 20
    assert bank.threshold("vpdq") == 31, "a type without a threshold uses its default"
    assert bank.created_at is not None and bank.created_at.tzinfo is not None
    assert bank.to_record()["thresholds"] == {"pdq": 20, "vpdq": 31, "md5": 0, "sha256": 0}
    assert [b.name for b in store.banks()] == ["MY_PHOTOS_2", "ZETA"]
    assert store.bank("MY_PHOTOS_2") == bank


def test_a_bank_name_must_be_caps_and_underscores(store: BankStore) -> None:
    for name in ("lower", "My_Bank", "1ABC", "_ABC", "A-B", "A B", "", "A" * 101, "ÉTÉ"):
        with pytest.raises(BankInputError, match="bank name"):
            store.create_bank(name)
    assert store.banks() == []
    assert [store.create_bank(name).name for name in ("A", "B_2", "C" * 100)] == [
        "A",
        "B_2",
        "C" * 100,
    ]


def test_a_duplicate_bank_name_is_refused(store: BankStore) -> None:
    store.create_bank("VICTIMS", description="first")
    seq = store.current_seq()

    with pytest.raises(BankExistsError, match="VICTIMS"):
        store.create_bank("VICTIMS", description="second")

    assert store.bank("VICTIMS").description == "first"
    assert store.current_seq() == seq, "a refused write is no change"


def test_thresholds_out_of_range_are_refused(store: BankStore) -> None:
    store.create_bank("BANK")
    bad: list[dict[str, object]] = [
        {"pdq": 129},
        {"pdq": -1},
        {"pdq": True},
        {"pdq": 10.5},
        {"pdq": "10"},
        {"md5": 3},
        {"sha256": 1},
    ]
    for thresholds in bad:
        with pytest.raises(BankInputError):
            store.create_bank("OTHER", thresholds=thresholds)  # type: ignore[arg-type]
        with pytest.raises(BankInputError):
            store.update_bank("BANK", thresholds=thresholds)  # type: ignore[arg-type]
    assert [b.name for b in store.banks()] == ["BANK"]
    assert store.bank("BANK").thresholds == {}
    edge = store.create_bank("EDGE", thresholds={"pdq": 0, "vpdq": 128, "md5": 0})
    assert (edge.threshold("pdq"), edge.threshold("vpdq")) == (0, 128)


def test_a_threshold_for_an_unknown_signal_type_is_refused(store: BankStore) -> None:
    with pytest.raises(InputError, match="unknown signal type"):
        store.create_bank("BANK", thresholds={"tmk": 10})


def test_a_bank_is_updated_and_renamed_with_its_content(store: BankStore) -> None:
    store.create_bank("OLD", thresholds={"pdq": 10})
    item = store.add_content("OLD", [PDQ[0]])

    store.update_bank("OLD", thresholds={"vpdq": 20})
    updated = store.update_bank(
        "OLD", new_name="NEW", description="renamed", enabled=False, negative=True
    )

    assert (updated.name, updated.description, updated.enabled, updated.negative) == (
        "NEW",
        "renamed",
        False,
        True,
    )
    assert (updated.threshold("pdq"), updated.threshold("vpdq")) == (10, 20)
    with pytest.raises(BankNotFoundError):
        store.bank("OLD")
    assert store.content("NEW", item.id).signals == (PDQ[0],)


def test_renaming_onto_another_bank_or_to_a_bad_name_is_refused(store: BankStore) -> None:
    store.create_bank("ONE")
    store.create_bank("TWO")
    with pytest.raises(BankExistsError):
        store.update_bank("ONE", new_name="TWO")
    with pytest.raises(BankInputError):
        store.update_bank("ONE", new_name="two")
    assert [b.name for b in store.banks()] == ["ONE", "TWO"]


def test_deleting_a_bank_removes_its_content_and_signals(store: BankStore) -> None:
    store.create_bank("DOOMED")
    store.create_bank("KEPT")
    store.add_content("DOOMED", [PDQ[0], MD5[0]])
    store.add_content("DOOMED", [VPDQ])
    kept = store.add_content("KEPT", [PDQ[0]])

    store.delete_bank("DOOMED")

    with pytest.raises(BankNotFoundError):
        store.bank("DOOMED")
    assert count_rows(store, ContentRow) == 1
    assert count_rows(store, SignalRow) == 1
    assert store.content("KEPT", kept.id).signals == (PDQ[0],)
    store.create_bank("DOOMED")
    assert store.bank("DOOMED", with_count=True).content_count == 0
    assert list(store.export("DOOMED")) == []


def test_an_unknown_bank_is_a_not_found_error(store: BankStore) -> None:
    for call in (
        lambda: store.bank("NOPE"),
        lambda: store.update_bank("NOPE", description="x"),
        lambda: store.delete_bank("NOPE"),
        lambda: store.add_content("NOPE", [PDQ[0]]),
        lambda: store.list_content("NOPE"),
        lambda: store.remove_signals("NOPE", [PDQ[0]]),
        lambda: list(store.export("NOPE")),
    ):
        with pytest.raises(BankNotFoundError, match="NOPE"):
            call()


def test_banks_are_listed_with_their_content_counts(store: BankStore) -> None:
    store.create_bank("A")
    store.create_bank("B")
    store.add_content("A", [PDQ[0]])
    store.add_content("A", [PDQ[1]])

    assert {b.name: b.content_count for b in store.banks(with_counts=True)} == {"A": 2, "B": 0}
    assert store.bank("A", with_count=True).content_count == 2
    assert store.bank("A").content_count is None


# Content


def test_content_is_added_with_canonical_signals_metadata_and_note(store: BankStore) -> None:
    store.create_bank("BANK")
    upper = PdqHash.parse(str(PDQ[0]).upper())
    until = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    item = store.add_content(
        "BANK",
        [upper, MD5[0], VPDQ],
        metadata={"case": "c-1", "tags": ["a", "b"]},
        note="reported 2026-01-01",
        disabled_until=until,
    )

    assert typed(item) == [f"pdq:{PDQ[0]}", f"md5:{MD5[0]}", f"vpdq:{VPDQ}"]
    assert str(item.signals[0]) == str(PDQ[0]).lower()
    assert item.metadata == {"case": "c-1", "tags": ["a", "b"]}
    assert item.note == "reported 2026-01-01"
    assert item.disabled_until == until
    assert item.created_at is not None and item.created_at.tzinfo is not None
    assert store.content("BANK", item.id) == item
    assert item.to_record()["signals"][0] == {"signal_type": "pdq", "signal": str(PDQ[0])}


def test_adding_a_signal_the_bank_holds_returns_the_existing_item(store: BankStore) -> None:
    store.create_bank("BANK")
    first = store.add_content("BANK", [PDQ[0]], metadata={"n": 1})

    again = store.add_content("BANK", [PdqHash.parse(str(PDQ[0]).upper())], metadata={"n": 2})

    assert again == first
    assert store.list_content("BANK") == [first.id]
    assert count_rows(store, SignalRow) == 1


def test_the_same_signal_in_two_banks_is_two_items(store: BankStore) -> None:
    store.create_bank("A")
    store.create_bank("B")
    a = store.add_content("A", [PDQ[0]])
    b = store.add_content("B", [PDQ[0]])
    assert a.id != b.id
    assert (store.list_content("A"), store.list_content("B")) == ([a.id], [b.id])


@pytest.mark.parametrize(
    ("signals", "metadata", "note"),
    [
        ([], None, ""),
        ([PDQ[0]], {"blob": "x" * (64 * 1024)}, ""),
        ([PDQ[0]], {"not json": {1, 2}}, ""),
        ([PDQ[0]], None, "n" * 10_001),
    ],
    ids=["no-signals", "metadata-over-64KiB", "metadata-not-json", "note-too-long"],
)
def test_bad_content_is_refused_and_nothing_is_added(
    store: BankStore, signals: list[Signal], metadata: dict[str, object] | None, note: str
) -> None:
    store.create_bank("BANK")
    with pytest.raises(BankInputError):
        store.add_content("BANK", signals, metadata=metadata, note=note)
    assert store.list_content("BANK") == []


def test_metadata_just_under_64_kib_is_accepted(store: BankStore) -> None:
    store.create_bank("BANK")
    blob = "x" * (64 * 1024 - len('{"blob": ""}'))
    item = store.add_content("BANK", [PDQ[0]], metadata={"blob": blob})
    assert store.content("BANK", item.id).metadata == {"blob": blob}


def test_content_ids_are_never_reused(store: BankStore) -> None:
    store.create_bank("BANK")
    ids = [store.add_content("BANK", [p]).id for p in PDQ]
    store.delete_content("BANK", ids[-1])
    store.remove_signals("BANK", [PDQ[-2]])
    store.delete_bank("BANK")
    store.create_bank("BANK")

    new = store.add_content("BANK", [PDQ[-1]]).id

    assert new > max(ids)
    assert len(set(ids)) == len(ids)


def test_content_is_updated_only_in_the_fields_given(store: BankStore) -> None:
    store.create_bank("BANK")
    item = store.add_content("BANK", [PDQ[0]], metadata={"a": 1}, note="first")
    until = datetime.now(UTC) + timedelta(days=1)

    disabled = store.update_content("BANK", item.id, disabled_until=until)
    assert (disabled.metadata, disabled.note) == ({"a": 1}, "first")
    assert disabled.disabled_until is not None
    assert abs(disabled.disabled_until - until) < timedelta(seconds=1)
    assert not disabled.enabled_at(datetime.now(UTC))

    changed = store.update_content("BANK", item.id, metadata={"b": 2}, note="second")
    assert (changed.metadata, changed.note) == ({"b": 2}, "second")
    assert changed.disabled_until == disabled.disabled_until, "not given: left as it was"

    enabled = store.update_content("BANK", item.id, disabled_until=None)
    assert enabled.disabled_until is None
    assert enabled.enabled_at(datetime.now(UTC))
    with pytest.raises(BankInputError):
        store.update_content("BANK", item.id, metadata={"blob": "x" * 70_000})


def test_deleted_content_is_gone_and_its_signal_can_be_added_again(store: BankStore) -> None:
    store.create_bank("BANK")
    item = store.add_content("BANK", [PDQ[0], MD5[0]])

    store.delete_content("BANK", item.id)

    with pytest.raises(BankNotFoundError):
        store.content("BANK", item.id)
    with pytest.raises(BankNotFoundError):
        store.delete_content("BANK", item.id)
    assert count_rows(store, SignalRow) == 0
    again = store.add_content("BANK", [PDQ[0]])
    assert again.id != item.id


def test_content_is_only_found_in_its_own_bank(store: BankStore) -> None:
    store.create_bank("A")
    store.create_bank("B")
    item = store.add_content("A", [PDQ[0]])
    with pytest.raises(BankNotFoundError):
        store.content("B", item.id)
    with pytest.raises(BankNotFoundError):
        store.delete_content("B", item.id)
    assert store.content("A", item.id).id == item.id


def test_removing_signals_drops_content_left_without_any(store: BankStore) -> None:
    store.create_bank("BANK")
    single = store.add_content("BANK", [PDQ[0]])
    pair = store.add_content("BANK", [PDQ[1], MD5[0]])

    assert store.remove_signals("BANK", [PDQ[0], PDQ[1], MD5[1]]) == 2

    with pytest.raises(BankNotFoundError):
        store.content("BANK", single.id)
    assert store.content("BANK", pair.id).signals == (MD5[0],)
    assert store.remove_signals("BANK", [PDQ[0]]) == 0


def test_export_gives_every_signal_with_its_metadata(store: BankStore) -> None:
    store.create_bank("BANK")
    store.add_content("BANK", [PDQ[0], MD5[0]], metadata={"case": 1})
    store.add_content("BANK", [VPDQ])

    assert list(store.export("BANK")) == [
        (PDQ[0], {"case": 1}),
        (MD5[0], {"case": 1}),
        (VPDQ, {}),
    ]


def test_content_is_listed_a_page_at_a_time(store: BankStore) -> None:
    store.create_bank("BANK")
    ids = [store.add_content("BANK", [p]).id for p in PDQ]

    first = store.list_content("BANK", limit=2)
    rest = store.list_content("BANK", after=first[-1], limit=2)

    assert first + rest == ids
    assert store.list_content("BANK", after=ids[-1]) == []


def test_every_write_is_one_change_and_reads_are_none(store: BankStore) -> None:
    start = store.current_seq()
    store.create_bank("BANK")
    item = store.add_content("BANK", [PDQ[0]])
    store.update_content("BANK", item.id, note="x")
    store.update_bank("BANK", description="y")
    store.banks(with_counts=True)
    store.content("BANK", item.id)
    list(store.export("BANK"))
    store.delete_content("BANK", item.id)
    store.delete_bank("BANK")
    assert store.current_seq() == start + 6
