"""A request drafted for one platform under one regime, every required element checked.

A draft that lacks an element is kept, but not ready, and says exactly what is missing
and how to supply it. It holds URLs, capture times and hashes from the case, never an
image or a local path, and of the requester's details only what the regime requires.
"""

from __future__ import annotations

from collections.abc import Sequence

from leakshield.notices._deadlines import utc_text
from leakshield.notices._fields import FIELDS, Context, Lacking, fill_text
from leakshield.notices._model import Draft, Missing, Profile, Section
from leakshield.notices._schema import PlatformEntry, RegimeEntry, Route

__all__ = ["draft_request", "route_applies"]


def route_applies(route: Route, regime: RegimeEntry, profile: Profile) -> str | None:
    """Why ``route`` does not apply to this requester, or None when it does."""
    if regime.requires_copyright and not profile.copyright_holder:
        return (
            f"{regime.name} is only for the copyright holder (if you took the photo, say so "
            "with `leakshield notice profile CASE --copyright-holder --work ...`)"
        )
    if regime.requires_copyright and profile.minor:
        return f"{regime.name} is not used in a minor's case"
    for audience in (route.audience, regime.audience):
        if audience == "adult" and profile.minor:
            return (
                f"{route.name} is for adults (18+); for images taken under 18 use NCMEC "
                "Take It Down (--platform ncmec-take-it-down)"
            )
        if audience == "minor" and not profile.minor:
            return (
                f"{route.name} is for images taken under 18 (say so with `leakshield notice "
                "profile CASE --minor`); adults can use StopNCII (--platform stopncii)"
            )
    if route.content != "any" and profile.content not in ("unknown", route.content):
        kind = "real images" if route.content == "real" else "AI-made or faked images"
        return f"{route.name} is for {kind}; the case says the content is {profile.content}"
    if regime.countries and profile.country not in regime.countries and not profile.link:
        where = ", ".join(regime.countries)
        return (
            f"{regime.name} needs a link to {where} (set `leakshield notice profile CASE "
            f"--country {regime.countries[0]}`, or --link if the poster or host is there)"
        )
    return None


def draft_request(
    *,
    notice_id: str,
    case_id: str,
    platform: PlatformEntry,
    route: Route,
    context: Context,
) -> Draft:
    """Fill ``route``'s request from ``context`` and check every element of its regime."""
    regime = context.regime
    sections = [Section("opening", "", fill_text(regime.opening, context))]
    missing: list[Missing] = []
    lacking: dict[tuple[str, str], str] = {}  # (element, field) -> what is missing
    for field in FIELDS.values():
        users = [e for e in regime.elements if field.id in e.fields]
        if field.id != "statement":
            users = users[:1]  # a field shared by two elements is written once
        for element in users:
            try:
                text = field.fill(context, element)
            except Lacking as exc:
                lacking[(element.id, field.id)] = str(exc)
                continue
            if text:
                sections.append(Section(field.id, field.label, text))
    for element in regime.elements:
        reasons = [lacking[(element.id, f)] for f in element.fields if (element.id, f) in lacking]
        reasons += _shared_lacks(element.fields, element.id, lacking)
        if reasons:
            missing.append(Missing(element.id, element.text, "; ".join(dict.fromkeys(reasons))))
    deadline_hours = route.deadline_hours or regime.deadline_hours
    return Draft(
        notice_id=notice_id,
        case_id=case_id,
        platform_id=platform.id,
        platform_name=platform.name,
        regime_id=regime.id,
        regime_name=regime.name,
        route_name=route.name,
        channel=route.channel,
        where=route.where,
        how=route.how,
        subject=_subject(regime, platform, context),
        sections=tuple(sections),
        ready=not missing,
        missing=tuple(missing),
        warnings=_warnings(route, regime, context, f"leakshield notice mark {case_id} {notice_id}"),
        locations=context.locations,
        drafted_at=utc_text(context.drafted_at),
        to_email=route.email,
        from_email=context.profile.email if _uses(regime, "contact_email") else None,
        escalates=context.escalated.id if context.escalated else None,
        deadline_hours=deadline_hours,
        deadline_from=regime.deadline_from,
        deadline_who=regime.deadline_who,
    )


def _shared_lacks(
    fields: Sequence[str], element_id: str, lacking: dict[tuple[str, str], str]
) -> list[str]:
    """A field filled once for two elements lacks for both: name it under each."""
    return [
        reason
        for (other, field_id), reason in lacking.items()
        if other != element_id and field_id in fields and field_id != "statement"
    ]


def _subject(regime: RegimeEntry, platform: PlatformEntry, context: Context) -> str:
    subject = fill_text(regime.subject, context)
    return subject if "{platform}" in regime.subject else f"{subject} ({platform.name})"


def _uses(regime: RegimeEntry, field_id: str) -> bool:
    return any(field_id in e.fields for e in regime.elements)


def _warnings(route: Route, regime: RegimeEntry, context: Context, mark: str) -> tuple[str, ...]:
    """What the requester should know before sending; never part of the request."""
    found = [fill_text(w, context) for w in regime.warnings]
    if route.note:
        found.append(route.note)
    words = route.words or regime.words
    if words:
        found.append("Words to use when the form asks for a reason: " + "; ".join(words) + ".")
    if context.profile.minor and regime.kind != "hash-program":
        found.append(
            "This is a minor's case: also use NCMEC Take It Down (takeitdown.ncmec.org), "
            "which hashes the images on your device. Never download, keep or send the "
            "images themselves; give platforms the URLs only."
        )
    hours = route.deadline_hours or regime.deadline_hours
    if hours:
        note = f" {' '.join(regime.deadline_note.split())}" if regime.deadline_note else ""
        found.append(
            f"Deadline: {hours} hours.{note} Record when you send it (`{mark} sent`) and "
            "each answer, so that `leakshield notice due` can track it."
        )
    return tuple(found)
