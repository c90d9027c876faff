"""Generator metadata: the settings, names and labels that image generators, editors and
cameras write into a file (PNG text chunks, EXIF, XMP).

Every trace here is positive-only: its presence is evidence of what wrote the file, its
absence proves nothing, because platforms strip metadata and anyone can remove or copy it.
C2PA manifests are read by the provenance analyzer, not here.
"""

from __future__ import annotations

from typing import Any

from leakshield.forensics._analyzers._metadata_names import (
    DIGITAL_SOURCE_TYPES,
    EDITORS,
    GENERATORS,
    UNKNOWN_SOURCE_TYPE,
    match_names,
    software_fields,
    source_types,
)
from leakshield.forensics._analyzers._metadata_read import Metadata, read_metadata
from leakshield.forensics._analyzers._metadata_settings import GeneratorSettings, find_settings
from leakshield.forensics._model import Direction, Finding, Strength
from leakshield.forensics._registry import AnalysisContext, analyzer
from leakshield.forensics._subject import Subject

__all__ = ["generator_metadata"]

NAME = "generator-metadata"

_SETTINGS_WHY = (
    "Image generators such as {tool} write their settings into the files they save. Their "
    "presence is strong evidence that a generator produced or re-processed this file; a "
    "generator also writes them when it only reworks an existing photo, so the picture may "
    "still be based on a real one. They can be removed, or copied into another file, so "
    "their absence proves nothing."
)
_SETTINGS_NAME_ONLY_WHY = (
    "The file has a metadata field with the name {tool} uses for its settings, but its "
    "content could not be read as those settings. That still points to a generator, less "
    "firmly: the name is easy to write, and the content may be damaged or deliberately cut."
)
_GENERATOR_NAME_WHY = (
    "Image generators write their name into the files they save (the Software or "
    "CreatorTool field). A name is easy to write into, or copy to, any file, so this is "
    "moderate evidence; many generators write no name at all, so its absence proves nothing."
)
_EDITOR_WHY = (
    "Image editors write their name into the files they save. Saving a picture in an editor "
    "is common (cropping, resizing, exporting) and says nothing about what, if anything, "
    "was changed."
)
_SOURCE_TYPE_WHY = {
    Direction.AI_GENERATED: (
        "Generators that follow the IPTC standard label what they make with a 'digital "
        "source type'. A label from the tool that wrote the file saying that a generative "
        "model or software made {what} is {strength} evidence; it can be removed or copied "
        "into another file, so its absence proves nothing."
    ),
    Direction.CAMERA_ORIGINAL: (
        "The file says it is a camera capture. This label is easy to write and proves "
        "nothing about how the picture was made."
    ),
}
_SOURCE_TYPE_OTHER_WHY = (
    "The IPTC 'digital source type' label says how a picture was made, as declared by the "
    "software or person that wrote the file. It is easy to write and to remove."
)
_CAMERA_WHY = (
    "Cameras and phones write their make, model and capture time into EXIF. This is "
    "consistent with a camera original, but EXIF is trivially copied from another photo or "
    "written by hand, and an edited or generated picture can carry it, so it proves nothing."
)
_NOTHING_WHY = (
    "No image generator, editor or camera left a trace in this file's metadata. Most "
    "platforms (messaging apps, social networks) strip metadata when a picture is uploaded, "
    "and anyone can remove it, so its absence says nothing about how the picture was made."
)


@analyzer(NAME, "Generator metadata")
def generator_metadata(subject: Subject, context: AnalysisContext) -> list[Finding]:
    """Findings for each generator, editor or camera trace in the file's metadata, or one
    finding saying none was found (which proves nothing)."""
    meta = read_metadata(subject.data)
    settings = find_settings(meta)
    findings = [_settings_finding(found) for found in settings]
    findings.extend(_source_type_findings(meta))
    fields = software_fields(meta)
    already = {found.tool for found in settings if found.recognised}
    generators = {
        name: where
        for name, where in match_names(fields, GENERATORS).items()
        if name not in already
    }
    if generators:
        findings.append(_names_finding(generators, editor=False))
    editors = match_names(fields, EDITORS)
    if editors:
        findings.append(_names_finding(editors, editor=True))
    if not any(f.direction is Direction.AI_GENERATED for f in findings):
        findings.extend(_camera_finding(meta))
    return findings or [_nothing_finding(meta)]


def _settings_finding(found: GeneratorSettings) -> Finding:
    evidence: dict[str, Any] = {"generator": found.tool, "found_in": found.source}
    evidence.update(found.evidence)
    if found.notes:
        evidence["notes"] = list(found.notes)
    if found.recognised:
        return Finding(
            analyzer=NAME,
            examined=found.examined,
            strength=Strength.STRONG,
            direction=Direction.AI_GENERATED,
            summary=f"The file holds the settings of an image generator ({found.tool}) "
            f"in its {found.source}.",
            explanation=_SETTINGS_WHY.format(tool=found.tool),
            evidence=evidence,
        )
    return Finding(
        analyzer=NAME,
        examined=found.examined,
        strength=Strength.MODERATE,
        direction=Direction.AI_GENERATED,
        summary=f"The file has a {found.source}, where {found.tool} writes its settings, "
        "but its content could not be read as them.",
        explanation=_SETTINGS_NAME_ONLY_WHY.format(tool=found.tool),
        evidence=evidence,
    )


def _source_type_findings(meta: Metadata) -> list[Finding]:
    findings = []
    for code, value in source_types(meta):
        kind = DIGITAL_SOURCE_TYPES.get(code.lower(), UNKNOWN_SOURCE_TYPE)
        what = "part of the image" if code.lower().startswith("composite") else "the image"
        why = _SOURCE_TYPE_WHY.get(kind.direction, _SOURCE_TYPE_OTHER_WHY)
        findings.append(
            Finding(
                analyzer=NAME,
                examined="XMP",
                strength=kind.strength,
                direction=kind.direction,
                summary=f"The file's XMP labels its digital source type '{code}': {kind.meaning}.",
                explanation=why.format(what=what, strength=kind.strength),
                evidence={"code": code, "value": value, "meaning": kind.meaning},
            )
        )
    return findings


def _names_finding(names: dict[str, list[tuple[str, str]]], *, editor: bool) -> Finding:
    fields = [
        {"field": where, "value": value} for found in names.values() for where, value in found
    ]
    places = sorted({_place(item["field"]) for item in fields})
    listed = ", ".join(names)
    if editor:
        summary = f"The file was saved by an image editor: {listed}."
        strength, direction, why = Strength.WEAK, Direction.EDITED, _EDITOR_WHY
    else:
        summary = f"The file names an image generator as the software that wrote it: {listed}."
        strength, direction, why = Strength.MODERATE, Direction.AI_GENERATED, _GENERATOR_NAME_WHY
    key = "editors" if editor else "generators"
    return Finding(
        analyzer=NAME,
        examined=", ".join(places),
        strength=strength,
        direction=direction,
        summary=summary,
        explanation=why,
        evidence={key: list(names), "fields": fields},
    )


def _camera_finding(meta: Metadata) -> list[Finding]:
    exif = meta.exif
    if exif is None or not (exif.make or exif.model) or not exif.captured:
        return []
    camera = " ".join(part for part in (exif.make, exif.model) if part)
    evidence = {"make": exif.make, "model": exif.model, "captured": exif.captured}
    if exif.software:
        evidence["software"] = exif.software
    return [
        Finding(
            analyzer=NAME,
            examined="EXIF",
            strength=Strength.WEAK,
            direction=Direction.CAMERA_ORIGINAL,
            summary=f"The file's EXIF names a camera ({camera}) and a capture time "
            f"({exif.captured}), and no generator.",
            explanation=_CAMERA_WHY,
            evidence=evidence,
        )
    ]


def _nothing_finding(meta: Metadata) -> Finding:
    evidence: dict[str, Any] = {"looked_in": list(meta.examined), "container": meta.container}
    if meta.notes:
        evidence["notes"] = list(meta.notes)
    return Finding(
        analyzer=NAME,
        examined=", ".join(meta.examined),
        strength=Strength.NONE,
        direction=Direction.INFORMATIONAL,
        summary="No generator, editor or camera metadata was found.",
        explanation=_NOTHING_WHY,
        evidence=evidence,
    )


def _place(field: str) -> str:
    """The part of the file a field lives in, in the words of ``examined``."""
    if field.startswith("PNG"):
        return "PNG text chunks"
    return field.split(" ", 1)[0]
