"""The report of one analysis for people: self-contained HTML, and PDF through WeasyPrint.

The reader is the person in the image, her advocate, a moderator or a journalist, so the
report says in plain words what was found, how strong it is and what it cannot show. Every
string in an analysis may come from a hostile file: the template escapes all of it, and the
PDF renderer may fetch nothing but the ``data:`` pictures the report embeds.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import jinja2

from leakshield._files import atomic_output, human_size
from leakshield._pdf import pdf_bytes
from leakshield.forensics._model import Analysis, Direction, Finding, FindingImage, Strength

__all__ = ["render_html", "write_html", "write_pdf"]

STRENGTH_WORDS = {
    Strength.STRONG: "Strong evidence",
    Strength.MODERATE: "Moderate evidence",
    Strength.WEAK: "Weak evidence",
    Strength.NONE: "Nothing found",
}
DIRECTION_WORDS = {
    Direction.MADE_FROM_YOUR_PHOTO: "Points to: made from your photo",
    Direction.AI_GENERATED: "Points to: AI-generated",
    Direction.EDITED: "Points to: edited",
    Direction.CAMERA_ORIGINAL: "Points to: consistent with a camera original",
    Direction.INFORMATIONAL: "For information",
}
_ORDER = (Strength.STRONG, Strength.MODERATE, Strength.WEAK)

# Bounds on what one finding's evidence may put in the report: a hostile file can fill
# metadata with megabytes or deep nesting, and the reader needs the gist, not all of it.
MAX_TEXT = 500
MAX_KEY = 120
MAX_ITEMS = 40
MAX_DEPTH = 4
MAX_NODES = 400
MAX_PICTURE_BYTES = 8 * 1024 * 1024

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ACRONYMS = {
    "c2pa", "cfg", "dct", "ela", "exif", "gps", "icc", "id", "iptc", "jpeg", "jpg", "png",
    "prnu", "rgb", "sha256", "url", "uuid", "xmp",
}  # fmt: skip
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("leakshield.forensics", "templates"),
    autoescape=True,  # the template is .html.j2, which select_autoescape would not match
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Value:
    """One evidence value as the report shows it: text, a list or a table, bounded."""

    kind: Literal["text", "list", "table"]
    text: str = ""
    items: tuple[Value, ...] = ()
    rows: tuple[tuple[str, Value], ...] = ()
    more: int = 0  # entries left out


@dataclass(frozen=True)
class Picture:
    """A finding's picture, ready for an ``<img>``: a data URI, or "" when it cannot be shown."""

    uri: str
    caption: str
    caveat: str


@dataclass(frozen=True)
class FindingView:
    """One finding in the report's words."""

    examined: str
    strength: str
    strength_words: str
    direction_words: str
    summary: str
    explanation: str
    evidence: tuple[tuple[str, Value], ...]
    evidence_more: int
    pictures: tuple[Picture, ...]
    error: str


def render_html(analysis: Analysis) -> str:
    """The report of ``analysis`` as one self-contained HTML page (no scripts, no links out)."""
    findings = [f for f in analysis.findings if f.error is None]
    weighted = [f for f in findings if f.strength != Strength.NONE]
    weighted.sort(key=lambda f: _ORDER.index(f.strength))  # stable: analyzer order within
    subject = analysis.subject
    return _TEMPLATES.get_template("report.html.j2").render(
        file_name=Path(subject.path).name or subject.path,
        shows=list(analysis.shows),
        evidence=[_view(f) for f in weighted],
        nothing_found=[_view(f) for f in findings if f.strength == Strength.NONE],
        not_examined=[_view(f) for f in analysis.findings if f.error is not None],
        cannot_tell=list(analysis.cannot_tell),
        details=_details(analysis),
    )


def write_html(analysis: Analysis, path: Path) -> None:
    """Write the HTML report to ``path``, whole or not at all."""
    with atomic_output(path) as handle:
        handle.write(render_html(analysis).encode("utf-8"))


def write_pdf(analysis: Analysis, path: Path) -> None:
    """Write the report as PDF to ``path``, whole or not at all; needs the Pango library."""
    data = pdf_bytes(render_html(analysis))
    with atomic_output(path) as handle:
        handle.write(data)


def _view(finding: Finding) -> FindingView:
    budget = [MAX_NODES]
    evidence, more = _rows(finding.evidence, 0, budget)
    error = ""
    if finding.error is not None:
        error = _clip(str(finding.error.get("message") or finding.error.get("code") or ""))
    return FindingView(
        examined=finding.examined,
        strength=str(finding.strength),
        strength_words=STRENGTH_WORDS[finding.strength],
        direction_words=DIRECTION_WORDS[finding.direction],
        summary=finding.summary,
        explanation=finding.explanation,
        evidence=evidence,
        evidence_more=more,
        pictures=tuple(_picture(image) for image in finding.images),
        error=error,
    )


def _picture(image: FindingImage) -> Picture:
    # Only real PNGs of sane size go in: the report shows pictures, it does not carry files.
    fits = image.png.startswith(_PNG_SIGNATURE) and len(image.png) <= MAX_PICTURE_BYTES
    uri = "data:image/png;base64," + base64.b64encode(image.png).decode("ascii") if fits else ""
    return Picture(uri=uri, caption=image.caption, caveat=image.caveat)


def _value(value: Any, depth: int, budget: list[int]) -> Value:
    budget[0] -= 1
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return Value("text", text=f"({len(value)} entries not shown)")
        rows, more = _rows(value, depth + 1, budget)
        return Value("table", rows=rows, more=more)
    if isinstance(value, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in value):
            return _scalars(value)
        if depth >= MAX_DEPTH:
            return Value("text", text=f"({len(value)} entries not shown)")
        items = []
        for item in value[:MAX_ITEMS]:
            if budget[0] <= 0:
                break
            items.append(_value(item, depth + 1, budget))
        return Value("list", items=tuple(items), more=len(value) - len(items))
    return Value("text", text=_clip(_scalar(value)))


def _rows(
    mapping: Mapping[Any, Any], depth: int, budget: list[int]
) -> tuple[tuple[tuple[str, Value], ...], int]:
    rows = []
    for key, item in islice(mapping.items(), MAX_ITEMS):
        if budget[0] <= 0:
            break
        rows.append((_clip(humanise(str(key)), MAX_KEY), _value(item, depth, budget)))
    return tuple(rows), len(mapping) - len(rows)


def _scalars(values: list[Any] | tuple[Any, ...]) -> Value:
    # A list of plain values (a quantisation table, a hash list) reads best as one line.
    shown = [_scalar(v) for v in values[: MAX_TEXT // 2]]
    text = ", ".join(shown)
    if len(shown) < len(values):
        text += f", … ({len(values)} values in all)"
    return Value("text", text=_clip(text) if values else "(none)")


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bytes | bytearray):
        return f"({len(value):,} bytes of binary data)"
    return str(value)


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters in all)"


def humanise(key: str) -> str:
    """An evidence key in words: ``quality_estimate`` and ``qualityEstimate`` read
    "Quality estimate"; known acronyms stay upper case (``exif_sha256`` reads "EXIF SHA256")."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    words = [w for w in re.split(r"[\s_\-]+", spaced) if w]
    if not words:
        return key
    shown = [w.upper() if w.lower() in _ACRONYMS else w.lower() for w in words]
    first = shown[0]
    shown[0] = first if first.isupper() else first[:1].upper() + first[1:]
    return " ".join(shown)


def _details(analysis: Analysis) -> list[tuple[str, str]]:
    subject = analysis.subject
    rows = [
        ("File", subject.path),
        ("Size", human_size(subject.size)),
        ("SHA-256", subject.sha256 or "unknown"),
        ("Format", subject.format or "not recognised"),
        ("Dimensions", _dimensions(subject.width, subject.height)),
    ]
    if subject.problem:
        message = subject.problem.get("message") or subject.problem.get("code") or "unknown"
        rows.append(("Decoding problem", _clip(str(message))))
    rows += [
        ("Analysis started", _utc(analysis.started)),
        ("Analysis finished", _utc(analysis.finished)),
        ("Tool", f"leakshield {analysis.tool_version}"),
    ]
    return rows


def _dimensions(width: int | None, height: int | None) -> str:
    if width is None or height is None:
        return "unknown (pixels not read)"
    return f"{width:,} x {height:,} pixels"


def _utc(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        return f"{moment:%Y-%m-%d %H:%M:%S} (time zone not recorded)"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
