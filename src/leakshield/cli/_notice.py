"""`leakshield notice`: removal requests drafted from a case, and who asks for them."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leakshield.cli._case import ActorOption, CaseArgument, PassphraseOption, opened_case
from leakshield.cli._root import CliState, DataDirOption, JsonOption, app
from leakshield.errors import UsageError

if TYPE_CHECKING:
    from leakshield.config import Settings
    from leakshield.notices import Directory, Notice

notice_app = typer.Typer(
    help="Removal requests: drafted from a case for each platform and legal regime, "
    "checked for every required element, tracked until the content is gone.",
    no_args_is_help=True,
)
app.add_typer(notice_app, name="notice")

NoticeArgument = Annotated[
    str, typer.Argument(metavar="NOTICE", help="The notice id (notice-0003) or number (3).")
]
SignOption = Annotated[
    bool,
    typer.Option(
        "--sign",
        help="Sign with your name and affirm the request's statements (read it first).",
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Also write it to this file: .txt (for a web form), .eml (an e-mail to send) or .pdf.",
        dir_okay=False,
        show_default=False,
    ),
]
FormatOption = Annotated[
    str | None,
    typer.Option("--format", help="text, eml or pdf (default: from --out's suffix)."),
]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")]
_PROFILE_FIELDS = (
    "name",
    "email",
    "phone",
    "address",
    "country",
    "link",
    "acting_for",
    "authority",
    "work",
)


def notice_directory(settings: Settings) -> Directory:
    """The directory: the built-in data, corrected by any files under <data dir>/notices."""
    from leakshield.notices import Directory

    overrides = settings.data_dir / "notices"
    return Directory.load(overrides if overrides.is_dir() else None)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@notice_app.command("profile")
def profile_command(
    ctx: typer.Context,
    case: CaseArgument,
    name: Annotated[str | None, typer.Option(help="Your full name (to sign with).")] = None,
    email: Annotated[str | None, typer.Option(help="The e-mail address for answers.")] = None,
    phone: Annotated[str | None, typer.Option(help="A telephone number (DMCA asks).")] = None,
    address: Annotated[str | None, typer.Option(help="A postal address (DMCA asks).")] = None,
    country: Annotated[
        str | None, typer.Option(help="Where the person depicted lives (AU, GB, US...).")
    ] = None,
    link: Annotated[
        str | None,
        typer.Option(help="Another link to a country's scheme, e.g. where the poster lives."),
    ] = None,
    acting_for: Annotated[
        str | None,
        typer.Option(help="Acting for someone else (authorised representative): their name."),
    ] = None,
    authority: Annotated[
        str | None, typer.Option(help="Why you may act for them (e.g. 'her lawyer').")
    ] = None,
    minor: Annotated[
        bool | None,
        typer.Option(
            "--minor/--adult",
            help="The person depicted was under 18 when the content was made: the case "
            "routes to NCMEC Take It Down and keeps only URLs and hashes of pages.",
            show_default=False,
        ),
    ] = None,
    copyright_holder: Annotated[
        bool | None,
        typer.Option(
            "--copyright-holder/--no-copyright-holder",
            help="You hold the copyright (you took the photo): DMCA notices apply.",
            show_default=False,
        ),
    ] = None,
    work: Annotated[
        str | None, typer.Option(help="The copyrighted work, for DMCA ('a selfie I took').")
    ] = None,
    content: Annotated[
        str | None, typer.Option(help="real, synthetic (a deepfake) or unknown.")
    ] = None,
    clear: Annotated[
        list[str] | None, typer.Option("--clear", help="Forget a detail (e.g. --clear phone).")
    ] = None,
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Who asks and for whom. Stored sealed in the case; each request takes from it only
    what its regime requires. With no option, shows what is set."""
    from leakshield.notices import check_profile, read_case, set_profile

    given: dict[str, Any] = {
        "name": name,
        "email": email,
        "phone": phone,
        "address": address,
        "country": country.upper() if country else None,
        "link": link,
        "acting_for": acting_for,
        "authority": authority,
        "minor": minor,
        "copyright_holder": copyright_holder,
        "work": work,
        "content": content,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if content is not None and content not in ("real", "synthetic", "unknown"):
        raise UsageError("--content is real, synthetic or unknown")
    for field in clear or []:
        key = field.replace("-", "_")
        if key not in _PROFILE_FIELDS:
            raise UsageError(f"--clear takes one of: {', '.join(_PROFILE_FIELDS)}")
        changes[key] = None
    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with opened_case(state, case, passphrase_file) as (_, opened):
        profile = read_case(opened).profile
        if changes:
            profile = set_profile(opened, check_profile(profile.updated(**changes)), actor)
    record = {"case": opened.case_id, **profile.to_record()}
    table = Table("detail", "value", title=f"requester details of case {opened.case_id}")
    for key, value in profile.to_record().items():
        table.add_row(key.replace("_", "-"), escape("" if value is None else str(value)))
    state.output.result(record, table)


@notice_app.command("draft")
def draft_command(
    ctx: typer.Context,
    case: CaseArgument,
    platform: Annotated[
        str, typer.Option("--platform", help="Where to send it: x, meta, google-search...")
    ],
    regime: Annotated[
        str | None,
        typer.Option(help="Under which regime (default: the platform's first that applies)."),
    ] = None,
    url: Annotated[
        list[str] | None,
        typer.Option("--url", help="A URL to name (default: the case's captures there)."),
    ] = None,
    sign: SignOption = False,
    out: OutOption = None,
    fmt: FormatOption = None,
    force: ForceOption = False,
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Draft a removal request from the case, every required element checked, and record
    it. The request is printed (paste it into the platform's form) or written with --out."""
    from leakshield.notices import draft_notice

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    _check_out(out, fmt, force)
    with opened_case(state, case, passphrase_file) as (settings, opened):
        notice = draft_notice(
            opened,
            notice_directory(settings),
            platform=platform,
            regime=regime,
            urls=url or (),
            signed=sign,
            now=utc_now(),
            actor=actor,
        )
    show_draft(state, notice, out, fmt, force, verb="drafted")


@notice_app.command("escalate")
def escalate_command(
    ctx: typer.Context,
    case: CaseArgument,
    notice: NoticeArgument,
    regime: Annotated[
        str | None, typer.Option(help="The complaint to draft (default: the first that applies).")
    ] = None,
    sign: SignOption = False,
    out: OutOption = None,
    fmt: FormatOption = None,
    force: ForceOption = False,
    passphrase_file: PassphraseOption = None,
    actor: ActorOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Draft the complaint that follows a request left unanswered past its deadline: to
    the FTC (TAKE IT DOWN Act) or to eSafety (a link to Australia)."""
    from leakshield.notices import escalate_notice

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    _check_out(out, fmt, force)
    with opened_case(state, case, passphrase_file) as (settings, opened):
        drafted = escalate_notice(
            opened,
            notice_directory(settings),
            notice,
            regime=regime,
            signed=sign,
            now=utc_now(),
            actor=actor,
        )
    show_draft(state, drafted, out, fmt, force, verb="drafted")


@notice_app.command("show")
def show_command(
    ctx: typer.Context,
    case: CaseArgument,
    notice: NoticeArgument,
    out: OutOption = None,
    fmt: FormatOption = None,
    force: ForceOption = False,
    passphrase_file: PassphraseOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """A notice as drafted, and everything that has happened to it since."""
    from leakshield.notices import read_case

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    _check_out(out, fmt, force)
    with opened_case(state, case, passphrase_file) as (_, opened):
        found = read_case(opened).notice(notice)
    show_draft(state, found, out, fmt, force, verb="is")


@notice_app.command("list")
def list_command(
    ctx: typer.Context,
    case: CaseArgument,
    passphrase_file: PassphraseOption = None,
    data_dir: DataDirOption = None,
    json: JsonOption = False,
) -> None:
    """Every notice of the case: where it went, under which regime, and its state."""
    from leakshield.notices import deadline_of, read_case, utc_text

    state = CliState.of(ctx, data_dir=data_dir, json=json)
    with opened_case(state, case, passphrase_file) as (_, opened):
        notices = read_case(opened).notices
    table = Table("notice", "platform", "regime", "state", "ready", "deadline (UTC)")
    for n in notices:
        deadline = deadline_of(n)
        record = {**n.to_record(), "deadline": utc_text(deadline) if deadline else None}
        if state.output.json_mode:
            state.output.result(record)
        table.add_row(
            n.id,
            escape(n.draft.platform_name),
            n.draft.regime_id,
            n.state,
            "yes" if n.draft.ready else "no",
            record["deadline"] or "",
        )
    if not state.output.json_mode:
        empty = "no notices yet (`leakshield notice draft CASE --platform P`)"
        state.output.result({}, table if notices else empty)


def show_draft(
    state: CliState, notice: Notice, out: Path | None, fmt: str | None, force: bool, *, verb: str
) -> None:
    """A draft: its text on stdout (or written to --out), what to know on stderr."""
    from leakshield.notices import write_draft

    draft = notice.draft
    written = write_draft(draft, out, fmt, force=force) if out is not None else None
    record = {
        **notice.to_record(),
        "text": draft.text(),
        "where": draft.where,
        "how": draft.how,
        "channel": draft.channel,
        "warnings": list(draft.warnings),
        "missing": [m.__dict__ for m in draft.missing],
        "out": str(out) if out is not None else None,
        "format": written,
    }
    if state.output.json_mode:
        state.output.result(record)
        return
    stderr = Console(stderr=True, highlight=False)
    if out is None:
        sys.stdout.write(draft.text())
        sys.stdout.flush()
    readiness = "[green]ready[/]" if draft.ready else "[red]NOT READY[/]"
    stderr.print(
        f"{notice.id} {verb} for {escape(draft.platform_name)} under "
        f"{escape(draft.regime_name)}: {readiness}"
        + (f"; written to {escape(str(out))} ({written})" if out is not None else "")
    )
    for missing in draft.missing:
        stderr.print(f"  [red]missing[/] {missing.element}: {escape(missing.reason)}")
    stderr.print(f"Send it: {escape(draft.how)}\n  {escape(draft.where)}")
    for warning in draft.warnings:
        stderr.print(f"[yellow]Note:[/] {escape(warning)}")
    for change in notice.history:
        extra = f" (reference {escape(change.reference)})" if change.reference else ""
        stderr.print(f"  {change.state} {change.at}{extra}")


def _check_out(out: Path | None, fmt: str | None, force: bool) -> None:
    """Refuse a bad --out before anything is recorded."""
    from leakshield.notices import format_for

    if fmt is not None and out is None:
        raise UsageError("--format goes with --out FILE")
    if out is not None:
        format_for(out, fmt)
        if out.exists() and not force:
            raise UsageError(f"{out} exists; choose another name or pass --force")
