"""When a notice is due: times typed by the requester, the deadlines the law sets, and
what is due soon.

A deadline is elapsed time (48 h is 48 real hours, whatever the clocks do), so every
sum is done in UTC; the requester's zone is only for reading and showing times.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from leakshield.errors import InputError, UsageError
from leakshield.notices._model import Notice

__all__ = [
    "UTC_ZONE",
    "Due",
    "deadline_of",
    "describe_left",
    "due",
    "parse_utc",
    "parse_when",
    "show_time",
    "utc_text",
    "zone_named",
]

UTC_ZONE = ZoneInfo("UTC")

# Where the system's own zone is found when neither a name nor $TZ gives one.
_LOCALTIME = Path("/etc/localtime")

# A notice's "sent" time may be typed a little after the fact on a clock that is a
# little fast; only a time clearly ahead of now is a mistake.
_FUTURE_SLACK = timedelta(minutes=5)

_WHEN = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?"
    r"\s*(?P<offset>Z|UTC|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE | re.ASCII,
)
_EXAMPLES = '"now", "2026-03-28 14:30" (your local time) or "2026-03-28T13:30Z" (UTC)'


def utc_text(moment: datetime) -> str:
    """``moment`` as the log records times: UTC, to the second, ISO 8601."""
    return _aware(moment).astimezone(UTC).replace(microsecond=0).isoformat()


def parse_utc(text: str) -> datetime:
    """A time the log recorded (``utc_text``'s form, or any ISO 8601 time with an
    offset or Z) as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InputError(
            f"{_clip(str(text))} is not a UTC time with its offset, such as "
            "2026-03-28T12:00:00+00:00; a recorded time must say its zone to be read back."
        )
    return moment.astimezone(UTC)


def zone_named(name: str | None) -> ZoneInfo:
    """The time zone called ``name`` (an IANA name such as "Europe/London"); for None,
    the zone of $TZ, else the system's zone, else UTC."""
    if name is not None:
        return _load_zone(name, f"{name!r} is not a time zone name")
    # POSIX lets $TZ name a zone file with a leading colon (TZ=:Europe/London).
    from_env = os.environ.get("TZ", "").removeprefix(":")
    if from_env:
        return _load_zone(
            from_env, f"the TZ environment variable is {from_env!r}, which is not a time zone name"
        )
    return _system_zone() or UTC_ZONE


def parse_when(text: str, zone: ZoneInfo, *, now: datetime) -> datetime:
    """The moment the requester typed, as an aware UTC datetime: "now", an ISO 8601 time
    with an offset or Z, or a local date and time in ``zone``."""
    now = _aware(now).astimezone(UTC)
    typed = text.strip()
    if typed.lower() == "now":
        return now
    match = _WHEN.fullmatch(typed) if len(typed) <= 64 else None
    if match is None:
        raise UsageError(f"{_clip(text)} is not a date and time; type {_EXAMPLES}.")
    try:
        local = datetime.fromisoformat(f"{match['date']}T{match['hour']}:{match['minute']}")
        local = local.replace(
            second=int(match["second"] or 0),
            microsecond=int((match["fraction"] or "0").ljust(6, "0")),
        )
        offset = match["offset"]
        moment = _in_zone(local, zone, typed) if offset is None else _with_offset(local, offset)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise UsageError(f"{_clip(text)} is not a real date and time; type {_EXAMPLES}.") from None
    if moment > now + _FUTURE_SLACK:
        try:
            shown = show_time(moment, zone)
        except OverflowError:  # the year 9999 in a zone ahead of UTC
            shown = utc_text(moment)
        raise UsageError(
            f"{_clip(text)} is {shown}, later than now, "
            f"{show_time(now, zone)}: a notice cannot be sent in the future. Type when it "
            'happened, or "now".'
        )
    return moment


def show_time(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` as the requester reads it: local time in ``zone`` with UTC beside it,
    e.g. "2026-03-30 13:00 BST (12:00 UTC)"."""
    utc = _aware(moment).astimezone(UTC)
    local = utc.astimezone(zone)
    name = local.tzname() or ""
    if local.utcoffset() == timedelta(0) and name == "UTC":
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    if not name or name[0] in "+-":  # zones without a letter abbreviation say "+04"
        name = "UTC" + _offset_text(local.utcoffset() or timedelta(0))
    # The UTC date is shown too when it is not the local date, so it cannot be misread.
    utc_part = f"{utc:%H:%M}" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M}"
    return f"{local:%Y-%m-%d %H:%M} {name} ({utc_part} UTC)"


def deadline_of(notice: Notice) -> datetime | None:
    """When the notice's deadline falls (UTC): its regime's hours after the notice entered
    the state that starts the clock; None when there are no hours or the clock has not
    started."""
    hours = notice.draft.deadline_hours
    if hours is None:
        return None
    started = notice.entered(notice.draft.deadline_from)
    if started is None:
        return None
    return parse_utc(started) + timedelta(hours=hours)


def describe_left(left: timedelta) -> str:
    """The time left before a deadline in words: "due in 1 day 2 h", "due in 35 min",
    "overdue by 3 h 5 min"."""
    if left == timedelta(0):
        return "due now"
    lead = "due in" if left > timedelta(0) else "overdue by"
    # Whole minutes, rounded down: a deadline is never shown further off than it is.
    minutes = int(abs(left).total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        parts = [f"{days} day" if days == 1 else f"{days} days"]
        parts += [f"{hours} h"] if hours else []
    elif hours:
        parts = [f"{hours} h"] + ([f"{minutes} min"] if minutes else [])
    elif minutes:
        parts = [f"{minutes} min"]
    else:
        parts = ["less than a minute"]
    return f"{lead} {' '.join(parts)}"


@dataclass(frozen=True)
class Due:
    """A notice whose deadline has passed or comes soon."""

    notice: Notice
    deadline: datetime  # UTC
    left: timedelta  # negative when overdue

    @property
    def overdue(self) -> bool:
        """Whether the deadline has passed."""
        return self.left < timedelta(0)


def due(
    notices: Iterable[Notice], now: datetime, within: timedelta = timedelta(hours=24)
) -> list[Due]:
    """The open notices whose deadline has passed or comes within ``within`` of ``now``,
    soonest first."""
    now = _aware(now).astimezone(UTC)
    found = []
    for notice in notices:
        deadline = None if notice.closed else deadline_of(notice)
        if deadline is not None and deadline - now <= within:
            found.append(Due(notice, deadline, deadline - now))
    return sorted(found, key=lambda d: (d.deadline, d.notice.id))


def _aware(moment: datetime) -> datetime:
    # A naive datetime here is a bug in the caller, not something a user typed.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time without a zone cannot be placed: {moment!r}")
    return moment


def _load_zone(name: str, problem: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # bad key, unknown zone, a folder or odd file
        pass
    hint = _closest_zone(name)
    suggestion = f' Did you mean "{hint}"?' if hint else ""
    raise UsageError(
        f"{problem}.{suggestion} Give an IANA zone name such as "
        '"Europe/London", "America/New_York", "Australia/Sydney" or "UTC".'
    )


def _closest_zone(name: str) -> str | None:
    if len(name) > 64:
        return None
    zones = available_timezones() | {"UTC"}
    by_case = {zone.lower(): zone for zone in zones}
    if name.lower() in by_case:
        return by_case[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_case), n=1, cutoff=0.8)
    return by_case[close[0]] if close else None


def _system_zone() -> ZoneInfo | None:
    # /etc/localtime is a link into the zone folder on most systems; its path below
    # "zoneinfo/" is the zone's name. A copied file carries no name, so UTC is used.
    try:
        target = str(_LOCALTIME.resolve(strict=True)) if _LOCALTIME.is_symlink() else ""
    except OSError:
        return None
    _, marker, key = target.rpartition("zoneinfo/")
    if not marker:
        return None
    key = key.removeprefix("posix/")
    try:
        return ZoneInfo(key)
    except (ValueError, KeyError, OSError):
        return None


def _in_zone(local: datetime, zone: ZoneInfo, typed: str) -> datetime:
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before == after or before is None or after is None:
        return first
    # fold=0 reads the time with the offset from before the change, fold=1 with the one
    # after; in a gap the first reading does not come back to the same wall clock.
    shown = f"{local:%Y-%m-%d %H:%M}"
    early = f'"{shown}{_offset_text(before)}" ({first.tzname()})'
    late = f'"{shown}{_offset_text(after)}" ({second.tzname()})'
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise UsageError(
            f'"{typed}" does not exist in {zone.key}: the clocks went forward that night '
            f"({first.tzname()} {_offset_text(before)} to {second.tzname()} "
            f"{_offset_text(after)}). Type the time with the offset your records show: "
            f"{early} or {late}."
        )
    raise UsageError(
        f'"{typed}" happened twice in {zone.key}: the clocks went back that night. Type it '
        f"with its offset: {early} for the first time or {late} for the second."
    )


def _with_offset(local: datetime, offset: str) -> datetime:
    if offset.upper() in ("Z", "UTC"):
        return local.replace(tzinfo=UTC)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if minutes >= 60:
        raise ValueError(f"minutes out of range in offset {offset}")
    # timezone() itself refuses offsets of 24 h or more.
    return local.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))


def _offset_text(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    minutes, seconds = divmod(int(abs(offset).total_seconds()), 60)
    text = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{text}:{seconds:02d}" if seconds else text  # old local mean times had seconds


def _clip(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")
