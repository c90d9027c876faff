"""Cases for the notice tests: captures recorded without a browser (the capture's own
tests cover the browser), a photo, and a requester who has given every detail."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from leakshield.evidence import Capture, OpenCase, add_capture, add_file
from leakshield.media import MediaLimits
from leakshield.notices import Profile
from tests.evidence._cases import new_case, photo

__all__ = ["FULL_PROFILE", "NOW", "add_page", "case_with_pages", "screenshot"]

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
FULL_PROFILE = Profile(
    name="Jane Example",
    email="jane@example.org",
    phone="+1 555 0100",
    address="1 Main Street, Springfield",
    country="AU",
    copyright_holder=True,
    work="A photograph I took of myself in 2024",
    content="synthetic",
)


def screenshot(folder: Path, seed: int = 1) -> Path:
    """A small PNG standing in for a capture's screenshot."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "screenshot.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (seed * 40 % 256, 90, 160)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def add_page(
    case: OpenCase,
    url: str,
    workdir: Path,
    *,
    status: int = 200,
    captured_at: str = "2026-11-29T09:15:00+00:00",
    error: str | None = None,
) -> str:
    """Record a capture of ``url`` as `case capture` would; returns its item id."""
    files = () if error else (screenshot(workdir / f"shot-{len(case.records)}"),)
    capture = Capture(
        url=url,
        final_url=None if error else url,
        redirects=(),
        status=None if error else status,
        headers={},
        title=None if error else "A page",
        captured_at=captured_at,
        tool_versions={"leakshield": "test"},
        files=files,
        error=error,
    )
    return add_capture(case, capture).id


def case_with_pages(
    root: Path, workdir: Path, urls: Sequence[str], *, with_photo: bool = True
) -> OpenCase:
    """A case with a capture of each URL and, unless told not to, a photo file."""
    case = new_case(root)
    for url in urls:
        add_page(case, url, workdir)
    if with_photo:
        add_file(case, photo(workdir / "leaked-copy.jpg"), limits=MediaLimits())
    return case
