"""`leakshield notice` on the command line: the requester's details, a draft that says
what it lacks and then is ready, written as text, e-mail and PDF; its state marked with
times typed in a time zone; what is due; the plan; and the directory's data checked."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import CliResult
from tests.evidence._cases import PASSPHRASE
from tests.notices._notice_cases import case_with_pages

Cli = Callable[..., CliResult]
ENV = "LEAKSHIELD_CASE_PASSPHRASE"
X_URL = "https://x.com/someone/status/1234567890?s=20&t=%E2%9C%93"
SITE_URL = "https://leaks.example.net/gallery/42"

pytestmark = pytest.mark.timeout(120)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def case_id(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A case with captures on X and on an unknown site, and a photo."""
    monkeypatch.setenv(ENV, PASSPHRASE.decode())
    with case_with_pages(data_dir / "cases", tmp_path / "work", [X_URL, SITE_URL]) as case:
        return case.case_id


def test_profile_draft_sign_and_write_every_format(cli: Cli, case_id: str, tmp_path: Path) -> None:
    first = cli("notice", "draft", case_id, "--platform", "x", "--json")
    assert first.exit_code == 0, first.stderr
    [unready] = first.json_lines()
    assert unready["ready"] is False and unready["id"] == "notice-0001"
    missing = {m["element"]: m["reason"] for m in unready["missing"]}  # type: ignore[union-attr]
    assert "contact" in missing and "notice profile" in missing["contact"]
    human = cli("notice", "draft", case_id, "--platform", "x")
    assert "NOT READY" in human.stderr and X_URL in human.stdout
    profile = cli(
        "notice",
        "profile",
        case_id,
        "--name",
        "Jane Example",
        "--email",
        "jane@example.org",
        "--content",
        "synthetic",
        "--json",
    )
    assert profile.exit_code == 0, profile.stderr
    assert profile.json_lines()[0]["email"] == "jane@example.org"
    out = tmp_path / "request.eml"
    ready = cli(
        "notice", "draft", case_id, "--platform", "x", "--sign", "--out", str(out), "--json"
    )
    assert ready.exit_code == 0, ready.stderr
    [record] = ready.json_lines()
    assert record["ready"] is True and record["format"] == "eml"
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert message["Subject"] and message["From"] == "jane@example.org"
    body = message.get_body()
    assert body is not None and X_URL in body.get_content()
    assert SITE_URL not in body.get_content()  # only the platform's own URLs
    assert out.stat().st_mode & 0o777 == 0o600
    again = cli("notice", "draft", case_id, "--platform", "x", "--out", str(out))
    assert again.exit_code == 2 and "exists" in again.stderr
    pdf = tmp_path / "request.pdf"
    shown = cli("notice", "show", case_id, "3", "--out", str(pdf))
    assert shown.exit_code == 0, shown.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
    text = cli("notice", "show", case_id, "notice-0003")
    assert "/s/ Jane Example" in text.stdout and "ready" in text.stderr


def test_mark_due_escalate_and_list(
    cli: Cli, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("notice", "profile", case_id, "--name", "Jane Example", "--email", "j@example.org")
    cli("notice", "draft", case_id, "--platform", "x", "--sign")
    sent_utc = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=50)
    local = sent_utc.astimezone(ZoneInfo("Australia/Sydney"))
    typed = local.strftime("%Y-%m-%d %H:%M")
    marked = cli(
        "notice",
        "mark",
        case_id,
        "1",
        "sent",
        "--at",
        typed,
        "--tz",
        "Australia/Sydney",
        "--reference",
        "X-123",
        "--json",
    )
    assert marked.exit_code == 0, marked.stderr
    [record] = marked.json_lines()
    assert record["history"][0]["at"] == sent_utc.isoformat()  # type: ignore[index]
    assert record["deadline"] == (sent_utc + timedelta(hours=48)).isoformat()
    due = cli("notice", "due", "--json")
    assert due.exit_code == 0, due.stderr
    [late] = due.json_lines()
    assert late["overdue"] is True and late["case"] == case_id
    assert late["next"] == f"leakshield notice escalate {case_id} notice-0001"
    table = cli("notice", "due", "--tz", "Europe/London")
    assert "overdue" in _flat(table.stdout)
    early = cli("notice", "mark", case_id, "1", "acknowledged", "--at", "2020-01-01 10:00")
    assert early.exit_code == 2 and "earlier" in early.stderr
    skipped = cli(
        "notice",
        "mark",
        case_id,
        "1",
        "acknowledged",
        "--at",
        "2026-03-29 01:30",
        "--tz",
        "Europe/London",
    )
    assert skipped.exit_code == 2 and "+01:00" in skipped.stderr
    complaint = cli("notice", "escalate", case_id, "1", "--sign", "--json")
    assert complaint.exit_code == 0, complaint.stderr
    [ftc] = complaint.json_lines()
    assert ftc["regime"] == "us-ftc-complaint" and ftc["escalates"] == "notice-0001"
    listed = cli("notice", "list", case_id, "--json").json_lines()
    assert [(n["id"], n["state"]) for n in listed] == [
        ("notice-0001", "sent"),
        ("notice-0002", "draft"),
    ]


def test_plan_and_directory(cli: Cli, case_id: str) -> None:
    plan = cli("notice", "plan", case_id, "--json")
    assert plan.exit_code == 0, plan.stderr
    rows = {row["platform_id"] or row["platform"]: row for row in plan.json_lines()}
    assert {"stopncii", "x", "google-search", "leaks.example.net"} <= set(rows)
    human = cli("notice", "plan", case_id)
    assert "X" in human.stdout and "leaks.example.net" in human.stdout
    listed = cli("notice", "directory", "--json").json_lines()
    assert {"x", "meta", "us-take-it-down"} <= {str(r["id"]) for r in listed}
    checked = cli("notice", "directory", "--check")
    assert checked.exit_code == 0 and "valid" in checked.stdout


def test_a_malformed_override_is_refused_naming_its_path_and_field(
    cli: Cli, data_dir: Path
) -> None:
    folder = data_dir / "notices" / "platforms"
    folder.mkdir(parents=True)
    bad = folder / "x.toml"
    bad.write_text(
        'schema = 1\nid = "x"\nname = "X"\nkind = "platform"\nchecked = 2026-11-30\n'
        'checked_how = "by hand"\n[[routes]]\nregime = "platform-policy"\nname = "Report"\n'
        'channel = "web-form"\nwhere = "ftp://example.org"\nhow = "the form"\n'
        'source = "https://example.org/"\n'
    )
    checked = cli("notice", "directory", "--check")
    assert checked.exit_code == 4
    message = _flat(checked.stderr)
    assert "x.toml" in message and "routes.0.where" in message


def test_wrong_passphrase_and_unknown_platform(
    cli: Cli, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = cli("notice", "draft", case_id, "--platform", "myspace")
    assert unknown.exit_code != 0 and "myspace" in unknown.stderr
    monkeypatch.setenv(ENV, "not the passphrase")
    wrong = cli("notice", "list", case_id)
    assert wrong.exit_code == 4


def test_recheck_then_plan_for_a_site_the_directory_does_not_know(
    cli: Cli, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakshield.errors import ConfigError
    from leakshield.evidence import chromium_path
    from tests.conftest import IN_CI
    from tests.notices._notice_cases import add_page
    from tests.notices._pages import Pages

    try:
        chromium_path(None)
    except ConfigError as exc:
        if IN_CI:
            pytest.fail(f"CI=true: no Chromium for the recheck test: {exc}")
        pytest.skip(f"no Chromium: {exc}")
    monkeypatch.setenv(ENV, PASSPHRASE.decode())
    with Pages() as site:
        live, deleted = site.url("/post/live"), site.url("/post/deleted")
        with case_with_pages(data_dir / "cases", tmp_path / "work", [live]) as case:
            add_page(case, deleted, tmp_path / "work")
            case_id = case.case_id
        nothing = cli("notice", "recheck", case_id)
        assert nothing.exit_code == 2 and "nothing to recheck" in nothing.stderr
        cli("notice", "profile", case_id, "--name", "Jane Example", "--email", "j@example.org")
        drafted = cli("notice", "draft", case_id, "--platform", "127.0.0.1", "--sign", "--json")
        assert drafted.exit_code == 0, drafted.stderr
        [notice] = drafted.json_lines()
        assert notice["urls"] == [live, deleted] and notice["regime"] == "eu-dsa-16"
        cli("notice", "mark", case_id, "1", "sent")
        rechecked = cli("notice", "recheck", case_id, "--allow-private", "--json")
        assert rechecked.exit_code == 0, rechecked.stderr
        seen = {row["url"]: row["outcome"] for row in rechecked.json_lines()}
        assert seen == {live: "still-there", deleted: "gone"}
    [row] = [r for r in cli("notice", "plan", case_id, "--json").json_lines() if r["urls"]]
    assert row["platform"] == "127.0.0.1" and row["platform_id"] is None
    assert any("sent" in done for done in row["done"])  # type: ignore[union-attr]


def test_due_skips_a_case_under_another_passphrase_and_needs_none_without_cases(
    cli: Cli, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakshield.evidence import KdfParams, Vault

    monkeypatch.delenv(ENV, raising=False)
    empty = cli("notice", "due")
    assert empty.exit_code == 0 and "no cases" in empty.stdout
    monkeypatch.setenv(ENV, PASSPHRASE.decode())
    with case_with_pages(data_dir / "cases", tmp_path / "work", [X_URL]) as case:
        case_id = case.case_id
    other = Vault(data_dir / "cases").create(
        "other", b"another passphrase", kdf=KdfParams(b"0123456789abcdef", n=1 << 12)
    )
    other.close()
    cli("notice", "profile", case_id, "--name", "Jane Example", "--email", "j@example.org")
    cli("notice", "draft", case_id, "--platform", "x", "--sign")
    sent = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    assert cli("notice", "mark", case_id, "1", "sent", "--at", sent).exit_code == 0
    due = cli("notice", "due", "--json")
    assert due.exit_code == 0, due.stderr
    [soon] = due.json_lines()
    assert soon["overdue"] is False and soon["case"] == case_id
    assert f"case {other.case_id}: skipped" in due.stderr
    quiet = cli("notice", "due", "--within", "1")
    assert "nothing overdue" in quiet.stdout
