"""Watermarks: the user's own (with her keys) and the published marks of image generators."""

from __future__ import annotations

from leakshield.forensics._model import Direction, Finding, Strength
from leakshield.forensics._registry import AnalysisContext, analyzer
from leakshield.forensics._subject import Subject

_YOURS = "Your invisible watermark"
_GENERATOR = "Image generators' published watermarks"


@analyzer("your-watermark", _YOURS)
def your_watermark(subject: Subject, context: AnalysisContext) -> list[Finding]:
    """Look for the user's watermark under each of her keys."""
    from leakshield.watermark import detect

    if not context.watermark_keys:
        return [
            Finding(
                "your-watermark",
                _YOURS,
                Strength.NONE,
                Direction.INFORMATIONAL,
                "Not checked: you have no watermark key.",
                "`leakshield protect` and `leakshield watermark keygen` make one; photos you "
                "protect then carry a mark this check can find.",
            )
        ]
    pixels = subject.rgb()
    for key in context.watermark_keys:
        detection = detect(pixels, key)
        if not detection.present:
            continue
        evidence = {
            "key_id": key.key_id,
            "payload_hex": detection.payload_hex,
            "confidence": round(detection.confidence, 3),
            "rotation_degrees": detection.rotation,
        }
        if context.repository is not None and detection.payload_hex:
            signed = context.repository.by_watermark(detection.payload_hex, key.key_id)
            if signed:
                evidence["your_photo"] = signed[0].title
                evidence["signed_at"] = signed[0].signed_at.isoformat()
        photo = (
            f" It identifies your photo '{evidence['your_photo']}'."
            if "your_photo" in evidence
            else ""
        )
        return [
            Finding(
                "your-watermark",
                _YOURS,
                Strength.STRONG,
                Direction.MADE_FROM_YOUR_PHOTO,
                f"This image carries your invisible watermark (key {key.key_id}).{photo}",
                "The mark was found with your secret key and its payload passed the keyed "
                "check, which an unmarked image passes by chance less than once in a million. "
                "So this image was made from a copy of your photo that carried the mark, "
                "whatever was done to it since.",
                evidence,
            )
        ]
    ids = ", ".join(k.key_id for k in context.watermark_keys)
    return [
        Finding(
            "your-watermark",
            _YOURS,
            Strength.NONE,
            Direction.INFORMATIONAL,
            "Your watermark was not found.",
            "This does not show the image was not made from your photos: photos you did not "
            "protect carry no mark, and heavy changes (a small crop, strong filters, "
            "regenerating the image) can erase it. The derivation check below looks for reuse "
            "without a mark.",
            {"keys_tried": ids},
        )
    ]


@analyzer("generator-watermark", _GENERATOR)
def generator_watermark(subject: Subject, context: AnalysisContext) -> list[Finding]:
    """Look for the fixed marks Stable Diffusion's reference pipelines embed."""
    from leakshield.watermark import detect_generator_marks

    if subject.image is None:
        subject.rgb()  # raises the decoding problem
    assert subject.image is not None
    marks = detect_generator_marks(subject.image)
    found = [m for m in marks if m.present]
    evidence = {
        m.mark_id: {
            "matched_bits": m.matched_bits,
            "total_bits": m.total_bits,
            "p_value": m.p_value,
        }
        for m in marks
    }
    if found:
        best = max(found, key=lambda m: m.matched_bits / m.total_bits)
        return [
            Finding(
                "generator-watermark",
                _GENERATOR,
                Strength.STRONG,
                Direction.AI_GENERATED,
                f"This image carries the invisible watermark of {best.name} "
                f"({best.matched_bits} of {best.total_bits} bits).",
                "Stable Diffusion's reference pipelines mark every image they make with a fixed "
                "message. Reading it back this well by chance is vanishingly unlikely, so a "
                "generator of that family made or re-processed this image. " + best.caveats,
                evidence,
            )
        ]
    return [
        Finding(
            "generator-watermark",
            _GENERATOR,
            Strength.NONE,
            Direction.INFORMATIONAL,
            "No generator watermark was found."
            if marks
            else "Too small to carry a generator watermark.",
            "Only some generators mark their images, most marks do not survive re-saving or "
            "resizing, and many tools never add one, so finding none says nothing about how "
            "the image was made.",
            evidence,
        )
    ]
