"""A small web site on 127.0.0.1 for the capture tests, recording every path asked for.

Pages: `/` (a plain page with a title), `/hop/1` → `/hop/2` → `/` (a redirect
chain), `/missing` (404), `/media` (an <img>, a <video> and an <audio>) with
`/picture.png`, `/clip.webm` and `/sound.ogg`, `/slow?s=N` (answers after N
seconds), `/away` (redirects to `WebSite.away_to`), `/large?kib=N` (an N KiB page),
`/picture-page` (redirects to the PNG itself), `/refresh` (a script sends the
browser to `WebSite.away_to`), `/reaching` (a page whose image, script and fetch
point at `WebSite.away_to`), `/stuck` (a script that never yields) and `/download`
(an attachment).

`open_capturer` gives the capture tests their browser.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from leakshield.errors import ConfigError
from leakshield.evidence._capture import Capturer, chromium_path
from tests.conftest import IN_CI

__all__ = ["PLAIN_TITLE", "WebSite", "open_capturer", "png_bytes"]

PLAIN_TITLE = "Leaked picture thread"
_PLAIN = (
    f"<!doctype html><html><head><title>{PLAIN_TITLE}</title></head>"
    "<body><h1>Posted by someone</h1><p>A page that shows a leaked picture.</p></body></html>"
)


def open_capturer() -> Iterator[Capturer]:
    """A started `Capturer` for a module-scoped fixture. Without Chromium or Playwright
    it fails under CI=true and skips, saying so, elsewhere."""
    with ExitStack() as stack:
        try:
            capturer = stack.enter_context(Capturer(chromium_path(None)))
        except ConfigError as exc:
            reason = f"the web capture tests did NOT run: {exc.message}"
            if IN_CI:
                pytest.fail(f"CI=true: {reason}", pytrace=False)
            pytest.skip(reason)
        yield capturer


def png_bytes(size: tuple[int, int] = (64, 48), colour: str = "orange") -> bytes:
    """A small PNG, made here (no test files to ship)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


class WebSite:
    """The test site, as a context manager; `url(path)` gives a page's address."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.hits: list[str] = []
        self.away_to = "http://127.0.0.2/"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = _Server((host, 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def origin(self) -> str:
        """http://HOST:PORT of the site."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str = "/") -> str:
        """The address of `path` on the site."""
        return self.origin + path

    def paths(self) -> list[str]:
        """The paths asked for so far (without query strings)."""
        with self._lock:
            return [urlsplit(hit).path for hit in self.hits]

    def __enter__(self) -> WebSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _record(self, path: str) -> None:
        with self._lock:
            self.hits.append(path)

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self._stop.wait(0.05):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A browser that hangs up early (a timeout, a size limit) is no test failure."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    site: WebSite

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self.site._record(self.path)
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = _ROUTES.get(parts.path)
        if route is None:
            self.send(404, "<!doctype html><title>Not found</title><p>No such page.")
            return
        route(self, query)

    def send(
        self,
        status: int,
        body: str | bytes,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Test-Site", "leakshield")
        self.send_header("Set-Cookie", "a=1; Path=/")
        self.send_header("Set-Cookie", "b=2; Path=/")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, status: int, location: str) -> None:
        self.send(status, "", headers={"Location": location})


def _handler_for(site: WebSite) -> type[_Handler]:
    return type("Handler", (_Handler,), {"site": site})


_Route = Callable[[_Handler, dict[str, str]], None]


def _plain(h: _Handler, query: dict[str, str]) -> None:
    h.send(200, _PLAIN)


def _hop(status: int, to: str) -> _Route:
    def route(h: _Handler, query: dict[str, str]) -> None:
        h.redirect(status, to)

    return route


def _media(h: _Handler, query: dict[str, str]) -> None:
    h.send(
        200,
        "<!doctype html><title>Media page</title><p>Look:</p>"
        '<img src="/picture.png" width="64" height="48" alt="picture">'
        '<video src="/clip.webm" preload="auto" controls></video>'
        '<audio src="/sound.ogg" preload="auto" controls></audio>',
    )


def _picture(h: _Handler, query: dict[str, str]) -> None:
    h.send(200, png_bytes(), "image/png")


def _clip(h: _Handler, query: dict[str, str]) -> None:
    h.send(200, b"\x1a\x45\xdf\xa3" + bytes(2000), "video/webm")


def _sound(h: _Handler, query: dict[str, str]) -> None:
    h.send(200, b"OggS" + bytes(2000), "audio/ogg")


def _slow(h: _Handler, query: dict[str, str]) -> None:
    h.site._wait(float(query.get("s", "5")))
    h.send(200, "<!doctype html><title>Slow</title><p>Finally.")


def _away(h: _Handler, query: dict[str, str]) -> None:
    h.redirect(302, h.site.away_to)


def _large(h: _Handler, query: dict[str, str]) -> None:
    # Large in bytes, short on screen: a tall page would only slow the screenshot.
    size = int(query.get("kib", "1024")) * 1024
    h.send(200, f"<!doctype html><title>Large</title><p>Big.<!-- {'x' * size} --><p>End.")


def _refresh(h: _Handler, query: dict[str, str]) -> None:
    target = h.site.away_to
    h.send(200, f"<!doctype html><title>Moving</title><script>location.href = {target!r}</script>")


def _reaching(h: _Handler, query: dict[str, str]) -> None:
    away = h.site.away_to
    h.send(
        200,
        "<!doctype html><title>Reaching</title><p>Hello.</p>"
        f'<img src="{away}pixel.png"><script src="{away}tracker.js"></script>'
        f"<script>fetch({away + 'beacon'!r}).catch(() => 0)</script>",
    )


def _stuck(h: _Handler, query: dict[str, str]) -> None:
    h.send(200, "<!doctype html><title>Stuck</title><p>Busy.<script>while (true) {}</script>")


def _download(h: _Handler, query: dict[str, str]) -> None:
    h.send(
        200,
        b"not a page",
        "application/octet-stream",
        {"Content-Disposition": 'attachment; filename="leak.bin"'},
    )


_ROUTES: dict[str, _Route] = {
    "/": _plain,
    "/hop/1": _hop(302, "/hop/2"),
    "/hop/2": _hop(301, "/"),
    "/media": _media,
    "/picture.png": _picture,
    "/clip.webm": _clip,
    "/sound.ogg": _sound,
    "/slow": _slow,
    "/away": _away,
    "/large": _large,
    "/picture-page": _hop(302, "/picture.png"),
    "/refresh": _refresh,
    "/reaching": _reaching,
    "/stuck": _stuck,
    "/download": _download,
}
