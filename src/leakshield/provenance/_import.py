"""Bringing the user's own certificate chain and key, checked first against what C2PA
validators accept, so that a chain they would reject is refused with its reasons."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from leakshield.provenance._identity import C2PA_CLAIM_SIGNING, Identity, _read, _store
from leakshield.provenance._model import IdentityError

__all__ = ["import_identity", "signer_problems"]

_PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
_SIGNING_USAGES = {
    C2PA_CLAIM_SIGNING,
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
    ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # documentSigning
    ObjectIdentifier("1.3.6.1.4.1.311.76.59.1.9"),  # Microsoft's C2PA signing
}


def import_identity(
    directory: Path,
    certificate_file: Path,
    key_file: Path | None = None,
    *,
    file_passphrase: bytes | None = None,
    passphrase: bytes | None = None,
    overwrite: bool = False,
) -> Identity:
    """Store the user's own chain and key: a PKCS#12 bundle (``.p12``/``.pfx``, opened with
    ``file_passphrase``) or a PEM chain (signing certificate first) with a PEM key file.
    The chain must be one C2PA accepts; ``passphrase`` protects the stored key."""
    data = _read(certificate_file)
    key: Any
    if certificate_file.suffix.lower() in {".p12", ".pfx"}:
        # A passphrase may be given only to protect the stored key: try without it too.
        for password in dict.fromkeys((file_passphrase, None)):
            try:
                key, cert, extra = pkcs12.load_key_and_certificates(data, password)
                break
            except ValueError:
                continue
        else:
            raise IdentityError(
                f"{certificate_file} could not be opened: a wrong passphrase, or not PKCS#12"
            )
        if key is None or cert is None:
            raise IdentityError(f"{certificate_file} must hold a certificate and its private key")
        certs = [cert, *extra]
    else:
        if key_file is None:
            raise IdentityError("a PEM certificate chain needs its private key: give --key KEY.pem")
        try:
            certs = x509.load_pem_x509_certificates(data)
            key = _load_pem_key(_read(key_file), file_passphrase)
        except (ValueError, TypeError) as exc:
            raise IdentityError(f"cannot read the certificate chain or key: {exc}") from None
    if not isinstance(key, _PrivateKey):
        raise IdentityError("the key must be EC (P-256/P-384/P-521), Ed25519 or RSA")
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != certs[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise IdentityError("the private key does not belong to the first certificate of the chain")
    problems = signer_problems(certs[0])
    if len(certs) < 2:
        problems.append("the chain has only one certificate: add the CA that issued it")
    for position, (cert, issuer) in enumerate(itertools.pairwise(certs), start=1):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            problems.append(
                f"certificate {position} of the chain was not issued by certificate "
                f"{position + 1}: put the signing certificate first, then each issuer"
            )
    if problems:
        raise IdentityError("C2PA validators would reject this certificate: " + "; ".join(problems))
    pem = serialization.Encoding.PEM
    chain = b"".join(c.public_bytes(pem) for c in certs)
    return _store(
        directory,
        "imported",
        _alg_of(key),
        chain,
        certs[-1].public_bytes(pem),
        key,
        passphrase,
        overwrite=overwrite,
    )


def _load_pem_key(data: bytes, passphrase: bytes | None) -> Any:
    """A PEM key, opened with ``passphrase`` when it is encrypted; an unencrypted key is
    read as it is (the passphrase then only protects the stored copy)."""
    encrypted = b"ENCRYPTED" in data
    return serialization.load_pem_private_key(data, passphrase if encrypted else None)


def signer_problems(cert: x509.Certificate) -> list[str]:
    """Why C2PA would refuse ``cert`` as a signing certificate, in plain words (empty: none)."""
    problems: list[str] = []
    ext = cert.extensions
    try:
        if ext.get_extension_for_class(x509.BasicConstraints).value.ca:
            problems.append("it is a CA certificate, not an end-entity one")
    except x509.ExtensionNotFound:
        pass
    try:
        if not ext.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            problems.append("its key usage lacks digitalSignature")
    except x509.ExtensionNotFound:
        problems.append("it has no key usage extension (digitalSignature)")
    try:
        usages = set(ext.get_extension_for_class(x509.ExtendedKeyUsage).value)
        if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages:
            problems.append(
                "its extended key usage includes anyExtendedKeyUsage, which C2PA forbids"
            )
        elif not usages & _SIGNING_USAGES:
            problems.append(
                "its extended key usage names none that C2PA accepts for signing (C2PA claim "
                "signing, emailProtection or documentSigning)"
            )
    except x509.ExtensionNotFound:
        problems.append("it has no extended key usage (e.g. C2PA claim signing, emailProtection)")
    try:
        ext.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        problems.append("it has no authority key identifier")
    if cert.issuer == cert.subject:
        problems.append("it is self-signed; C2PA needs a certificate issued by a CA")
    now = datetime.now(UTC)
    if cert.not_valid_after_utc <= now:
        problems.append(f"it expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if cert.not_valid_before_utc > now:
        problems.append(f"it is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    return problems


def _alg_of(key: _PrivateKey) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    size = key.curve.key_size
    algs = {256: "es256", 384: "es384", 521: "es512"}
    if size not in algs:
        raise IdentityError(f"EC curve {key.curve.name} is not one C2PA signs with")
    return algs[size]
