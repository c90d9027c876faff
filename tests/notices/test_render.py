"""Rendering a drafted notice: the text, an e-mail draft that gives every URL back exactly,
and an HTML/PDF page that shows the request (and only the request), escaped and fetching
nothing, with a banner on an incomplete one; and writing it to a file safely."""

from __future__ import annotations

import email
import email.policy
import email.utils
import logging
import os
import re
import stat
import sys
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from leakshield.errors import UsageError
from leakshield.notices._model import Draft, Location, Missing, Section
from leakshield.notices._render import (
    format_for,
    render_eml,
    render_html,
    render_text,
    write_draft,
)

LONG_URL = "https://cdn.example.com/media/" + "a1B2-_~" * 210 + "?sig=" + "%2F%3D" * 8
URLS = [
    LONG_URL,
    "https://x.com/someone/status/1234567890?s=20&t=AbC",
    "https://example.org/path%20with%20spaces/%E2%9C%93?q=%22quoted%22#frag",
    "https://例え.jp/パス/画像.jpg?name=ümlaut",
    "https://example.net/a'b\"c<d>e&f=g;h",
]
HOSTILE = '<script>alert(1)</script>"><img src="file:///etc/hostname"> & more'
# Every tag a notice page may contain; anything else came from a hostile string.
NOTICE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "div", "p", "ul", "li", "h1", "h2",
    "section", "footer",
}  # fmt: skip
WHEN = datetime(2026, 3, 28, 12, 30, tzinfo=UTC)


def draft(**changes: Any) -> Draft:
    base = Draft(
        notice_id="ntc-0001",
        case_id="case-42",
        platform_id="x",
        platform_name="X",
        regime_id="us-take-it-down",
        regime_name="TAKE IT DOWN Act",
        route_name="Take It Down web form",
        channel="email",
        where="https://help.x.com/forms/take-it-down",
        how="HOW-TO: open the form and paste the text.",
        subject="Removal request under the TAKE IT DOWN Act",
        sections=(
            Section("opening", "", "I ask you to remove intimate images of me."),
            Section("locations", "Where the content is", "\n".join(URLS)),
            Section(
                "statement", "Good faith", "I believe in good faith\nthat it is not consensual."
            ),
            Section("signature", "Signature", "/Jane Doe/"),
        ),
        ready=True,
        missing=(),
        warnings=("WARNING-FOR-REQUESTER: the platform may forward this.",),
        locations=tuple(Location(url) for url in URLS),
        drafted_at="2026-03-28T14:00:00+02:00",
        to_email="abuse@x.com",
        from_email="jane@example.org",
    )
    return replace(base, **changes)


def not_ready() -> Draft:
    return draft(
        ready=False,
        missing=(
            Missing("signature", "a physical or electronic signature", "run: notice profile"),
            Missing("contact", "information to contact the requester", "add an e-mail"),
        ),
    )


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage) -> str:
    content = message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # the file's lines end CRLF, as e-mail's do


class Page(HTMLParser):
    """What a browser would act on: the tags, and the text inside each kind of element."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag != "meta":  # the only void element a notice has
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self._open.pop() == tag

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.text.setdefault(self._open[-1], []).append(data)


def test_text_is_the_draft_text() -> None:
    assert render_text(draft()) == draft().text()


@pytest.mark.parametrize(
    "sections",
    [
        (Section("locations", "Where", "\n".join(URLS)),),  # long lines and non-ASCII
        (Section("locations", "Where", URLS[1]),),  # short ASCII: sent as it is
        (Section("locations", "Where", LONG_URL + "\n" + URLS[2]),),  # long ASCII
        (Section("locations", "Où", "é " + URLS[4]),),  # short non-ASCII
    ],
)
def test_the_eml_gives_the_draft_back_exactly(sections: tuple[Section, ...]) -> None:
    notice = draft(sections=sections, subject="Demande de retrait — « contenu » " * 4)
    message = parsed(render_eml(notice, when=WHEN))
    assert message["To"] == "abuse@x.com"
    assert message["From"] == "jane@example.org"
    assert message["Subject"] == notice.subject
    assert email.utils.parsedate_to_datetime(message["Date"]) == WHEN
    assert message["X-Unsent"] == "1"
    assert message.get_content_type() == "text/plain"
    assert body(message) == notice.text()
    for url in sections[0].text.split("\n"):
        if url.startswith("https://"):
            assert url in body(message).split("\n")


def test_every_url_survives_the_eml_byte_for_byte() -> None:
    text = body(parsed(render_eml(draft())))
    found = [line for line in text.split("\n") if line.startswith("https://")]
    assert found == URLS
    assert len(found[0]) > 1_500


def test_the_eml_is_dated_now_by_default_and_leaves_out_unknown_addresses() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = parsed(render_eml(draft(to_email=None, from_email=None)))
    assert "To" not in message
    assert "From" not in message
    assert before <= email.utils.parsedate_to_datetime(message["Date"]) <= datetime.now(UTC)


def test_an_internationalised_domain_goes_out_as_punycode() -> None:
    message = parsed(render_eml(draft(to_email="abuse@exämple.com")))
    assert message["To"] == "abuse@xn--exmple-cua.com"


@pytest.mark.parametrize("field", ["subject", "to_email", "from_email"])
@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r", "\u2028", "\x85"])
def test_a_line_break_in_a_header_is_refused(field: str, breaker: str) -> None:
    value = f"abuse@x.com{breaker}Bcc: everyone@example.com"
    with pytest.raises(UsageError, match="line break"):
        render_eml(draft(**{field: value}))


@pytest.mark.parametrize("field", ["to_email", "from_email"])
@pytest.mark.parametrize(
    "value", ["abuse@x.com, everyone@example.com", "Someone <abuse@x.com>", "no-at-sign", "@x"]
)
def test_an_address_must_be_one_plain_address(field: str, value: str) -> None:
    with pytest.raises(UsageError, match="not one e-mail address"):
        render_eml(draft(**{field: value}))


def test_the_page_shows_the_request_in_order_and_nothing_for_the_requester() -> None:
    html = render_html(draft())
    page = Page(html)
    assert page.text["h1"] == ["Removal request under the TAKE IT DOWN Act"]
    assert page.text["h2"] == ["Where the content is", "Good faith", "Signature"]
    texts = page.text["div"]
    assert texts == [section.text for section in draft().sections]  # line breaks kept
    assert html.index("I ask you to remove") < html.index(LONG_URL) < html.index("/Jane Doe/")
    assert "white-space: pre-wrap" in html
    assert "overflow-wrap: anywhere" in html
    assert "WARNING-FOR-REQUESTER" not in html
    assert "HOW-TO" not in html
    assert "NOT READY" not in html
    footer = page.text["p"][-1]
    assert footer == (
        "Drafted with leakshield on 2026-03-28 12:00:00 UTC; notice ntc-0001, case case-42"
    )


def test_the_page_runs_nothing_and_loads_nothing() -> None:
    html = render_html(draft())
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    assert "default-src 'none'" in policy.group(1)
    assert "script" not in Page(html).tags
    assert "src=" not in html
    assert "href=" not in html


def test_hostile_strings_are_shown_as_text_never_as_markup() -> None:
    notice = draft(
        subject=HOSTILE,
        notice_id=HOSTILE,
        sections=(Section("statement", HOSTILE, HOSTILE),),
        ready=False,
        missing=(Missing("x", HOSTILE, HOSTILE),),
    )
    html = render_html(notice)
    page = Page(html)
    assert set(page.tags) <= NOTICE_TAGS
    assert "<script>" not in html
    assert page.text["div"] == [HOSTILE]  # the reader sees the very characters drafted
    assert page.text["h1"] == [HOSTILE]


def test_an_incomplete_draft_carries_a_banner_naming_what_is_missing() -> None:
    page = Page(render_html(not_ready()))
    banner = page.text["p"][0]
    assert banner == (
        "DRAFT — NOT READY: missing a physical or electronic signature; "
        "information to contact the requester"
    )
    assert page.text["li"] == ["run: notice profile", "add an e-mail"]
    assert page.text["title"][0].startswith("DRAFT — NOT READY")


@pytest.mark.parametrize(
    ("notice", "banner"),
    [
        (draft(), None),
        (draft(ready=False), "DRAFT — NOT READY"),
        # Inconsistent, but a draft that lacks something is never shown as finished.
        (draft(missing=(Missing("contact", "contact details", ""),)), "missing contact details"),
    ],
)
def test_the_banner_appears_only_on_a_draft_that_is_not_ready(
    notice: Draft, banner: str | None
) -> None:
    html = render_html(notice)
    if banner is None:
        assert "NOT READY" not in html
        assert 'class="not-ready"' not in html
    else:
        assert banner in Page(html).text["p"][0]


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("notice.txt", None, "text"),
        ("notice.eml", None, "eml"),
        ("notice.pdf", None, "pdf"),
        ("NOTICE.PDF", None, "pdf"),
        ("notice.pdf", "eml", "eml"),
        ("notice", "text", "text"),
        ("notice.out", "PDF", "pdf"),
    ],
)
def test_the_format_comes_from_the_option_else_the_suffix(
    name: str, fmt: str | None, expected: str
) -> None:
    assert format_for(Path(name), fmt) == expected


@pytest.mark.parametrize(
    ("name", "fmt"), [("notice.docx", None), ("notice", None), ("n.txt", "md")]
)
def test_an_unknown_format_is_refused(name: str, fmt: str | None, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="format"):
        write_draft(draft(), tmp_path / name, fmt)
    assert list(tmp_path.iterdir()) == []


def test_write_draft_writes_text_and_eml_by_suffix_for_the_owner_only(tmp_path: Path) -> None:
    assert write_draft(draft(), tmp_path / "notice.txt") == "text"
    assert (tmp_path / "notice.txt").read_text(encoding="utf-8") == draft().text()
    assert write_draft(draft(), tmp_path / "notice.eml") == "eml"
    assert body(parsed((tmp_path / "notice.eml").read_bytes())) == draft().text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notice.eml", "notice.txt"]
    if sys.platform != "win32":
        for path in tmp_path.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_draft_replaces_a_file_only_when_forced(tmp_path: Path) -> None:
    target = tmp_path / "notice.txt"
    target.write_text("an older notice", encoding="utf-8")
    target.chmod(0o644)
    with pytest.raises(UsageError, match="--force"):
        write_draft(draft(), target)
    assert target.read_text(encoding="utf-8") == "an older notice"
    write_draft(draft(), target, force=True)
    assert target.read_text(encoding="utf-8") == draft().text()
    if sys.platform != "win32":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")
def test_write_draft_does_not_write_through_a_dangling_link(tmp_path: Path) -> None:
    link = tmp_path / "notice.txt"
    link.symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(UsageError, match="exists"):
        write_draft(draft(), link)
    assert not (tmp_path / "elsewhere.txt").exists()


def pdf_streams(data: bytes) -> list[bytes]:
    """Every stream of the PDF, inflated where it is compressed."""
    streams = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL):
        try:
            streams.append(zlib.decompress(match.group(1)))
        except zlib.error:
            streams.append(match.group(1))
    return streams


def test_the_pdf_is_the_page_with_no_picture_and_no_local_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # One render covers it all: a PDF costs about half a second.
    notice = replace(not_ready(), sections=(*draft().sections, Section("x", HOSTILE, HOSTILE)))
    target = tmp_path / "notice.pdf"
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        assert write_draft(notice, target) == "pdf"
    data = target.read_bytes()
    assert data.startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir()] == ["notice.pdf"]
    if sys.platform != "win32":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # The hostile <img> stayed text: nothing was fetched, nothing was even tried.
    assert not [r for r in caplog.records if "data: URIs" in r.getMessage()]
    everything = b"\n".join([data, *pdf_streams(data)])
    assert b"/Subtype /Image" not in everything
    assert b"/Subtype/Image" not in everything
    for local in {tmp_path, Path.cwd(), Path.home(), Path(sys.prefix)}:
        assert os.fsencode(local) not in everything
    # No link, action or file reference: the PDF only shows text.
    for action in (b"/URI", b"/Launch", b"/JavaScript", b"/EmbeddedFile"):
        assert action not in everything
