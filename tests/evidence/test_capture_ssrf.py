"""A capture must not become a way into the user's network, nor hang on a hostile page.

The test site on 127.0.0.1 plays a public web site (these tests treat that one
address as public) and a second site on 127.0.0.2 plays the user's router or a
cloud metadata service: it must never be asked for anything.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakshield.evidence import _capture_guard, _capture_page
from leakshield.evidence._capture import CaptureOptions, Capturer, CaptureRefused
from tests.evidence._web import PLAIN_TITLE, WebSite, open_capturer

PUBLIC_STAND_IN = ipaddress.ip_address("127.0.0.1")


@pytest.fixture(scope="module")
def capturer() -> Iterator[Capturer]:
    yield from open_capturer()


@pytest.fixture(scope="module")
def inner() -> Iterator[WebSite]:
    """The private site that nothing may reach."""
    with WebSite("127.0.0.2") as running:
        yield running


@pytest.fixture(scope="module")
def site(inner: WebSite) -> Iterator[WebSite]:
    """The 'public' site, whose pages point at the private one."""
    with WebSite() as running:
        running.away_to = inner.url("/")
        yield running


@pytest.fixture(autouse=True)
def _public_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 counts as a public address here; every other private address is refused."""
    real = _capture_guard.refusal_reason

    def reason(address: _capture_guard.IPAddress) -> str | None:
        return None if address == PUBLIC_STAND_IN else real(address)

    monkeypatch.setattr(_capture_guard, "refusal_reason", reason)


def test_a_redirect_into_the_private_network_is_refused(
    capturer: Capturer, site: WebSite, inner: WebSite, tmp_path: Path
) -> None:
    with pytest.raises(CaptureRefused) as caught:
        capturer.capture(site.url("/away"), tmp_path)
    message = caught.value.message
    assert message.startswith(f"{site.url('/away')} was not captured: it led to {inner.url('/')}")
    assert "127.0.0.2 is a loopback address" in message
    assert inner.hits == []
    assert list(tmp_path.iterdir()) == []


def test_a_script_navigating_into_the_private_network_is_refused(
    capturer: Capturer, site: WebSite, inner: WebSite, tmp_path: Path
) -> None:
    with pytest.raises(CaptureRefused, match=r"it led to .*127\.0\.0\.2 is a loopback address"):
        capturer.capture(site.url("/refresh"), tmp_path)
    assert inner.hits == []


def test_images_scripts_and_fetches_into_the_private_network_get_nothing(
    capturer: Capturer, site: WebSite, inner: WebSite, tmp_path: Path
) -> None:
    options = CaptureOptions(with_media=True)
    result = capturer.capture(site.url("/reaching"), tmp_path, options)
    # The page itself is evidence and is kept; what it reached for was never asked.
    assert (result.error, result.title) == (None, "Reaching")
    assert inner.hits == []


def test_the_same_page_loads_when_private_addresses_are_allowed(
    capturer: Capturer, site: WebSite, inner: WebSite, tmp_path: Path
) -> None:
    options = CaptureOptions(allow_private=True)
    result = capturer.capture(site.url("/away"), tmp_path, options)
    assert (result.error, result.title) == (None, PLAIN_TITLE)
    assert result.redirects == (site.url("/away"),)
    assert result.final_url == inner.url("/")
    # And the page that reaches in does reach in: the refusals above are not vacuous.
    capturer.capture(site.url("/reaching"), tmp_path / "reaching", options)
    assert sorted(inner.paths()) == ["/", "/beacon", "/tracker.js"]  # No media: no pixel.
    inner.hits.clear()


def test_a_page_whose_script_never_yields_is_stopped(
    capturer: Capturer, site: WebSite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_capture_page, "_GRACE_S", 1.5)
    started = time.monotonic()
    options = CaptureOptions(timeout_s=1)
    result = capturer.capture(site.url("/stuck"), tmp_path / "stuck", options)
    assert time.monotonic() - started < 10
    assert result.error is not None
    assert result.error.startswith("the page stopped answering")
    # The capturer starts a new browser for the next page.
    again = capturer.capture(site.url("/"), tmp_path / "after")
    assert (again.error, again.title) == (None, PLAIN_TITLE)
