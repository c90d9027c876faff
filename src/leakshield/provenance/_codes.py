"""C2PA validation codes in plain words, for people who are not provenance experts."""

from __future__ import annotations

__all__ = ["STATE_EXPLANATIONS", "explain"]

STATE_EXPLANATIONS = {
    "Trusted": "The credentials are intact and signed by a certificate you trust.",
    "Valid": "The credentials are intact, but the signer is not one you have said you trust: "
    "anyone can make a certificate with any name.",
    "Invalid": "The credentials do not hold: the file or its manifest was changed after "
    "signing, or the signature cannot be checked.",
    "NoManifest": "The file carries no C2PA credentials. Most platforms strip them on upload; "
    "their absence says nothing about whether the file is authentic.",
}

_CODES = {
    "assertion.dataHash.mismatch": "The image data is not what was signed: the file was "
    "changed after signing (even one byte), so these credentials do not describe it.",
    "assertion.bmffHash.mismatch": "The media data is not what was signed: the file was "
    "changed after signing.",
    "assertion.boxesHash.mismatch": "The media data is not what was signed: the file was "
    "changed after signing.",
    "assertion.hashedURI.mismatch": "A part of the manifest was changed after signing: an "
    "assertion no longer matches the hash the signature covers.",
    "assertion.missing": "An assertion the signature covers is missing from the manifest.",
    "assertion.action.malformed": "The manifest's list of actions is not well formed.",
    "claimSignature.mismatch": "The signature does not match the manifest: the manifest was "
    "changed after signing, or the signature was forged.",
    "claimSignature.missing": "The manifest has no signature.",
    "signingCredential.untrusted": "The signing certificate does not lead to a trust anchor "
    "you have configured. The signature is intact, but who made it is unconfirmed; add the "
    "signer's root with --trust if you know and trust it.",
    "signingCredential.expired": "The signing certificate had expired when the file was "
    "checked, and no trusted time stamp shows it was valid when it signed.",
    "signingCredential.revoked": "The signing certificate was revoked by its issuer.",
    "signingCredential.invalid": "The signing certificate is not one C2PA accepts (wrong key "
    "usage, missing extensions, or malformed).",
    "timeStamp.mismatch": "The time stamp does not match the signature.",
    "timeStamp.untrusted": "The time stamp comes from an authority that is not trusted.",
    "timeStamp.outsideValidity": "The time stamp falls outside the certificate's validity.",
    "manifest.inaccessible": "The manifest is stored elsewhere and was not fetched (remote "
    "manifest fetching is off).",
    "ingredient.manifest.missing": "An ingredient's manifest is missing.",
}


def explain(code: str, sdk_explanation: str | None = None) -> str:
    """What ``code`` means; the SDK's own words when we have none of ours."""
    if code in _CODES:
        return _CODES[code]
    if sdk_explanation:
        return f"{sdk_explanation} (C2PA code {code})."
    return f"C2PA validation failure {code}."
