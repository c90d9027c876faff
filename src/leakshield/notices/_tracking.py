"""Notices kept in the case: the requester's profile, each draft, each change of state
and each recheck, all records of the case's tamper-evident log (sealed like the rest).

Nothing here is stored anywhere else: the case's log is the one record of what was
asked, of whom, when, and what came of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from leakshield.errors import UsageError
from leakshield.notices._deadlines import parse_utc, utc_text
from leakshield.notices._model import (
    STATES,
    ContentHash,
    Draft,
    Location,
    Notice,
    NoticeNotFoundError,
    Observation,
    Profile,
    State,
    StateChange,
)

if TYPE_CHECKING:
    from leakshield.evidence import OpenCase
    from leakshield.notices._directory import Directory

__all__ = [
    "ACTION_WORDS",
    "CaseNotices",
    "case_hashes",
    "case_locations",
    "check_profile",
    "check_url",
    "read_case",
    "record_draft",
    "record_state",
    "set_profile",
]

PROFILE_SET = "notice-profile-set"
DRAFTED = "notice-drafted"
UPDATED = "notice-updated"
RECHECKED = "notice-rechecked"
ACTION_WORDS = {
    PROFILE_SET: "Requester details set",
    DRAFTED: "Removal request drafted",
    UPDATED: "Removal request updated",
    RECHECKED: "Reported URL checked again",
}
MAX_URL = 4_096
_BAD_URL_CHARACTERS = re.compile(r"[\x00-\x20\x7f]")
_EMAIL = re.compile(r"[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]{1,255}\.[A-Za-z]{2,63}")


@dataclass(frozen=True)
class CaseNotices:
    """A case's notices as its log records them."""

    case_id: str
    profile: Profile
    notices: tuple[Notice, ...]
    observations: tuple[Observation, ...]

    def notice(self, reference: str) -> Notice:
        """The notice ``reference`` names: its id (``notice-0003``) or its number (``3``)."""
        wanted = reference.strip().lower()
        if wanted.isdigit():
            wanted = f"notice-{int(wanted):04d}"
        for notice in self.notices:
            if notice.id == wanted:
                return notice
        known = ", ".join(n.id for n in self.notices) or "none yet"
        raise NoticeNotFoundError(
            f"case {self.case_id} has no notice {reference!r} (its notices: {known})"
        )

    def next_id(self) -> str:
        return f"notice-{len(self.notices) + 1:04d}"

    def last_seen(self, url: str) -> Observation | None:
        """The latest recheck of ``url``, if any."""
        return next((o for o in reversed(self.observations) if o.url == url), None)


def read_case(case: OpenCase) -> CaseNotices:
    """The profile, notices and rechecks recorded in ``case``'s log, in order."""
    profile = Profile()
    drafts: dict[str, Draft] = {}
    history: dict[str, list[StateChange]] = {}
    observations: list[Observation] = []
    for record in case.records:
        action, details = record.get("action"), record.get("details") or {}
        if action == PROFILE_SET:
            profile = Profile.from_record(details["profile"])
        elif action == DRAFTED:
            draft = Draft.from_record(details["notice"])
            drafts[draft.notice_id] = draft
            history[draft.notice_id] = []
        elif action == UPDATED:
            history[details["notice"]].append(StateChange(**details["change"]))
        elif action == RECHECKED:
            observations.append(Observation.from_record(details["observation"]))
    notices = tuple(Notice(d, tuple(history[i])) for i, d in drafts.items())
    return CaseNotices(case.case_id, profile, notices, tuple(observations))


def set_profile(case: OpenCase, profile: Profile, actor: str | None = None) -> Profile:
    """Record the requester's details (sealed in the case's log)."""
    case.append(PROFILE_SET, None, {"profile": profile.to_record()}, actor)
    return profile


def record_draft(case: OpenCase, draft: Draft, actor: str | None = None) -> Notice:
    """Record a draft in the case's log; it is then a notice, in state draft."""
    case.append(DRAFTED, None, {"notice": draft.to_record()}, actor)
    return Notice(draft)


def record_state(
    case: OpenCase,
    notice: Notice,
    state: str,
    at: datetime,
    *,
    now: datetime,
    reference: str | None = None,
    note: str | None = None,
    anyway: bool = False,
    actor: str | None = None,
) -> Notice:
    """Record that ``notice`` entered ``state`` at ``at`` (UTC), after checking that the
    change makes sense: sent before answered, never earlier than its last change, and
    not sent while it lacks an element unless ``anyway``."""
    new = _checked_state(notice, state, anyway)
    if at > now + timedelta(minutes=5):
        raise UsageError("--at is in the future; give the time it happened")
    if notice.history and at < parse_utc(notice.history[-1].at):
        raise UsageError(
            f"{notice.id} was marked {notice.state} at {notice.history[-1].at}; "
            f"a later change cannot be earlier than that"
        )
    for text, what in ((reference, "--reference"), (note, "--note")):
        if text is not None and (len(text) > 2_000 or _has_control(text, allow_newline=True)):
            raise UsageError(f"{what} is at most 2,000 characters, without control characters")
    change = StateChange(new, utc_text(at), utc_text(now), reference, note)
    details: dict[str, Any] = {"notice": notice.id, "change": change.__dict__}
    case.append(UPDATED, None, details, actor)
    return Notice(notice.draft, (*notice.history, change))


def _checked_state(notice: Notice, state: str, anyway: bool) -> State:
    if state not in STATES or state == "draft":
        raise UsageError(f"a notice can be marked {', '.join(STATES[1:])}, not {state!r}")
    new: State = state
    if notice.state == new:
        raise UsageError(f"{notice.id} is already marked {new}")
    if notice.closed:
        raise UsageError(
            f"{notice.id} is closed ({notice.state}); if the content is back, draft a new "
            "notice: `leakshield notice draft CASE --platform ...`"
        )
    if new != "sent" and notice.entered("sent") is None:
        raise UsageError(
            f"{notice.id} has not been marked sent; first `leakshield notice mark CASE "
            f"{notice.id} sent --at WHEN` (the time you sent it)"
        )
    if new == "sent" and not notice.draft.ready and not anyway:
        missing = ", ".join(m.element for m in notice.draft.missing)
        raise UsageError(
            f"{notice.id} is not ready (missing: {missing}); draft it again with what is "
            "missing, or pass --anyway if you sent it as it was"
        )
    return new


def check_profile(profile: Profile) -> Profile:
    """``profile`` if every detail is one a request can carry: no control characters (an
    e-mail header can never be split), bounded, an e-mail address that looks like one."""
    for name, value in profile.to_record().items():
        if not isinstance(value, str):
            continue
        if not value.strip() or len(value) > 1_000:
            raise UsageError(f"--{name.replace('_', '-')} is empty or over 1,000 characters")
        if _has_control(value, allow_newline=name in ("address", "authority", "work", "link")):
            raise UsageError(f"--{name.replace('_', '-')} contains a control character")
    if profile.email is not None and not _EMAIL.fullmatch(profile.email):
        raise UsageError(f"{profile.email!r} does not look like an e-mail address")
    if profile.country is not None and not re.fullmatch(r"[A-Z]{2}", profile.country):
        raise UsageError("--country is a two-letter country code, such as AU, GB or US")
    if profile.authority and not profile.representative:
        raise UsageError("--authority goes with --acting-for NAME (the person you act for)")
    return profile


def check_url(url: str) -> str:
    """``url`` itself if it is an http(s) URL a request can name; it is never altered."""
    from urllib.parse import urlsplit

    if len(url) > MAX_URL:
        raise UsageError(f"a URL is at most {MAX_URL:,} characters")
    if _BAD_URL_CHARACTERS.search(url):
        raise UsageError(
            f"{url[:80]!r} contains a space or a control character; give the URL exactly "
            "as the browser shows it (spaces written %20)"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        raise UsageError(f"{url[:80]!r} is not an http or https URL")
    return url


def case_locations(case: OpenCase, directory: Directory) -> list[Location]:
    """Every URL the case captured, exactly as given, each with its first good capture."""
    found: dict[str, Location] = {}
    for item in case.items():
        capture = item.record.get("capture") or {}
        url = capture.get("url")
        if item.kind != "capture" or not url:
            continue
        status = capture.get("status")
        good = not capture.get("error") and isinstance(status, int) and status < 400
        known = found.get(url)
        if known is not None and (known.captured_at or not good):
            continue
        platform = directory.platform_for_url(url)
        shot = next((f for f in item.files if f.get("name") == "screenshot.png"), None)
        found[url] = Location(
            url=url,
            platform=platform.id if platform else None,
            captured_at=str(capture.get("captured_at")) if good else None,
            capture_item=item.id,
            screenshot_sha256=str(shot["sha256"]) if shot and good else None,
            status=status if good else None,
        )
    return list(found.values())


def case_hashes(case: OpenCase) -> list[ContentHash]:
    """The digests of the case's image and video files (never their bytes or paths)."""
    hashes = []
    for item in case.items():
        if item.kind != "file":
            continue
        for entry in item.files:
            media = str(entry.get("media_type") or "")
            if media.startswith(("image/", "video/")) or item.record.get("pdq"):
                pdq = item.record.get("pdq")
                hashes.append(ContentHash(item.id, str(entry["name"]), str(entry["sha256"]), pdq))
    return hashes


def _has_control(text: str, *, allow_newline: bool = False) -> bool:
    allowed = {"\n", "\t"} if allow_newline else set()
    return any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in text)
