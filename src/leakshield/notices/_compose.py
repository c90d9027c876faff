"""Drafting from a case: the route chosen, the URLs gathered, the draft recorded."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from leakshield.errors import UsageError
from leakshield.notices._deadlines import UTC_ZONE, deadline_of, show_time
from leakshield.notices._draft import draft_request, route_applies
from leakshield.notices._fields import Context
from leakshield.notices._model import Location, Notice, NoticeNotFoundError, Profile
from leakshield.notices._schema import PlatformEntry, Route
from leakshield.notices._tracking import (
    CaseNotices,
    case_hashes,
    case_locations,
    check_url,
    read_case,
    record_draft,
)

if TYPE_CHECKING:
    from leakshield.evidence import OpenCase
    from leakshield.notices._directory import Directory

__all__ = [
    "applicable_routes",
    "choose_route",
    "draft_notice",
    "escalate_notice",
    "site_platform",
]


def applicable_routes(
    platform: PlatformEntry, directory: Directory, profile: Profile
) -> list[Route]:
    """``platform``'s routes that apply to this requester, in the platform's order."""
    return [
        r for r in platform.routes if route_applies(r, directory.regime(r.regime), profile) is None
    ]


def choose_route(
    platform: PlatformEntry, directory: Directory, profile: Profile, regime_id: str | None
) -> Route:
    """The route for ``regime_id`` (refused if it does not apply), else the first that
    applies."""
    if regime_id is not None:
        regime = directory.regime(regime_id)
        candidates = platform.routes_for(regime.id)
        if not candidates:
            offered = ", ".join(dict.fromkeys(r.regime for r in platform.routes))
            raise NoticeNotFoundError(
                f"{platform.name} takes no request under {regime.id} here; its routes: {offered}"
            )
        reasons = [route_applies(route, regime, profile) for route in candidates]
        if None in reasons:
            return candidates[reasons.index(None)]
        raise UsageError(str(reasons[0]))
    routes = applicable_routes(platform, directory, profile)
    if not routes:
        first = platform.routes[0]
        raise UsageError(str(route_applies(first, directory.regime(first.regime), profile)))
    return routes[0]


def draft_notice(
    case: OpenCase,
    directory: Directory,
    *,
    platform: str,
    regime: str | None = None,
    urls: Sequence[str] = (),
    signed: bool = False,
    now: datetime,
    actor: str | None = None,
) -> Notice:
    """Draft a request to ``platform`` from ``case``, check it, and record it."""
    known = read_case(case)
    entry = _platform(case, directory, platform)
    route = choose_route(entry, directory, known.profile, regime)
    locations = _locations(case, directory, entry, route, urls)
    context = _context(case, known, directory, entry, route, locations, signed, now)
    draft = draft_request(
        notice_id=known.next_id(),
        case_id=case.case_id,
        platform=entry,
        route=route,
        context=context,
    )
    return record_draft(case, draft, actor)


def escalate_notice(
    case: OpenCase,
    directory: Directory,
    reference: str,
    *,
    regime: str | None = None,
    signed: bool = False,
    now: datetime,
    actor: str | None = None,
) -> Notice:
    """Draft the complaint that follows a request left unanswered past its deadline (the
    FTC for the TAKE IT DOWN Act, eSafety for an Australian link), and record it."""
    known = read_case(case)
    notice = known.notice(reference)
    _check_escalation(notice, now)
    source = directory.regime(notice.draft.regime_id)
    choices = [regime] if regime else list(source.escalations)
    reasons = []
    for regime_id in choices:
        target = directory.regime(regime_id)
        recipient = _recipient(directory, target.id)
        route = recipient.route(target.id)
        assert route is not None  # _recipient found it
        why = route_applies(route, target, known.profile)
        if why:
            reasons.append(why)
            continue
        context = _context(
            case, known, directory, recipient, route, notice.draft.locations, signed, now
        )
        context = replace(context, escalated=notice)
        draft = draft_request(
            notice_id=known.next_id(),
            case_id=case.case_id,
            platform=recipient,
            route=route,
            context=context,
        )
        return record_draft(case, draft, actor)
    if not choices:
        raise UsageError(f"{source.name} names no regulator to escalate to")
    raise UsageError("no escalation applies: " + "; ".join(reasons))


def _check_escalation(notice: Notice, now: datetime) -> None:
    if notice.entered("sent") is None:
        raise UsageError(f"{notice.id} has not been sent; nothing to escalate yet")
    if notice.state == "removed":
        raise UsageError(f"{notice.id} is marked removed; nothing to escalate")
    deadline = deadline_of(notice)
    if notice.state in ("refused", "no-answer"):
        return
    if deadline is None or deadline > now:
        when = (
            f"before its deadline ({show_time(deadline, UTC_ZONE)})"
            if deadline
            else "with no deadline"
        )
        raise UsageError(
            f"{notice.id} is {notice.state} {when}; escalate once the deadline has passed, "
            f"or mark it refused or no-answer"
        )


def _platform(case: OpenCase, directory: Directory, name: str) -> PlatformEntry:
    """The directory's platform ``name``, or, for a site it does not know where the case
    has evidence, a site of its own that takes the notices every host can be sent."""
    try:
        return directory.platform(name)
    except NoticeNotFoundError:
        host = name.strip().lower().removeprefix("www.")
        captured = {
            _host(loc.url) for loc in case_locations(case, directory) if loc.platform is None
        }
        if host not in captured:
            raise
    return site_platform(host)


def site_platform(host: str) -> PlatformEntry:
    """A site the directory does not list, taking the notices any host can be sent."""
    return PlatformEntry.model_validate(
        {
            "schema": 1,
            "id": re.sub(r"[^a-z0-9-]", "-", host)[:63].strip("-") or "site",
            "name": host,
            "kind": "platform",
            "domains": [host] if _DOMAIN.fullmatch(host) else [],
            "checked": date.today(),
            "checked_how": "A site the directory does not list; its routes are the ones "
            "every host can be sent.",
            "routes": [_site_route(host, regime) for regime in _SITE_REGIMES],
        }
    )


_SITE_REGIMES = ("eu-dsa-16", "platform-policy")
_DOMAIN = re.compile(r"([a-z0-9-]{1,63}\.)+[a-z]{2,63}")


def _site_route(host: str, regime: str) -> dict[str, object]:
    return {
        "regime": regime,
        "name": "Notice to the site"
        if regime == "platform-policy"
        else "EU DSA notice to the site",
        "channel": "email",
        "where": f"https://{host}/",
        "how": "Look on the site for its abuse, legal or DSA contact (often in the footer: "
        "'Report', 'Legal', 'DMCA', 'Contact'); if it has none, write to its hosting "
        "provider's abuse address (a WHOIS or IP lookup names the host).",
        "source": f"https://{host}/",
    }


def _recipient(directory: Directory, regime_id: str) -> PlatformEntry:
    for platform in directory.platforms.values():
        if platform.kind == "regulator" and platform.route(regime_id) is not None:
            return platform
    raise NoticeNotFoundError(f"no regulator in the directory takes {regime_id} complaints")


def _locations(
    case: OpenCase,
    directory: Directory,
    platform: PlatformEntry,
    route: Route,
    urls: Sequence[str],
) -> tuple[Location, ...]:
    """The URLs a request names: those given, else the case's captures on the platform
    (every capture for a search engine or a regulator; none for a hash program)."""
    captured = case_locations(case, directory)
    if urls:
        by_url = {loc.url: loc for loc in captured}
        chosen = []
        for url in dict.fromkeys(check_url(u) for u in urls):
            found = directory.platform_for_url(url)
            chosen.append(by_url.get(url) or Location(url, found.id if found else None))
        return tuple(chosen)
    if route.channel == "on-device" or platform.kind == "hash-program":
        return ()
    if platform.kind in ("search-engine", "regulator"):
        return tuple(captured)
    return tuple(
        loc
        for loc in captured
        if loc.platform == platform.id or (loc.platform is None and _host(loc.url) == platform.name)
    )


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _context(
    case: OpenCase,
    known: CaseNotices,
    directory: Directory,
    platform: PlatformEntry,
    route: Route,
    locations: tuple[Location, ...],
    signed: bool,
    now: datetime,
) -> Context:
    urls = {loc.url for loc in locations}
    earlier = tuple(
        n
        for n in known.notices
        if n.entered("sent") and urls & {loc.url for loc in n.draft.locations}
    )
    regime = directory.regime(route.regime)
    hashes = () if regime.kind == "hash-program" else tuple(case_hashes(case))
    return Context(
        profile=known.profile,
        regime=regime,
        platform=platform,
        locations=locations,
        hashes=hashes,
        signed=signed,
        drafted_at=now,
        earlier=earlier,
    )
