"""The thin layer over c2pa-python: the file's format, signing into a new file, reading.

Everything runs offline: remote manifests are never fetched, and a time-stamp authority is
contacted only when one is configured (and then its failure fails the sign).
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import c2pa

from leakshield.provenance._identity import Identity
from leakshield.provenance._model import ProvenanceError, SoftBinding

__all__ = [
    "SOURCE_TYPES",
    "SignedManifest",
    "file_format",
    "open_reader",
    "sign_into",
]

_IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# The digital source types a person signing her own media can state.
SOURCE_TYPES = {
    "digitalCapture": _IPTC + "digitalCapture",
    "computationalCapture": _IPTC + "computationalCapture",
    "minorHumanEdits": _IPTC + "minorHumanEdits",
    "humanEdits": _IPTC + "humanEdits",
    "screenCapture": _IPTC + "screenCapture",
    "digitalCreation": _IPTC + "digitalCreation",
    "trainedAlgorithmicMedia": _IPTC + "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia": _IPTC + "compositeWithTrainedAlgorithmicMedia",
}

_SNIFF_BYTES = 64


def file_format(path: Path) -> str:
    """The MIME type C2PA reads and writes ``path`` as, from its first bytes (not its name)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise ProvenanceError("not-found", "no such file") from None
    except OSError as exc:
        raise ProvenanceError("unreadable", f"cannot read the file: {exc.strerror}") from None
    mime = _sniff(head)
    if mime is None:
        raise ProvenanceError(
            "unsupported-format",
            "not a format C2PA credentials can be read from or written to here "
            "(JPEG, PNG, WebP, TIFF, GIF, HEIC, AVIF, MP4 or MOV)",
        )
    return mime


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
            return "image/heic"
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    return None


def context(anchors: Sequence[bytes] = ()) -> c2pa.Context:
    """c2pa settings: no remote fetching, no thumbnails (the file shows itself), and
    ``anchors`` (PEM roots) as trust anchors added to the SDK's."""
    settings: dict[str, Any] = {
        "verify": {"remote_manifest_fetch": False},
        "builder": {"thumbnail": {"enabled": False}},
    }
    if anchors:
        settings["trust"] = {"user_anchors": b"".join(anchors).decode("ascii")}
    return c2pa.Context.from_dict(settings)


@contextlib.contextmanager
def open_reader(
    path: Path, mime: str, anchors: Sequence[bytes] = ()
) -> Iterator[c2pa.Reader | None]:
    """A c2pa Reader on ``path``, or None when it has no manifest."""
    with path.open("rb") as handle:
        try:
            reader = c2pa.Reader.try_create(mime, handle, None, context(anchors))
        except c2pa.C2paError as exc:
            raise _read_error(exc) from None
        if reader is None:
            yield None
            return
        with reader:
            yield reader


def _read_error(exc: c2pa.C2paError) -> ProvenanceError:
    text = str(exc)
    if "NotSupported" in type(exc).__name__ or text.startswith("NotSupported"):
        return ProvenanceError(
            "unsupported-format", "C2PA cannot read this file: its format is not supported"
        )
    return ProvenanceError(
        "corrupt-manifest",
        f"the file's C2PA data is damaged and cannot be read ({text}); its credentials cannot "
        "be checked, so treat them as invalid",
    )


class SignedManifest:
    """What `sign_into` produced: the manifest as stored bytes and as JSON, and its label."""

    def __init__(self, label: str, data: bytes, manifest: dict[str, Any]) -> None:
        self.label = label
        self.data = data
        self.manifest = manifest


def sign_into(
    src: Path,
    dst: Path,
    identity: Identity,
    key_pem: bytes,
    *,
    action: str,
    title: str,
    soft_bindings: Sequence[SoftBinding],
    source_type: str,
    author: str | None,
    tsa_url: str | None,
    when: datetime,
    overwrite: bool,
) -> SignedManifest:
    """Sign a copy of ``src`` into ``dst``, atomically: on any failure ``dst`` is untouched
    (a temporary file beside it is removed). ``action`` is "created" or "edited"."""
    mime = file_format(src)
    manifest = _manifest(action, title, soft_bindings, source_type, author, when)
    info = c2pa.C2paSignerInfo(identity.alg.encode(), identity.chain_pem, key_pem, tsa_url)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".sign-", dir=dst.parent)
    try:
        with (
            c2pa.Signer.from_info(info) as signer,
            c2pa.Builder(manifest, context()) as builder,
            src.open("rb") as source,
        ):
            if action == "edited":
                # The file as it was becomes the parent ingredient, with any credentials it had.
                builder.add_ingredient(
                    {"title": title, "relationship": "parentOf", "label": "parent"}, mime, source
                )
                source.seek(0)
            with os.fdopen(fd, "w+b") as out:
                fd = -1
                data = builder.sign(signer, mime, source, out)
                out.flush()
                os.fsync(out.fileno())
        Path(temporary).chmod(src.stat().st_mode & 0o777)
        with open_reader(Path(temporary), mime) as reader:
            written = reader.get_active_manifest() if reader is not None else None
        if not written:
            raise ProvenanceError("sign-failed", "the signed file carries no readable manifest")
        _place(Path(temporary), dst, overwrite=overwrite)
    except c2pa.C2paError as exc:
        raise _sign_error(exc, tsa_url) from None
    finally:
        if fd >= 0:
            os.close(fd)
        Path(temporary).unlink(missing_ok=True)
    return SignedManifest(str(written["label"]), bytes(data), written)


def _place(temporary: Path, dst: Path, *, overwrite: bool) -> None:
    if overwrite:
        temporary.replace(dst)
        return
    try:
        os.link(temporary, dst)  # fails if a file appeared meanwhile
    except FileExistsError:
        raise ProvenanceError(
            "output-exists", f"{dst} exists already; pass --force to replace it"
        ) from None


def _sign_error(exc: c2pa.C2paError, tsa_url: str | None) -> ProvenanceError:
    text = str(exc)
    if tsa_url and ("http" in text or "timestamp" in text.lower() or "resolver" in text):
        return ProvenanceError(
            "timestamp-failed",
            f"the time-stamp authority {tsa_url} could not be reached or refused ({text}); "
            "nothing was written. Fix the URL or unset tsa_url to sign without a time stamp",
        )
    if "NotSupported" in type(exc).__name__ or text.startswith("NotSupported"):
        return ProvenanceError("unsupported-format", "C2PA cannot sign this file's format")
    return ProvenanceError("sign-failed", f"signing failed: {text}; nothing was written")


def _manifest(
    action: str,
    title: str,
    soft_bindings: Sequence[SoftBinding],
    source_type: str,
    author: str | None,
    when: datetime,
) -> dict[str, Any]:
    from leakshield import __version__

    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    agent = {"name": "leakshield", "version": __version__}
    if action == "created":
        actions = [
            {
                "action": "c2pa.created",
                "when": stamp,
                "softwareAgent": agent,
                "digitalSourceType": SOURCE_TYPES[source_type],
            },
        ]
    else:
        actions = [
            {
                "action": "c2pa.opened",
                "when": stamp,
                "softwareAgent": agent,
                "parameters": {"ingredientIds": ["parent"]},
            },
            {"action": "c2pa.edited", "when": stamp, "softwareAgent": agent},
        ]
    assertions: list[dict[str, Any]] = [{"label": "c2pa.actions", "data": {"actions": actions}}]
    for binding in soft_bindings:
        value = base64.b64encode(bytes.fromhex(binding.value)).decode("ascii")
        assertions.append(
            {
                "label": "c2pa.soft-binding",
                "data": {"alg": binding.alg, "blocks": [{"scope": {}, "value": value}]},
            }
        )
    if author:  # only when asked: privacy by default
        assertions.append(
            {
                "label": "stds.schema-org.CreativeWork",
                "data": {
                    "@context": "http://schema.org/",
                    "@type": "CreativeWork",
                    "author": [{"@type": "Person", "name": author}],
                },
            }
        )
    return {
        "claim_generator_info": [agent],
        "title": title,
        "assertions": assertions,
    }
