"""Web capture in a real headless Chromium, against a test site on 127.0.0.1: what a
capture keeps, how it records redirects and errors, and that media stays out."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from leakshield import __version__
from leakshield.evidence._capture import Capture, CaptureOptions, Capturer, capture
from tests.evidence._web import PLAIN_TITLE, WebSite, open_capturer

LOCAL = CaptureOptions(allow_private=True)
FILES = ["screenshot.png", "page.html", "page.mhtml", "headers.json"]


@pytest.fixture(scope="module")
def capturer() -> Iterator[Capturer]:
    yield from open_capturer()


@pytest.fixture(scope="module")
def site() -> Iterator[WebSite]:
    with WebSite() as running:
        yield running


@pytest.fixture(scope="module")
def plain(capturer: Capturer, site: WebSite, tmp_path_factory: pytest.TempPathFactory) -> Capture:
    """The plain page, captured once for the tests that look at it."""
    return capturer.capture(site.url("/"), tmp_path_factory.mktemp("plain"), LOCAL)


def _names(result: Capture) -> list[str]:
    return [path.name for path in result.files]


def test_a_page_is_kept_as_screenshot_html_mhtml_and_headers(plain: Capture, site: WebSite) -> None:
    assert plain.error is None
    assert _names(plain) == FILES
    assert (plain.status, plain.title) == (200, PLAIN_TITLE)
    assert (plain.url, plain.final_url, plain.redirects) == (site.url("/"), site.url("/"), ())
    html = plain.files[1].read_text()
    assert "<h1>Posted by someone</h1>" in html
    mhtml = plain.files[2].read_text()
    assert mhtml.startswith("From: <Saved by Blink>")
    assert f"Snapshot-Content-Location: {site.url('/')}" in mhtml


def test_the_screenshot_is_the_full_page_headed_by_url_and_time(plain: Capture) -> None:
    with Image.open(plain.files[0]) as image:
        assert image.format == "PNG"
        assert image.width == 1280
        assert image.height > 800  # The viewport, and the strip that names URL and time.
        # The strip is white with dark text; the page below it starts after a grey rule.
        darkest, lightest = image.convert("L").crop((0, 0, 400, 40)).getextrema()
        assert darkest < 100
        assert lightest == 255


def test_the_record_says_when_and_with_what(plain: Capture) -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", plain.captured_at)
    versions = plain.tool_versions
    assert versions["leakshield"] == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", versions["playwright"])
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", versions["chromium"])
    record = plain.to_record()
    assert record["with_media"] is False
    assert record["headers"]["x-test-site"] == "leakshield"
    assert json.loads(json.dumps(record)) == record


def test_headers_json_keeps_every_header_and_the_server_address(
    plain: Capture, site: WebSite
) -> None:
    kept = json.loads(plain.files[3].read_text())
    assert kept["status"] == 200
    assert kept["final_url"] == site.url("/")
    assert kept["server_address"] == "127.0.0.1"
    assert kept["captured_at"] == plain.captured_at
    cookies = [value for name, value in kept["response_headers"] if name == "Set-Cookie"]
    assert cookies == ["a=1; Path=/", "b=2; Path=/"]
    assert any(name == "User-Agent" for name, _ in kept["request_headers"])


def test_redirects_are_recorded_hop_by_hop(
    capturer: Capturer, site: WebSite, tmp_path: Path
) -> None:
    result = capturer.capture(site.url("/hop/1"), tmp_path, LOCAL)
    assert result.error is None
    assert result.redirects == (site.url("/hop/1"), site.url("/hop/2"))
    assert (result.final_url, result.status, result.title) == (site.url("/"), 200, PLAIN_TITLE)
    hops = json.loads((tmp_path / "headers.json").read_text())["redirects"]
    assert [(hop["url"], hop["status"]) for hop in hops] == [
        (site.url("/hop/1"), 302),
        (site.url("/hop/2"), 301),
    ]
    assert ["Location", "/hop/2"] in hops[0]["response_headers"]


def test_a_404_is_evidence_too_not_a_failure(
    capturer: Capturer, site: WebSite, tmp_path: Path
) -> None:
    result = capturer.capture(site.url("/missing"), tmp_path, LOCAL)
    assert (result.status, result.title, result.error) == (404, "Not found", None)
    assert _names(result) == FILES


def test_images_video_and_audio_are_not_pulled_by_default(
    capturer: Capturer, site: WebSite, tmp_path: Path
) -> None:
    result = capturer.capture(site.url("/media"), tmp_path, LOCAL)
    assert result.error is None
    assert result.title == "Media page"
    assert "/media" in site.paths()
    for media in ("/picture.png", "/clip.webm", "/sound.ogg"):
        assert media not in site.paths()
    assert "Content-Type: image/png" not in (tmp_path / "page.mhtml").read_text()


def test_with_media_the_page_is_kept_with_its_pictures(
    capturer: Capturer, site: WebSite, tmp_path: Path
) -> None:
    before = len(site.hits)
    options = CaptureOptions(allow_private=True, with_media=True)
    result = capturer.capture(site.url("/media"), tmp_path, options)
    assert result.error is None
    assert result.to_record()["with_media"] is True
    assert "/picture.png" in site.paths()[before:]
    assert "Content-Type: image/png" in (tmp_path / "page.mhtml").read_text()


def test_an_address_that_is_itself_a_picture_is_not_kept_without_media(
    capturer: Capturer, site: WebSite, tmp_path: Path
) -> None:
    result = capturer.capture(site.url("/picture-page"), tmp_path, LOCAL)
    assert result.error is not None
    assert "is itself a media file (image/png)" in result.error
    assert result.final_url == site.url("/picture.png")
    assert _names(result) == ["headers.json"]


def test_a_page_that_does_not_answer_in_time_is_a_failed_capture(
    capturer: Capturer, site: WebSite, tmp_path: Path
) -> None:
    started = time.monotonic()
    options = CaptureOptions(allow_private=True, timeout_s=1)
    result = capturer.capture(site.url("/slow?s=10"), tmp_path, options)
    assert time.monotonic() - started < 5
    assert result.error == "the page did not answer within 1 s"
    assert (result.status, result.final_url, result.files) == (None, None, ())


def test_a_host_that_does_not_exist_is_a_failed_capture(
    capturer: Capturer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        # As a resolver answers for .invalid (RFC 6761), without waiting on one.
        if host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result = capturer.capture("http://nothing.invalid/page", tmp_path, CaptureOptions())
    assert result.error is not None
    assert "nothing.invalid could not be resolved" in result.error
    assert (result.status, result.files) == (None, ())
    assert result.tool_versions["chromium"]


def test_a_download_is_not_a_page(capturer: Capturer, site: WebSite, tmp_path: Path) -> None:
    result = capturer.capture(site.url("/download"), tmp_path, LOCAL)
    assert result.error == f"{site.url('/download')} is a download, not a page"
    assert _names(result) == ["headers.json"]  # What the server said, without the file.


@pytest.mark.parametrize("limit_kib", [16, 150])
def test_a_page_past_the_size_limit_is_cut_and_says_so(
    capturer: Capturer, site: WebSite, tmp_path: Path, limit_kib: int
) -> None:
    options = CaptureOptions(allow_private=True, max_bytes=limit_kib * 1024)
    started = time.monotonic()
    result = capturer.capture(site.url("/large?kib=1024"), tmp_path, options)
    assert time.monotonic() - started < 10
    assert result.error is not None
    # Whether Chromium shows any of a cut-off page depends on where the cut fell; the
    # capture says which, and keeps what was shown.
    assert f"size limit of {limit_kib * 1024:,} bytes" in result.error
    shown = "what had loaded is kept" in result.error
    assert shown or "none of it could be kept" in result.error
    assert set(_names(result)) == (set(FILES) if shown else set(_names(result)) & {"headers.json"})
    html = tmp_path / "page.html"
    assert not html.exists() or html.stat().st_size <= limit_kib * 1024


def test_a_large_page_within_the_limit_is_kept_whole(
    capturer: Capturer, site: WebSite, tmp_path: Path
) -> None:
    options = CaptureOptions(allow_private=True, max_bytes=128 * 1024)
    result = capturer.capture(site.url("/large?kib=96"), tmp_path, options)
    assert result.error is None
    assert (tmp_path / "page.html").stat().st_size > 96 * 1024


@pytest.mark.usefixtures("capturer")  # Skips, or fails under CI, without Chromium.
def test_capture_starts_and_stops_its_own_browser(site: WebSite, tmp_path: Path) -> None:
    started = time.monotonic()
    result = capture(site.url("/"), tmp_path, LOCAL)
    elapsed = time.monotonic() - started
    assert result.error is None
    assert _names(result) == FILES
    print(f"capture() of a plain page, browser start included: {elapsed:.2f} s")
