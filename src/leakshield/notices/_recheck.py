"""Rechecks: load each reported URL again and say whether the content is still there.

A recheck captures the page (never its images, video or audio), reads what the page
shows and judges it: "gone" when the server or the page says the content was removed,
"still-there" when the page loads and nothing on it says so, and "unclear" otherwise
(a login wall, a block, an error). "still-there" means the page still loads without a
removal notice; the image itself is not looked at, since no media is pulled.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from leakshield.evidence._capture import Capture, CaptureOptions, Capturer
from leakshield.evidence._capture_guard import CaptureRefused
from leakshield.evidence._items import add_capture
from leakshield.evidence._vault import OpenCase, now
from leakshield.notices._model import Observation
from leakshield.notices._schema import PlatformEntry

if TYPE_CHECKING:
    from leakshield.notices._directory import Directory

__all__ = ["Outcome", "Target", "judge", "page_text", "recheck"]

Outcome = Literal["still-there", "gone", "unclear"]

_GONE = {404: "not found", 410: "gone", 451: "unavailable for legal reasons"}
_UNCLEAR = {
    401: "the site asks to log in",
    403: "the site refused to show the page (sites often refuse automated browsers)",
    429: "the site asked for fewer requests; try again later",
}
_MEDIA_TYPES = ("image/", "video/", "audio/")
_STILL_THERE = "nothing on the page says it was removed"
# Apostrophes and quotes that pages print in place of the plain ones.
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Target:
    """A reported URL to recheck, the platform it is on, and the notices that named it."""

    url: str
    platform: str | None  # the directory's id
    notices: tuple[str, ...] = ()


def judge(capture: Capture, page_text: str, platform: PlatformEntry | None) -> tuple[Outcome, str]:
    """Whether a captured page still shows the content, and why, in words.

    The server's word counts first (404, 410, 451: gone), then the page's own words
    (the platform's removed markers: gone; its login markers: unclear). A page that
    loaded whole with HTTP 2xx or 3xx and says neither is "still-there".
    """
    status = capture.status
    if status is None:
        return "unclear", capture.error or "the page gave no answer"
    if status in _GONE:
        return "gone", f"HTTP {status} ({_GONE[status]})"
    shown = _normal(f"{capture.title or ''}\n{page_text}")
    if platform is not None:
        for phrase in platform.removed_markers:
            if _normal(phrase) in shown:
                return "gone", f"the page says '{phrase}'"
        for phrase in platform.login_markers:
            if _normal(phrase) in shown:
                return "unclear", f"a login wall hides the page (it says '{phrase}')"
    if status in _UNCLEAR:
        return "unclear", f"HTTP {status}: {_UNCLEAR[status]}"
    if status >= 500:
        return "unclear", f"HTTP {status}: the site had a server error; try again later"
    if status >= 400:
        return "unclear", f"HTTP {status}: the site did not show the page"
    kind = _header(capture, "content-type")
    if kind.lower().startswith(_MEDIA_TYPES):
        # The address is a picture or a video itself: the server still hands it out,
        # which is all a recheck can tell without pulling it.
        media = kind.split(";")[0].strip()
        return "still-there", f"HTTP {status}: the address still serves the file ({media})"
    if capture.error:
        return "unclear", f"HTTP {status}, but the page did not load whole: {capture.error}"
    return "still-there", f"HTTP {status} and {_STILL_THERE}"


def page_text(html: str, limit: int = 2_000_000) -> str:
    """The text a page shows: scripts, styles, templates and hidden elements left out,
    one line per block, at most ``limit`` characters read and given."""
    reader = _TextReader(limit)
    reader.feed(html[:limit])
    reader.close()
    return reader.text()


def recheck(
    case: OpenCase,
    targets: Sequence[Target],
    directory: Directory,
    options: CaptureOptions,
    *,
    minor: bool,
    actor: str | None = None,
    on_result: Callable[[Observation], None] | None = None,
) -> list[Observation]:
    """Capture each target again in one browser and record what it showed.

    Media is never pulled, whatever ``options`` say. The capture goes into the case as
    an evidence item, except in a ``minor``'s case, where nothing of the page is kept:
    only the URL, the outcome, the status and the screenshot's SHA-256. Each target
    gives one "notice-rechecked" log record, and ``on_result`` hears of it at once.
    """
    options = replace(options, with_media=False)
    observations: list[Observation] = []
    if not targets:
        return observations
    workspace = case.files.workspace()
    try:
        with Capturer(options.chromium) as capturer:
            for number, target in enumerate(targets, 1):
                workdir = workspace / f"{number:04d}"
                try:
                    observation = _recheck_one(
                        case, capturer, target, workdir, directory, options, minor, actor
                    )
                finally:
                    # The page's files lie unsealed here: gone as soon as they are sealed.
                    shutil.rmtree(workdir, ignore_errors=True)
                observations.append(observation)
                if on_result is not None:
                    on_result(observation)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return observations


def _recheck_one(
    case: OpenCase,
    capturer: Capturer,
    target: Target,
    workdir: Path,
    directory: Directory,
    options: CaptureOptions,
    minor: bool,
    actor: str | None,
) -> Observation:
    platform = directory.platforms.get(target.platform) if target.platform else None
    try:
        capture = capturer.capture(target.url, workdir, options)
    except CaptureRefused as exc:
        # One bad address (not http, or a private one) must not stop the others.
        observation = Observation(
            url=target.url,
            outcome="unclear",
            reason=exc.message,
            checked_at=now(),
            platform=target.platform,
            notices=target.notices,
        )
    else:
        outcome, reason = judge(capture, _read_text(capture), platform)
        item = None if minor else add_capture(case, capture, actor=actor).id
        observation = Observation(
            url=target.url,
            outcome=outcome,
            reason=reason,
            checked_at=_seconds(capture.captured_at),
            status=capture.status,
            final_url=capture.final_url,
            platform=target.platform,
            capture_item=item,
            screenshot_sha256=_screenshot_sha256(capture),
            notices=target.notices,
        )
    case.append("notice-rechecked", None, {"observation": observation.to_record()}, actor)
    return observation


def _read_text(capture: Capture, limit: int = 2_000_000) -> str:
    """The visible text of the capture's page.html, or "" when it kept none."""
    html = next((p for p in capture.files if p.name == "page.html"), None)
    if html is None:
        return ""
    with html.open("rb") as source:
        # At most four bytes a character in UTF-8: enough for `limit` characters.
        data = source.read(4 * limit)
    return page_text(data.decode("utf-8", errors="replace"), limit)


def _screenshot_sha256(capture: Capture) -> str | None:
    shot = next((p for p in capture.files if p.name == "screenshot.png"), None)
    if shot is None:
        return None
    digest = hashlib.sha256()
    with shot.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _seconds(captured_at: str) -> str:
    """A capture's time as the log writes times: UTC, to the second, with +00:00."""
    moment = datetime.fromisoformat(captured_at.replace("Z", "+00:00"))
    return moment.replace(microsecond=0).isoformat()


def _header(capture: Capture, name: str) -> str:
    return next((v for k, v in capture.headers.items() if k.lower() == name), "")


def _normal(text: str) -> str:
    """``text`` for comparing phrases: NFKC ("…" is "..."), one kind of apostrophe,
    whitespace collapsed, case folded."""
    folded = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACE.sub(" ", folded).strip().casefold()


# Elements whose content a reader never sees.
_UNSEEN = frozenset({"script", "style", "template", "noscript", "title"})
# Elements without an end tag: never something to skip the inside of.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# Elements that start a new line of text.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "details", "dialog",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1",
        "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
        "pre", "section", "summary", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip


class _TextReader(HTMLParser):
    """Collects a page's visible text, up to a limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self._limit = limit
        self._size = 0
        self._parts: list[str] = []
        self._skip: tuple[str, int] | None = None  # the unseen element we are in, and depth

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip is not None:
            name, depth = self._skip
            if tag == name and tag not in _VOID:
                self._skip = (name, depth + 1)
            return
        hidden = any(key == "hidden" for key, _ in attrs)
        if (tag in _UNSEEN or hidden) and tag not in _VOID:
            self._skip = (tag, 1)
        elif tag in _BLOCKS:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skip is not None:
            name, depth = self._skip
            if tag == name:
                self._skip = (name, depth - 1) if depth > 1 else None
            return
        if tag in _BLOCKS:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip is None and self._size < self._limit:
            data = data[: self._limit - self._size]
            self._parts.append(data)
            self._size += len(data)

    def text(self) -> str:
        lines = (_SPACE.sub(" ", line).strip() for line in "".join(self._parts).split("\n"))
        return "\n".join(line for line in lines if line)
