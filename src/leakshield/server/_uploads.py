"""Uploads and fetched URLs: bounded in size, kept inside the data directory, and fetched
only from hosts the operator allowed (no server-side request forgery)."""

from __future__ import annotations

import os
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.error import HTTPError, URLError
from urllib.parse import urljoin, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leakshield.errors import InputError
from leakshield.server._problems import problem_response

_CHUNK = 1 << 16
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class UploadTooLargeError(InputError):
    """A request body or a fetched file is over the configured size limit."""

    http_status = 413
    slug = "upload-too-large"
    title = "Upload too large"


class UrlNotAllowedError(InputError):
    """The server may not fetch that URL: its host is not in the allow-list."""

    http_status = 403
    slug = "url-not-allowed"
    title = "URL not allowed"


class FetchError(InputError):
    """An allowed URL could not be fetched."""

    http_status = 502
    slug = "fetch-failed"
    title = "Fetch failed"


def too_large(limit: int) -> UploadTooLargeError:
    """The error for a body or file over ``limit`` bytes."""
    return UploadTooLargeError(
        f"The upload is over the limit of {limit:,} bytes. Send a smaller file, or raise "
        "LEAKSHIELD_MAX_UPLOAD_BYTES on the server."
    )


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with a 413 problem: at once when
    Content-Length says so, else as soon as the streamed (chunked) body goes over."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await problem_response(too_large(self.max_bytes).to_problem(scope["path"]))(
                scope, receive, send
            )
            return
        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise too_large(self.max_bytes)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to the broken body is replaced by the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            problem = too_large(self.max_bytes).to_problem(scope["path"])
            await problem_response(problem)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def private_tmp_dir(data_dir: Path) -> Path:
    """``data_dir/tmp``, created readable by this user only."""
    path = data_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


@contextmanager
def spooling_into(directory: Path) -> Iterator[None]:
    """Make this process's temporary files (Starlette spools large multipart parts to
    one) go into ``directory`` while the context lasts."""
    before = tempfile.tempdir
    tempfile.tempdir = str(directory)
    try:
        yield
    finally:
        if tempfile.tempdir == str(directory):
            tempfile.tempdir = before


@contextmanager
def saved_copy(source: BinaryIO, directory: Path, max_bytes: int) -> Iterator[Path]:
    """Copy a stream into a private file under ``directory``; the file is deleted when
    the context ends, whatever happens."""
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy_bounded(source, out, max_bytes)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _copy_bounded(source: BinaryIO, out: BinaryIO, max_bytes: int) -> int:
    copied = 0
    while chunk := source.read(_CHUNK):
        copied += len(chunk)
        if copied > max_bytes:
            raise too_large(max_bytes)
        out.write(chunk)
    return copied


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    """True when ``host`` is one of ``patterns``, exactly or under a ``*.domain`` one."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


class Fetcher(Protocol):
    """Fetches the media a URL names into a stream."""

    def fetch(self, url: str, out: BinaryIO) -> str:
        """Write the body at ``url`` to ``out``; return its media type (e.g. image/jpeg)."""
        ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hands redirects back as errors, so that each target is checked before it is fetched."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


class UrlFetcher:
    """Fetches http(s) URLs whose host is allowed, following at most ``max_redirects``
    redirects (each target checked again), within ``max_bytes`` and ``timeout`` seconds."""

    def __init__(
        self,
        allowed_hosts: Sequence[str],
        max_bytes: int,
        *,
        timeout: float = 10.0,
        max_redirects: int = 3,
    ) -> None:
        self.allowed_hosts = tuple(allowed_hosts)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_redirects = max_redirects
        # No proxy from the environment: the allow-list names the hosts we connect to.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

    def check(self, url: str) -> None:
        """Raise `UrlNotAllowedError` unless ``url`` is http(s) on an allowed host."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UrlNotAllowedError("Only http:// and https:// URLs with a host can be fetched.")
        if not host_allowed(parts.hostname, self.allowed_hosts):
            raise UrlNotAllowedError(
                f"The server does not fetch from {parts.hostname[:100]}: it is not in "
                "fetch_allowed_hosts (LEAKSHIELD_FETCH_ALLOWED_HOSTS). Upload the file instead."
            )

    def fetch(self, url: str, out: BinaryIO) -> str:
        """Fetch ``url`` into ``out``; returns the response's media type."""
        deadline = time.monotonic() + self.timeout
        for _hop in range(self.max_redirects + 1):
            self.check(url)  # http(s) on an allowed host only, so S310 does not apply
            request = urllib.request.Request(url, headers={"User-Agent": "leakshield"})  # noqa: S310
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    self._read(response, out, deadline)
                    return str(response.headers.get_content_type())
            except HTTPError as exc:
                location = exc.headers.get("Location") if exc.code in _REDIRECTS else None
                if not location:
                    raise FetchError(f"The URL answered HTTP {exc.code}.") from None
                url = urljoin(url, location)
            except (URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise FetchError(f"The URL could not be fetched: {reason}.") from None
        raise FetchError(f"The URL redirected more than {self.max_redirects} times.")

    def _read(self, response: BinaryIO, out: BinaryIO, deadline: float) -> None:
        length = getattr(response, "headers", {}).get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            raise too_large(self.max_bytes)
        copied = 0
        while chunk := response.read(_CHUNK):
            copied += len(chunk)
            if copied > self.max_bytes:
                raise too_large(self.max_bytes)
            if time.monotonic() > deadline:
                raise FetchError(f"The URL took longer than {self.timeout:g} s to fetch.")
            out.write(chunk)


@contextmanager
def fetched_copy(fetcher: Fetcher, url: str, directory: Path) -> Iterator[tuple[Path, str]]:
    """Fetch ``url`` into a private file under ``directory``: (path, media type); the
    file is deleted when the context ends."""
    fd, name = tempfile.mkstemp(dir=directory, prefix="fetch-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            media_type = fetcher.fetch(url, out)
        yield path, media_type
    finally:
        path.unlink(missing_ok=True)
