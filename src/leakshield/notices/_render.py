"""A drafted notice as the file the requester sends: plain text, an e-mail draft, or a PDF.

The text and the e-mail's body are ``Draft.text()`` exactly, so what is pasted into a
web form, mailed, or printed says the same thing. The HTML behind the PDF carries the
request only (never the warnings or the how-to, which are for the requester), and a
draft that lacks a required element says so in a banner at the top, so an incomplete
notice is never mistaken for a finished one. Every string may come from a hostile page
or data file: the template escapes all of it, an e-mail header refuses line breaks, and
the PDF renderer fetches nothing.
"""

from __future__ import annotations

import email.errors
import email.policy
import email.utils
import unicodedata
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, get_args

import jinja2

from leakshield._files import atomic_output
from leakshield._pdf import pdf_bytes
from leakshield.errors import UsageError
from leakshield.notices._model import Draft

__all__ = [
    "Format",
    "format_for",
    "render_eml",
    "render_html",
    "render_pdf",
    "render_text",
    "write_draft",
]

Format = Literal["text", "eml", "pdf"]
FORMATS: tuple[Format, ...] = get_args(Format)
SUFFIXES: dict[str, Format] = {".txt": "text", ".eml": "eml", ".pdf": "pdf"}

_TEMPLATES = jinja2.Environment(
    # The forensics loader second: a notice builds on the reports' stylesheet (report.css).
    loader=jinja2.ChoiceLoader(
        [
            jinja2.PackageLoader("leakshield.notices", "templates"),
            jinja2.PackageLoader("leakshield.forensics", "templates"),
        ]
    ),
    autoescape=True,  # the template is .html.j2, which select_autoescape would not match
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_text(draft: Draft) -> str:
    """The request as plain text, for a web form or a letter: exactly ``draft.text()``."""
    return draft.text()


def render_eml(draft: Draft, *, when: datetime | None = None) -> bytes:
    """The request as an unsent e-mail (``.eml``) that a mail client opens as a draft.

    ``when`` is the Date header (default: now; a naive time is taken as UTC). The body is
    ``draft.text()`` in UTF-8; whatever transfer encoding the body gets, decoding it gives
    every URL back byte for byte. A header value with a line break is refused, so nothing
    in a draft can add a header or a recipient.
    """
    message = EmailMessage(policy=email.policy.SMTP)
    if draft.to_email:
        message["To"] = _address("recipient's address", draft.to_email)
    if draft.from_email:
        message["From"] = _address("requester's address", draft.from_email)
    message["Subject"] = _header_text("subject", draft.subject)
    moment = when or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    message["Date"] = email.utils.format_datetime(moment.astimezone(UTC))
    # Outlook and others open a message marked so as a draft to edit and send.
    message["X-Unsent"] = "1"
    message.set_content(draft.text(), charset="utf-8")
    return bytes(message)


def render_html(draft: Draft) -> str:
    """The request as one self-contained HTML page (no scripts, nothing fetched)."""
    not_ready = not draft.ready or bool(draft.missing)
    return _TEMPLATES.get_template("notice.html.j2").render(
        subject=draft.subject,
        sections=draft.sections,
        not_ready=not_ready,
        missing=[m.text or m.element for m in draft.missing],
        reasons=[m.reason for m in draft.missing if m.reason],
        drafted_at=_utc(draft.drafted_at),
        notice_id=draft.notice_id,
        case_id=draft.case_id,
    )


def render_pdf(draft: Draft) -> bytes:
    """The request as PDF (the page of ``render_html``); needs the Pango library."""
    return pdf_bytes(render_html(draft))


def format_for(path: Path, fmt: str | None) -> Format:
    """The format to write ``path`` in: ``fmt`` when given, else the one its suffix names."""
    if fmt is not None:
        chosen = fmt.strip().lower()
        for known in FORMATS:
            if chosen == known:
                return known
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    by_suffix = SUFFIXES.get(path.suffix.lower())
    if by_suffix is None:
        raise UsageError(
            f"cannot tell which format to write {path.name} in; name it .txt, .eml or .pdf, "
            f"or pass --format ({', '.join(FORMATS)})"
        )
    return by_suffix


def write_draft(draft: Draft, path: Path, fmt: str | None = None, *, force: bool = False) -> Format:
    """Write ``draft`` to ``path`` (whole or not at all, owner-only) and return the format.

    An existing ``path`` is replaced only with ``force``; the format comes from ``fmt``
    or else from the suffix (see ``format_for``).
    """
    chosen = format_for(path, fmt)
    # is_symlink: a dangling link does not "exist", but writing through it was not asked for.
    if not force and (path.exists() or path.is_symlink()):
        raise UsageError(f"{path} exists; choose another name or pass --force")
    if chosen == "text":
        data = render_text(draft).encode("utf-8")
    elif chosen == "eml":
        data = render_eml(draft)
    else:
        data = render_pdf(draft)
    # atomic_output's file is created readable by its owner only (0600), and stays so: a
    # notice names the requester and where the images are.
    with atomic_output(path) as handle:
        handle.write(data)
    return chosen


def _header_text(what: str, value: str) -> str:
    # The email package refuses CR and LF itself, with a ValueError; this names the field
    # and also catches the other characters that end a line somewhere (NEL, U+2028, VT).
    if any(c != "\t" and unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value):
        raise UsageError(
            f"the {what} contains a line break or control character, which an e-mail header "
            f"cannot hold: {value[:80]!r}. Correct it and draft the notice again."
        )
    return value


def _address(what: str, value: str) -> Address:
    text = _header_text(what, value).strip()
    try:
        address = Address(addr_spec=text)
    except (ValueError, email.errors.HeaderParseError):  # header defects are ValueErrors
        address = None
    if address is None or not address.username or not address.domain:
        raise UsageError(f"the {what} {value[:80]!r} is not one e-mail address; correct it")
    domain = address.domain
    if not domain.isascii():
        # An internationalised domain goes into the header as its ASCII (punycode) form.
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise UsageError(
                f"the {what} {value[:80]!r} has a domain that cannot be encoded; correct it"
            ) from None
    return Address(username=address.username, domain=domain)


def _utc(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        return f"{moment:%Y-%m-%d %H:%M:%S} (time zone not recorded)"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
