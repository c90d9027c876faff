"""Notices tracked in the case's tamper-evident log: each change of state with its UTC
time, deadlines from the regime, what is due, escalations after a missed deadline, and
the plan; and nothing a draft or its files carry is an image or a local path."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leakshield.errors import UsageError
from leakshield.evidence import Vault, export_bundle, verify_bundle
from leakshield.notices import (
    Directory,
    case_locations,
    deadline_of,
    draft_notice,
    due,
    escalate_notice,
    make_plan,
    read_case,
    record_state,
    render_eml,
    render_pdf,
    set_profile,
)
from tests.evidence._cases import PASSPHRASE
from tests.notices._notice_cases import FULL_PROFILE, NOW, add_page, case_with_pages

DIRECTORY = Directory.load()
X_URL = "https://x.com/someone/status/1234567890"
SITE_URL = "https://leaks.example.net/gallery/42"


def _ready_case(tmp_path: Path, profile: object = FULL_PROFILE) -> object:
    case = case_with_pages(tmp_path / "cases", tmp_path, [X_URL, SITE_URL])
    set_profile(case, profile)  # type: ignore[arg-type]
    return case


def test_states_are_logged_with_utc_times_and_survive_reopening(tmp_path: Path) -> None:
    case = case_with_pages(tmp_path / "cases", tmp_path, [X_URL])
    with case:
        set_profile(case, FULL_PROFILE)
        notice = draft_notice(case, DIRECTORY, platform="x", signed=True, now=NOW)
        assert notice.draft.ready and notice.state == "draft"
        assert [loc.url for loc in notice.draft.locations] == [X_URL]
        sent_at = NOW - timedelta(hours=2)
        notice = record_state(case, notice, "sent", sent_at, now=NOW, reference="TKT-1")
        assert deadline_of(notice) == sent_at + timedelta(hours=48)
        notice = record_state(case, notice, "acknowledged", NOW, now=NOW)
        case_id = case.case_id
    with Vault(tmp_path / "cases").open(case_id, PASSPHRASE) as reopened:
        [stored] = read_case(reopened).notices
        actions = [r["action"] for r in reopened.records]
    assert stored.state == "acknowledged"
    assert [(c.state, c.at) for c in stored.history] == [
        ("sent", "2026-11-30T10:00:00+00:00"),
        ("acknowledged", "2026-11-30T12:00:00+00:00"),
    ]
    assert stored.history[0].reference == "TKT-1"
    assert actions[-4:] == [
        "notice-profile-set",
        "notice-drafted",
        "notice-updated",
        "notice-updated",
    ]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([("acknowledged", 0)], "has not been marked sent"),
        ([("sent", 0), ("sent", 0)], "already marked sent"),
        ([("sent", 0), ("acknowledged", -1)], "cannot be earlier"),
        ([("sent", 0), ("removed", 0), ("sent", 0)], "closed"),
        ([("draft", 0)], "not 'draft'"),
        ([("sent", 1)], "future"),
    ],
)
def test_a_change_that_makes_no_sense_is_refused(
    tmp_path: Path, steps: list[tuple[str, int]], message: str
) -> None:
    with case_with_pages(tmp_path / "cases", tmp_path, [X_URL]) as case:
        set_profile(case, FULL_PROFILE)
        notice = draft_notice(case, DIRECTORY, platform="x", signed=True, now=NOW)
        *fine, (last, hours) = steps
        for state, offset in fine:
            notice = record_state(case, notice, state, NOW + timedelta(hours=offset), now=NOW)
        records = len(case.records)
        with pytest.raises(UsageError, match=message):
            record_state(case, notice, last, NOW + timedelta(hours=hours), now=NOW)
        assert len(case.records) == records  # nothing recorded


def test_a_draft_that_is_not_ready_is_sent_only_anyway(tmp_path: Path) -> None:
    with case_with_pages(tmp_path / "cases", tmp_path, [X_URL]) as case:
        notice = draft_notice(case, DIRECTORY, platform="x", now=NOW)  # no profile, unsigned
        assert not notice.draft.ready
        with pytest.raises(UsageError, match="not ready"):
            record_state(case, notice, "sent", NOW, now=NOW)
        sent = record_state(case, notice, "sent", NOW, now=NOW, anyway=True)
    assert sent.state == "sent"


def test_due_lists_overdue_and_escalation_drafts_the_ftc_complaint(tmp_path: Path) -> None:
    with case_with_pages(tmp_path / "cases", tmp_path, [X_URL]) as case:
        set_profile(case, dataclasses.replace(FULL_PROFILE, country="US"))
        notice = draft_notice(case, DIRECTORY, platform="x", signed=True, now=NOW)
        sent = record_state(case, notice, "sent", NOW - timedelta(hours=47), now=NOW)
        [soon] = due([sent], NOW, timedelta(hours=24))
        assert not soon.overdue and soon.left == timedelta(hours=1)
        with pytest.raises(UsageError, match="deadline"):
            escalate_notice(case, DIRECTORY, sent.id, now=NOW)
        later = NOW + timedelta(hours=3)
        [late] = due(read_case(case).notices, later, timedelta(0))
        assert late.overdue and late.notice.id == sent.id
        complaint = escalate_notice(case, DIRECTORY, sent.id, signed=True, now=later)
    draft = complaint.draft
    assert (draft.platform_id, draft.regime_id, draft.escalates) == (
        "ftc",
        "us-ftc-complaint",
        sent.id,
    )
    assert draft.ready, draft.missing
    text = draft.text()
    assert X_URL in text and sent.id in text and "48 hours" in text


def test_an_australian_case_escalates_to_esafety_with_its_24_hours(tmp_path: Path) -> None:
    with case_with_pages(tmp_path / "cases", tmp_path, [X_URL]) as case:
        set_profile(case, FULL_PROFILE)  # lives in AU
        notice = draft_notice(
            case, DIRECTORY, platform="x", regime="platform-policy", signed=True, now=NOW
        )
        notice = record_state(case, notice, "sent", NOW - timedelta(days=3), now=NOW)
        notice = record_state(case, notice, "no-answer", NOW, now=NOW)
        complaint = escalate_notice(case, DIRECTORY, notice.id, signed=True, now=NOW)
        assert complaint.draft.regime_id == "au-esafety" and complaint.draft.ready
        assert deadline_of(complaint) is None  # the clock starts at eSafety's notice
        sent = record_state(case, complaint, "sent", NOW, now=NOW)
        acknowledged_at = NOW + timedelta(minutes=1)
        acknowledged = record_state(
            case, sent, "acknowledged", acknowledged_at, now=NOW + timedelta(minutes=2)
        )
    assert deadline_of(acknowledged) == acknowledged_at + timedelta(hours=24)


def test_the_plan_names_every_platform_route_and_next_step(tmp_path: Path) -> None:
    with case_with_pages(tmp_path / "cases", tmp_path, [X_URL, SITE_URL]) as case:
        set_profile(case, FULL_PROFILE)
        before = make_plan(read_case(case), case_locations(case, DIRECTORY), True, DIRECTORY, NOW)
        notice = draft_notice(case, DIRECTORY, platform="x", signed=True, now=NOW)
        record_state(case, notice, "sent", NOW - timedelta(hours=50), now=NOW)
        after = make_plan(read_case(case), case_locations(case, DIRECTORY), True, DIRECTORY, NOW)
    rows = {row.platform_id or row.platform: row for row in before}
    assert before[0].platform_id == "stopncii"
    assert {"x", "google-search", "bing", "esafety", "leaks.example.net"} <= set(rows)
    assert rows["x"].urls == (X_URL,) and "draft" in rows["x"].next
    assert any(r.startswith("us-take-it-down") for r in rows["x"].routes)
    assert rows["leaks.example.net"].urls == (SITE_URL,)
    x_after = next(row for row in after if row.platform_id == "x")
    assert "escalate" in x_after.next and "overdue" in x_after.next
    assert any("sent" in done for done in x_after.done)


def test_a_site_the_directory_does_not_know_gets_a_notice_to_its_host(tmp_path: Path) -> None:
    with case_with_pages(tmp_path / "cases", tmp_path, [X_URL, SITE_URL]) as case:
        set_profile(case, FULL_PROFILE)
        notice = draft_notice(case, DIRECTORY, platform="leaks.example.net", now=NOW)
    assert [loc.url for loc in notice.draft.locations] == [SITE_URL]
    assert notice.draft.regime_id == "eu-dsa-16"


def test_drafts_and_their_files_hold_no_image_and_no_local_path(tmp_path: Path) -> None:
    case = case_with_pages(tmp_path / "cases", tmp_path, [X_URL])
    photo_bytes = (tmp_path / "leaked-copy.jpg").read_bytes()
    with case:
        set_profile(case, FULL_PROFILE)
        drafts = [
            draft_notice(case, DIRECTORY, platform=p, regime=r, signed=True, now=NOW).draft
            for p, r in [("x", "us-take-it-down"), ("x", "us-dmca"), ("google-search", None)]
        ]
        records = [r for r in case.records if str(r["action"]).startswith("notice-")]
    outputs = [d.text().encode() for d in drafts] + [render_eml(d) for d in drafts]
    outputs.append(render_pdf(drafts[0]))
    outputs.append(str(records).encode())
    needles = [
        str(tmp_path).encode(),
        b"leaked-copy",
        photo_bytes[:64],
        base64.b64encode(photo_bytes[:48]),
        b"\x89PNG",
        b"\xff\xd8\xff",
    ]
    for output in outputs:
        for needle in needles:
            assert needle not in output
    assert b"/Subtype /Image" not in outputs[-2]
    # the case's hashes are there instead
    assert any("SHA-256" in d.text() for d in drafts)


def test_a_case_with_notices_still_exports_a_bundle_that_verifies(tmp_path: Path) -> None:
    with case_with_pages(tmp_path / "cases", tmp_path, [X_URL], with_photo=False) as case:
        set_profile(case, FULL_PROFILE)
        notice = draft_notice(case, DIRECTORY, platform="x", signed=True, now=NOW)
        record_state(case, notice, "sent", NOW, now=NOW)
        add_page(case, X_URL, tmp_path, status=404)
        export_bundle(case, tmp_path / "bundle.zip", hashes_only=True, pdf=False)
    verification = verify_bundle(tmp_path / "bundle.zip")
    assert verification.ok, verification.problems
    assert datetime.now(UTC) > NOW  # the fixed NOW is in the past: --at checks hold
