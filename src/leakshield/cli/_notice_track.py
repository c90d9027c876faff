"""`leakshield notice mark / due / recheck / plan / directory`: tracking requests until the
content is gone."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leakshield.cli._case import (
    ActorOption,
    CaseArgument,
    PassphraseOption,
    _passphrase,
    opened_case,
)
from leakshield.cli._case_export import AllowPrivateOption, TimeoutOption, check_timeout
from leakshield.cli._notice import NoticeArgument, notice_app, notice_directory, utc_now
from leakshield.cli._root import CliState, DataDirOption, JsonOption
from leakshield.errors import UsageError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from leakshield.config import Settings
    from leakshield.notices import CaseNotices, Observation, Target

ZoneOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Time zone to show times in and to read --at in (IANA name, e.g. "
        "Europe/London; default: the timezone setting, else the system's).",
    ),
]


def _zone(settings: Settings, name: str | None) -> ZoneInfo:
    from leakshield.notices import zone_named

    return zone_named(name or settings.timezone)


@notice_app.command("mark")
def mark_command(
    ctx: typer.Context,
    case: CaseArgument,
    notice: NoticeArgument,
    new_state: Annotated[
        str,
        typer.Argument(metavar="STATE", help="sent, acknowledged, removed, refused or no-answer."),
    ],
    at: Annotated[
        str,
        typer.Option(
            "--at",
            help="When it happened: 'now', '2026-11-30 14:05' (in --tz) or ISO 8601 with an "
            "offset.",
        ),
    ] = "now",
    tz: ZoneOption = None,
    reference: Annotated[
        str | None, typer.Option(help="The platform's ticket or case number.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="What they said, briefly.")] = None,
    anyway: Annotated[
        bool, typer.Option("--anyway", help="Mark a draft that is not ready as sent.")
    ] = False,
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Record what happened to a notice (in the case's tamper-evident log), with the time:
    sent, acknowledged, removed, refused or no-answer."""
    from leakshield.notices import deadline_of, parse_when, read_case, record_state, show_time

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    now = utc_now()
    with opened_case(state, case, passphrase_file) as (settings, opened):
        zone = _zone(settings, tz)
        when = parse_when(at, zone, now=now)
        found = read_case(opened).notice(notice)
        updated = record_state(
            opened,
            found,
            new_state,
            when,
            now=now,
            reference=reference,
            note=note,
            anyway=anyway,
            actor=actor,
        )
    deadline = deadline_of(updated)
    human = f"{updated.id} marked {updated.state} at {show_time(when, zone)}"
    if deadline is not None and not updated.closed:
        who = updated.draft.deadline_who or "the platform"
        human += f"; {who} must act by {show_time(deadline, zone)}"
    record = {**updated.to_record(), "deadline": deadline.isoformat() if deadline else None}
    state.output.result(record, escape(human))


@notice_app.command("due")
def due_command(
    ctx: typer.Context,
    cases: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[CASE]...", help="Cases to look at (default: every case that opens)."
        ),
    ] = None,
    within: Annotated[float, typer.Option(help="Also list deadlines this many hours away.")] = 24.0,
    tz: ZoneOption = None,
    passphrase_file: PassphraseOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """What is overdue, and what falls due soon: every sent request whose platform has
    not acted by the regime's deadline, and the next step (escalate, recheck)."""
    from leakshield.evidence import CaseBusyError, DamagedCaseError, PassphraseError, Vault
    from leakshield.notices import describe_left, due, read_case, show_time

    if not 0 <= within <= 24 * 365:
        raise UsageError("--within is a number of hours, 0 to 8,760")
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    settings = state.settings().settings
    zone, now = _zone(settings, tz), utc_now()
    vault = Vault(settings.data_dir / "cases")
    wanted = cases or [s.id for s in vault.summaries()]
    if not wanted:
        state.output.result({}, "no cases yet (`leakshield case new TITLE`)")
        return
    passphrase = _passphrase(passphrase_file)
    stderr = Console(stderr=True, highlight=False)
    table = Table("case", "notice", "platform", "regime", "state", "deadline", "", "next")
    found = 0
    for reference in wanted:
        try:
            opened = vault.open(reference, passphrase)
        except PassphraseError:
            if cases:
                raise
            stderr.print(f"case {reference}: skipped (it has another passphrase)")
            continue
        except (CaseBusyError, DamagedCaseError) as exc:
            if cases:
                raise
            stderr.print(f"case {reference}: skipped ({escape(exc.message)})")
            continue
        with opened:
            notices = read_case(opened).notices
        for item in due(notices, now, timedelta(hours=within)):
            found += 1
            step = (
                f"leakshield notice escalate {opened.case_id} {item.notice.id}"
                if item.overdue
                else f"leakshield notice recheck {opened.case_id}"
            )
            draft = item.notice.draft
            record = {
                "case": opened.case_id,
                **item.notice.to_record(),
                "deadline": item.deadline.isoformat(),
                "overdue": item.overdue,
                "left_seconds": int(item.left.total_seconds()),
                "next": step,
            }
            if state.output.json_mode:
                state.output.result(record)
            table.add_row(
                opened.case_id,
                item.notice.id,
                escape(draft.platform_name),
                draft.regime_id,
                item.notice.state,
                show_time(item.deadline, zone),
                ("[red]" if item.overdue else "") + describe_left(item.left),
                step,
            )
    if not state.output.json_mode:
        state.output.result({}, table if found else f"nothing overdue or due within {within:g} h")


@notice_app.command("recheck")
def recheck_command(
    ctx: typer.Context,
    case: CaseArgument,
    notice: Annotated[
        list[str] | None,
        typer.Option("--notice", help="Only this notice's URLs (default: every sent one)."),
    ] = None,
    allow_private: AllowPrivateOption = False,
    timeout: TimeoutOption = 30.0,
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Load each reported URL again, as `case capture` does and without pulling media,
    and record whether the page still shows the content, says it was removed, or cannot
    tell (a login wall, an error)."""
    from leakshield.evidence import CaptureOptions, chromium_path
    from leakshield.notices import read_case, recheck

    check_timeout(timeout)
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    stderr = Console(stderr=True, highlight=False)
    with opened_case(state, case, passphrase_file) as (settings, opened):
        known = read_case(opened)
        targets = recheck_targets(known, notice or [])
        if not targets:
            raise UsageError("no sent notice names a URL yet; nothing to recheck")
        options = CaptureOptions(
            with_media=False,
            allow_private=allow_private or settings.capture_allow_private,
            timeout_s=timeout,
            chromium=chromium_path(settings.chromium_path),
        )
        words = {"still-there": "[red]still there[/]", "gone": "[green]gone[/]"}

        def show(observation: Observation) -> None:
            human = (
                f"{words.get(observation.outcome, '[yellow]unclear[/]')}  "
                f"{escape(observation.url)}  ({escape(observation.reason)})"
            )
            state.output.result(observation.to_record(), human)

        with stderr.status(f"rechecking {len(targets)} URL(s)"):
            recheck(
                opened,
                targets,
                notice_directory(settings),
                options,
                minor=known.profile.minor,
                actor=actor,
                on_result=show,
            )


def recheck_targets(known: CaseNotices, only: list[str]) -> list[Target]:
    """Each URL named by a sent notice (or by the notices in ``only``), once."""
    from leakshield.notices import Target

    chosen = [known.notice(n) for n in only] or [
        n for n in known.notices if n.entered("sent") is not None
    ]
    by_url: dict[str, tuple[str | None, list[str]]] = {}
    for n in chosen:
        for loc in n.draft.locations:
            _platform, ids = by_url.setdefault(loc.url, (loc.platform, []))
            ids.append(n.id)
    return [Target(url, platform, tuple(ids)) for url, (platform, ids) in by_url.items()]


@notice_app.command("plan")
def plan_command(
    ctx: typer.Context,
    case: CaseArgument,
    passphrase_file: PassphraseOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """One table: every platform where the case has evidence, the routes that apply
    there, what is done, and what to do next."""
    from leakshield.notices import case_hashes, case_locations, make_plan, read_case

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with opened_case(state, case, passphrase_file) as (settings, opened):
        directory = notice_directory(settings)
        rows = make_plan(
            read_case(opened),
            case_locations(opened, directory),
            bool(case_hashes(opened)),
            directory,
            utc_now(),
        )
    if state.output.json_mode:
        for row in rows:
            state.output.result(row.to_record())
        return
    table = Table("platform", "URLs", "routes that apply", "done", "next", show_lines=True)
    for row in rows:
        table.add_row(
            escape(row.platform),
            str(len(row.urls)) if row.urls else "",
            escape("\n".join(row.routes)),
            escape("\n".join(row.done)),
            escape(row.next),
        )
    state.output.result({}, table)


@notice_app.command("directory")
def directory_command(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only check the data files (yours included); exit 4 if bad."),
    ] = False,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """The platforms and legal regimes leakshield knows: where each takes reports, its
    deadline, and when the entry was last checked."""
    from datetime import date

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    settings = state.settings().settings
    directory = notice_directory(settings)
    stale = directory.stale(date.today())
    if check:
        message = (
            f"{len(directory.regimes)} regimes and {len(directory.platforms)} platforms: valid"
        )
        if stale:
            message += f"; checked over a year ago: {', '.join(stale)}"
        counts = {"regimes": len(directory.regimes), "platforms": len(directory.platforms)}
        state.output.result({**counts, "stale": stale}, message)
        return
    regimes = Table("regime", "name", "deadline", "checked")
    for r in directory.regimes.values():
        hours = f"{r.deadline_hours} h from {r.deadline_from}" if r.deadline_hours else ""
        if state.output.json_mode:
            state.output.result({"type": "regime", **r.model_dump(mode="json", by_alias=True)})
        regimes.add_row(r.id, escape(r.name), hours, r.checked.isoformat())
    platforms = Table("platform", "name", "kind", "routes", "checked")
    for p in directory.platforms.values():
        if state.output.json_mode:
            state.output.result({"type": "platform", **p.model_dump(mode="json", by_alias=True)})
        routes = ", ".join(route.regime for route in p.routes)
        platforms.add_row(p.id, escape(p.name), p.kind, routes, p.checked.isoformat())
    if not state.output.json_mode:
        state.output.result({}, regimes)
        state.output.result({}, platforms)
