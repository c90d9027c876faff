"""Checking a file's credentials, and finding the credentials of a stripped copy again."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from leakshield.errors import InputError
from leakshield.media import MediaLimits
from leakshield.provenance._c2pa import file_format, open_reader
from leakshield.provenance._codes import explain
from leakshield.provenance._model import (
    IDENTITY_ANCHOR,
    USER_ANCHOR,
    Action,
    Failure,
    Ingredient,
    Recovery,
    Signer,
    SoftBinding,
    Verification,
)
from leakshield.provenance._repository import ManifestRepository, StoredManifest
from leakshield.provenance._sign import fingerprint_file
from leakshield.watermark import WatermarkKey

__all__ = ["RECOVERY_PDQ_DISTANCE", "TrustAnchors", "VerifyOptions", "summarize", "verify_file"]

RECOVERY_PDQ_DISTANCE = 31  # PDQ's usual match threshold


@dataclass(frozen=True)
class TrustAnchors:
    """Root certificates (PEM) to trust: the user's own identity's, and any she adds."""

    identity: bytes | None = None
    user: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class VerifyOptions:
    anchors: TrustAnchors = field(default_factory=TrustAnchors)
    repository: ManifestRepository | None = None  # where stripped copies are looked up
    watermark_key: WatermarkKey | None = None
    limits: MediaLimits = field(default_factory=MediaLimits)


def verify_file(path: Path, options: VerifyOptions) -> Verification:
    """What the credentials of ``path`` say and whether they hold; for a file without any,
    the credentials of the user's signed photo it matches, if the repository has one.
    Raises `ProvenanceError` for an unreadable file, an unsupported format or damaged C2PA
    data."""
    options.limits.check_file(path)  # a regular file of bounded size, before anything reads it
    mime = file_format(path)
    anchors = options.anchors
    every = ((anchors.identity,) if anchors.identity else ()) + anchors.user
    result = _read(path, mime, every)
    if result.state == "Trusted":
        anchor = USER_ANCHOR
        if anchors.identity and anchors.user:
            # Which anchor it was: the identity's root alone says.
            alone = _read(path, mime, (anchors.identity,))
            anchor = IDENTITY_ANCHOR if alone.state == "Trusted" else USER_ANCHOR
        elif anchors.identity:
            anchor = IDENTITY_ANCHOR
        result = replace(result, trust_anchor=anchor)
    if not result.manifest_present and options.repository is not None:
        recovered = _recover(path, options)
        if recovered is not None:
            result = replace(result, recovered=recovered)
    return result


def _read(path: Path, mime: str, anchors: Sequence[bytes]) -> Verification:
    with open_reader(path, mime, anchors) as reader:
        if reader is None:
            return Verification(str(path), manifest_present=False, state="NoManifest")
        manifest = reader.get_active_manifest() or {}
        state = reader.get_validation_state() or "Invalid"
        results = reader.get_validation_results() or {}
    failures = tuple(
        Failure(
            str(item.get("code")),
            explain(str(item.get("code")), item.get("explanation")),
            item.get("url"),
        )
        for item in results.get("activeManifest", {}).get("failure", [])
    )
    return summarize(str(path), manifest, state, failures)


def summarize(
    path: str, manifest: dict[str, Any], state: str, failures: tuple[Failure, ...] = ()
) -> Verification:
    """A `Verification` from a manifest's JSON (as c2pa reports it) and its state."""
    actions: list[Action] = []
    author: list[str] = []
    bindings: list[SoftBinding] = []
    for assertion in manifest.get("assertions", []):
        label, data = str(assertion.get("label", "")), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            actions.extend(_action(item) for item in data.get("actions", []))
        elif label == "c2pa.soft-binding":
            bindings.extend(_bindings(data))
        elif label in ("stds.schema-org.CreativeWork", "cawg.metadata"):
            author.extend(str(a.get("name")) for a in data.get("author", []) if a.get("name"))
    info = manifest.get("signature_info") or {}
    signer = (
        Signer(
            info.get("common_name"),
            info.get("issuer"),
            info.get("alg"),
            info.get("cert_serial_number"),
            info.get("time"),
        )
        if info
        else None
    )
    ingredients = tuple(
        Ingredient(
            i.get("title"), i.get("relationship"), i.get("format"), bool(i.get("active_manifest"))
        )
        for i in manifest.get("ingredients", [])
    )
    generators = manifest.get("claim_generator_info") or []
    generator = manifest.get("claim_generator") or (
        " ".join(str(generators[0].get(k, "")) for k in ("name", "version")).strip()
        if generators
        else None
    )
    return Verification(
        path=path,
        manifest_present=True,
        state=state,
        manifest_label=manifest.get("label"),
        title=manifest.get("title"),
        signer=signer,
        claim_generator=generator or None,
        actions=tuple(actions),
        ingredients=ingredients,
        author=tuple(author),
        soft_bindings=tuple(bindings),
        failures=failures,
    )


def _action(item: dict[str, Any]) -> Action:
    agent = item.get("softwareAgent")
    name = agent.get("name") if isinstance(agent, dict) else agent
    return Action(
        str(item.get("action")),
        item.get("when"),
        str(name) if name else None,
        item.get("digitalSourceType"),
    )


def _bindings(data: dict[str, Any]) -> list[SoftBinding]:
    found = []
    for block in data.get("blocks", []):
        try:
            value = base64.b64decode(str(block.get("value", "")), validate=True).hex()
        except (binascii.Error, ValueError):
            continue
        found.append(SoftBinding(str(data.get("alg")), value))
    return found


# Recovery of a stripped copy


def _recover(path: Path, options: VerifyOptions) -> Recovery | None:
    repository = options.repository
    assert repository is not None
    try:
        mark = fingerprint_file(path, options.limits, watermark_key=options.watermark_key)
    except InputError:  # cannot be fingerprinted: nothing to look up
        return None
    size = (mark.width, mark.height) if mark.width and mark.height else None
    if mark.watermark_payload and mark.watermark_key_id:
        hits = repository.by_watermark(mark.watermark_payload, mark.watermark_key_id)
        if hits:
            stored = hits[0]
            distance = _pdq_distance(mark.pdq, stored)
            return _recovery("watermark", stored, distance, size)
    if mark.pdq:
        near = repository.nearest_pdq(mark.pdq, RECOVERY_PDQ_DISTANCE)
        if near:
            stored, distance = near[0]
            return _recovery("pdq", stored, distance, size)
    if mark.vpdq:
        return _recover_video(mark.vpdq, repository)
    return None


def _recover_video(vpdq: str, repository: ManifestRepository) -> Recovery | None:
    from leakshield.signals import VpdqHash, vpdq_match

    query = VpdqHash.parse(vpdq)
    for stored in repository.videos():
        assert stored.vpdq is not None
        if vpdq_match(query, VpdqHash.parse(stored.vpdq)).match:
            return _recovery("vpdq", stored, None, None)
    return None


def _pdq_distance(pdq: str | None, stored: StoredManifest) -> int | None:
    if pdq is None or stored.pdq is None:
        return None
    ours = int(pdq, 16)
    return min(
        bin(ours ^ int(other, 16)).count("1") for other in (stored.pdq, stored.source_pdq) if other
    )


def _recovery(
    via: str, stored: StoredManifest, distance: int | None, size: tuple[int, int] | None
) -> Recovery:
    credentials = replace(
        summarize(stored.output_path or stored.title, stored.manifest, "Recorded"),
        notes=(
            "as recorded when signed; these credentials describe your signed file, not this copy",
        ),
    )
    return Recovery(
        via, stored.label, stored.title, stored.signed_at, distance, stored.size, size, credentials
    )
