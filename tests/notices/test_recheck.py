"""Rechecks: how a captured page is judged (without a browser), and reported URLs
rechecked in a real headless Chromium against pages on 127.0.0.1, with what the case
keeps of them, in an adult's case and in a minor's."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from leakshield.errors import ConfigError
from leakshield.evidence import Capture, CaptureOptions, OpenCase, chromium_path
from leakshield.notices._model import Observation
from leakshield.notices._recheck import Target, judge, page_text, recheck
from leakshield.notices._schema import PlatformEntry
from tests.conftest import IN_CI
from tests.evidence._cases import check_folder, new_case, sha256, stored_bytes
from tests.notices._pages import LIVE_TEXT, LIVE_TITLE, Pages

PLATFORM = PlatformEntry.model_validate(
    {
        "schema": 1,
        "id": "x",
        "name": "X",
        "kind": "platform",
        "domains": ["x.com"],
        "checked": "2026-11-30",
        "checked_how": "made up for the tests",
        "routes": [
            {
                "regime": "platform-policy",
                "name": "Report a post",
                "channel": "web-form",
                "where": "https://help.example.org/report",
                "how": "Fill in the form.",
                "source": "https://help.example.org/report",
            }
        ],
        "removed_markers": ["This post is unavailable", "Hmm...this page doesn't exist"],
        "login_markers": ["Log in to see this post"],
    }
)
# What recheck needs of the directory: its platforms by id.
DIRECTORY: Any = SimpleNamespace(platforms={"x": PLATFORM})
STILL_THERE = "HTTP 200 and nothing on the page says it was removed"


def _capture(
    status: int | None = 200,
    *,
    title: str | None = "Post",
    error: str | None = None,
    content_type: str = "text/html; charset=utf-8",
) -> Capture:
    headers = {"content-type": content_type} if status is not None else {}
    return Capture(
        url="https://x.com/someone/status/1",
        final_url="https://x.com/someone/status/1" if status is not None else None,
        redirects=(),
        status=status,
        headers=headers,
        title=title,
        captured_at="2026-11-30T12:00:00.000Z",
        tool_versions={},
        error=error,
    )


# judge, rule by rule


@pytest.mark.parametrize(
    ("status", "reason"),
    [(404, "HTTP 404 (not found)"), (410, "HTTP 410 (gone)"), (451, "HTTP 451")],
)
def test_the_server_saying_not_found_or_gone_is_gone(status: int, reason: str) -> None:
    outcome, why = judge(_capture(status), "Anything at all", PLATFORM)
    assert outcome == "gone"
    assert why.startswith(reason)


@pytest.mark.parametrize(
    "shown",
    [
        "This post is unavailable.",
        "THIS POST IS\n   UNAVAILABLE",
        "Hmm\u2026this page doesn\u2019t exist. Try searching for something else.",
        "hmm...this\u00a0page doesn't exist",
    ],
)
def test_a_removed_marker_on_the_page_is_gone_and_named(shown: str) -> None:
    outcome, why = judge(_capture(200), f"Home\n{shown}\nFooter", PLATFORM)
    assert outcome == "gone"
    assert why.startswith("the page says '")
    assert any(marker in why for marker in PLATFORM.removed_markers)


def test_a_removed_marker_in_the_title_is_gone() -> None:
    capture = _capture(200, title="This post is unavailable / X")
    assert judge(capture, "", PLATFORM)[0] == "gone"


def test_the_removed_marker_outweighs_a_refusal() -> None:
    assert judge(_capture(403), "This post is unavailable", PLATFORM)[0] == "gone"


def test_a_login_wall_is_unclear() -> None:
    outcome, why = judge(_capture(200), "Log in to see this post", PLATFORM)
    assert outcome == "unclear"
    assert why.startswith("a login wall hides the page")


def test_markers_are_the_platforms_own() -> None:
    """Another site's words, or a page of no known platform, prove nothing."""
    assert judge(_capture(200), "This post is unavailable", None) == ("still-there", STILL_THERE)
    assert judge(_capture(200), "Content removed", PLATFORM)[0] == "still-there"


@pytest.mark.parametrize(("status", "word"), [(401, "log in"), (403, "refused"), (429, "later")])
def test_a_refusal_or_a_rate_limit_is_unclear(status: int, word: str) -> None:
    outcome, why = judge(_capture(status), "Nothing here", PLATFORM)
    assert outcome == "unclear"
    assert why.startswith(f"HTTP {status}: ")
    assert word in why


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_unclear(status: int) -> None:
    outcome, why = judge(_capture(status), "", PLATFORM)
    assert outcome == "unclear"
    assert why == f"HTTP {status}: the site had a server error; try again later"


@pytest.mark.parametrize("status", [200, 203, 300])
def test_a_page_that_loads_without_a_removal_notice_is_still_there(status: int) -> None:
    outcome, why = judge(_capture(status), "A picture of her", PLATFORM)
    assert outcome == "still-there"
    assert why == f"HTTP {status} and nothing on the page says it was removed"


def test_a_capture_that_got_no_answer_is_unclear_with_its_reason() -> None:
    failed = _capture(None, title=None, error="the page did not answer within 30 s")
    assert judge(failed, "", PLATFORM) == ("unclear", "the page did not answer within 30 s")


def test_a_page_that_did_not_load_whole_is_unclear() -> None:
    cut = _capture(200, error="no screenshot: Target closed")
    outcome, why = judge(cut, "A picture of her", PLATFORM)
    assert outcome == "unclear"
    assert "no screenshot: Target closed" in why


def test_a_picture_address_still_served_is_still_there() -> None:
    """A direct link to the picture: the capture keeps nothing (no media), but the
    server still hands it out."""
    picture = _capture(
        200, title=None, error="... is itself a media file", content_type="image/jpeg"
    )
    assert judge(picture, "", PLATFORM) == (
        "still-there",
        "HTTP 200: the address still serves the file (image/jpeg)",
    )
    assert judge(_capture(404, content_type="image/jpeg"), "", PLATFORM)[0] == "gone"


# page_text


def test_page_text_is_what_a_reader_sees() -> None:
    html = (
        "<html><head><title>Title</title><style>p { color: red }</style>"
        "<script>var s = 'This post is unavailable';</script></head><body>"
        "<h1>Post</h1><p>Line&nbsp;one &amp; <b>bold</b></p><p>Line two</p>"
        "<template><p>This post is unavailable</p></template>"
        "<div hidden><div>This post is unavailable</div></div>"
        "<noscript>Turn on JavaScript</noscript><br><input hidden><p>After</p>"
        "</body></html>"
    )
    assert page_text(html) == "Post\nLine one & bold\nLine two\nAfter"


def test_a_hidden_removal_notice_is_not_read_as_removal() -> None:
    html = "<div hidden>This post is unavailable</div><p>A picture of her</p>"
    assert judge(_capture(200), page_text(html), PLATFORM)[0] == "still-there"


def test_page_text_is_bounded() -> None:
    huge = "<p>" + "word " * 2_000_000 + "</p><p>This post is unavailable</p>"
    text = page_text(huge, limit=100_000)
    assert 0 < len(text) <= 100_000
    assert "unavailable" not in text  # Past the limit: never read.


# recheck, in a browser


@dataclass(frozen=True)
class Rechecked:
    case: OpenCase
    targets: list[Target]
    observations: list[Observation]
    heard: list[Observation]
    site: Pages


@pytest.fixture(scope="module")
def browser() -> None:
    """Skip (or, under CI=true, fail) when there is no Chromium to drive."""
    try:
        chromium_path(None)
        import playwright.sync_api  # noqa: F401
    except (ConfigError, ImportError) as exc:
        reason = f"the recheck tests did NOT run: {exc}"
        if IN_CI:
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def site() -> Iterator[Pages]:
    with Pages() as running:
        yield running


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(
    root: Path, site: Pages, paths: list[str], *, minor: bool, extra: tuple[str, ...] = ()
) -> Rechecked:
    case = new_case(root)
    urls = [site.url(path) for path in paths] + list(extra)
    targets = [Target(url, "x", (f"notice-{n:02d}",)) for n, url in enumerate(urls, 1)]
    heard: list[Observation] = []
    # Asking for media must not matter: a recheck never pulls it.
    options = CaptureOptions(allow_private=True, with_media=True, timeout_s=10)
    observations = recheck(
        case, targets, DIRECTORY, options, minor=minor, actor="tester", on_result=heard.append
    )
    return Rechecked(case, targets, observations, heard, site)


@pytest.fixture(scope="module")
def adult(browser: None, site: Pages, tmp_path_factory: pytest.TempPathFactory) -> Rechecked:
    paths = ["/post/live", "/post/deleted", "/post/removed", "/post/blocked", "/post/login"]
    refused = f"http://127.0.0.1:{_closed_port()}/post/1"
    return _run(
        tmp_path_factory.mktemp("vault"),
        site,
        paths,
        minor=False,
        extra=(refused, "file:///etc/passwd"),
    )


@pytest.fixture(scope="module")
def minor(browser: None, site: Pages, tmp_path_factory: pytest.TempPathFactory) -> Rechecked:
    return _run(tmp_path_factory.mktemp("vault"), site, ["/post/live", "/post/removed"], minor=True)


def test_each_url_is_judged_by_what_it_shows(adult: Rechecked) -> None:
    seen = [(o.outcome, o.status) for o in adult.observations]
    assert seen == [
        ("still-there", 200),
        ("gone", 404),
        ("gone", 200),  # The page loads, and says the post is gone.
        ("unclear", 403),
        ("unclear", 200),  # A login wall.
        ("unclear", None),  # Nothing listens there.
        ("unclear", None),  # Not a web address.
    ]
    reasons = [o.reason for o in adult.observations]
    assert reasons[0] == STILL_THERE
    assert reasons[1] == "HTTP 404 (not found)"
    assert reasons[2] == "the page says 'Hmm...this page doesn't exist'"
    assert reasons[4].startswith("a login wall hides the page")
    assert "refused" in reasons[5].lower()
    assert "file:///etc/passwd" in reasons[6]


def test_each_observation_names_its_url_platform_and_notices(adult: Rechecked) -> None:
    for target, observation in zip(adult.targets, adult.observations, strict=True):
        assert (observation.url, observation.platform) == (target.url, "x")
        assert observation.notices == target.notices
        assert observation.checked_at.endswith("+00:00")
    assert adult.observations[0].final_url == adult.targets[0].url
    assert adult.heard == adult.observations  # Heard one by one, in order.


def test_each_page_is_kept_as_evidence_with_its_screenshot(adult: Rechecked) -> None:
    items = {item.id: item for item in adult.case.items()}
    captured = adult.observations[:6]  # All but the refused address were loaded.
    assert [o.capture_item for o in captured] == sorted(items)
    assert adult.observations[6].capture_item is None
    for observation in captured[:5]:
        item = items[observation.capture_item or ""]
        assert item.kind == "capture"
        shot = stored_bytes(adult.case, item.id, "screenshot.png")
        assert sha256(shot) == observation.screenshot_sha256 == item.sha256
        assert item.record["capture"]["with_media"] is False
    failed = items[captured[5].capture_item or ""]
    assert failed.record["capture"]["error"]  # A failed load is evidence too.
    check_folder(adult.case)  # Nothing left unsealed in the case's folder.


def test_each_recheck_is_one_record_in_the_case_log(adult: Rechecked) -> None:
    records = [r for r in adult.case.records if r["action"] == "notice-rechecked"]
    logged = [Observation.from_record(r["details"]["observation"]) for r in records]
    assert logged == adult.observations
    assert {r["actor"] for r in records} == {"tester"}
    assert all(r["item"] is None for r in records)


def test_a_recheck_never_pulls_pictures(adult: Rechecked) -> None:
    assert "/post/live" in adult.site.paths
    assert "/picture.png" not in adult.site.paths


def test_a_minors_case_keeps_no_page_only_the_outcome(minor: Rechecked) -> None:
    assert [o.outcome for o in minor.observations] == ["still-there", "gone"]
    assert minor.case.items() == []
    for observation in minor.observations:
        assert observation.capture_item is None
        assert observation.status == 200
        assert len(observation.screenshot_sha256 or "") == 64
    assert not (minor.case.files.folder / "objects").exists()
    check_folder(minor.case)
    assert [r["action"] for r in minor.case.records[1:]] == ["notice-rechecked"] * 2
    logged = repr(minor.case.records)
    assert LIVE_TEXT not in logged
    assert LIVE_TITLE not in logged  # Not even the page's title.


def test_no_targets_start_no_browser(tmp_path: Path) -> None:
    case = new_case(tmp_path)
    missing = CaptureOptions(chromium=tmp_path / "no-chromium")
    assert recheck(case, [], DIRECTORY, missing, minor=False) == []
    assert [r["action"] for r in case.records[1:]] == []
