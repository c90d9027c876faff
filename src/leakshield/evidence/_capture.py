"""Web capture: a page loaded in headless Chromium and kept as evidence.

`capture` loads a URL in a fresh browser and writes what investigators ask for: a
full-page screenshot headed by the URL and the UTC time, the rendered HTML, a
single-file MHTML archive, and the HTTP status and headers with every redirect. It
never reaches private network addresses (unless allowed) and, unless asked, never
pulls images, video or audio, so that intimate content is not downloaded again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from leakshield import __version__
from leakshield.errors import ConfigError
from leakshield.evidence._capture_guard import (
    AddressRefused,
    CaptureRefused,
    ResolveFailed,
    check_url,
    resolve,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright
    from playwright.sync_api._context_manager import PlaywrightContextManager

    from leakshield.evidence._capture_proxy import EgressProxy

__all__ = [
    "DEFAULT_CHROMIUM",
    "Capture",
    "CaptureOptions",
    "CaptureRefused",
    "Capturer",
    "capture",
    "chromium_path",
]

DEFAULT_CHROMIUM = Path("/usr/bin/chromium")
_CHROMIUM_NAMES = ("chromium", "chromium-browser")
_INSTALL_HINT = (
    "install Debian's Chromium (`sudo apt install chromium`), or set chromium_path "
    "(LEAKSHIELD_CHROMIUM_PATH) to a Chromium or Chrome executable"
)
# Flags for a browser that talks to nobody but the page: no updates, sync, pings,
# metrics or crash reports, and no WebRTC traffic around the egress proxy.
_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--disable-domain-reliability",
    "--no-pings",
    "--disable-breakpad",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)


@dataclass(frozen=True)
class CaptureOptions:
    """How to capture: what to load, where it may come from, and the limits."""

    with_media: bool = False
    allow_private: bool = False
    timeout_s: float = 30.0
    chromium: Path | None = None
    max_bytes: int = 64 * 1024 * 1024
    viewport: tuple[int, int] = (1280, 800)


@dataclass(frozen=True)
class Capture:
    """What a capture found and the files it wrote; `error` says why it failed, if it did."""

    url: str
    final_url: str | None
    redirects: tuple[str, ...]
    status: int | None
    headers: Mapping[str, str]
    title: str | None
    captured_at: str
    tool_versions: Mapping[str, str]
    files: tuple[Path, ...] = ()
    error: str | None = None
    with_media: bool = False

    def to_record(self) -> dict[str, Any]:
        """The capture details of an evidence item's log record."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "redirects": list(self.redirects),
            "status": self.status,
            "headers": dict(self.headers),
            "title": self.title,
            "captured_at": self.captured_at,
            "tool_versions": dict(self.tool_versions),
            "with_media": self.with_media,
            "error": self.error,
        }


def chromium_path(settings_value: Path | None) -> Path:
    """The Chromium to drive: the configured one, else Debian's, else one on PATH."""
    if settings_value is not None:
        if not _is_executable(settings_value):
            raise ConfigError(
                f"the Chromium set in chromium_path, {settings_value}, is not an "
                f"executable file; fix the setting or {_INSTALL_HINT}"
            )
        return settings_value
    if _is_executable(DEFAULT_CHROMIUM):
        return DEFAULT_CHROMIUM
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ConfigError(f"web capture needs Chromium, and none was found; {_INSTALL_HINT}")


def capture(url: str, workdir: Path, options: CaptureOptions | None = None) -> Capture:
    """Load `url` in a fresh headless Chromium and keep it in `workdir`.

    Writes screenshot.png, page.html, page.mhtml and headers.json (as far as the
    page got). A page that cannot be loaded (no such host, refused, timed out, too
    large) gives a `Capture` whose `error` says why; a 404 or 500 is no error, its
    status is recorded. Raises `CaptureRefused` for a URL that is not http(s) or that
    leads (itself, by redirect or by the page's own navigation) to a private address,
    and `ConfigError` when Playwright or Chromium is missing or will not start.
    """
    options = options or CaptureOptions()
    _precheck(url, options)
    if _event_loop_running():
        # Playwright's sync API refuses to run under an event loop (an async web
        # handler, or an open Capturer): run it in a thread of its own.
        with ThreadPoolExecutor(1, thread_name_prefix="capture") as pool:
            return pool.submit(_capture_once, url, workdir, options).result()
    return _capture_once(url, workdir, options)


def _capture_once(url: str, workdir: Path, options: CaptureOptions) -> Capture:
    with Capturer(options.chromium) as capturer:
        return capturer.capture(url, workdir, options)


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Capturer:
    """A headless Chromium kept open for one capture after another.

    Each capture still gets a fresh browser context (no cookies, cache or storage
    from the one before). Use it as a context manager, from one thread, outside any
    asyncio event loop (Playwright's sync API); `capture` has no such limits.
    """

    def __init__(self, chromium: Path | None = None) -> None:
        self.chromium = chromium or chromium_path(None)
        self._sync_playwright = _playwright()
        self._stack: ExitStack | None = None
        self._browser: Browser | None = None
        self._proxy: EgressProxy | None = None
        self._playwright: Playwright | None = None
        self._versions: dict[str, str] = {}

    def __enter__(self) -> Capturer:
        from leakshield.evidence._capture_proxy import EgressProxy

        with ExitStack() as stack:
            self._proxy = stack.enter_context(EgressProxy())
            self._playwright = stack.enter_context(self._sync_playwright())
            self._launch()
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._browser is not None:
            with suppress(Exception):  # Killed by a watchdog, or already closed.
                self._browser.close()
        if self._stack is not None:
            self._stack.close()

    def capture(self, url: str, workdir: Path, options: CaptureOptions | None = None) -> Capture:
        """Capture `url` into `workdir`, as `capture` does.

        `options.chromium` is not used: the capturer's own Chromium is.
        """
        from leakshield.evidence._capture_page import run_capture

        options = options or CaptureOptions()
        _precheck(url, options)
        if self._proxy is None:
            raise RuntimeError("use the Capturer as a context manager")
        if self._browser is None or not self._browser.is_connected():
            self._launch()
        assert self._browser is not None
        self._proxy.begin(
            allow_private=options.allow_private,
            max_bytes=options.max_bytes,
            connect_timeout=min(options.timeout_s, 30.0),
        )
        try:
            return run_capture(self._browser, url, workdir, options, self._proxy, self._versions)
        finally:
            self._proxy.end()

    def _launch(self) -> None:
        from playwright.sync_api import Error as PlaywrightError

        assert self._proxy is not None and self._playwright is not None
        # Chromium cannot sandbox itself as root; elsewhere keep its sandbox for hostile pages.
        as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.chromium,
                args=[*_FLAGS, *(["--no-sandbox"] if as_root else [])],
                chromium_sandbox=not as_root,
                proxy={"server": self._proxy.url},
                timeout=60_000,
            )
        except PlaywrightError as exc:
            detail = exc.message.strip().splitlines()[0] if exc.message.strip() else repr(exc)
            raise ConfigError(
                f"Chromium ({self.chromium}) did not start: {detail}; check that "
                f"`{self.chromium} --headless --version` runs, or {_INSTALL_HINT}"
            ) from exc
        self._versions = {
            "leakshield": __version__,
            "playwright": version("playwright"),
            "chromium": self._browser.version,
        }


def refused(url: str, hop: str | None, reason: str) -> CaptureRefused:
    """The error for a capture that would reach a refused address."""
    via = f"it led to {hop}, and " if hop and hop != url else ""
    return CaptureRefused(
        f"{url} was not captured: {via}{reason}. A capture does not reach into private "
        "networks; only for a page on your own network, allow it (--allow-private, or "
        "the capture_allow_private setting)"
    )


def utc_now() -> str:
    """The current UTC time, ISO 8601 with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _precheck(url: str, options: CaptureOptions) -> None:
    """Refuse a URL that is not http(s) or whose host is a refused address, before any
    browser starts. A host that does not resolve is left to the browser to report."""
    destination = check_url(url)
    try:
        resolve(destination.host, destination.port, allow_private=options.allow_private)
    except AddressRefused as exc:
        raise refused(url, None, str(exc)) from None
    except ResolveFailed:
        pass


def _playwright() -> Callable[[], PlaywrightContextManager]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ConfigError(
            "web capture needs the Python package playwright, a dependency of leakshield "
            "that is missing here; reinstall leakshield (`pip install leakshield`) or "
            "`pip install playwright` (no `playwright install`: it drives the system's "
            f"Chromium) ({exc})"
        ) from exc
    return sync_playwright


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
