"""The metadata generators and cameras write, read from a file's bytes within bounds.

PNG, JPEG and WebP containers are walked directly, so a file whose pixels do not decode
(truncated, corrupt) still gives up its text chunks, EXIF and XMP. Every size is capped and
nothing here raises on malformed data: what cannot be read becomes a note.
"""

from __future__ import annotations

import io
import re
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import Image

__all__ = ["MAX_TEXT_BYTES", "ExifFields", "Metadata", "TextEntry", "clean", "read_metadata"]

MAX_TEXT_BYTES = 1 << 20  # one text chunk; generator settings and workflows are far smaller
MAX_TOTAL_TEXT_BYTES = 16 << 20  # all text chunks together
MAX_TEXT_ENTRIES = 512
MAX_XMP_BYTES = 1 << 20
MAX_XMP_PACKETS = 4
MAX_EXIF_BYTES = 4 << 20
MAX_CHUNKS = 200_000  # container chunks or segments walked; real files have far fewer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_START = re.compile(rb"<x:x[am]pmeta\b")
_XMP_KEYWORD = "XML:com.adobe.xmp"


@dataclass(frozen=True)
class TextEntry:
    """One PNG text chunk. ``text`` is None when it was present but not read (``note``
    says why)."""

    keyword: str
    text: str | None
    note: str = ""


@dataclass(frozen=True)
class ExifFields:
    """The EXIF fields that say which software or camera wrote the file, cleaned to text."""

    make: str | None = None
    model: str | None = None
    software: str | None = None
    captured: str | None = None  # DateTimeOriginal, else DateTime
    description: str | None = None  # ImageDescription
    user_comment: str | None = None


@dataclass(frozen=True)
class Metadata:
    """What the file holds, as far as it could be read, and where this looked."""

    container: str | None
    text: tuple[TextEntry, ...] = ()
    exif: ExifFields | None = None
    xmp: tuple[str, ...] = ()
    examined: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def read_metadata(data: bytes) -> Metadata:
    """Read the text chunks, EXIF and XMP from ``data``; never raises on malformed input."""
    notes: list[str] = []
    text: list[TextEntry] = []
    exif_raw: list[bytes] = []
    xmp_raw: list[bytes] = []
    if data.startswith(PNG_SIGNATURE):
        container = "PNG"
        examined = ["PNG text chunks", "EXIF", "XMP"]
        _read_png(data, text, exif_raw, notes)
        xmp_raw.extend(
            entry.text.encode("utf-8")
            for entry in text
            if entry.keyword == _XMP_KEYWORD and entry.text is not None
        )
    elif data.startswith(b"\xff\xd8"):
        container, examined = "JPEG", ["EXIF", "XMP"]
        _read_jpeg(data, exif_raw, xmp_raw)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        container, examined = "WEBP", ["EXIF", "XMP"]
        _read_webp(data, exif_raw, xmp_raw)
    else:
        container, examined = None, ["EXIF", "XMP"]
        _read_other(data, exif_raw)
    exif = _parse_exif(exif_raw[0], notes) if exif_raw else None
    if not xmp_raw:
        xmp_raw = list(_scan_xmp(data))
    xmp: list[str] = []
    budget = MAX_XMP_BYTES  # for all packets together
    for packet in xmp_raw[:MAX_XMP_PACKETS]:
        xmp.append(packet[:budget].decode("utf-8", "replace"))
        budget -= min(len(packet), budget)
    return Metadata(container, tuple(text), exif, tuple(xmp), tuple(examined), tuple(notes))


def clean(value: object, limit: int = 200) -> str | None:
    """A metadata value as short printable text, or None when it holds none."""
    if isinstance(value, bytes):
        value = value[: limit * 4].decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = "".join(ch if ch.isprintable() else " " for ch in value[: limit * 4]).strip()
    return text[:limit] or None


# --- PNG -------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each complete chunk; stops quietly where the file is cut."""
    pos = len(PNG_SIGNATURE)
    for _ in range(MAX_CHUNKS):
        if pos + 8 > len(data):
            return
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        start, end = pos + 8, pos + 8 + length
        if end > len(data):
            return
        yield kind, start, end
        if kind == b"IEND":
            return
        pos = end + 4  # skip the CRC: a bad CRC does not make the text unreadable


def _read_png(data: bytes, text: list[TextEntry], exif: list[bytes], notes: list[str]) -> None:
    budget = MAX_TOTAL_TEXT_BYTES
    for kind, start, end in _png_chunks(data):
        if kind == b"eXIf" and not exif:
            if end - start <= MAX_EXIF_BYTES:
                exif.append(data[start:end])
            else:
                notes.append("the EXIF chunk is too large to read")
            continue
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        if len(text) >= MAX_TEXT_ENTRIES:
            notes.append(f"more than {MAX_TEXT_ENTRIES} text chunks; the rest were not read")
            return
        head = data[start : min(end, start + 80)]
        keyword = head.split(b"\x00", 1)[0].decode("latin-1")
        if end - start > min(MAX_TEXT_BYTES, budget):
            text.append(TextEntry(keyword, None, f"{end - start:,} bytes, too large to read"))
            continue
        entry = _png_text(kind, data[start:end], min(MAX_TEXT_BYTES, budget))
        budget -= len(entry.text or "")
        text.append(entry)


def _png_text(kind: bytes, body: bytes, limit: int) -> TextEntry:
    keyword_bytes, sep, rest = body.partition(b"\x00")
    keyword = keyword_bytes[:79].decode("latin-1")
    if not sep:
        return TextEntry(keyword, None, "malformed text chunk")
    if kind == b"tEXt":
        return TextEntry(keyword, rest.decode("latin-1"))
    if kind == b"zTXt":
        raw = _inflate(rest[1:], limit)
        if raw is None:
            return TextEntry(keyword, None, "compressed text that could not be read")
        return TextEntry(keyword, raw.decode("latin-1"))
    # iTXt: compression flag, method, language\0, translated keyword\0, UTF-8 text
    if len(rest) < 2:
        return TextEntry(keyword, None, "malformed text chunk")
    compressed = rest[0] == 1
    parts = rest[2:].split(b"\x00", 2)
    if len(parts) < 3:
        return TextEntry(keyword, None, "malformed text chunk")
    raw = _inflate(parts[2], limit) if compressed else parts[2]
    if raw is None:
        return TextEntry(keyword, None, "compressed text that could not be read")
    return TextEntry(keyword, raw.decode("utf-8", "replace"))


def _inflate(raw: bytes, limit: int) -> bytes | None:
    """Decompress at most ``limit`` bytes; None when corrupt or larger (a zip bomb)."""
    try:
        inflater = zlib.decompressobj()
        out = inflater.decompress(raw, limit)
    except zlib.error:
        return None
    return None if inflater.unconsumed_tail else out


# --- JPEG, WebP, others ----------------------------------------------------------------


def _read_jpeg(data: bytes, exif: list[bytes], xmp: list[bytes]) -> None:
    pos = 2
    for _ in range(MAX_CHUNKS):
        if pos + 4 > len(data) or data[pos] != 0xFF:
            return
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xDA, 0xD9):  # start of scan, end of image: no metadata after
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00") and not exif:
            exif.append(segment)
        elif marker == 0xE1 and segment.startswith(_XMP_APP1) and len(xmp) < MAX_XMP_PACKETS:
            xmp.append(segment[len(_XMP_APP1) :])
        pos += 2 + max(length, 2)


def _read_webp(data: bytes, exif: list[bytes], xmp: list[bytes]) -> None:
    pos = 12
    for _ in range(MAX_CHUNKS):
        if pos + 8 > len(data):
            return
        kind = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = data[pos + 8 : pos + 8 + min(size, MAX_EXIF_BYTES)]
        if kind == b"EXIF" and not exif:
            exif.append(body)
        elif kind == b"XMP " and len(xmp) < MAX_XMP_PACKETS:
            xmp.append(body)
        pos += 8 + size + (size & 1)


def _read_other(data: bytes, exif: list[bytes]) -> None:
    """TIFF, GIF, HEIF and the rest: Pillow reads their headers without decoding pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                raw = image.getexif().tobytes()
    except Exception:  # (not an image Pillow knows, or a malformed header)
        return
    if len(raw) > 8:
        exif.append(raw)


def _scan_xmp(data: bytes) -> Iterator[bytes]:
    """XMP packets found by their markers, for containers not walked above."""
    for found, match in enumerate(_XMP_START.finditer(data)):
        if found >= MAX_XMP_PACKETS:
            return
        end = data.find(b"pmeta>", match.end(), match.start() + MAX_XMP_BYTES)
        yield data[match.start() : end + 6 if end >= 0 else match.start() + MAX_XMP_BYTES]


# --- EXIF ------------------------------------------------------------------------------


def _parse_exif(raw: bytes, notes: list[str]) -> ExifFields | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exif = Image.Exif()
            exif.load(raw[:MAX_EXIF_BYTES])
            main = dict(exif)
            sub = dict(exif.get_ifd(0x8769))
    except Exception:  # (Pillow raises many types on a malformed TIFF block)
        notes.append("the EXIF block is malformed and could not be read")
        return None
    return ExifFields(
        make=clean(main.get(0x010F), 100),
        model=clean(main.get(0x0110), 100),
        software=clean(main.get(0x0131), 200),
        captured=clean(sub.get(0x9003) or main.get(0x0132), 40),
        description=_long_text(main.get(0x010E)),
        user_comment=_user_comment(sub.get(0x9286)),
    )


def _long_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value[:MAX_TEXT_BYTES].decode("utf-8", "replace")
    return value[:MAX_TEXT_BYTES] if isinstance(value, str) and value.strip() else None


def _user_comment(value: object) -> str | None:
    """UserComment's 8-byte character code then text; generators write "UNICODE\\0" and
    UTF-16 (in either byte order, whatever the spec says) or ASCII."""
    if not isinstance(value, bytes):
        return _long_text(value)
    value = value[:MAX_TEXT_BYTES]
    code, body = value[:8], value[8:]
    if code == b"UNICODE\x00":
        return _utf16(body).strip("\x00").strip() or None
    if code in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        return body.decode("utf-8", "replace").strip("\x00").strip() or None
    return _long_text(value.strip(b"\x00"))


def _utf16(body: bytes) -> str:
    """UTF-16 of unknown byte order: the BOM, else whichever half of each pair is mostly
    zero (settings text is mostly ASCII)."""
    if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return body.decode("utf-16", "replace")
    sample = body[:2000]
    high_zero = sample[0::2].count(0)
    low_zero = sample[1::2].count(0)
    return body.decode("utf-16-le" if low_zero > high_zero else "utf-16-be", "replace")
