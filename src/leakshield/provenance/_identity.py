"""The signing identity: a local CA and a long-lived signing certificate made on first use,
or the user's own certificate chain and key. Kept in ``<data dir>/identity`` (keys 0600).

C2PA validators accept a chain only with the extensions `_issue_signer` sets; the reasons
are in docs/provenance.md. The root's private key is thrown away once the signing
certificate is issued: nothing can mint another certificate under the user's root.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from leakshield.provenance._model import IdentityError

__all__ = [
    "ALGORITHMS",
    "C2PA_CLAIM_SIGNING",
    "Identity",
    "create_identity",
    "identity_exists",
    "load_identity",
]

ALGORITHMS = ("es256", "ed25519")  # what `create_identity` makes
C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
_ROOT_YEARS = 30
_SIGNER_YEARS = 25  # without a time stamp a manifest validates only while its certificate does
_MAX_FILE_BYTES = 1 << 20
_META = "identity.json"
_CHAIN = "chain.pem"
_ROOT = "root.pem"
_KEY = "signer-key.pem"


@dataclass(frozen=True, repr=False)
class Identity:
    """A signing identity. ``key_pem`` may be encrypted; `private_key_pem` opens it."""

    directory: Path
    kind: str  # "local" or "imported"
    alg: str  # c2pa's name: es256, es384, es512, ps256, ed25519
    chain_pem: bytes  # the signing certificate first, then its issuers
    root_pem: bytes  # the trust anchor others add
    key_pem: bytes
    encrypted: bool
    created: str

    def __repr__(self) -> str:
        return f"Identity(kind={self.kind}, alg={self.alg}, dir={self.directory})"

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]

    @property
    def root(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.root_pem)

    def private_key_pem(self, passphrase: bytes | None = None) -> bytes:
        """The signing key as unencrypted PKCS#8 PEM, for c2pa; kept in memory only."""
        if self.encrypted and not passphrase:
            raise IdentityError(
                "the signing key is protected by a passphrase: give --passphrase-file or set "
                "LEAKSHIELD_IDENTITY_PASSPHRASE"
            )
        try:
            key = serialization.load_pem_private_key(
                self.key_pem, passphrase if self.encrypted else None
            )
        except (ValueError, TypeError):
            raise IdentityError(
                "the passphrase does not open the signing key; check it and try again"
            ) from None
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def summary(self) -> dict[str, Any]:
        """What `identity show` prints: public facts only, never the key."""
        cert, root = self.certificate, self.root
        return {
            "directory": str(self.directory),
            "kind": self.kind,
            "alg": self.alg,
            "created": self.created,
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "certificate_sha256": cert.fingerprint(hashes.SHA256()).hex(),
            "root_subject": root.subject.rfc4514_string(),
            "root_sha256": root.fingerprint(hashes.SHA256()).hex(),
            "key_protected": self.encrypted,
        }


def identity_exists(directory: Path) -> bool:
    return (directory / _META).is_file()


def load_identity(directory: Path) -> Identity:
    """The identity stored in ``directory``; a clear error when there is none or it is damaged."""
    if not identity_exists(directory):
        raise IdentityError(
            f"no signing identity in {directory}; make one with `leakshield identity create` "
            "or bring yours with `leakshield identity import`"
        )
    try:
        meta = json.loads(_read(directory / _META))
        chain, root, key = (_read(directory / name) for name in (_CHAIN, _ROOT, _KEY))
        x509.load_pem_x509_certificates(chain)
        x509.load_pem_x509_certificate(root)
        return Identity(
            directory,
            meta["kind"],
            meta["alg"],
            chain,
            root,
            key,
            bool(meta["encrypted"]),
            str(meta["created"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IdentityError(
            f"the signing identity in {directory} is damaged ({exc}); restore it from a backup, "
            "or replace it with `leakshield identity create --force`"
        ) from None


def create_identity(
    directory: Path,
    *,
    alg: str = "es256",
    name: str | None = None,
    passphrase: bytes | None = None,
    overwrite: bool = False,
) -> Identity:
    """Make a local root CA and a signing certificate under it, and store them."""
    if alg not in ALGORITHMS:
        raise IdentityError(f"unknown algorithm {alg!r}; choose one of {', '.join(ALGORITHMS)}")
    root_key, signer_key = _new_key(alg), _new_key(alg)
    now = datetime.now(UTC)
    root_name = _name("leakshield local root", "leakshield local identity")
    root = (
        _builder(root_name, root_name, root_key.public_key(), now, _ROOT_YEARS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
    )
    root_cert = _sign(root, root_key)
    signer_name = _name(name or "leakshield local signer", "leakshield local identity")
    signer = (
        _builder(signer_name, root_name, signer_key.public_key(), now, _SIGNER_YEARS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_CLAIM_SIGNING]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
    )
    signer_cert = _sign(signer, root_key)
    del root_key  # never stored: no one can issue another certificate under this root
    pem = serialization.Encoding.PEM
    chain = signer_cert.public_bytes(pem) + root_cert.public_bytes(pem)
    return _store(
        directory,
        "local",
        alg,
        chain,
        root_cert.public_bytes(pem),
        signer_key,
        passphrase,
        overwrite=overwrite,
    )


# Helpers


def _new_key(alg: str) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    if alg == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _name(common: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public: Any, now: datetime, years: int
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _sign(builder: x509.CertificateBuilder, key: Any) -> x509.Certificate:
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, digest)


def _retired_place(parent: Path) -> Path:
    """A new folder name under ``parent`` for an identity being replaced, never one in use."""
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, number = parent / stamp, 1
    while candidate.exists():
        number += 1
        candidate = parent / f"{stamp}-{number}"
    return candidate


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise IdentityError(f"{path} is too large to be a certificate or key file")
        return path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"cannot read {path}: {exc.strerror}") from None


def _store(
    directory: Path,
    kind: str,
    alg: str,
    chain: bytes,
    root: bytes,
    key: Any,
    passphrase: bytes | None,
    *,
    overwrite: bool,
) -> Identity:
    """Write the identity into a new directory, then move it into place; an existing one is
    kept under ``identity-retired/`` when replaced (files signed with it stay checkable)."""
    if identity_exists(directory) and not overwrite:
        raise IdentityError(
            f"an identity exists already in {directory}; files you signed are tied to it. "
            "Pass --force to replace it (the old one is kept under identity-retired/)"
        )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = {"kind": kind, "alg": alg, "encrypted": bool(passphrase), "created": created}
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".identity-", dir=directory.parent))
    try:
        for name, data in ((_CHAIN, chain), (_ROOT, root), (_KEY, key_pem)):
            fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        (staging / _META).write_text(json.dumps(meta, indent=2) + "\n")
        if directory.exists():
            directory.rename(_retired_place(directory.parent / "identity-retired"))
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Identity(directory, kind, alg, chain, root, key_pem, bool(passphrase), created)
