"""What a file says wrote it: generator and editor names in Software / CreatorTool fields,
and the IPTC digital source type in its XMP. The names are data, kept in the tables below."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from leakshield.forensics._analyzers._metadata_read import Metadata, clean
from leakshield.forensics._model import Direction, Strength

__all__ = [
    "DIGITAL_SOURCE_TYPES",
    "EDITORS",
    "GENERATORS",
    "SourceType",
    "match_names",
    "software_fields",
    "source_types",
]

# (name shown to a person, pattern matched case-insensitively in a Software-like field)
GENERATORS: tuple[tuple[str, str], ...] = (
    ("Stable Diffusion", r"stable[ _-]?diffusion|\bsdxl\b|automatic1111|\bsd\.next\b"),
    ("Midjourney", r"midjourney"),
    ("DALL·E", r"\bdall[·\-\s]?e\b"),
    ("Adobe Firefly", r"firefly"),
    ("NovelAI", r"novel\s?ai"),
    ("ComfyUI", r"comfy\s?ui"),
    ("InvokeAI", r"\binvoke(\s?ai)?\b"),
    ("Fooocus", r"fooocus"),
    ("Leonardo.Ai", r"\bleonardo(\.ai)?\b"),
    ("Ideogram", r"ideogram"),
    ("FLUX", r"\bflux(\.\d|\s?\d|[\s-]?(dev|schnell|pro|kontext)\b)|black forest labs"),
    ("Imagen", r"google imagen|^imagen(\s?\d.*)?$"),  # "imagen" is also Spanish for image
    ("Gemini", r"\bgemini\b"),
    ("DiffusionBee", r"diffusion\s?bee"),
    ("Draw Things", r"draw\s?things"),
    ("Craiyon", r"craiyon"),
    ("NightCafe", r"nightcafe"),
    ("Runway", r"\brunway(ml)?\b"),
    ("Bing Image Creator", r"bing image creator"),
    ("Kandinsky", r"kandinsky"),
)

# Lightroom before Photoshop: "Adobe Photoshop Lightroom" is Lightroom.
EDITORS: tuple[tuple[str, str], ...] = (
    ("Adobe Lightroom", r"lightroom"),
    ("Adobe Photoshop", r"photoshop"),
    ("Adobe Express", r"adobe express"),
    ("GIMP", r"\bgimp\b"),
    ("Affinity Photo", r"\baffinity\b"),
    ("Pixelmator", r"pixelmator"),
    ("Snapseed", r"snapseed"),
    ("PicsArt", r"picsart"),
    ("Canva", r"\bcanva\b"),
    ("Paint.NET", r"paint\.net"),
    ("Krita", r"\bkrita\b"),
    ("Capture One", r"capture\s?one"),
    ("darktable", r"darktable"),
    ("RawTherapee", r"rawtherapee"),
    ("Luminar", r"luminar"),
    ("Photopea", r"photopea"),
    ("Facetune", r"facetune"),
    ("VSCO", r"\bvsco\b"),
    ("Meitu", r"meitu"),
    ("Fotor", r"\bfotor\b"),
    ("PaintShop Pro", r"paint\s?shop"),
    ("PhotoScape", r"photoscape"),
    ("Picasa", r"picasa"),
    ("AirBrush", r"\bairbrush\b"),
)


@dataclass(frozen=True)
class SourceType:
    """What one IPTC digital source type code means for this report."""

    strength: Strength
    direction: Direction
    meaning: str


_S, _D = Strength, Direction
# IPTC NewsCodes "digitalsourcetype", keyed by the code in lower case.
DIGITAL_SOURCE_TYPES: dict[str, SourceType] = {
    "trainedalgorithmicmedia": SourceType(
        _S.STRONG, _D.AI_GENERATED, "the image was made by a generative model"
    ),
    "compositewithtrainedalgorithmicmedia": SourceType(
        _S.STRONG, _D.AI_GENERATED, "part of the image was made by a generative model"
    ),
    "algorithmicmedia": SourceType(
        _S.MODERATE, _D.AI_GENERATED, "the image was made by software, not captured"
    ),
    "compositesynthetic": SourceType(
        _S.MODERATE, _D.EDITED, "the image is a composite that includes synthetic parts"
    ),
    "algorithmicallyenhanced": SourceType(
        _S.WEAK, _D.EDITED, "the image was enhanced or corrected by an algorithm"
    ),
    "humanedits": SourceType(_S.WEAK, _D.EDITED, "the image was edited by a person"),
    "minorhumanedits": SourceType(_S.WEAK, _D.EDITED, "the image had minor edits by a person"),
    "compositecapture": SourceType(_S.WEAK, _D.EDITED, "the image is a composite of captures"),
    "composite": SourceType(_S.WEAK, _D.EDITED, "the image is a composite of several parts"),
    "digitalcreation": SourceType(
        _S.WEAK, _D.INFORMATIONAL, "the image was drawn or made by a person with digital tools"
    ),
    "softwareimage": SourceType(_S.WEAK, _D.INFORMATIONAL, "the image was made by software"),
    "datadrivenmedia": SourceType(_S.WEAK, _D.INFORMATIONAL, "the image was rendered from data"),
    "screencapture": SourceType(_S.WEAK, _D.INFORMATIONAL, "the image is a screenshot"),
    "virtualrecording": SourceType(_S.WEAK, _D.INFORMATIONAL, "the image records a virtual scene"),
    "negativefilm": SourceType(_S.WEAK, _D.INFORMATIONAL, "the image is a scan of a negative"),
    "positivefilm": SourceType(_S.WEAK, _D.INFORMATIONAL, "the image is a scan of a slide"),
    "print": SourceType(_S.WEAK, _D.INFORMATIONAL, "the image is a scan of a print"),
    "digitalcapture": SourceType(
        _S.WEAK, _D.CAMERA_ORIGINAL, "the image is a capture from a digital camera"
    ),
}
UNKNOWN_SOURCE_TYPE = SourceType(
    _S.WEAK, _D.INFORMATIONAL, "the image declares a source type this analysis does not know"
)

_MAX_VALUES = 20
_ATTRIBUTE = r"""\b{name}\s*=\s*["']([^"']{{1,500}})["']"""
_ELEMENT = r"<(?:[\w.-]+:)?{name}\b[^>]{{0,2000}}(?<!/)>\s*([^<\s][^<]{{0,499}})<"
_RESOURCE = (
    r"""<(?:[\w.-]+:)?{name}\b[^>]{{0,2000}}?\brdf:resource\s*=\s*["']([^"']{{1,500}})["']"""
)
_CODE = re.compile(r"([A-Za-z]+)/?\s*$")


def software_fields(meta: Metadata) -> list[tuple[str, str]]:
    """(where, value) of every field in which software names itself."""
    fields = [
        (f"PNG {entry.keyword}", value)
        for entry in meta.text
        if entry.keyword.lower() in ("software", "source")
        and (value := clean(entry.text, 200)) is not None
    ]
    if meta.exif is not None and meta.exif.software:
        fields.append(("EXIF Software", meta.exif.software))
    for packet in meta.xmp:
        fields.extend(("XMP CreatorTool", value) for value in _xmp_values(packet, "CreatorTool"))
        fields.extend(
            ("XMP history softwareAgent", value) for value in _xmp_values(packet, "softwareAgent")
        )
    return list(dict.fromkeys(fields))[:_MAX_VALUES]


def match_names(
    fields: list[tuple[str, str]], table: tuple[tuple[str, str], ...]
) -> dict[str, list[tuple[str, str]]]:
    """Each name of ``table`` found in ``fields``, with the fields that named it; a field
    counts for the first name it matches."""
    found: dict[str, list[tuple[str, str]]] = {}
    for where, value in fields:
        for name, pattern in table:
            if re.search(pattern, value, re.IGNORECASE):
                found.setdefault(name, []).append((where, value))
                break
    return found


def source_types(meta: Metadata) -> list[tuple[str, str]]:
    """(code, value as written) of each distinct IPTC DigitalSourceType in the XMP."""
    found: dict[str, str] = {}
    for packet in meta.xmp:
        for value in _xmp_values(packet, "DigitalSourceType"):
            match = _CODE.search(value)
            if match and len(found) < _MAX_VALUES:
                found.setdefault(match.group(1), value)
    return list(found.items())


def _xmp_values(packet: str, name: str) -> list[str]:
    """Values of the XMP property ``name`` (any prefix) as an attribute, element text or
    rdf:resource; bounded patterns over a bounded packet, no XML parser to attack."""
    values: list[str] = []
    if name not in packet:
        return values
    for form in (_ATTRIBUTE, _ELEMENT, _RESOURCE):
        for match in re.finditer(form.format(name=name), packet):
            value = clean(html.unescape(match.group(1)), 300)
            if value and value not in values:
                values.append(value)
            if len(values) >= _MAX_VALUES:
                return values
    return values
