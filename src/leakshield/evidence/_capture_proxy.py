"""The egress proxy a capture's browser must send every request through.

Playwright's routing sees neither redirect hops nor the address the browser finally
connects to, so checking URLs there cannot stop a redirect (or a DNS answer that
changes between our check and the browser's) from reaching into the user's network.
This proxy resolves each host itself, refuses private addresses, connects only to an
address it checked, and counts the bytes it relays so that a capture stays within
its size limit.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import socketserver
import threading
from types import TracebackType
from urllib.parse import urlsplit

from leakshield.evidence._capture_guard import AddressRefused, ResolveFailed, resolve

__all__ = ["EgressProxy"]

_MAX_HEAD = 64 * 1024
_CHUNK = 64 * 1024
# Hop-by-hop headers of the browser-to-proxy leg; never forwarded to the site.
_DROP = frozenset({b"proxy-connection", b"proxy-authorization", b"connection", b"keep-alive"})


class EgressProxy:
    """A forward HTTP proxy on 127.0.0.1 that reaches only allowed addresses.

    Use it as a context manager; `url` is what the browser's proxy setting takes.
    Refusals and failures are kept per host, so that a failed page can be explained.
    """

    def __init__(self) -> None:
        self.allow_private = False
        self.max_bytes = 0
        self.connect_timeout = 30.0
        self.refused: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.connected: dict[str, str] = {}
        self.bytes_in = 0
        self.over_budget = False
        self._accepting = False  # Nothing gets through between captures.
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="capture-proxy", daemon=True
        )

    def begin(self, *, allow_private: bool, max_bytes: int, connect_timeout: float) -> None:
        """Open the proxy for one capture, with its own rules, records and byte count."""
        self._close_all()
        with self._lock:
            self.allow_private = allow_private
            self.max_bytes = max_bytes
            self.connect_timeout = connect_timeout
            self.refused, self.failed, self.connected = {}, {}, {}
            self.bytes_in = 0
            self.over_budget = False
            self._accepting = True

    def end(self) -> None:
        """Close the proxy after a capture: nothing more gets through until the next one."""
        with self._lock:
            self._accepting = False
        self._close_all()

    @property
    def url(self) -> str:
        """The proxy's address, as a browser proxy setting (http://127.0.0.1:PORT)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> EgressProxy:
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
        self._close_all()
        self._thread.join(timeout=5)

    def problem(self, host: str) -> str | None:
        """Why requests to `host` were refused or failed, if they were."""
        key = host.lower().strip("[]")
        return self.refused.get(key) or self.failed.get(key)

    def open(self, host: str, port: int) -> socket.socket | None:
        """A connection to `host:port` on a checked address, or None (reason recorded)."""
        key = host.lower().strip("[]")
        if self.over_budget or not self._accepting:
            return None
        try:
            addresses = resolve(key, port, allow_private=self.allow_private)
        except AddressRefused as exc:
            self.refused[key] = str(exc)
            return None
        except ResolveFailed as exc:
            self.failed[key] = str(exc)
            return None
        error: OSError | None = None
        for address, address_port in addresses:
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(self.connect_timeout)
            try:
                sock.connect((str(address), address_port))
            except OSError as exc:
                sock.close()
                error = exc
                continue
            sock.settimeout(None)
            self.connected[key] = str(address)
            return self.hold(sock)
        self.failed[key] = f"could not connect to {key} port {port} ({error})"
        return None

    def take(self, size: int) -> int:
        """Count `size` bytes received from a site; return how many may be relayed.

        Fewer than `size` once the size limit is reached, and then every transfer stops.
        """
        with self._lock:
            allowed = max(0, min(size, self.max_bytes - self.bytes_in))
            self.bytes_in += size
            if allowed < size and not self.over_budget:
                self.over_budget = True
                # Stop every transfer, not only this one: the limit is for the whole page.
                threading.Thread(target=self._close_all, daemon=True).start()
            return allowed

    def hold(self, sock: socket.socket) -> socket.socket:
        """Keep `sock` to close when the capture ends or passes the size limit."""
        with self._lock:
            self._sockets.add(sock)
        return sock

    def release(self, sock: socket.socket) -> None:
        """Close `sock`, done with."""
        with self._lock:
            self._sockets.discard(sock)
        sock.close()

    def _close_all(self) -> None:
        with self._lock:
            open_sockets, self._sockets = list(self._sockets), set()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    proxy: EgressProxy


class _Handler(socketserver.BaseRequestHandler):
    """One browser connection: a CONNECT tunnel, or one plain-HTTP request."""

    server: _Server
    request: socket.socket

    def handle(self) -> None:
        proxy = self.server.proxy
        client = proxy.hold(self.request)
        upstream = None
        try:
            client.settimeout(proxy.connect_timeout)
            head = _read_head(client)
            client.settimeout(None)
            if head is None:
                return
            line, _, rest = head.partition(b"\r\n")
            method, target, version = [*line.split(b" "), b"", b""][:3]
            if method == b"CONNECT":
                host, _, port = target.decode("latin-1").rpartition(":")
                upstream = proxy.open(host, int(port)) if port.isdigit() else None
                if upstream is None:
                    client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    return
                client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            else:
                upstream = _open_plain(proxy, method, target, version, rest)
                if upstream is None:
                    # No answer at all: a made-up error page would pass for the site's.
                    return
            _relay(proxy, client, upstream)
        except (OSError, ValueError):
            return
        finally:
            if upstream is not None:
                proxy.release(upstream)
            proxy.release(client)


def _read_head(sock: socket.socket) -> bytes | None:
    """The request line and headers (up to the blank line), or None if there are none."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > _MAX_HEAD:
            return None
        data += chunk
    return data


def _open_plain(
    proxy: EgressProxy, method: bytes, target: bytes, version: bytes, rest: bytes
) -> socket.socket | None:
    """Open the site for an absolute-form plain-HTTP request and send it the request."""
    parts = urlsplit(target.decode("latin-1"))
    if parts.scheme != "http" or not parts.hostname:
        return None
    upstream = proxy.open(parts.hostname, parts.port or 80)
    if upstream is None:
        return None
    headers, _, body = rest.partition(b"\r\n\r\n")
    kept = [h for h in headers.split(b"\r\n") if h.split(b":")[0].strip().lower() not in _DROP]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # One request per connection, so that every request is checked on its own.
    upstream.sendall(
        b"\r\n".join([b" ".join([method, path.encode("latin-1"), version]), *kept])
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    return upstream


def _relay(proxy: EgressProxy, client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes, counting what the site sends."""
    with selectors.DefaultSelector() as selector:
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        while True:
            # A timeout, so that a socket closed under us (size limit, shutdown) ends this.
            if client.fileno() < 0 or upstream.fileno() < 0:
                return
            for key, _ in selector.select(timeout=0.5):
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                chunk = source.recv(_CHUNK)
                if not chunk:
                    return
                if source is upstream:
                    allowed = proxy.take(len(chunk))
                    if allowed < len(chunk):
                        key.data.sendall(chunk[:allowed])
                        return
                key.data.sendall(chunk)
