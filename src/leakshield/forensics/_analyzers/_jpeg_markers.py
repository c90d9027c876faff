"""The header of a JPEG file read from its bytes: quantization tables, frame, EXIF thumbnail.

Read by hand, not through Pillow, so that it works when the pixels do not decode (a
truncated file still carries its tables) and so that every length and offset taken from
an untrusted file is bounded before use.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = ["MAX_THUMBNAIL_BYTES", "JpegHeader", "exif_thumbnail", "read_header"]

# An EXIF thumbnail lives inside one APP1 segment (at most 64 KB); anything claiming more
# is malformed, and the cap bounds what we decode either way.
MAX_THUMBNAIL_BYTES = 256 << 10
_MAX_SEGMENTS = 4096  # far beyond any real header; stops a file made of empty segments

# Index into the 8x8 block (row-major, "natural" order) of each value as a DQT segment
# stores it (zigzag order), from ITU-T T.81 figure 5.
ZIGZAG = (
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
)  # fmt: skip

_PROCESS = {
    0xC0: "baseline",
    0xC1: "extended sequential",
    0xC2: "progressive",
    0xC3: "lossless",
    0xC9: "extended sequential, arithmetic coded",
    0xCA: "progressive, arithmetic coded",
    0xCB: "lossless, arithmetic coded",
}


@dataclass(frozen=True)
class Component:
    """One colour component of the frame: its id, sampling factors and table slot."""

    ident: int
    horizontal: int
    vertical: int
    table: int


@dataclass
class JpegHeader:
    """What the header says. ``tables`` maps a slot (0-3) to 64 steps in natural order."""

    tables: dict[int, tuple[int, ...]] = field(default_factory=dict)
    process: str | None = None  # "baseline", "progressive", ...
    width: int = 0
    height: int = 0
    components: tuple[Component, ...] = ()
    exif: bytes | None = None  # the TIFF structure of the first APP1 "Exif" segment
    adobe_transform: int | None = None  # APP14 "Adobe": 0 means the components are not YCbCr
    complete: bool = False  # the header reached its first scan without running out of bytes

    @property
    def subsampling(self) -> str | None:
        """Chroma subsampling as people write it ("4:2:0"), or None if not 3 components."""
        if len(self.components) != 3:
            return None
        luma, *chroma = self.components
        if any((c.horizontal, c.vertical) != (1, 1) for c in chroma):
            return f"{luma.horizontal}x{luma.vertical}," + ",".join(
                f"{c.horizontal}x{c.vertical}" for c in chroma
            )
        names = {
            (1, 1): "4:4:4",
            (2, 1): "4:2:2",
            (2, 2): "4:2:0",
            (1, 2): "4:4:0",
            (4, 1): "4:1:1",
        }
        return names.get((luma.horizontal, luma.vertical), f"{luma.horizontal}x{luma.vertical}")

    def table_for(self, component: int) -> tuple[int, ...] | None:
        """The quantization table of the ``component``-th component (0 = luma), if defined."""
        if component >= len(self.components):
            return None
        return self.tables.get(self.components[component].table)


def read_header(data: bytes) -> JpegHeader | None:
    """Parse the segments before the first scan; None if ``data`` is not a JPEG at all."""
    if not data.startswith(b"\xff\xd8"):
        return None
    header = JpegHeader()
    pos = 2
    for _ in range(_MAX_SEGMENTS):
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= len(data) or data[pos - 1] != 0xFF:
            return header  # ran out, or garbage where a marker should be
        marker = data[pos]
        pos += 1
        if marker in (0x01, *range(0xD0, 0xD8)):
            continue  # markers without a length
        if marker in (0xD9, 0xDA):  # end of image, start of scan
            header.complete = marker == 0xDA
            return header
        if pos + 2 > len(data):
            return header
        (length,) = struct.unpack_from(">H", data, pos)
        payload = data[pos + 2 : pos + length]
        if length < 2 or len(payload) != length - 2:
            return header
        _segment(header, marker, payload)
        pos += length
    return header


def _segment(header: JpegHeader, marker: int, payload: bytes) -> None:
    if marker == 0xDB:
        _read_tables(header, payload)
    elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
        _read_frame(header, marker, payload)
    elif marker == 0xE1 and header.exif is None and payload.startswith(b"Exif\x00\x00"):
        header.exif = payload[6:]
    elif marker == 0xEE and payload.startswith(b"Adobe") and len(payload) >= 12:
        header.adobe_transform = payload[11]


def _read_tables(header: JpegHeader, payload: bytes) -> None:
    pos = 0
    while pos < len(payload):
        precision, slot = payload[pos] >> 4, payload[pos] & 0x0F
        size = 128 if precision else 64
        body = payload[pos + 1 : pos + 1 + size]
        if slot > 3 or precision > 1 or len(body) != size:
            return
        values = struct.unpack(">64H", body) if precision else tuple(body)
        natural = [0] * 64
        for index, value in zip(ZIGZAG, values, strict=True):
            natural[index] = value
        header.tables[slot] = tuple(natural)
        pos += 1 + size


def _read_frame(header: JpegHeader, marker: int, payload: bytes) -> None:
    if header.process is not None or len(payload) < 6:
        return  # a hierarchical file has several frames: the first describes it
    header.process = _PROCESS.get(marker, "hierarchical")
    header.height, header.width, count = struct.unpack_from(">HHB", payload, 1)
    components = []
    for offset in range(6, min(6 + 3 * count, len(payload) - 2), 3):
        ident, factors, table = payload[offset : offset + 3]
        components.append(Component(ident, factors >> 4, factors & 0x0F, table))
    header.components = tuple(components)


def exif_thumbnail(tiff: bytes) -> bytes | None:
    """The JPEG thumbnail that EXIF IFD1 points to, or None if there is none or it is
    malformed (out of bounds, empty, or larger than `MAX_THUMBNAIL_BYTES`)."""
    if len(tiff) < 8 or tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if tiff[0] == 0x49 else ">"
    (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
    ifd1 = _next_ifd(tiff, order, ifd0)
    if not ifd1:
        return None
    entries = _ifd_entries(tiff, order, ifd1)
    offset, length = entries.get(0x0201), entries.get(0x0202)
    if offset is None or not length or length > MAX_THUMBNAIL_BYTES:
        return None
    if offset + length > len(tiff):
        return None
    return tiff[offset : offset + length]


def _next_ifd(tiff: bytes, order: str, offset: int) -> int:
    if offset < 8 or offset + 2 > len(tiff):
        return 0
    (count,) = struct.unpack_from(order + "H", tiff, offset)
    link = offset + 2 + 12 * count
    if link + 4 > len(tiff):
        return 0
    (following,) = struct.unpack_from(order + "I", tiff, link)
    return int(following) if following != offset else 0  # an IFD pointing at itself


def _ifd_entries(tiff: bytes, order: str, offset: int) -> dict[int, int]:
    """The single SHORT or LONG values of an IFD (all a thumbnail pointer needs)."""
    if offset + 2 > len(tiff):
        return {}
    (count,) = struct.unpack_from(order + "H", tiff, offset)
    values: dict[int, int] = {}
    for index in range(min(count, (len(tiff) - offset - 2) // 12)):
        tag, kind, number = struct.unpack_from(order + "HHI", tiff, offset + 2 + 12 * index)
        if number != 1 or kind not in (3, 4):
            continue
        fmt = order + ("H" if kind == 3 else "I")
        values[tag] = int(struct.unpack_from(fmt, tiff, offset + 2 + 12 * index + 8)[0])
    return values
