"""Content Credentials (C2PA): what a signed manifest in the file says and whether it holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leakshield.forensics._model import Direction, Finding, Strength
from leakshield.forensics._registry import AnalysisContext, analyzer
from leakshield.forensics._subject import Subject

if TYPE_CHECKING:
    from leakshield.provenance import Verification

_TITLE = "Content Credentials (C2PA)"
# C2PA actions that change what the picture shows (format changes and re-packaging do not).
EDIT_ACTIONS = frozenset(
    {
        "c2pa.edited",
        "c2pa.filtered",
        "c2pa.cropped",
        "c2pa.color_adjustments",
        "c2pa.drawing",
        "c2pa.placed",
        "c2pa.removed",
        "c2pa.resized",
        "c2pa.orientation",
    }
)


@analyzer("provenance", _TITLE)
def provenance(subject: Subject, context: AnalysisContext) -> list[Finding]:
    """Verify the file's C2PA manifest, or find the user's signed photo it is a copy of."""
    from leakshield.provenance import TrustAnchors, VerifyOptions, verify_file

    options = VerifyOptions(
        anchors=context.anchors or TrustAnchors(),
        repository=context.repository,
        watermark_key=context.watermark_keys[0] if context.watermark_keys else None,
        limits=context.limits,
    )
    result = verify_file(subject.path, options)
    evidence = result.to_record()
    evidence.pop("path", None)
    if not result.manifest_present:
        return [_stripped(result, evidence)]
    actions = ", ".join(dict.fromkeys(a.action for a in result.actions)) or "none recorded"
    signer = result.signer.common_name if result.signer and result.signer.common_name else None
    who = f" signed by {signer}" if signer else ""
    if result.state == "Invalid":
        return [_invalid(result, who, evidence)]
    trusted = result.state == "Trusted"
    if result.ai_generated:
        return [
            Finding(
                "provenance",
                _TITLE,
                Strength.STRONG if trusted else Strength.MODERATE,
                Direction.AI_GENERATED,
                f"Its Content Credentials{who} say a generative AI model made "
                f"{_part(result.digital_source_types)}this image.",
                "The signed manifest records a digital source type of "
                + ", ".join(result.digital_source_types)
                + (
                    ", and its signer is one you trust."
                    if trusted
                    else "; the signature holds, but its signer is not on your trust list, so "
                    "who signed it is not established."
                ),
                evidence,
            )
        ]
    edited = any(a.action in EDIT_ACTIONS for a in result.actions)
    return [
        Finding(
            "provenance",
            _TITLE,
            Strength.STRONG if trusted else Strength.WEAK,
            Direction.EDITED if edited else Direction.INFORMATIONAL,
            (
                f"The file carries valid Content Credentials{who}, a signer you trust; "
                if trusted
                else f"The file carries intact Content Credentials{who} (a signer not on "
                "your trust list); "
            )
            + f"recorded actions: {actions}.",
            (
                "The signature holds and the signer is one you trust, so the recorded history "
                "is what that signer stated."
                if trusted
                else "The signature holds, but its signer is not on your trust list: the "
                "manifest is intact, yet who made it is not established."
            )
            + " Credentials record what the signer declared; they cannot show that the "
            "declaration was true.",
            evidence,
        )
    ]


def _invalid(result: Verification, who: str, evidence: dict[str, object]) -> Finding:
    """Credentials that do not validate: changed content (edited) or, say, an expired
    certificate (which says nothing about the content)."""
    # "untrusted" is reported beside the real reason; it is not why the state is Invalid.
    failures = [f for f in result.failures if f.code != "signingCredential.untrusted"]
    failures = failures or list(result.failures)
    codes = ", ".join(f.code for f in failures)
    details = " ".join(f.explanation for f in failures[:3])
    if any("mismatch" in f.code for f in failures):
        return Finding(
            "provenance",
            _TITLE,
            Strength.MODERATE,
            Direction.EDITED,
            f"The file carries Content Credentials{who} that no longer match it ({codes}).",
            "The file was changed after it was signed, or the credentials were copied from "
            "another file: what they say does not describe this file as it is. " + details,
            evidence,
        )
    return Finding(
        "provenance",
        _TITLE,
        Strength.WEAK,
        Direction.INFORMATIONAL,
        f"The file carries Content Credentials{who} that do not validate ({codes}).",
        "The signature cannot be accepted as it stands; this says nothing about whether the "
        "content was changed. " + details,
        evidence,
    )


def _part(source_types: tuple[str, ...]) -> str:
    return "part of " if any("composite" in t for t in source_types) else ""


def _stripped(result: Verification, evidence: dict[str, object]) -> Finding:
    recovered = result.recovered
    if recovered is not None:
        exact = recovered.via == "watermark"
        return Finding(
            "provenance",
            _TITLE,
            Strength.STRONG if exact else Strength.MODERATE,
            Direction.MADE_FROM_YOUR_PHOTO,
            recovered.describe(),
            "The credentials found describe your signed photo, not this copy, which was "
            "re-saved without them."
            + (
                ""
                if exact
                else " A fingerprint match can also be a near-identical shot, such as the "
                "next photo of a burst."
            ),
            evidence,
        )
    return Finding(
        "provenance",
        _TITLE,
        Strength.NONE,
        Direction.INFORMATIONAL,
        "The file carries no Content Credentials.",
        "Most images carry none, and every platform that re-encodes uploads removes them, so "
        "their absence says nothing about where the image came from.",
        evidence,
    )
