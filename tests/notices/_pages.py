"""Pages on 127.0.0.1 for the recheck tests, as a platform shows a post before and after
it is taken down, recording every path asked for.

`/post/live` (a post, with a picture), `/post/removed` (200, but the page says the post
is gone, in curly quotes), `/post/login` (a login wall), `/post/blocked` (403),
`/picture.png`; anything else is a 404.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from tests.evidence._web import png_bytes

__all__ = ["LIVE_TEXT", "LIVE_TITLE", "Pages"]

LIVE_TEXT = "Posted by someone: a picture of her"
LIVE_TITLE = "Her picture, posted"
_HTML = "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
_PAGES: dict[str, tuple[int, str, str]] = {
    "/post/live": (200, LIVE_TITLE, f'<p>{LIVE_TEXT}</p><img src="/picture.png" alt="picture">'),
    "/post/removed": (
        200,
        "Post",
        "<main><div>Hmm\u2026this page doesn\u2019t\n   exist.</div>"
        "<div>Try searching for something else.</div></main>",
    ),
    "/post/login": (200, "Log in", "<form><h1>Log in to see this post</h1></form>"),
    "/post/blocked": (403, "Forbidden", "<p>You are not allowed here.</p>"),
}


class Pages:
    """The test site, as a context manager; `url(path)` gives a page's address."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def url(self, path: str) -> str:
        """The address of `path` on the site."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> Pages:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    site: Pages

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self.site.paths.append(self.path)
        if self.path == "/picture.png":
            self._send(200, png_bytes(), "image/png")
            return
        status, title, body = _PAGES.get(self.path, (404, "Not found", "<p>No such page.</p>"))
        page = _HTML.format(title=title, body=body).encode()
        self._send(status, page, "text/html; charset=utf-8")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _handler_for(site: Pages) -> type[_Handler]:
    return type("Handler", (_Handler,), {"site": site})
