"""JPEG history: the quantization tables, signs of a second compression, and the EXIF
preview against the image. These describe how the file was saved and processed, not what
it shows."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from leakshield.errors import LeakshieldError
from leakshield.forensics._analyzers._jpeg_double import (
    FREE_THRESHOLD,
    TABLE_THRESHOLD,
    DoubleCompression,
    examine_luma,
)
from leakshield.forensics._analyzers._jpeg_markers import JpegHeader, exif_thumbnail, read_header
from leakshield.forensics._analyzers._jpeg_preview import (
    Outcome,
    PreviewComparison,
    compare_preview,
    read_preview,
)
from leakshield.forensics._analyzers._jpeg_tables import (
    IJG_CHROMA,
    IJG_LUMA,
    fingerprint,
    fit_table,
)
from leakshield.forensics._model import Direction, Finding, FindingImage, Strength, failed
from leakshield.forensics._registry import AnalysisContext, analyzer
from leakshield.forensics._subject import Subject
from leakshield.media import image_decoding

__all__ = ["jpeg_history"]

NAME = "jpeg-history"
TABLES = "JPEG quantization tables"
DOUBLE = "Double JPEG compression"
PREVIEW = "EXIF preview against the image"

_STANDARD_TOOLS = (
    "libjpeg/libjpeg-turbo and tools built on them: Pillow, OpenCV, ImageMagick, most web services"
)
_PLATFORMS = (
    "Platforms re-compress every upload, so a second compression is expected for anything "
    "that has been posted or sent through a messenger, and is not by itself a sign of "
    "manipulation. What it does indicate is that these pixels were saved as JPEG before."
)


@analyzer(NAME, "JPEG history")
def jpeg_history(subject: Subject, context: AnalysisContext) -> list[Finding]:
    """Read the JPEG's tables, look for a second compression, and check its EXIF preview."""
    header = read_header(subject.data)
    if header is None:
        return [_finding("JPEG history", Strength.NONE, Direction.INFORMATIONAL, *_NOT_JPEG)]
    if not header.tables:
        return [failed(NAME, TABLES, "corrupt", "the JPEG header holds no quantization tables")]
    findings = [_tables(header)]
    if subject.image is None:
        problem = subject.problem.message if subject.problem else "the pixels did not decode"
        findings.append(failed(NAME, f"{DOUBLE}; {PREVIEW}", "corrupt", problem))
        return findings
    findings.append(_double(subject, header))
    preview = exif_thumbnail(header.exif) if header.exif else None
    if preview is not None:
        findings.append(_preview(preview, subject.image, context.images))
    return findings


_NOT_JPEG = (
    "Not a JPEG; it carries no JPEG history to read",
    "Quantization tables, double compression and the EXIF preview are traces of JPEG "
    "saves. This file is in another format, so there is nothing of that kind to examine; "
    "it may still have been a JPEG before it was converted.",
)


def _finding(
    examined: str,
    strength: Strength,
    direction: Direction,
    summary: str,
    explanation: str,
    evidence: dict[str, Any] | None = None,
    images: tuple[FindingImage, ...] = (),
) -> Finding:
    return Finding(
        NAME, examined, strength, direction, summary, explanation, evidence or {}, images
    )


def _tables(header: JpegHeader) -> Finding:
    luma, chroma = header.table_for(0), header.table_for(1)
    luma = luma if luma is not None else header.tables[min(header.tables)]
    luma_fit = fit_table(luma, IJG_LUMA)
    chroma_fit = fit_table(chroma, IJG_CHROMA) if chroma is not None else None
    exact = luma_fit.exact and (chroma_fit is None or chroma_fit.exact)
    evidence: dict[str, Any] = {
        "luma_quality": luma_fit.quality,
        "luma_exact_ijg": luma_fit.exact,
        "chroma_quality": chroma_fit.quality if chroma_fit else None,
        "chroma_exact_ijg": chroma_fit.exact if chroma_fit else None,
        "exact_ijg": exact,
        "fingerprint": fingerprint(header.tables),
        "tables": len(header.tables),
        "process": header.process,
        "progressive": bool(header.process and "progressive" in header.process),
        "subsampling": header.subsampling,
        "components": len(header.components),
    }
    quality = luma_fit.quality
    if chroma_fit is not None and chroma_fit.quality != quality:
        quality_words = f"quality {quality} (luma) and {chroma_fit.quality} (chroma)"
    else:
        quality_words = f"quality {quality}"
    if exact:
        summary = f"Last saved with the standard libjpeg tables at {quality_words}"
        explanation = (
            f"The file's quantization tables are exactly the IJG tables at {quality_words}: "
            f"standard libjpeg tables, as written by {_STANDARD_TOOLS}. Most cameras write "
            "their own tables (some phones use these), so this points to a save by software "
            "without proving it. "
        )
    else:
        summary = f"Last saved with custom quantization tables (closest to libjpeg {quality_words})"
        explanation = (
            "The tables are not the standard libjpeg ones: custom tables, as cameras, "
            "Photoshop and some services write. The quality given is only the closest "
            "libjpeg equivalent. "
        )
    explanation += (
        "This describes the software and setting of the last save, not the content, and "
        "tables can be copied."
    )
    return _finding(TABLES, Strength.WEAK, Direction.INFORMATIONAL, summary, explanation, evidence)


def _luma(subject: Subject, header: JpegHeader) -> NDArray[np.uint8] | None:
    """The Y plane exactly as decoded, before conversion to RGB; None where the file has
    no luma plane (CMYK, RGB-coded, several frames)."""
    if len(header.components) not in (1, 3) or header.adobe_transform == 0:
        return None
    with image_decoding():
        image = Image.open(io.BytesIO(subject.data))
        size = image.size
        if image.mode not in ("L", "RGB"):
            return None
        image.draft("L", size)  # libjpeg then skips the colour conversion
        if image.mode != "L" or image.size != size:
            return None
        return np.asarray(image, dtype=np.uint8)


def _double(subject: Subject, header: JpegHeader) -> Finding:
    table = header.table_for(0)
    try:
        luma = _luma(subject, header) if table is not None else None
    except LeakshieldError as exc:
        return failed(NAME, DOUBLE, "corrupt", exc.message)
    result = examine_luma(luma, table) if luma is not None and table is not None else None
    if result is None:
        return _finding(
            DOUBLE,
            Strength.NONE,
            Direction.INFORMATIONAL,
            "Could not tell whether the file was JPEG-compressed more than once",
            "The test needs the luma plane and enough texture (many 8x8 blocks with detail); "
            "this image has too little, or is not coded as YCbCr. Nothing is shown either way.",
            {"examined": False},
        )
    evidence = _double_evidence(result)
    if not result.detected:
        return _finding(
            DOUBLE,
            Strength.NONE,
            Direction.INFORMATIONAL,
            "No sign of a second JPEG compression",
            "The histograms of the DCT coefficients are smooth, as after one compression. "
            "This does not show the file is a first save: a second save at the same quality, "
            "or after a much finer first save, or after resizing, leaves no such trace.",
            evidence,
        )
    earlier = ""
    if result.earlier_quality is not None:
        low, high = result.earlier_quality
        earlier = (
            f" (an earlier save at about libjpeg quality {low}{'' if low == high else f'-{high}'})"
        )
    how = (
        "periodic gaps in the histograms of its DCT coefficients: values were rounded to "
        "coarser steps before they were rounded to the file's steps"
        if result.clear
        else "gentle periodic peaks in the histograms of its DCT coefficients, as left by an "
        "earlier save with finer steps (a weaker trace)"
    )
    return _finding(
        DOUBLE,
        Strength.MODERATE if result.clear else Strength.WEAK,
        Direction.EDITED,
        f"Saved as JPEG at least twice{earlier}",
        f"The file shows {how} (Lukáš and Fridrich; Popescu and Farid). {_PLATFORMS}",
        evidence,
    )


def _double_evidence(result: DoubleCompression) -> dict[str, Any]:
    return {
        "examined": True,
        "blocks": result.blocks,
        "frequencies": result.frequencies,
        "free_score": result.free_score,
        "free_threshold": FREE_THRESHOLD,
        "table_score": result.table_score,
        "table_threshold": TABLE_THRESHOLD,
        "earlier_quality": list(result.earlier_quality) if result.earlier_quality else None,
        "earlier_steps": [list(step) for step in result.earlier_steps],
    }


def _preview(data: bytes, image: Image.Image, pictures: bool) -> Finding:
    try:
        preview = read_preview(data)
    except LeakshieldError as exc:
        return _finding(
            PREVIEW,
            Strength.NONE,
            Direction.INFORMATIONAL,
            "The file's EXIF preview could not be read",
            f"EXIF points to a preview image, but it does not decode ({exc.message}). "
            "Some tools write broken previews; it shows nothing either way.",
            {"preview_bytes": len(data)},
        )
    found = compare_preview(preview, image, picture=pictures)
    evidence = {
        "outcome": str(found.outcome),
        "preview_size": list(found.preview_size),
        "image_size": list(found.image_size),
        "aspect_difference": found.aspect_difference,
        "median_difference": found.median_difference,
        "cells": found.cells,
        "differing_cells": [list(cell) for cell in found.differing],
        "differing_regions": [list(region) for region in found.regions],
        "kept_region": list(found.kept) if found.kept else None,
        "kept_match": found.kept_match,
    }
    strength, direction, summary, explanation = _PREVIEW_WORDS[found.outcome]
    if found.kept is not None:
        explanation += (
            " The image now was found inside the preview (outlined): that is the part the "
            "crop kept."
        )
    images = _preview_images(found)
    return _finding(PREVIEW, strength, direction, summary, explanation, evidence, images)


_CHANGED = (
    "the image was changed after that save and the preview kept. Editors that copy the "
    "metadata without updating the preview leave this trace; it does not say what the "
    "change was or whether it matters."
)
_PREVIEW_WORDS: dict[Outcome, tuple[Strength, Direction, str, str]] = {
    Outcome.MATCHES: (
        Strength.WEAK,
        Direction.INFORMATIONAL,
        "The preview stored in the file matches the image",
        "The EXIF preview written when the file was saved shows the same picture as the "
        "image now, within what re-compression explains. An editor that rewrites the "
        "preview, or a change too small to see at preview size, would give the same result.",
    ),
    Outcome.DIFFERS: (
        Strength.MODERATE,
        Direction.EDITED,
        "The preview stored in the file differs from the image in places",
        "The preview stored in the file when it was first saved differs from the image now "
        f"in the outlined places, beyond what re-compression explains: {_CHANGED}",
    ),
    Outcome.REPLACED: (
        Strength.MODERATE,
        Direction.EDITED,
        "The preview stored in the file shows a different picture from the image",
        "The preview stored in the file when it was first saved differs from the image now "
        "across most of the picture (replaced, or its colours and tones changed): "
        f"{_CHANGED}",
    ),
    Outcome.CROPPED: (
        Strength.MODERATE,
        Direction.EDITED,
        "The image was cropped after the preview stored in the file was made",
        "The preview stored in the file when it was first saved has other proportions than "
        f"the image now, so the image was cropped or its canvas changed: {_CHANGED}",
    ),
    Outcome.ROTATED: (
        Strength.WEAK,
        Direction.INFORMATIONAL,
        "The image was turned by 90 degrees after the preview was made, and otherwise matches",
        "The EXIF preview shows the same picture turned by 90 degrees: the pixels were "
        "rotated after the first save (as editors and some services do to apply the "
        "orientation), and the preview kept. Nothing else differs at preview size.",
    ),
}


def _preview_images(found: PreviewComparison) -> tuple[FindingImage, ...]:
    if found.picture is None:
        return ()
    return (
        FindingImage(
            "exif-preview",
            "Left: the preview stored in the file's EXIF; right: the image now, scaled to "
            "the same height. Red boxes mark where they differ"
            + (", or the part of the preview that the cropped image kept." if found.kept else "."),
            found.picture,
            "Re-compression and resizing cause small differences everywhere; only the "
            "outlined places differ beyond that. A preview is small: changes smaller than a "
            "few of its pixels cannot show.",
        ),
    )
