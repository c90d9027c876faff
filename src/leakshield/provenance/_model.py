"""Errors and the values the provenance subsystem hands to its callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leakshield.errors import ConfigError, InputError

__all__ = [
    "AI_SOURCE_TYPES",
    "IDENTITY_ANCHOR",
    "NO_ANCHOR",
    "USER_ANCHOR",
    "Action",
    "Failure",
    "IdentityError",
    "Ingredient",
    "ProvenanceError",
    "Recovery",
    "SignResult",
    "Signer",
    "SoftBinding",
    "Verification",
]

# IPTC digital source types that say a generative model made the content, in full or part.
_IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AI_SOURCE_TYPES = frozenset(
    {_IPTC + "trainedAlgorithmicMedia", _IPTC + "compositeWithTrainedAlgorithmicMedia"}
)

IDENTITY_ANCHOR = "identity"  # the root of the user's own identity
USER_ANCHOR = "user"  # a root certificate the user gave (--trust, trust_anchors)
NO_ANCHOR = "none"


class ProvenanceError(InputError):
    """A file could not be signed or its credentials could not be read."""

    slug = "provenance-error"
    title = "Provenance error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class IdentityError(ConfigError):
    """The signing identity is missing, damaged, locked, or not one C2PA accepts."""

    slug = "identity-error"
    title = "Signing identity error"


@dataclass(frozen=True)
class SoftBinding:
    """A soft-binding assertion: a value that survives re-encoding (a watermark payload, a
    perceptual hash) and so still ties a stripped copy to its manifest."""

    alg: str
    value: str  # hex

    def to_record(self) -> dict[str, str]:
        return {"alg": self.alg, "value": self.value}


@dataclass(frozen=True)
class SignResult:
    """One signed file and what its manifest binds to."""

    source: str
    output: str
    format: str
    manifest_label: str
    signed_at: datetime
    action: str
    soft_bindings: tuple[SoftBinding, ...]
    timestamped: bool

    def to_record(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "output": self.output,
            "format": self.format,
            "manifest": self.manifest_label,
            "signed_at": self.signed_at.isoformat(),
            "action": self.action,
            "soft_bindings": [b.to_record() for b in self.soft_bindings],
            "timestamped": self.timestamped,
        }


@dataclass(frozen=True)
class Failure:
    """A validation failure code and what it means, in plain words."""

    code: str
    explanation: str
    url: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {"code": self.code, "explanation": self.explanation, "url": self.url}


@dataclass(frozen=True)
class Action:
    action: str
    when: str | None = None
    software_agent: str | None = None
    digital_source_type: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "when": self.when,
            "software_agent": self.software_agent,
            "digital_source_type": self.digital_source_type,
        }


@dataclass(frozen=True)
class Ingredient:
    title: str | None
    relationship: str | None
    format: str | None
    has_manifest: bool

    def to_record(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "relationship": self.relationship,
            "format": self.format,
            "has_manifest": self.has_manifest,
        }


@dataclass(frozen=True)
class Signer:
    """Who signed, as the signing certificate says."""

    common_name: str | None
    issuer: str | None
    alg: str | None
    serial: str | None
    time: str | None  # only from a time-stamp authority

    def to_record(self) -> dict[str, Any]:
        return {
            "common_name": self.common_name,
            "issuer": self.issuer,
            "alg": self.alg,
            "serial": self.serial,
            "timestamp": self.time,
        }


@dataclass(frozen=True)
class Recovery:
    """A file without credentials that matches a photo the user signed: how it was found
    and how the two differ."""

    via: str  # "watermark", "pdq" or "vpdq"
    manifest_label: str
    title: str
    signed_at: datetime
    distance: int | None  # PDQ bits, for "pdq"; None for an exact watermark payload
    original_size: tuple[int, int] | None
    this_size: tuple[int, int] | None
    credentials: Verification | None = None

    def describe(self) -> str:
        how = {
            "watermark": "its invisible watermark (your key)",
            "pdq": f"its perceptual fingerprint (PDQ distance {self.distance} of 256 bits)",
            "vpdq": "its video fingerprint (vPDQ)",
        }[self.via]
        text = (
            f"This file carries no credentials, but it matches your "
            f"{'video' if self.via == 'vpdq' else 'photo'} {self.title!r} "
            f"signed on {self.signed_at:%Y-%m-%d %H:%M} UTC, found through {how}."
        )
        if self.original_size and self.this_size and self.original_size != self.this_size:
            (w0, h0), (w1, h1) = self.original_size, self.this_size
            text += f" Size: {w0}x{h0} signed, {w1}x{h1} here."
        return text

    def to_record(self) -> dict[str, Any]:
        return {
            "via": self.via,
            "manifest": self.manifest_label,
            "title": self.title,
            "signed_at": self.signed_at.isoformat(),
            "distance": self.distance,
            "original_size": list(self.original_size) if self.original_size else None,
            "size": list(self.this_size) if self.this_size else None,
            "summary": self.describe(),
            "credentials": self.credentials.to_record() if self.credentials else None,
        }


@dataclass(frozen=True)
class Verification:
    """What the credentials of one file say, and whether they hold."""

    path: str
    manifest_present: bool
    state: str  # "Trusted", "Valid", "Invalid" or "NoManifest"
    trust_anchor: str = NO_ANCHOR
    manifest_label: str | None = None
    title: str | None = None
    signer: Signer | None = None
    claim_generator: str | None = None
    actions: tuple[Action, ...] = ()
    ingredients: tuple[Ingredient, ...] = ()
    author: tuple[str, ...] = ()
    soft_bindings: tuple[SoftBinding, ...] = ()
    failures: tuple[Failure, ...] = ()
    recovered: Recovery | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def digital_source_types(self) -> tuple[str, ...]:
        return tuple(a.digital_source_type for a in self.actions if a.digital_source_type)

    @property
    def ai_generated(self) -> bool:
        """True when the manifest itself says a generative model made the content."""
        return any(t in AI_SOURCE_TYPES for t in self.digital_source_types)

    def to_record(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "manifest": self.manifest_present,
            "state": self.state,
            "trust_anchor": self.trust_anchor,
            "manifest_label": self.manifest_label,
            "title": self.title,
            "signer": self.signer.to_record() if self.signer else None,
            "claim_generator": self.claim_generator,
            "actions": [a.to_record() for a in self.actions],
            "digital_source_types": list(self.digital_source_types),
            "ai_generated": self.ai_generated,
            "ingredients": [i.to_record() for i in self.ingredients],
            "author": list(self.author),
            "soft_bindings": [b.to_record() for b in self.soft_bindings],
            "failures": [f.to_record() for f in self.failures],
            "recovered": self.recovered.to_record() if self.recovered else None,
            "notes": list(self.notes),
        }
