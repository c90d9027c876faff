"""Drafts under every regime: a complete case gives a ready draft holding every required
element; take away what supplies any one element and the draft is not ready and names
it. A draft carries only the personal details its regime asks for, and never an image
or a local path."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakshield.errors import UsageError
from leakshield.notices import (
    Directory,
    Location,
    Notice,
    Profile,
    StateChange,
    check_url,
    draft_notice,
    read_case,
    render_eml,
)
from leakshield.notices._draft import draft_request
from leakshield.notices._fields import Context
from leakshield.notices._model import ContentHash, Draft
from leakshield.notices._schema import RegimeEntry
from tests.notices._notice_cases import FULL_PROFILE, NOW, case_with_pages

DIRECTORY = Directory.load()
URL = "https://x.com/someone/status/1234567890"
LOCATION = Location(
    URL,
    "x",
    captured_at="2026-11-29T09:15:00+00:00",
    capture_item="item-0002",
    screenshot_sha256="ab" * 32,
    status=200,
)
HASH = ContentHash("item-0003", "copy.jpg", "cd" * 32, "ef" * 32)

# (platform, regime): one route for each regime the directory has.
ROUTES = [
    ("x", "us-take-it-down"),
    ("x", "us-dmca"),
    ("x", "eu-dsa-16"),
    ("x", "platform-policy"),
    ("x", "uk-osa"),
    ("esafety", "au-esafety"),
    ("ftc", "us-ftc-complaint"),
    ("stopncii", "hash-program"),
]


def _sent_notice() -> Notice:
    """A TAKE IT DOWN request to X, sent three days before NOW and not acted on."""
    sent = Draft(
        notice_id="notice-0001",
        case_id="case",
        platform_id="x",
        platform_name="X",
        regime_id="us-take-it-down",
        regime_name="US TAKE IT DOWN Act",
        route_name="Report",
        channel="web-form",
        where="https://help.x.com/",
        how="the form",
        subject="Removal request",
        sections=(),
        ready=True,
        missing=(),
        warnings=(),
        locations=(LOCATION,),
        drafted_at="2026-11-27T10:00:00+00:00",
        deadline_hours=48,
    )
    change = StateChange("sent", "2026-11-27T11:00:00+00:00", "2026-11-27T11:00:00+00:00")
    return Notice(sent, (change,))


def _context(regime: RegimeEntry, platform_id: str, **changes: object) -> Context:
    values: dict[str, object] = {
        "profile": FULL_PROFILE,
        "regime": regime,
        "platform": DIRECTORY.platform(platform_id),
        "locations": (LOCATION,),
        "hashes": (HASH,),
        "signed": True,
        "drafted_at": NOW,
        "escalated": _sent_notice(),
    }
    values.update(changes)
    return Context(**values)  # type: ignore[arg-type]


def _draft(platform_id: str, regime_id: str, **changes: object) -> Draft:
    platform = DIRECTORY.platform(platform_id)
    route = platform.route(regime_id)
    assert route is not None, f"{platform_id} has no {regime_id} route"
    context = _context(DIRECTORY.regime(regime_id), platform_id, **changes)
    return draft_request(
        notice_id="notice-0002", case_id="case", platform=platform, route=route, context=context
    )


def _without(field: str) -> dict[str, object]:
    """The context changes that take away what fills ``field``."""
    profile_fields = {
        "requester_name": "name",
        "contact_email": "email",
        "contact_phone": "phone",
        "contact_address": "address",
        "jurisdiction_link": "country",
        "copyright_work": "work",
    }
    if field in profile_fields:
        return {"profile": dataclasses.replace(FULL_PROFILE, **{profile_fields[field]: None})}
    if field in ("signature", "statement"):
        return {"signed": False}
    if field in ("locations", "identification"):
        return {"locations": (), "hashes": ()}
    if field == "escalated_notice":
        return {"escalated": None}
    if field == "authority":
        return {"profile": dataclasses.replace(FULL_PROFILE, acting_for="Jane Example")}
    raise AssertionError(f"no way to take {field} away")


def _elements() -> Iterator[tuple[str, str, str]]:
    for platform_id, regime_id in ROUTES:
        for element in DIRECTORY.regime(regime_id).elements:
            if set(element.fields) <= {"earlier_reports", "explanation"}:
                continue  # always filled: "none before this one", the regime's own text
            yield platform_id, regime_id, element.id


@pytest.mark.parametrize(("platform_id", "regime_id"), ROUTES)
def test_a_complete_case_gives_a_ready_draft_with_every_element(
    platform_id: str, regime_id: str
) -> None:
    draft = _draft(platform_id, regime_id)
    assert draft.ready, draft.missing
    assert draft.missing == ()
    text = draft.text()
    regime = DIRECTORY.regime(regime_id)
    fields = {f for e in regime.elements for f in e.fields}
    written = {s.field for s in draft.sections}
    assert fields - {"authority"} <= written  # authority is only for a representative
    if "locations" in fields:
        assert URL in text
    if "signature" in fields:
        assert "/s/ Jane Example" in text
    if "contact_email" in fields:
        assert "jane@example.org" in text and draft.from_email == "jane@example.org"
    for element in regime.elements:
        if element.statement:
            assert element.statement.split("{")[0].strip()[:30] in text


@pytest.mark.parametrize(("platform_id", "regime_id", "element_id"), list(_elements()))
def test_taking_any_element_away_makes_the_draft_not_ready_and_names_it(
    platform_id: str, regime_id: str, element_id: str
) -> None:
    element = DIRECTORY.regime(regime_id).element(element_id)
    changes: dict[str, object] = {}
    for field in element.fields:
        if field != "earlier_reports":
            changes.update(_without(field))
    draft = _draft(platform_id, regime_id, **changes)
    assert not draft.ready
    named = {m.element: m for m in draft.missing}
    assert element_id in named
    assert named[element_id].reason  # says what is missing and how to supply it
    assert "leakshield" in named[element_id].reason or "--" in named[element_id].reason


def test_a_representative_must_say_why_they_may_act() -> None:
    acting = dataclasses.replace(FULL_PROFILE, acting_for="Jane Example", name="Sam Lawyer")
    draft = _draft("x", "us-take-it-down", profile=acting)
    assert not draft.ready and "signature" in {m.element for m in draft.missing}
    authorised = dataclasses.replace(acting, authority="her solicitor, authorised in writing")
    draft = _draft("x", "us-take-it-down", profile=authorised)
    assert draft.ready
    text = draft.text()
    assert "I act for Jane Example: her solicitor, authorised in writing." in text
    assert "/s/ Sam Lawyer, for Jane Example" in text
    assert "the person I represent, Jane Example" in text


def test_a_draft_carries_only_the_personal_details_its_regime_asks_for() -> None:
    take_it_down = _draft("x", "us-take-it-down").text()
    dmca = _draft("x", "us-dmca").text()
    esafety = _draft("esafety", "au-esafety").text()
    for detail in (FULL_PROFILE.phone, FULL_PROFILE.address):
        assert detail and detail in dmca
        assert detail not in take_it_down and detail not in esafety
    assert "Jane Example" not in esafety  # eSafety needs a contact e-mail, not a name
    assert "jane@example.org" in esafety


def test_dmca_only_for_the_copyright_holder_and_with_the_forwarding_warning(
    tmp_path: Path,
) -> None:
    with case_with_pages(tmp_path / "cases", tmp_path, [URL]) as case:
        with pytest.raises(UsageError, match="copyright"):
            draft_notice(case, DIRECTORY, platform="x", regime="us-dmca", now=NOW)
        from leakshield.notices import set_profile

        set_profile(case, FULL_PROFILE)
        notice = draft_notice(case, DIRECTORY, platform="x", regime="us-dmca", now=NOW)
    warnings = " ".join(notice.draft.warnings).lower()
    assert "forward" in warnings and "uploader" in warnings
    assert "forward" not in notice.draft.text().lower()  # a warning is not part of the request


def test_a_minors_case_routes_to_take_it_down_and_never_to_stopncii_or_dmca(
    tmp_path: Path,
) -> None:
    from leakshield.notices import set_profile

    minor = Profile(name="Parent Example", email="parent@example.org", minor=True)
    with case_with_pages(tmp_path / "cases", tmp_path, [URL]) as case:
        set_profile(case, dataclasses.replace(minor, copyright_holder=True, work="a selfie"))
        with pytest.raises(UsageError, match="NCMEC"):
            draft_notice(case, DIRECTORY, platform="stopncii", now=NOW)
        with pytest.raises(UsageError, match="minor"):
            draft_notice(case, DIRECTORY, platform="x", regime="us-dmca", now=NOW)
        steps = draft_notice(case, DIRECTORY, platform="ncmec-take-it-down", now=NOW)
        report = draft_notice(case, DIRECTORY, platform="x", now=NOW)
    assert steps.draft.regime_id == "hash-program" and steps.draft.locations == ()
    assert any("NCMEC" in w for w in report.draft.warnings)
    with (
        case_with_pages(tmp_path / "adult", tmp_path, [URL]) as case,
        pytest.raises(UsageError, match="under 18"),
    ):
        draft_notice(case, DIRECTORY, platform="ncmec-take-it-down", now=NOW)


ODD_URLS = [
    "https://x.com/a/status/1?s=20&t=%E2%9C%93#reply",
    'https://www.reddit.com/r/x/comments/abc/ça_va/?utm="q"&x=<y>',
    "https://x.com/" + "a" * 1_500 + "?q=1",
    "http://example.net:8080/path;params/%2e%2e/file.php?id=1'--",
]


@pytest.mark.parametrize("url", ODD_URLS)
def test_an_odd_url_is_kept_exact_in_the_record_the_text_and_the_email(
    url: str, tmp_path: Path
) -> None:
    with case_with_pages(tmp_path / "cases", tmp_path, [], with_photo=False) as case:
        draft_notice(case, DIRECTORY, platform="x", urls=[url], now=NOW)
        stored = read_case(case).notices[-1].draft
    assert [loc.url for loc in stored.locations] == [url]
    assert any(line.endswith(f" {url}") for line in stored.text().splitlines())
    import email
    import email.policy

    message = email.message_from_bytes(render_eml(stored), policy=email.policy.default)
    body = message.get_body()
    assert body is not None and url in body.get_content()


NOT_URLS = [
    "https://x.com/a b",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "https://x.com/\nBcc: a",
    "//x.com/a",
    "https:///nohost",
]


@pytest.mark.parametrize("url", NOT_URLS)
def test_a_url_that_is_not_one_is_refused_not_altered(url: str) -> None:
    with pytest.raises(UsageError):
        check_url(url)


@pytest.mark.parametrize(
    ("content", "form"),
    [("synthetic", "9116649"), ("real", "6302812"), ("unknown", "6302812")],
)
def test_google_gets_the_form_for_real_or_for_faked_images(content: str, form: str) -> None:
    from leakshield.notices._compose import choose_route

    profile = dataclasses.replace(FULL_PROFILE, content=content)  # type: ignore[arg-type]
    google = DIRECTORY.platform("google-search")
    for regime in (None, "platform-policy"):
        route = choose_route(google, DIRECTORY, profile, regime)
        assert form in route.where


def test_the_deadline_note_names_the_command_that_starts_the_clock() -> None:
    draft = _draft("x", "us-take-it-down")
    [note] = [w for w in draft.warnings if w.startswith("Deadline:")]
    assert "48 hours" in note and "leakshield notice mark case notice-0002 sent" in note
    assert not any(w.startswith("Deadline:") for w in _draft("x", "us-dmca").warnings)
