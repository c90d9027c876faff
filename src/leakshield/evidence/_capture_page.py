"""One capture in a launched browser: load the page, then keep what it shows."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Request, Response, Route
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from leakshield.evidence._capture import Capture, CaptureOptions, refused, utc_now
from leakshield.evidence._capture_proxy import EgressProxy
from leakshield.evidence._capture_record import describe, write_headers
from leakshield.evidence._capture_shot import take_screenshot

__all__ = ["run_capture"]

_MEDIA_RESOURCES = frozenset({"image", "media"})
_MEDIA_DOCUMENTS = ("image/", "video/", "audio/")
# After "load", how long to let late requests (scripts filling the page) finish.
_SETTLE_S = 2.0
# Past the page's own timeout, how long keeping its files may take before the
# browser is killed (a page whose scripts never yield would hang us otherwise).
_GRACE_S = 30.0


@dataclass
class _Trace:
    """The main frame's navigations: every request (redirect hops too), every response."""

    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)


@dataclass
class _Outcome:
    """What loading the page gave: the document's response and any problems."""

    response: Response | None = None
    problems: list[str] = field(default_factory=list)
    keep_files: bool = True
    cut: bool = False  # Past the size limit, and said so.


def run_capture(
    browser: Browser,
    url: str,
    workdir: Path,
    options: CaptureOptions,
    proxy: EgressProxy,
    versions: dict[str, str],
) -> Capture:
    """Capture `url` in a fresh context of `browser`, its traffic through `proxy`."""
    width, height = options.viewport
    context = browser.new_context(
        viewport={"width": width, "height": height},
        accept_downloads=False,
        service_workers="block",
    )
    watchdog = _Watchdog(browser, options.timeout_s + _GRACE_S)
    trace = _Trace()
    try:
        page = context.new_page()
        _watch(page, trace)
        if not options.with_media:
            context.route("**/*", _without_media)
        outcome = _load(page, url, options, proxy, trace)
        _raise_if_refused(url, trace, proxy)
        captured_at = utc_now()
        files: list[Path] = []
        if outcome.keep_files:
            files = _keep(page, context, workdir, options, captured_at, outcome)
        response = trace.responses[-1] if trace.responses else outcome.response
        described = describe(page, response, trace.requests, outcome.keep_files)
        if described.status is not None:
            host = (urlsplit(described.final_url or url).hostname or "").lower()
            server = proxy.connected.get(host)
            files.append(write_headers(workdir, url, described, server, captured_at))
    except PlaywrightError as exc:
        # The page navigated away mid-way, or the watchdog killed a stuck browser.
        _raise_if_refused(url, trace, proxy)
        why = "stopped answering" if watchdog.fired.is_set() else "could not be kept"
        return _failed(url, options, versions, f"the page {why} ({_first_line(exc)})")
    finally:
        watchdog.cancel()
        _close_quietly(context)
    if proxy.over_budget and not outcome.cut:
        outcome.problems.append(
            f"loading the page passed the size limit of {options.max_bytes:,} bytes, "
            "so loading was stopped; what had loaded is kept"
        )
    return Capture(
        url=url,
        final_url=described.final_url,
        redirects=described.redirects,
        status=described.status,
        headers=described.headers,
        title=described.title,
        captured_at=captured_at,
        tool_versions=versions,
        files=tuple(files),
        error="; ".join(outcome.problems) or None,
        with_media=options.with_media,
    )


def _watch(page: Page, trace: _Trace) -> None:
    """Record the main frame's navigation requests and document responses in `trace`."""

    def on_request(request: Request) -> None:
        if request.is_navigation_request() and request.frame == page.main_frame:
            trace.requests.append(request)

    def on_response(response: Response) -> None:
        if response.request in trace.requests:
            trace.responses.append(response)

    page.on("request", on_request)
    page.on("response", on_response)


def _without_media(route: Route) -> None:
    if route.request.resource_type in _MEDIA_RESOURCES:
        route.abort("blockedbyclient")
    else:
        route.continue_()


def _load(
    page: Page, url: str, options: CaptureOptions, proxy: EgressProxy, trace: _Trace
) -> _Outcome:
    """Navigate and wait for the page, within the capture's timeout."""
    deadline = time.monotonic() + options.timeout_s
    try:
        response = page.goto(url, wait_until="commit", timeout=_ms_left(deadline))
    except PlaywrightTimeoutError:
        return _Outcome(None, [f"the page did not answer within {options.timeout_s:g} s"], False)
    except PlaywrightError as exc:
        if proxy.over_budget:
            return _Outcome(None, [_too_large(options)], False, cut=True)
        return _Outcome(None, [_failure(exc, url, trace, proxy)], False)
    outcome = _Outcome(response)
    kind = (response.header_value("content-type") or "") if response else ""
    if not options.with_media and kind.lower().startswith(_MEDIA_DOCUMENTS):
        outcome.problems.append(
            f"{response.url if response else url} is itself a media file ({kind}), not a "
            "page; it was not kept, since the capture was made without media"
        )
        outcome.keep_files = False
        return outcome
    if not _wait_loaded(page, deadline, proxy):
        if proxy.over_budget:
            _cut_off(page, options, outcome)
        elif _evaluate(page, "document.readyState") == "loading":
            outcome.problems.append(
                f"the page did not finish loading within {options.timeout_s:g} s; "
                "what it showed by then is kept"
            )
    settle = min(_SETTLE_S, deadline - time.monotonic())
    if settle > 0 and not proxy.over_budget:
        # Pages that never fall quiet are common; "load" is what counts.
        with contextlib.suppress(PlaywrightTimeoutError):
            page.wait_for_load_state("networkidle", timeout=settle * 1000)
    if page.url.startswith("chrome-error:"):
        last = trace.requests[-1].url if trace.requests else url
        outcome.problems.append(f"the page moved on to {last}, which did not load")
        outcome.keep_files = False
    return outcome


def _cut_off(page: Page, options: CaptureOptions, outcome: _Outcome) -> None:
    """Note that the page passed the size limit, and end its loading."""
    outcome.cut = True
    # The cut-off document would stay "loading" for ever: end it here.
    with contextlib.suppress(PlaywrightError):
        page.evaluate("window.stop()")
    if not _evaluate(page, "!!document.documentElement"):
        # Chromium shows nothing of a document cut before its first part was parsed.
        outcome.problems.append(_too_large(options))
        outcome.keep_files = False
        return
    outcome.problems.append(
        f"the page and its resources passed the size limit of {options.max_bytes:,} "
        "bytes, so loading was stopped; what had loaded is kept"
    )


def _too_large(options: CaptureOptions) -> str:
    return (
        f"the page is larger than the size limit of {options.max_bytes:,} bytes; "
        "none of it could be kept"
    )


def _wait_loaded(page: Page, deadline: float, proxy: EgressProxy) -> bool:
    """Wait for the page's "load" until the deadline or the size limit; True if it came."""
    while True:
        try:
            page.wait_for_load_state("load", timeout=min(250.0, _ms_left(deadline)))
        except PlaywrightTimeoutError:
            if proxy.over_budget or time.monotonic() >= deadline:
                return False
        else:
            return True


def _failure(exc: PlaywrightError, url: str, trace: _Trace, proxy: EgressProxy) -> str:
    """Why the page did not load, in words: the proxy's reason when it has one."""
    last = trace.requests[-1].url if trace.requests else url
    host = urlsplit(last).hostname or ""
    reason = proxy.problem(host) if host else None
    if reason:
        return reason if last == url else f"{url} led to {last}: {reason}"
    message = _first_line(exc)
    if "Download is starting" in message:
        return f"{last} is a download, not a page"
    if "ERR_ABORTED" in message:
        return f"{last} gave nothing to show (an empty answer, or a download)"
    return message


def _raise_if_refused(url: str, trace: _Trace, proxy: EgressProxy) -> None:
    """Refuse the capture if the page itself (not an image or script) was led to a
    refused address, by a redirect or by its own scripts."""
    for request in trace.requests:
        host = urlsplit(request.url).hostname or ""
        reason = proxy.refused.get(host.lower().strip("[]"))
        if reason:
            raise refused(url, request.url, reason)


def _keep(
    page: Page,
    context: BrowserContext,
    workdir: Path,
    options: CaptureOptions,
    captured_at: str,
    outcome: _Outcome,
) -> list[Path]:
    """Write the screenshot, the rendered HTML and the MHTML archive."""
    workdir.mkdir(parents=True, exist_ok=True)
    cdp = context.new_cdp_session(page)
    files: list[Path] = []
    timeout_ms = max(options.timeout_s, 10.0) * 1000
    try:
        files.append(
            take_screenshot(page, cdp, workdir / "screenshot.png", captured_at, timeout_ms)
        )
    except PlaywrightError as exc:
        outcome.problems.append(f"no screenshot: {_first_line(exc)}")
    for name in ("page.html", "page.mhtml"):
        try:
            if name == "page.html":
                content = page.content().encode("utf-8")
            else:
                snapshot = cdp.send("Page.captureSnapshot", {"format": "mhtml"})
                content = str(snapshot["data"]).encode("utf-8")
        except PlaywrightError as exc:
            outcome.problems.append(f"no {name}: {_first_line(exc)}")
            continue
        if len(content) > options.max_bytes:
            outcome.problems.append(f"{name} was not kept: it is larger than the size limit")
            continue
        (workdir / name).write_bytes(content)
        files.append(workdir / name)
    return files


def _failed(url: str, options: CaptureOptions, versions: dict[str, str], error: str) -> Capture:
    return Capture(
        url, None, (), None, {}, None, utc_now(), versions, (), error, options.with_media
    )


class _Watchdog:
    """Kills the browser after a while: Playwright's evaluate and content calls have no
    timeout, and a page whose scripts never yield would hang them for ever."""

    def __init__(self, browser: Browser, seconds: float) -> None:
        info = browser.new_browser_cdp_session().send("SystemInfo.getProcessInfo")
        self._pids = [p["id"] for p in info["processInfo"] if p["type"] == "browser"]
        self.fired = threading.Event()
        self._timer = threading.Timer(seconds, self._kill)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        """Stop the clock: the capture is over."""
        self._timer.cancel()

    def _kill(self) -> None:
        self.fired.set()
        for pid in self._pids:
            with contextlib.suppress(OSError):
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))


def _close_quietly(context: BrowserContext) -> None:
    # The browser may be gone already (killed by the watchdog).
    with contextlib.suppress(PlaywrightError):
        context.close()


def _evaluate(page: Page, expression: str) -> object:
    """`expression` in the page, or None if the page navigated away meanwhile."""
    try:
        return page.evaluate(expression)
    except PlaywrightError:
        return None


def _ms_left(deadline: float) -> float:
    # Playwright reads a timeout of 0 as "no timeout", so never pass less than 1 ms.
    return max(1.0, (deadline - time.monotonic()) * 1000)


def _first_line(exc: PlaywrightError) -> str:
    text = (exc.message or str(exc)).strip()
    first = text.splitlines()[0] if text else repr(exc)
    return first.split(": ", 1)[1] if first.startswith(("Page.", "Frame.")) else first
