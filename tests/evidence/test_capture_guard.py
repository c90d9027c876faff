"""Web capture without a browser: which URLs and addresses are refused, finding Chromium,
the egress proxy's rules, and the capture record."""

from __future__ import annotations

import ipaddress
import json
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakshield.errors import ConfigError, ExitCode, InputError
from leakshield.evidence import _capture
from leakshield.evidence._capture import (
    Capture,
    CaptureOptions,
    Capturer,
    CaptureRefused,
    capture,
    chromium_path,
)
from leakshield.evidence._capture_guard import (
    AddressRefused,
    ResolveFailed,
    check_url,
    refusal_reason,
    resolve,
)
from leakshield.evidence._capture_proxy import EgressProxy
from tests.evidence._web import PLAIN_TITLE, WebSite

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "not publicly routable"),  # carrier-grade NAT
    ("192.0.2.1", "private"),  # documentation
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2002:c0a8:0101::1", "private"),  # 6to4 of 192.168.1.1
    ("fec0::1", "site-local"),
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "151.101.1.140", "2606:4700:4700::1111", "2a00:1450:4001::1"]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_private_and_special_addresses_are_refused(address: str, reason: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.org/file", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("chrome://settings", "only http and https"),
        ("example.org/page", "only http and https"),
        ("http:///path-only", "names no host"),
        ("http://[::1", "not a valid URL"),
        ("https://example.org:99999/", "not a valid URL"),
    ],
)
def test_urls_that_are_not_web_pages_are_refused(url: str, words: str) -> None:
    with pytest.raises(CaptureRefused, match=words) as caught:
        check_url(url)
    assert isinstance(caught.value, InputError)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.to_problem()["type"] == "urn:leakshield:problem:capture-refused"


def test_a_web_address_gives_its_host_and_port() -> None:
    assert check_url("https://Example.org/a?b=c").host == "example.org"
    assert check_url("https://example.org/").port == 443
    assert check_url("http://example.org/").port == 80
    assert check_url("http://[2001:db8::1]:8080/").port == 8080


def test_names_are_refused_by_what_they_resolve_to() -> None:
    with pytest.raises(AddressRefused, match=r"localhost resolves to .*loopback"):
        resolve("localhost", 80, allow_private=False)
    with pytest.raises(AddressRefused, match=r"^127\.0\.0\.1 is a loopback address$"):
        resolve("127.0.0.1", 80, allow_private=False)
    # An integer or hex spelling of an address is still that address.
    with pytest.raises(AddressRefused, match="loopback"):
        resolve("2130706433", 80, allow_private=False)
    assert resolve("127.0.0.1", 8080, allow_private=True) == [
        (ipaddress.ip_address("127.0.0.1"), 8080)
    ]


def test_one_private_answer_among_public_ones_is_enough_to_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [("93.184.215.14", 80), ("10.0.0.7", 80)]

    def fake_getaddrinfo(host: str, port: int, **kwargs: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", a) for a in answers]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(AddressRefused, match=r"resolves to 10\.0\.0\.7, a private address"):
        resolve("mixed.example", 80, allow_private=False)


def test_a_name_that_does_not_resolve_is_a_failure_not_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake_getaddrinfo(host: str, port: int, **kwargs: object) -> list[tuple[object, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(ResolveFailed, match=r"nothing\.invalid could not be resolved"):
        resolve("nothing.invalid", 80, allow_private=False)


def test_a_private_page_is_refused_before_any_browser_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_capture, "chromium_path", _no_browser)
    with pytest.raises(CaptureRefused) as caught:
        capture("http://127.0.0.1:8080/admin", tmp_path)
    message = caught.value.message
    assert "127.0.0.1 is a loopback address" in message
    assert "--allow-private" in message
    assert list(tmp_path.iterdir()) == []


def _no_browser(settings_value: Path | None) -> Path:
    raise AssertionError("no browser should start")


def test_chromium_set_in_the_settings_is_used(tmp_path: Path) -> None:
    browser = _executable(tmp_path / "my-chromium")
    assert chromium_path(browser) == browser
    with pytest.raises(ConfigError, match=r"not an executable file.*apt install chromium"):
        chromium_path(tmp_path / "missing")


def test_debian_chromium_comes_first_then_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    debian = _executable(tmp_path / "usr-bin-chromium")
    on_path = _executable(tmp_path / "bin" / "chromium-browser")
    monkeypatch.setattr(_capture, "DEFAULT_CHROMIUM", debian)
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert chromium_path(None) == debian
    monkeypatch.setattr(_capture, "DEFAULT_CHROMIUM", tmp_path / "none")
    assert chromium_path(None) == on_path


def test_missing_chromium_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_capture, "DEFAULT_CHROMIUM", tmp_path / "none")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=r"needs Chromium.*sudo apt install chromium") as caught:
        chromium_path(None)
    assert caught.value.exit_code == ExitCode.CONFIG


def test_missing_playwright_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(ConfigError, match=r"package playwright.*pip install"):
        Capturer(_executable(tmp_path / "chromium"))


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_capture_record_has_the_logged_fields() -> None:
    result = Capture(
        url="https://example.org/a",
        final_url="https://example.org/b",
        redirects=("https://example.org/a",),
        status=200,
        headers={"content-type": "text/html"},
        title="A page",
        captured_at="2026-01-02T03:04:05.678Z",
        tool_versions={"leakshield": "1", "playwright": "2", "chromium": "3"},
        files=(Path("screenshot.png"),),
        error=None,
        with_media=False,
    )
    record = result.to_record()
    assert set(record) == {
        "url",
        "final_url",
        "redirects",
        "status",
        "headers",
        "title",
        "captured_at",
        "tool_versions",
        "with_media",
        "error",
    }
    assert record["redirects"] == ["https://example.org/a"]
    assert json.loads(json.dumps(record)) == record


def test_default_options_keep_media_out_and_private_networks_closed() -> None:
    options = CaptureOptions()
    assert (options.with_media, options.allow_private) == (False, False)
    assert options.max_bytes == 64 * 1024 * 1024
    assert options.viewport == (1280, 800)


# The egress proxy, spoken to directly as a browser would.


@pytest.fixture
def site() -> Iterator[WebSite]:
    with WebSite() as running:
        yield running


def _through(proxy: EgressProxy, request: bytes) -> bytes:
    port = int(proxy.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if request.startswith(b"CONNECT") and b"\r\n\r\n" in received:
                break
    return received


def test_the_proxy_relays_a_plain_request_to_an_allowed_site(site: WebSite) -> None:
    with EgressProxy() as proxy:
        proxy.begin(allow_private=True, max_bytes=1 << 20, connect_timeout=5)
        answer = _through(
            proxy,
            f"GET {site.url('/')} HTTP/1.1\r\nHost: {site.origin[7:]}\r\n"
            "Proxy-Connection: keep-alive\r\n\r\n".encode(),
        )
    assert answer.startswith(b"HTTP/1.1 200")
    assert PLAIN_TITLE.encode() in answer
    assert proxy.connected == {"127.0.0.1": "127.0.0.1"}


def test_the_proxy_refuses_private_addresses_without_answering_for_the_site(
    site: WebSite,
) -> None:
    with EgressProxy() as proxy:
        proxy.begin(allow_private=False, max_bytes=1 << 20, connect_timeout=5)
        plain = _through(proxy, f"GET {site.url('/')} HTTP/1.1\r\n\r\n".encode())
        tunnel = _through(proxy, f"CONNECT {site.origin[7:]} HTTP/1.1\r\n\r\n".encode())
    # No made-up response for a plain request: it would pass for the site's own.
    assert plain == b""
    assert tunnel.startswith(b"HTTP/1.1 403")
    assert proxy.problem("127.0.0.1") == "127.0.0.1 is a loopback address"
    assert site.hits == []


def test_the_proxy_stops_at_the_size_limit(site: WebSite) -> None:
    with EgressProxy() as proxy:
        proxy.begin(allow_private=True, max_bytes=100_000, connect_timeout=5)
        answer = _through(proxy, f"GET {site.url('/large?kib=1024')} HTTP/1.1\r\n\r\n".encode())
        assert proxy.over_budget
        assert _through(proxy, f"GET {site.url('/')} HTTP/1.1\r\n\r\n".encode()) == b""
    assert len(answer) < 300_000


def test_the_proxy_lets_nothing_through_between_captures(site: WebSite) -> None:
    with EgressProxy() as proxy:
        assert _through(proxy, f"GET {site.url('/')} HTTP/1.1\r\n\r\n".encode()) == b""
        proxy.begin(allow_private=True, max_bytes=1 << 20, connect_timeout=5)
        proxy.end()
        assert _through(proxy, f"GET {site.url('/')} HTTP/1.1\r\n\r\n".encode()) == b""
    assert site.hits == []
