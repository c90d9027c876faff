"""Signing a file: what binds it softly (watermark payload, PDQ, vPDQ), the signed copy, and
the record the manifest repository keeps of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from leakshield.media import MediaLimits, detect_media_type
from leakshield.provenance._c2pa import SOURCE_TYPES, file_format, sign_into
from leakshield.provenance._identity import Identity
from leakshield.provenance._model import ProvenanceError, SignResult, SoftBinding
from leakshield.provenance._repository import StoredManifest
from leakshield.watermark import WatermarkKey

__all__ = [
    "PDQ_ALG",
    "WATERMARK_ALG",
    "Fingerprint",
    "SignOptions",
    "fingerprint_file",
    "sign_file",
]

WATERMARK_ALG = "org.leakshield.watermark.1"
PDQ_ALG = "org.leakshield.pdq.1"
ACTIONS = ("created", "edited")


@dataclass(frozen=True)
class Fingerprint:
    """What survives re-encoding of a file, and so ties a stripped copy back to it."""

    media_type: str
    mime: str
    width: int | None
    height: int | None
    pdq: str | None  # only a hash of usable quality
    vpdq: str | None
    watermark_payload: str | None
    watermark_key_id: str | None

    def soft_bindings(self) -> tuple[SoftBinding, ...]:
        bindings = []
        if self.watermark_payload:
            bindings.append(SoftBinding(WATERMARK_ALG, self.watermark_payload))
        if self.pdq:
            bindings.append(SoftBinding(PDQ_ALG, self.pdq))
        return tuple(bindings)


@dataclass(frozen=True)
class SignOptions:
    """How to sign: the first action, the stated source type, an author only when asked,
    and a time-stamp authority only when configured."""

    action: str = "created"
    source_type: str = "digitalCapture"
    author: str | None = None
    tsa_url: str | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ProvenanceError("bad-action", f"--action is one of {', '.join(ACTIONS)}")
        if self.source_type not in SOURCE_TYPES:
            raise ProvenanceError(
                "bad-source-type", f"--source-type is one of {', '.join(SOURCE_TYPES)}"
            )


def fingerprint_file(
    path: Path,
    limits: MediaLimits,
    *,
    watermark_key: WatermarkKey | None = None,
    watermark_payload: bytes | None = None,
) -> Fingerprint:
    """The soft bindings of ``path``. The watermark payload is the one given (a file just
    marked) or, with ``watermark_key``, the one found in the image; raises `MediaError`."""
    from leakshield.signals import pdq_from_file, vpdq_from_file

    media_type = detect_media_type(path, limits)  # bounded, regular file first
    mime = file_format(path)
    width = height = None
    pdq = vpdq = None
    payload = watermark_payload.hex() if watermark_payload is not None else None
    if media_type == "image":
        width, height = _image_size(path)
        result = pdq_from_file(path, limits)
        pdq = str(result.hash) if result.usable else None
        if payload is None and watermark_key is not None:
            payload = _find_payload(path, watermark_key, limits)
    else:
        vpdq = str(vpdq_from_file(path, limits))
    key_id = watermark_key.key_id if payload is not None and watermark_key is not None else None
    return Fingerprint(media_type, mime, width, height, pdq, vpdq, payload, key_id)


def sign_file(
    src: Path,
    dst: Path,
    identity: Identity,
    key_pem: bytes,
    fingerprint: Fingerprint,
    options: SignOptions,
    *,
    source_pdq: str | None = None,
    title: str | None = None,
) -> tuple[SignResult, StoredManifest]:
    """Sign a copy of ``src`` into ``dst`` and say what the repository should keep of it.
    ``dst`` is written whole or not at all, and never replaces ``src``."""
    from leakshield.signals import file_digests

    if dst.exists() and src.exists() and dst.samefile(src):
        raise ProvenanceError("same-file", "OUT is IN: the signed copy must go to another file")
    if dst.exists() and not options.overwrite:
        raise ProvenanceError("output-exists", f"{dst} exists already; pass --force to replace it")
    when = datetime.now(UTC)
    name = title or src.name
    bindings = fingerprint.soft_bindings()
    signed = sign_into(
        src,
        dst,
        identity,
        key_pem,
        action=options.action,
        title=name,
        soft_bindings=bindings,
        source_type=options.source_type,
        author=options.author,
        tsa_url=options.tsa_url,
        when=when,
        overwrite=options.overwrite,
    )
    _, sha256 = file_digests(dst)
    result = SignResult(
        str(src),
        str(dst),
        fingerprint.mime,
        signed.label,
        when,
        options.action,
        bindings,
        timestamped=options.tsa_url is not None,
    )
    stored = StoredManifest(
        label=signed.label,
        signed_at=when,
        title=name,
        media_type=fingerprint.media_type,
        mime=fingerprint.mime,
        sha256=str(sha256),
        width=fingerprint.width,
        height=fingerprint.height,
        pdq=fingerprint.pdq,
        source_pdq=source_pdq,
        watermark_payload=fingerprint.watermark_payload,
        watermark_key_id=fingerprint.watermark_key_id,
        vpdq=fingerprint.vpdq,
        output_path=str(dst.resolve()),
        manifest=signed.manifest,
        manifest_data=signed.data,
    )
    return result, stored


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    from leakshield.media import image_decoding

    with image_decoding(), Image.open(path) as image:
        # The size as shown: EXIF orientation may swap width and height.
        orientation = image.getexif().get(0x0112, 1)
        w, h = image.size
        return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _find_payload(path: Path, key: WatermarkKey, limits: MediaLimits) -> str | None:
    from leakshield.errors import InputError
    from leakshield.watermark import detect_file

    try:
        found = detect_file(path, key, limits=limits, generator_marks=False).detection
    except InputError:  # too small to carry a mark, or not decodable by the watermark
        return None
    return found.payload_hex if found.present else None
