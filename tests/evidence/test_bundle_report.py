"""The bundle's report and VERIFY.txt: what a reader finds, escaped, self-contained, without
pictures, and the instructions that let anyone check the bundle by hand."""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser

import pytest

from leakshield.evidence._bundle import export_bundle
from leakshield.evidence._bundle_report import MAX_ROWS, PDF_RECORDS, render_report_html
from leakshield.evidence._merkle import leaf_hash, root_hash
from leakshield.evidence._model import canonical_json
from tests.evidence._bundle_fakes import FakeCase, capture_details, entries, png, sample_case

HOSTILE = '<script>alert(1)</script><img src="file:///etc/passwd">'
REPORT_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "section", "article", "h1",
    "h2", "h3", "h4", "p", "span", "table", "tr", "th", "td", "ol", "li",
}  # fmt: skip


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeCase, dict[str, bytes]]:
    case = sample_case()
    out = export_bundle(case, tmp_path_factory.mktemp("report") / "case.zip", pdf=False).path
    return case, entries(out)


def test_the_report_shows_the_case_every_item_the_timeline_and_the_custody(
    exported: tuple[FakeCase, dict[str, bytes]],
) -> None:
    case, found = exported
    html = found["report.html"].decode()
    text = " ".join(" ".join(parsed(html).text).split())
    assert case.title in text and case.case_id in text
    for heading in ["The case", "The signed log", "The evidence", "Timeline",
                    "Chain of custody", "How to check this bundle"]:  # fmt: skip
        assert heading in text
    for data in case.content.values():
        assert hashlib.sha256(data).hexdigest() in text
    assert hashlib.sha256(case.public_key).hexdigest() in text
    assert case.tree_heads[-1].root in text
    assert "https://forum.example/thread/1" in text and "DNS failure" in text
    assert "Posted by user 'throwaway99'" in text
    assert "Web page captured" in text and "Web capture failed" in text
    assert "2025-03-14 09:32:00 UTC" in text  # sam's one action, in the custody table
    assert "In this bundle under items/item-0004/" in text


def test_the_report_embeds_no_picture_and_links_nowhere(
    exported: tuple[FakeCase, dict[str, bytes]],
) -> None:
    html = exported[1]["report.html"].decode()
    tags = parsed(html)
    assert tags.tags <= REPORT_TAGS
    assert "img" not in tags.tags and "script" not in tags.tags and "a" not in tags.tags
    assert not [value for name, value in tags.attributes if name in {"src", "href"}]
    assert "default-src 'none'" in html


def test_every_hostile_string_is_escaped() -> None:
    case = FakeCase(title=HOSTILE)
    case.append("case-created", None, {"title": HOSTILE}, HOSTILE)
    case.add_files(
        "capture",
        {HOSTILE.replace("/", "").replace(":", "") + ".png": (png(1), "image/png")},
        actor=HOSTILE,
        capture=capture_details(HOSTILE, {HOSTILE: HOSTILE}, error=HOSTILE),
    )
    case.add_files("note", {}, text=HOSTILE)
    manifest = {
        "case": {"id": case.case_id, "title": HOSTILE, "created": HOSTILE},
        "items": [{**r["item"], "leaf_index": r["seq"], "included": True}
                  for r in case.records if r["item"]],
        "public_key": case.public_key.hex(), "key_id": "k" * 16,
        "exported_at": HOSTILE, "tool_version": HOSTILE,
    }  # fmt: skip
    html = render_report_html(manifest, case.records, case.tree_heads[-1])
    assert parsed(html).tags <= REPORT_TAGS
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_long_log_is_cut_in_the_report_not_in_the_bundle() -> None:
    case = FakeCase()
    case.append("case-created", None, {}, "alex")
    for n in range(MAX_ROWS + 5):
        case.records.append({**case.records[0], "seq": n + 1, "action": "passphrase-changed"})
    leaves = [leaf_hash(canonical_json(r)) for r in case.records]
    from leakshield.evidence._merkle import sign_tree_head

    head = sign_tree_head(len(leaves), root_hash(leaves), case.signer)
    manifest = {"case": {"id": "c", "title": "t", "created": "x"}, "items": [],
                "public_key": case.public_key.hex(), "key_id": head.key_id,
                "exported_at": "x", "tool_version": "0"}  # fmt: skip
    html = render_report_html(manifest, case.records, head)
    assert f"… and {len(case.records) - MAX_ROWS} more records, in log/records.jsonl" in html
    shorter = render_report_html(manifest, case.records, head, for_pdf=True)
    more = len(case.records) - PDF_RECORDS
    assert f"… and {more} more records, in report.html and log/records.jsonl" in shorter


def test_verify_txt_says_how_to_check_by_hand(exported: tuple[FakeCase, dict[str, bytes]]) -> None:
    case, found = exported
    text = found["VERIFY.txt"].decode()
    head = case.tree_heads[-1]
    assert "leakshield bundle verify" in text
    assert hashlib.sha256(case.public_key).hexdigest() in text
    assert head.key_id in text and head.root in text and head.time in text
    for rule in ["SHA-256(0x00 || line)", "SHA-256(0x01 || left || right)",
                 "leakshield-tree-head-v1", "first 16 hex digits"]:  # fmt: skip
        assert rule in text
    assert all(len(line) <= 90 for line in text.splitlines())
