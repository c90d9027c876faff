"""The plan of a case: every place the content is, which routes apply there, what has
been done, and the one thing to do next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from leakshield.notices._compose import applicable_routes, site_platform
from leakshield.notices._deadlines import deadline_of, describe_left, parse_utc
from leakshield.notices._model import Location, Notice
from leakshield.notices._schema import PlatformEntry, Route
from leakshield.notices._tracking import CaseNotices

if TYPE_CHECKING:
    from leakshield.notices._directory import Directory

__all__ = ["PlanRow", "make_plan"]


@dataclass(frozen=True)
class PlanRow:
    """One platform (or unknown site) of the plan."""

    platform: str  # its name, or the host of a site the directory does not know
    platform_id: str | None
    urls: tuple[str, ...]
    routes: tuple[str, ...]  # "regime id: route name", those that apply, in order
    done: tuple[str, ...]  # each notice, its state and deadline
    next: str  # the one thing to do next

    def to_record(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "platform_id": self.platform_id,
            "urls": list(self.urls),
            "routes": list(self.routes),
            "done": list(self.done),
            "next": self.next,
        }


def make_plan(
    known: CaseNotices,
    locations: list[Location],
    has_files: bool,
    directory: Directory,
    now: datetime,
) -> list[PlanRow]:
    """The plan: a hash program first, then every platform with evidence or a notice,
    search engines, regulators that apply, and sites the directory does not know."""
    profile = known.profile
    rows: list[PlanRow] = []
    program = "ncmec-take-it-down" if profile.minor else "stopncii"
    order = [program]
    for loc in locations:
        if loc.platform and loc.platform not in order:
            order.append(loc.platform)
    for notice in known.notices:
        if notice.draft.platform_id not in order:
            order.append(notice.draft.platform_id)
    if locations:
        order += [p.id for p in directory.platforms.values() if p.kind == "search-engine"]
    if profile.country == "AU" or profile.link:
        order.append("esafety")
    for platform_id in dict.fromkeys(order):
        platform = directory.platforms.get(platform_id)
        if platform is None:
            continue
        urls = _urls_for(platform, locations)
        rows.append(_row(platform, urls, known, directory, now, has_files))
    for host, urls in _unknown_hosts(locations).items():
        site = site_platform(host)
        rows.append(_row(site, urls, known, directory, now, has_files, unknown=True))
    return rows


def _row(
    platform: PlatformEntry,
    urls: tuple[str, ...],
    known: CaseNotices,
    directory: Directory,
    now: datetime,
    has_files: bool,
    *,
    unknown: bool = False,
) -> PlanRow:
    routes = applicable_routes(platform, directory, known.profile)
    notices = [n for n in known.notices if n.draft.platform_id == platform.id]
    done = tuple(_done(n, now) for n in notices)
    return PlanRow(
        platform.name,
        None if unknown else platform.id,
        urls,
        tuple(f"{r.regime}: {r.name}" for r in routes),
        done,
        _next(platform, routes, notices, urls, known, now, has_files, unknown),
    )


def _next(
    platform: PlatformEntry,
    routes: list[Route],
    notices: list[Notice],
    urls: tuple[str, ...],
    known: CaseNotices,
    now: datetime,
    has_files: bool,
    unknown: bool,
) -> str:
    draft_command = f"leakshield notice draft CASE --platform {platform.id}"
    if not routes:
        return "no route applies to this case"
    if not notices and unknown:
        return (
            "not in the directory: find the site's abuse contact (or its host's), then: "
            f"leakshield notice draft CASE --platform {platform.name}"
        )
    if not notices:
        if platform.kind == "regulator":
            return f"if a platform does not act, complain: {draft_command}"
        if platform.kind == "hash-program" and not has_files:
            return f"hash your images there, on your device: {draft_command} gives the steps"
        return f"draft a request: {draft_command}"
    latest = notices[-1]
    gone = [o for u in urls if (o := known.last_seen(u)) and o.outcome == "gone"]
    if latest.state == "draft":
        if not latest.draft.ready:
            missing = ", ".join(m.element for m in latest.draft.missing)
            return f"complete {latest.id} (missing: {missing}), then draft it again"
        return (
            f"send {latest.id} ({latest.draft.where}), then mark it: "
            f"leakshield notice mark CASE {latest.id} sent"
        )
    if latest.state == "removed":
        return "removed; recheck now and then: leakshield notice recheck CASE"
    if latest.state == "refused":
        others = [r for r in routes if r.regime != latest.draft.regime_id]
        if others:
            return f"refused; try {others[0].regime}: {draft_command} --regime {others[0].regime}"
        return f"refused; escalate: leakshield notice escalate CASE {latest.id}"
    if gone and len(gone) == len(urls):
        return f"recheck found it gone: notice mark CASE {latest.id} removed"
    deadline = deadline_of(latest)
    if (deadline is not None and deadline <= now) or latest.state == "no-answer":
        return f"overdue: leakshield notice escalate CASE {latest.id}"
    if deadline is not None:
        return f"wait ({describe_left(deadline - now)}), then: leakshield notice recheck CASE"
    return "wait for the answer; leakshield notice recheck CASE shows if it is still up"


def _done(notice: Notice, now: datetime) -> str:
    text = f"{notice.id} {notice.draft.regime_id}: {notice.state}"
    if notice.state == "draft" and not notice.draft.ready:
        text += " (not ready)"
    changed = notice.history[-1].at if notice.history else notice.draft.drafted_at
    text += f" {parse_utc(changed).strftime('%Y-%m-%d %H:%M')} UTC"
    deadline = deadline_of(notice)
    if deadline is not None and not notice.closed:
        text += f", {describe_left(deadline - now)}"
    return text


def _urls_for(platform: PlatformEntry, locations: list[Location]) -> tuple[str, ...]:
    if platform.kind in ("search-engine", "regulator", "hash-program"):
        return ()
    return tuple(loc.url for loc in locations if loc.platform == platform.id)


def _unknown_hosts(locations: list[Location]) -> dict[str, tuple[str, ...]]:
    hosts: dict[str, list[str]] = {}
    for loc in locations:
        if loc.platform is None:
            host = urlsplit(loc.url).hostname or loc.url
            hosts.setdefault(host, []).append(loc.url)
    return {host: tuple(urls) for host, urls in hosts.items()}
