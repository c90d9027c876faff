"""What a request can be filled with: one entry per field a regime's elements name.

Each field either fills a section of the request from the case and the requester's
profile, or says exactly what is missing and the command that supplies it. The order
of this registry is the order of the request: the facts first, then the statements,
then who is asking, then the signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from leakshield.notices._deadlines import UTC_ZONE, deadline_of, parse_utc, show_time
from leakshield.notices._model import ContentHash, Location, Notice, Profile
from leakshield.notices._schema import FIELD_IDS, Element, PlatformEntry, RegimeEntry

__all__ = ["FIELDS", "Context", "Field", "Lacking", "fill_text"]

MAX_HASHES = 50  # a request lists at most this many files' hashes
_PROFILE = "leakshield notice profile CASE"
_SIGN = "read the draft, then draft it again with --sign to sign it and affirm its statements"


@dataclass(frozen=True)
class Context:
    """Everything a request is filled from."""

    profile: Profile
    regime: RegimeEntry
    platform: PlatformEntry
    locations: tuple[Location, ...]
    hashes: tuple[ContentHash, ...]
    signed: bool
    drafted_at: datetime
    earlier: tuple[Notice, ...] = ()  # requests already sent about the same URLs
    escalated: Notice | None = None


class Lacking(Exception):
    """A field cannot be filled; the message says what is missing and how to supply it."""


@dataclass(frozen=True)
class Field:
    """One field: its label in the request and how it is filled (None: nothing to show)."""

    id: str
    label: str
    fill: Callable[[Context, Element], str | None]


FIELDS: dict[str, Field] = {}


def _field(field_id: str, label: str) -> Callable[[Callable[[Context, Element], str | None]], None]:
    def register(fill: Callable[[Context, Element], str | None]) -> None:
        assert field_id in FIELD_IDS, field_id
        FIELDS[field_id] = Field(field_id, label, fill)

    return register


def fill_text(text: str, context: Context) -> str:
    """A regime's text with its placeholders filled in for this requester and content."""
    profile = context.profile
    person = f"the person I represent, {profile.acting_for}" if profile.representative else "me"
    content = {
        "real": "intimate images shared without consent",
        "synthetic": "digitally forged intimate images (deepfakes) made and shared without consent",
        "unknown": "intimate images, real or digitally forged, shared without consent",
    }[profile.content]
    values = {
        "platform": context.platform.name,
        "person": person,
        "content": content,
        "regime": context.regime.name,
    }
    return text.format_map(values)


@_field("explanation", "Why this content is illegal")
def _explanation(context: Context, element: Element) -> str:
    return fill_text(context.regime.explanation or "", context)


@_field("escalated_notice", "The request that was not acted on")
def _escalated_notice(context: Context, element: Element) -> str:
    notice = context.escalated
    if notice is None or notice.entered("sent") is None:
        raise Lacking("no sent request to escalate: `leakshield notice escalate CASE NOTICE`")
    sent = show_time(parse_utc(notice.entered("sent") or ""), UTC_ZONE)
    draft = notice.draft
    lines = [
        f"On {sent} I sent {draft.platform_name} a request "
        f"under {draft.regime_name} (leakshield notice {notice.id})."
    ]
    reference = next((c.reference for c in notice.history if c.reference), None)
    if reference:
        lines.append(f"Its reference: {reference}.")
    deadline = deadline_of(notice)
    if deadline is not None:
        due = show_time(deadline, UTC_ZONE)
        lines.append(
            f"It had to act within {draft.deadline_hours} hours, by {due}. As of "
            f"{show_time(context.drafted_at, UTC_ZONE)} the request's state is: {notice.state}."
        )
    else:
        lines.append(
            f"As of {show_time(context.drafted_at, UTC_ZONE)} its state is: {notice.state}."
        )
    return "\n".join(lines)


@_field("locations", "Where the content is (exact URLs)")
def _locations(context: Context, element: Element) -> str:
    if not context.locations:
        raise Lacking(
            "no URL: capture the page into the case (`leakshield case capture CASE URL`) "
            "or give it with --url"
        )
    return "\n".join(f"{n}. {loc.url}" for n, loc in enumerate(context.locations, 1))


@_field("identification", "How to identify it")
def _identification(context: Context, element: Element) -> str:
    if not context.locations and not context.hashes:
        raise Lacking("nothing identifies the content: no URL and no file in the case")
    lines = []
    for n, loc in enumerate(context.locations, 1):
        if loc.captured_at:
            seen = f"captured {show_time(parse_utc(loc.captured_at), UTC_ZONE)}"
            if loc.status is not None:
                seen += f" (HTTP {loc.status})"
            if loc.screenshot_sha256:
                seen += f"; screenshot SHA-256 {loc.screenshot_sha256}"
            lines.append(f"URL {n} was {seen}.")
    hashes = context.hashes[:MAX_HASHES]
    if hashes:
        lines.append(
            "Hashes of the images, so that identical copies can be found (the images "
            "themselves are not attached):"
        )
        for entry in hashes:
            pdq = f", PDQ {entry.pdq}" if entry.pdq else ""
            lines.append(f"- SHA-256 {entry.sha256}{pdq}")
        if len(context.hashes) > MAX_HASHES:
            lines.append(f"- and {len(context.hashes) - MAX_HASHES} more, on request")
    return "\n".join(lines) if lines else "The URLs above locate the content."


@_field("copyright_work", "The copyrighted work")
def _copyright_work(context: Context, element: Element) -> str:
    profile = context.profile
    if not profile.copyright_holder:
        raise Lacking(f"you have not said you hold the copyright: {_PROFILE} --copyright-holder")
    if not profile.work:
        raise Lacking(f"the work is not described: {_PROFILE} --work 'a photo I took of myself'")
    owner = "the person I represent" if profile.representative else "me"
    return f"{profile.work}. The copyright is owned by {owner}."


@_field("jurisdiction_link", "Link to the country")
def _jurisdiction_link(context: Context, element: Element) -> str:
    profile, countries = context.profile, context.regime.countries
    if profile.country and profile.country in countries:
        who = "The person I represent lives" if profile.representative else "I live"
        return f"{who} in {_COUNTRY_NAMES.get(profile.country, profile.country)}."
    if profile.link:
        return profile.link
    where = " or ".join(_COUNTRY_NAMES.get(c, c) for c in countries)
    raise Lacking(
        f"no link to {where}: {_PROFILE} --country {countries[0] if countries else 'CC'} "
        "(where the person depicted lives), or --link 'the person who posted it lives there'"
    )


@_field("statement", "")
def _statement(context: Context, element: Element) -> str:
    if not context.signed:
        raise Lacking(f"not affirmed: {_SIGN}")
    return fill_text(element.statement or "", context)


@_field("earlier_reports", "Earlier reports")
def _earlier_reports(context: Context, element: Element) -> str:
    if not context.earlier:
        return "None before this one."
    lines = []
    for notice in context.earlier:
        sent = notice.entered("sent")
        when = show_time(parse_utc(sent), UTC_ZONE) if sent else "not yet sent"
        reference = next((c.reference for c in notice.history if c.reference), None)
        ref = f", reference {reference}" if reference else ""
        lines.append(
            f"- {notice.draft.platform_name}, {notice.draft.regime_name}: sent {when}{ref}; "
            f"now {notice.state}"
        )
    return "\n".join(lines)


@_field("authority", "Authority to act")
def _authority(context: Context, element: Element) -> str | None:
    profile = context.profile
    if not profile.representative:
        return None
    if not profile.authority:
        raise Lacking(
            f"acting for {profile.acting_for}, but not saying why you may: "
            f"{_PROFILE} --authority 'her lawyer, authorised in writing on 2026-11-01'"
        )
    return f"I act for {profile.acting_for}: {profile.authority}."


@_field("requester_name", "Name")
def _requester_name(context: Context, element: Element) -> str:
    return _needed(context.profile.name, "your name", "--name 'Your Name'")


@_field("contact_email", "E-mail")
def _contact_email(context: Context, element: Element) -> str:
    return _needed(context.profile.email, "an e-mail address", "--email you@example.org")


@_field("contact_phone", "Telephone")
def _contact_phone(context: Context, element: Element) -> str:
    return _needed(context.profile.phone, "a telephone number", "--phone '+1 555 0100'")


@_field("contact_address", "Postal address")
def _contact_address(context: Context, element: Element) -> str:
    return _needed(context.profile.address, "a postal address", "--address '1 Main St, Town'")


@_field("signature", "Signature")
def _signature(context: Context, element: Element) -> str:
    name = _needed(context.profile.name, "a name to sign with", "--name 'Your Name'")
    if not context.signed:
        raise Lacking(f"not signed: {_SIGN}")
    on = context.drafted_at.date().isoformat()
    role = f", for {context.profile.acting_for}" if context.profile.representative else ""
    return f"/s/ {name}{role}\n(electronic signature, {on})"


def _needed(value: str | None, what: str, option: str) -> str:
    if not value:
        raise Lacking(f"no {what.removeprefix('a ').removeprefix('an ')}: {_PROFILE} {option}")
    return value


_COUNTRY_NAMES = {
    "AU": "Australia",
    "GB": "the United Kingdom",
    "US": "the United States",
    "IE": "Ireland",
    "NZ": "New Zealand",
    "CA": "Canada",
}
