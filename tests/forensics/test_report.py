"""The forensic report: what a reader sees, in order, escaped, self-contained, and safe to
render to PDF."""

from __future__ import annotations

import base64
import io
import logging
import sys
import types
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from leakshield._pdf import data_only_fetcher, pdf_bytes
from leakshield.errors import ConfigError, InputError
from leakshield.forensics import Analysis, Direction, Finding, FindingImage, Strength, SubjectInfo
from leakshield.forensics._model import failed
from leakshield.forensics._report import humanise, render_html, write_html, write_pdf

HEADINGS = [
    "What this file shows",
    "The evidence",
    "Examined, nothing found",
    "Could not be examined",
    "What this analysis cannot tell",
    "File details",
]
# Every tag the report may contain; anything else in the output came from a hostile string.
REPORT_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "section", "article",
    "h1", "h2", "h3", "p", "span", "ul", "li", "table", "tr", "th", "td", "figure", "img",
    "figcaption", "br",
}  # fmt: skip
HOSTILE = ["<script>alert(1)</script>", '"><img src=x>', "file:///etc/passwd"]


def png(color: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def finding(
    title: str,
    strength: Strength,
    direction: Direction = Direction.INFORMATIONAL,
    *,
    evidence: dict[str, object] | None = None,
    images: tuple[FindingImage, ...] = (),
) -> Finding:
    return Finding(
        analyzer=title.lower().replace(" ", "-"),
        examined=title,
        strength=strength,
        direction=direction,
        summary=f"Summary of {title}.",
        explanation=f"Explanation of {title}.",
        evidence=evidence or {},
        images=images,
    )


def analysis(*findings: Finding, path: str = "/cases/suspect.jpg", **subject: Any) -> Analysis:
    info = SubjectInfo(path, 123_456, "ab" * 32, "JPEG", 640, 480)
    return Analysis(
        subject=replace(info, **subject),
        findings=findings,
        shows=("The file carries a generator's settings.", "It was saved twice as JPEG."),
        cannot_tell=("Whether the person shown consented.",),
        started="2025-03-01T10:00:00+00:00",
        finished="2025-03-01T12:00:02+02:00",
        tool_version="9.8.7",
    )


def full_analysis() -> Analysis:
    return analysis(
        finding("Weak thing", Strength.WEAK, Direction.CAMERA_ORIGINAL),
        finding("Quiet thing", Strength.NONE, evidence={"checked_chunks": 3}),
        finding(
            "Strong thing",
            Strength.STRONG,
            Direction.AI_GENERATED,
            evidence={"digital_source_type": "trainedAlgorithmicMedia"},
        ),
        failed("broken", "Broken thing", "internal-error", "ValueError: bad marker"),
        finding("Moderate thing", Strength.MODERATE, Direction.EDITED),
        finding("Derived thing", Strength.WEAK, Direction.MADE_FROM_YOUR_PHOTO),
        finding(
            "Visual aid",
            Strength.NONE,
            images=(FindingImage("ela", "Error levels", png(), "Shows no cause."),),
        ),
    )


class Page(HTMLParser):
    """The parts of a report a browser would act on: tags, attributes, text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def section(html: str, heading: str) -> str:
    """The HTML from ``heading`` to the next section heading."""
    start = html.index(f">{heading}<")
    later = [html.find(f">{h}<", start + 1) for h in HEADINGS]
    return html[start : min([i for i in later if i > start] or [len(html)])]


def test_sections_appear_in_the_order_a_reader_needs() -> None:
    html = render_html(full_analysis())
    positions = [html.index(f">{heading}<") for heading in HEADINGS]
    assert positions == sorted(positions)
    top = html[: positions[1]]
    assert "suspect.jpg" in top
    assert "Share it with care" in top
    assert "It was saved twice as JPEG." in top


def test_evidence_is_strongest_first_with_strength_and_direction_in_words() -> None:
    evidence = section(render_html(full_analysis()), "The evidence")
    titles = ["Strong thing", "Moderate thing", "Weak thing", "Derived thing"]
    positions = [evidence.index(title) for title in titles]
    assert positions == sorted(positions)
    for words in [
        "Strong evidence",
        "Moderate evidence",
        "Weak evidence",
        "Points to: AI-generated",
        "Points to: edited",
        "Points to: consistent with a camera original",
        "Points to: made from your photo",
        "Explanation of Strong thing.",
        "Digital source type",
        "trainedAlgorithmicMedia",
    ]:
        assert words in evidence
    for elsewhere in ["Quiet thing", "Visual aid", "Broken thing"]:
        assert elsewhere not in evidence


def test_absence_and_failures_have_their_own_sections() -> None:
    html = render_html(full_analysis())
    nothing = section(html, "Examined, nothing found")
    assert "Quiet thing" in nothing
    assert "Explanation of Quiet thing." in nothing
    assert "Checked chunks" in nothing
    assert "Broken thing" not in nothing
    failures = section(html, "Could not be examined")
    assert "Broken thing" in failures
    assert "ValueError: bad marker" in failures
    limits = section(html, "What this analysis cannot tell")
    assert "Whether the person shown consented." in limits
    assert "not proof that an image is authentic" in limits


def test_empty_sections_say_so() -> None:
    html = render_html(analysis(finding("Quiet thing", Strength.NONE)))
    assert "Nothing examined gave evidence either way" in section(html, "The evidence")
    assert "Every part of the analysis ran." in section(html, "Could not be examined")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_strings_are_shown_as_text_never_as_markup(hostile: str) -> None:
    aid = FindingImage("x", hostile, png(), hostile)
    report = analysis(
        Finding(
            analyzer="metadata",
            examined=hostile,
            strength=Strength.STRONG,
            direction=Direction.AI_GENERATED,
            summary=hostile,
            explanation=hostile,
            evidence={hostile: hostile, "nested": [{"value": hostile}], "source": hostile},
            images=(aid,),
        ),
        failed("broken", hostile, "internal-error", hostile),
        path=f"/cases/{hostile}.png",
        problem={"code": "bad", "message": hostile},
    )
    page = Page(render_html(report))
    assert {tag for tag, _ in page.tags} <= REPORT_TAGS
    assert all(attrs["src"].startswith("data:image/png;base64,") for attrs in page.all("img"))
    # Shown to the reader as the very characters the file held, many times over.
    assert sum(hostile in text for text in page.text) >= 8


def test_the_page_loads_nothing_from_outside() -> None:
    html = render_html(
        analysis(
            finding(
                "Links",
                Strength.WEAK,
                Direction.EDITED,
                evidence={"source": "https://example.com/x.png", "local": "file:///etc/passwd"},
            )
        )
    )
    page = Page(html)
    for _, attrs in page.tags:
        for value in attrs.values():
            assert not value.lower().startswith(("http:", "https:", "file:", "//"))
    assert page.all("script") == []
    assert page.all("link") == []
    style = html[html.index("<style>") : html.index("</style>")]
    assert "url(" not in style
    assert "@import" not in style
    assert "https://example.com/x.png" in "".join(page.text)


def test_pictures_are_embedded_with_caption_and_caveat() -> None:
    picture = png((10, 120, 200))
    aid = FindingImage("noise", "Noise residual", picture, "Cannot tell what caused it.")
    html = render_html(
        analysis(finding("Noise", Strength.NONE, images=(aid,)), finding("Other", Strength.WEAK))
    )
    nothing = section(html, "Examined, nothing found")
    (img,) = Page(nothing).all("img")
    prefix = "data:image/png;base64,"
    assert img["src"].startswith(prefix)
    assert base64.b64decode(img["src"].removeprefix(prefix)) == picture
    assert "Noise residual" in nothing
    assert "Cannot tell what caused it." in nothing


def test_a_picture_that_is_not_a_png_is_not_embedded() -> None:
    aid = FindingImage("bad", "Odd picture", b"<svg onload=alert(1)>", "")
    html = render_html(analysis(finding("Aid", Strength.WEAK, images=(aid,))))
    assert Page(html).all("img") == []
    assert "This picture could not be shown." in html
    assert "Odd picture" in html


def test_evidence_is_readable_and_bounded() -> None:
    evidence = {
        "quality_estimate": 0.91234567,
        "quantTables": list(range(64)),
        "is_progressive": False,
        "prompt": "p" * 2000,
        "chunks": [{"keyword": "parameters", "length": 812}] * 100,
        "deep": {"a": {"b": {"c": {"d": {"e": 1}}}}},
    }
    html = render_html(analysis(finding("Metadata", Strength.STRONG, evidence=evidence)))
    text = "".join(Page(section(html, "The evidence")).text)
    assert "Quality estimate" in text
    assert "0.912346" in text
    assert "Quant tables" in text
    assert "0, 1, 2, 3" in text
    assert "Is progressive" in text
    assert "no" in text
    assert "p" * 500 + "…" in text
    assert "p" * 501 not in text
    assert "2,000 characters in all" in text
    assert "Keyword" in text
    assert "parameters" in text
    assert "more not shown" in text
    assert "entries not shown" in text


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("quality_estimate", "Quality estimate"),
        ("digitalSourceType", "Digital source type"),
        ("exif_sha256", "EXIF SHA256"),
        ("c2pa-manifest", "C2PA manifest"),
    ],
)
def test_evidence_keys_read_as_words(key: str, words: str) -> None:
    assert humanise(key) == words


def test_file_details_say_what_was_examined_when_and_by_what() -> None:
    html = render_html(analysis(problem={"code": "truncated", "message": "image file is cut"}))
    details = "".join(Page(section(html, "File details")).text)
    for expected in [
        "/cases/suspect.jpg",
        "123,456 bytes (120.6 KiB)",
        "ab" * 32,
        "JPEG",
        "640 x 480 pixels",
        "image file is cut",
        "2025-03-01 10:00:00 UTC",
        "2025-03-01 10:00:02 UTC",
        "leakshield 9.8.7",
        "nothing was uploaded",
    ]:
        assert expected in details


def test_write_html_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old report")
    write_html(full_analysis(), target)
    assert target.read_text(encoding="utf-8") == render_html(full_analysis())
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_failed_write_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("old report")

    def refuse(self: Path, other: Path) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(InputError, match="No space left"):
        write_html(full_analysis(), target)
    assert target.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_html_into_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot write"):
        write_html(full_analysis(), tmp_path / "missing" / "report.html")


def test_write_pdf_renders_the_report_with_its_pictures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "report.pdf"
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        write_pdf(full_analysis(), target)
    assert target.read_bytes().startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]
    # The embedded picture went through the guarded fetcher and was not refused.
    assert not [r for r in caplog.records if "Failed to load" in r.getMessage()]


def test_the_pdf_renderer_reads_no_file_a_string_points_to(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    html = f'<p>x</p><img src="{secret.as_uri()}"><img src="http://127.0.0.1:9/x.png">'
    with caplog.at_level(logging.ERROR, logger="weasyprint"):
        assert pdf_bytes(html).startswith(b"%PDF")
    refusals = [r.getMessage() for r in caplog.records if "only embed data: URIs" in r.getMessage()]
    assert len(refusals) == 2


@pytest.mark.parametrize(
    "url", ["file:///etc/hostname", "http://127.0.0.1:9/x", "https://example.com/", "ftp://x/"]
)
def test_the_fetcher_refuses_everything_but_data_uris(url: str) -> None:
    with pytest.raises(ValueError, match="only embed data: URIs"):
        data_only_fetcher().fetch(url)


def test_the_fetcher_serves_data_uris() -> None:
    picture = png()
    uri = "data:image/png;base64," + base64.b64encode(picture).decode("ascii")
    response = data_only_fetcher().fetch(uri)
    assert response.read() == picture
    assert response.content_type == "image/png"


def test_pdf_without_pango_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> object:
        raise OSError("cannot load library 'libpango-1.0-0'")

    broken = types.ModuleType("weasyprint")
    broken.__getattr__ = missing  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "weasyprint", broken)
    with pytest.raises(ConfigError, match="Pango") as raised:
        pdf_bytes("<p>x</p>")
    assert "apt install libpango-1.0-0 libpangoft2-1.0-0" in raised.value.message
    assert "HTML report" in raised.value.message
