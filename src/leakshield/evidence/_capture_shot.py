"""The capture's screenshot: the full page, headed by its URL and the UTC time.

Investigators ask for a screenshot that shows the address and the time; a headless
browser has no address bar, so a strip above the page's pixels says both. The
page's own pixels below it are left as the browser drew them.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from playwright.sync_api import CDPSession, Page

__all__ = ["MAX_HEIGHT", "take_screenshot"]

# Taller pages are cut here: a 100,000 px page takes seconds and gigabytes to draw.
MAX_HEIGHT = 16384
_MAX_PIXELS = 40_000_000
_FONT_SIZE = 14
_MARGIN = 8
_MAX_URL_LINES = 4


def take_screenshot(
    page: Page, cdp: CDPSession, path: Path, captured_at: str, timeout_ms: float
) -> Path:
    """Write a full-page PNG of `page` to `path`, headed by its URL and `captured_at`."""
    width = page.viewport_size["width"] if page.viewport_size else 1280
    metrics = cdp.send("Page.getLayoutMetrics")
    full = int(metrics["cssContentSize"]["height"])
    limit = min(MAX_HEIGHT, _MAX_PIXELS // max(width, 1))
    clip = None
    if full > limit:
        clip = {"x": 0.0, "y": 0.0, "width": float(width), "height": float(limit)}
    shot = page.screenshot(full_page=True, clip=clip, timeout=timeout_ms)  # type: ignore[arg-type]
    lines = [f"Captured {captured_at} (UTC)"]
    if clip is not None:
        lines[0] += f", showing the top {limit:,} px of {full:,}"
    with Image.open(io.BytesIO(shot)) as image:
        headed = _with_banner(image.convert("RGB"), page.url, lines)
    headed.save(path, format="PNG")
    return path


def _with_banner(image: Image.Image, url: str, notes: list[str]) -> Image.Image:
    """`image` below a white strip that gives the URL (wrapped) and `notes`."""
    font = ImageFont.load_default(size=_FONT_SIZE)
    wrapped = _wrap(url, font, image.width - 2 * _MARGIN)
    lines = [*wrapped, *notes]
    line_height = _FONT_SIZE + 6
    strip = 2 * _MARGIN + line_height * len(lines)
    headed = Image.new("RGB", (image.width, image.height + strip + 1), "white")
    draw = ImageDraw.Draw(headed)
    for number, line in enumerate(lines):
        colour = "black" if number < len(wrapped) else (90, 90, 90)
        draw.text((_MARGIN, _MARGIN + number * line_height), line, fill=colour, font=font)
    draw.line([(0, strip), (image.width, strip)], fill=(160, 160, 160))
    headed.paste(image, (0, strip + 1))
    return headed


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """`text` cut into lines no wider than `width` pixels (URLs have no spaces to break at)."""
    lines: list[str] = []
    current = ""
    for char in text:
        if current and font.getlength(current + char) > width:
            lines.append(current)
            current = ""
            if len(lines) > _MAX_URL_LINES:
                break
        current += char
    lines.append(current)
    if len(lines) > _MAX_URL_LINES:
        lines = [*lines[: _MAX_URL_LINES - 1], lines[_MAX_URL_LINES - 1][:-1] + "…"]
    return lines
