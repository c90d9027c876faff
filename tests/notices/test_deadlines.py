"""Deadlines: times the requester types, legal deadlines in real hours across clock
changes, what is due, and how it is shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leakshield.errors import InputError, UsageError
from leakshield.notices import _deadlines
from leakshield.notices._deadlines import (
    Due,
    deadline_of,
    describe_left,
    due,
    parse_utc,
    parse_when,
    show_time,
    utc_text,
    zone_named,
)
from leakshield.notices._model import Draft, Notice, State, StateChange

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LONDON = zone_named("Europe/London")
UTC_ZONE = zone_named("UTC")


def notice(
    notice_id: str = "n1",
    *,
    hours: int | None = 48,
    starts: str = "sent",
    history: tuple[tuple[State, datetime], ...] = (),
) -> Notice:
    """A TAKE IT DOWN-like notice (48 h from "sent") with the given history."""
    draft = Draft(
        notice_id=notice_id,
        case_id="c1",
        platform_id="x",
        platform_name="X",
        regime_id="us-take-it-down",
        regime_name="TAKE IT DOWN Act",
        route_name="Take It Down form",
        channel="web-form",
        where="https://help.x.com/",
        how="Fill in the form.",
        subject="Removal request",
        sections=(),
        ready=True,
        missing=(),
        warnings=(),
        locations=(),
        drafted_at="2026-01-01T00:00:00+00:00",
        deadline_hours=hours,
        deadline_from=starts,
        deadline_who="the platform",
    )
    changes = tuple(StateChange(state, utc_text(at), utc_text(at)) for state, at in history)
    return Notice(draft, changes)


def sent_at(at: datetime, notice_id: str = "n1", *more: tuple[State, datetime]) -> Notice:
    return notice(notice_id, history=(("sent", at), *more))


# --- 48 real hours across clock changes -------------------------------------------------

# (zone, when the notice was sent in local time, the deadline as shown, wall-clock hours)
CLOCK_CHANGES = [
    ("Europe/London", "2026-03-28 12:00", "2026-03-30 13:00 BST (12:00 UTC)", 49),
    ("Europe/London", "2026-10-24 12:00", "2026-10-26 11:00 GMT (11:00 UTC)", 47),
    ("America/New_York", "2026-03-07 12:00", "2026-03-09 13:00 EDT (17:00 UTC)", 49),
    ("America/New_York", "2026-10-31 12:00", "2026-11-02 11:00 EST (16:00 UTC)", 47),
    ("Australia/Sydney", "2026-04-04 12:00", "2026-04-06 11:00 AEST (01:00 UTC)", 47),
    ("Australia/Sydney", "2026-10-03 12:00", "2026-10-05 13:00 AEDT (02:00 UTC)", 49),
]


@pytest.mark.parametrize(("zone_name", "sent", "shown", "wall_hours"), CLOCK_CHANGES)
def test_48_hours_are_real_hours_across_a_clock_change(
    zone_name: str, sent: str, shown: str, wall_hours: int
) -> None:
    zone = zone_named(zone_name)
    start = parse_when(sent, zone, now=NOW)
    deadline = deadline_of(sent_at(start))
    assert deadline is not None
    assert deadline - start == timedelta(hours=48)
    assert show_time(deadline, zone) == shown
    # The local clock disagrees: it says 47 or 49 hours passed.
    wall = deadline.astimezone(zone).replace(tzinfo=None) - start.astimezone(zone).replace(
        tzinfo=None
    )
    assert wall == timedelta(hours=wall_hours)


# --- times the requester types ----------------------------------------------------------

# (zone, a local time the clock skipped or showed twice, the two offsets it could mean)
UNCLEAR_TIMES = [
    ("Europe/London", "2026-03-29 01:30", "does not exist", "+00:00", "+01:00"),
    ("Europe/London", "2026-10-25 01:30", "happened twice", "+01:00", "+00:00"),
    ("America/New_York", "2026-03-08 02:30", "does not exist", "-05:00", "-04:00"),
    ("America/New_York", "2026-11-01 01:30", "happened twice", "-04:00", "-05:00"),
    ("Australia/Sydney", "2026-10-04 02:30", "does not exist", "+10:00", "+11:00"),
    ("Australia/Sydney", "2026-04-05 02:30", "happened twice", "+11:00", "+10:00"),
]


@pytest.mark.parametrize(("zone_name", "typed", "problem", "first", "second"), UNCLEAR_TIMES)
def test_a_local_time_the_clock_skipped_or_repeated_is_refused_with_both_offsets(
    zone_name: str, typed: str, problem: str, first: str, second: str
) -> None:
    zone = zone_named(zone_name)
    with pytest.raises(UsageError) as refused:
        parse_when(typed, zone, now=NOW)
    message = refused.value.message
    assert problem in message
    assert zone_name in message
    suggested = re.findall(r'"(\d{4}-[^"]+[+-]\d\d:\d\d)"', message)
    assert suggested == [f"{typed}{first}", f"{typed}{second}"]
    # What the message says to type is accepted, and means two different moments.
    moments = {parse_when(text, zone, now=NOW) for text in suggested}
    assert len(moments) == 2


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-03-28T12:00:00+00:00", datetime(2026, 3, 28, 12, tzinfo=UTC)),
        ("2026-03-28T12:00Z", datetime(2026, 3, 28, 12, tzinfo=UTC)),
        ("2026-03-28 12:00z", datetime(2026, 3, 28, 12, tzinfo=UTC)),
        ("2026-03-28 12:00 UTC", datetime(2026, 3, 28, 12, tzinfo=UTC)),
        ("2026-07-01T12:00+05:30", datetime(2026, 7, 1, 6, 30, tzinfo=UTC)),
        ("2026-07-01T12:00-0400", datetime(2026, 7, 1, 16, 0, tzinfo=UTC)),
        # Taken as typed, even inside London's spring-forward gap.
        ("2026-03-29T01:30+00:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        # Without an offset: the requester's zone (London is on BST in July).
        ("2026-07-01 12:00", datetime(2026, 7, 1, 11, 0, tzinfo=UTC)),
        ("2026-07-01T12:00", datetime(2026, 7, 1, 11, 0, tzinfo=UTC)),
        ("  2026-01-10 08:15:30 ", datetime(2026, 1, 10, 8, 15, 30, tzinfo=UTC)),
    ],
)
def test_typed_times_are_read_in_utc(typed: str, expected: datetime) -> None:
    moment = parse_when(typed, LONDON, now=NOW)
    assert moment == expected
    assert moment.utcoffset() == timedelta(0)


def test_now_is_now() -> None:
    in_paris = NOW.astimezone(zone_named("Europe/Paris"))
    assert parse_when(" Now ", LONDON, now=in_paris) == NOW
    assert parse_when("now", LONDON, now=in_paris).tzinfo is UTC


def test_a_time_in_the_future_is_refused_but_a_fast_clock_is_forgiven() -> None:
    assert parse_when("2026-12-01T09:04Z", LONDON, now=NOW) == NOW + timedelta(minutes=4)
    with pytest.raises(UsageError, match=r"cannot be sent in the future.*\"now\""):
        parse_when("2026-12-01T09:06Z", LONDON, now=NOW)
    with pytest.raises(UsageError, match="future"):
        parse_when("9999-12-31T23:59Z", zone_named("Australia/Sydney"), now=NOW)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "yesterday",
        "2026-03-28",  # a date alone does not start a clock counted in hours
        "12:00",
        "28/03/2026 12:00",
        "2026-13-01 12:00",
        "2026-02-30 10:00",
        "2026-03-28 25:00",
        "2026-03-28 12:00+24:00",
        "2026-03-28 12:00+01:60",
        "0001-01-01 00:00+05:00",
        "\u0662\u0660\u0662\u0666-03-28 12:00",  # Arabic-Indic digits
        "2026-03-28 12:00" + " " * 100 + "Z",
    ],
)
def test_what_is_not_a_time_is_refused_with_examples(typed: str) -> None:
    with pytest.raises(UsageError, match=r'type "now", "2026-03-28 14:30"'):
        parse_when(typed, LONDON, now=NOW)


# --- showing times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone_name", "shown"),
    [
        ("UTC", "2026-03-30 12:00 UTC"),
        ("Etc/UTC", "2026-03-30 12:00 UTC"),
        ("Europe/London", "2026-03-30 13:00 BST (12:00 UTC)"),
        ("America/New_York", "2026-03-30 08:00 EDT (12:00 UTC)"),
        ("Asia/Dubai", "2026-03-30 16:00 UTC+04:00 (12:00 UTC)"),  # no letter abbreviation
        ("Pacific/Kiritimati", "2026-03-31 02:00 UTC+14:00 (2026-03-30 12:00 UTC)"),
    ],
)
def test_times_are_shown_in_the_requesters_zone_with_utc(zone_name: str, shown: str) -> None:
    assert show_time(datetime(2026, 3, 30, 12, 0, 59, tzinfo=UTC), zone_named(zone_name)) == shown


def test_a_shown_time_reads_back_as_the_same_moment() -> None:
    moment = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    assert parse_when(show_time(moment, UTC_ZONE), LONDON, now=NOW) == moment
    local_part = show_time(moment, LONDON).split(" BST")[0]
    assert parse_when(local_part, LONDON, now=NOW) == moment


def test_utc_text_and_parse_utc_round_trip() -> None:
    moment = datetime(2026, 3, 28, 13, 0, 5, 999_999, tzinfo=zone_named("Europe/Paris"))
    text = utc_text(moment)
    assert text == "2026-03-28T12:00:05+00:00"
    assert parse_utc(text) == moment.replace(microsecond=0)
    assert utc_text(parse_utc(text)) == text
    # A capture's time (milliseconds, Z) reads too.
    assert utc_text(parse_utc("2026-03-28T12:00:05.123Z")) == text


@pytest.mark.parametrize("text", ["", "yesterday", "2026-03-28T12:00:00", "2026-03-28"])
def test_a_recorded_time_without_a_zone_is_not_guessed(text: str) -> None:
    with pytest.raises(InputError, match=r"2026-03-28T12:00:00\+00:00"):
        parse_utc(text)


# --- zones --------------------------------------------------------------------------------


def test_a_zone_by_name() -> None:
    assert zone_named("Australia/Sydney").key == "Australia/Sydney"


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("europe/london", 'Did you mean "Europe/London"?'),
        ("Europe/Lodnon", 'Did you mean "Europe/London"?'),
        ("Mars/Olympus_Mons", None),
        ("Europe", None),  # a folder of zones, not a zone
        ("", None),
        ("../../etc/passwd", None),
        ("/etc/localtime", None),
        ("zone1970.tab", None),  # a file beside the zones that is not one
        ("a\0b", None),
        ("x" * 300, None),
    ],
)
def test_a_bad_zone_name_is_refused_saying_what_to_type(name: str, hint: str | None) -> None:
    with pytest.raises(UsageError, match='Give an IANA zone name such as "Europe/London"') as bad:
        zone_named(name)
    assert (hint in bad.value.message) if hint else ("Did you mean" not in bad.value.message)


def test_no_name_uses_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    assert zone_named(None).key == "America/New_York"
    monkeypatch.setenv("TZ", ":Europe/Paris")
    assert zone_named(None).key == "Europe/Paris"
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")
    with pytest.raises(UsageError, match="TZ environment variable"):
        zone_named(None)


def test_without_tz_the_systems_zone_then_utc(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TZ", raising=False)
    zone_file = tmp_path / "usr/share/zoneinfo/Australia/Sydney"
    zone_file.parent.mkdir(parents=True)
    zone_file.write_bytes(b"TZif")  # only the link's target name matters
    link = tmp_path / "localtime"
    link.symlink_to(zone_file)
    monkeypatch.setattr(_deadlines, "_LOCALTIME", link)
    assert zone_named(None).key == "Australia/Sydney"

    zone_file.unlink()  # a dangling link
    assert zone_named(None).key == "UTC"
    link.unlink()
    link.write_bytes(b"TZif")  # a copied file carries no name
    assert zone_named(None).key == "UTC"
    monkeypatch.setattr(_deadlines, "_LOCALTIME", tmp_path / "missing")
    assert zone_named(None).key == "UTC"


# --- deadlines and what is due ------------------------------------------------------------


def test_no_deadline_before_the_clock_starts_or_without_hours() -> None:
    assert deadline_of(notice()) is None  # a draft, never sent
    assert deadline_of(notice(hours=None, history=(("sent", NOW),))) is None
    acknowledged_later = notice(starts="acknowledged", hours=24, history=(("sent", NOW),))
    assert deadline_of(acknowledged_later) is None


def test_the_clock_can_start_when_the_notice_is_acknowledged() -> None:
    sent, acknowledged = NOW - timedelta(days=3), NOW - timedelta(hours=5)
    complaint = notice(
        starts="acknowledged",
        hours=24,
        history=(("sent", sent), ("acknowledged", acknowledged)),
    )
    assert deadline_of(complaint) == acknowledged + timedelta(hours=24)
    [soon] = due([complaint], NOW)
    assert soon.left == timedelta(hours=19)
    assert not soon.overdue


def test_due_lists_open_notices_soonest_first() -> None:
    notices = [
        sent_at(NOW - timedelta(hours=10), "in-38h"),
        sent_at(NOW - timedelta(hours=30), "in-18h"),
        sent_at(NOW - timedelta(hours=50), "overdue-2h"),
        sent_at(NOW - timedelta(hours=60), "no-answer", ("no-answer", NOW - timedelta(hours=1))),
        sent_at(NOW - timedelta(hours=50), "removed", ("removed", NOW - timedelta(hours=1))),
        sent_at(NOW - timedelta(hours=50), "refused", ("refused", NOW - timedelta(hours=1))),
        notice("never-sent"),
        notice("no-hours", hours=None, history=(("sent", NOW - timedelta(days=9)),)),
    ]
    listed = due(notices, NOW)
    assert [d.notice.id for d in listed] == ["no-answer", "overdue-2h", "in-18h"]
    assert [d.overdue for d in listed] == [True, True, False]
    assert listed[1] == Due(notices[2], NOW - timedelta(hours=2), -timedelta(hours=2))
    wider = due(notices, NOW, within=timedelta(days=2))
    assert [d.notice.id for d in wider][-1] == "in-38h"


def test_a_deadline_exactly_now_is_due_not_overdue() -> None:
    [now_due] = due([sent_at(NOW - timedelta(hours=48))], NOW.astimezone(LONDON))
    assert now_due.left == timedelta(0)
    assert not now_due.overdue
    assert describe_left(now_due.left) == "due now"


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(days=1, hours=2, minutes=40), "due in 1 day 2 h"),
        (timedelta(days=2), "due in 2 days"),
        (timedelta(hours=3, minutes=5, seconds=59), "due in 3 h 5 min"),
        (timedelta(hours=3), "due in 3 h"),
        (timedelta(minutes=35), "due in 35 min"),
        (timedelta(seconds=59), "due in less than a minute"),
        (-timedelta(hours=3, minutes=5), "overdue by 3 h 5 min"),
        (-timedelta(days=3, hours=1), "overdue by 3 days 1 h"),
        (-timedelta(seconds=1), "overdue by less than a minute"),
    ],
)
def test_time_left_in_words(left: timedelta, words: str) -> None:
    assert describe_left(left) == words


def test_times_without_a_zone_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="without a zone"):
        due([], datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="without a zone"):
        utc_text(datetime(2026, 1, 1))
