"""Certificates made for the tests, independently of the code under test, and a clock
that stands still."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from leakshield.provenance import C2PA_CLAIM_SIGNING

PEM = serialization.Encoding.PEM
C2PA_EKU = [ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_CLAIM_SIGNING]
Key = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(
    key: Key,
    issuer: tuple[Key, x509.Certificate] | None = None,
    *,
    ca: bool = False,
    eku: list[x509.ObjectIdentifier] | None = C2PA_EKU,
    aki: bool = True,
    valid: tuple[int, int] = (-1, 365),  # days from now
) -> x509.Certificate:
    """A certificate for ``key`` issued by ``issuer`` (None: self-signed), with what C2PA wants
    of a CA (``ca``) or of a signing certificate, unless told to leave something out."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA" if ca else "test signer")])
    signing_key, issuer_name = (issuer[0], issuer[1].subject) if issuer else (key, name)
    now = datetime.now(UTC)
    usage = x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=valid[0]))
        .not_valid_after(now + timedelta(days=valid[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), True)
        .add_extension(usage, True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )  # fmt: skip
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if aki:
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key())
        builder = builder.add_extension(authority, critical=False)
    digest = None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signing_key, digest)


def make_chain(key: Key | None = None, **change: Any) -> tuple[Key, list[x509.Certificate]]:
    """A signing key and its chain (signing certificate, CA), ``change`` made to the first."""
    ca_key = p256()
    ca_cert = make_cert(ca_key, ca=True, eku=None, aki=False)
    key = key or p256()
    return key, [make_cert(key, (ca_key, ca_cert), **change), ca_cert]


def write_pem(directory: Path, key: Key, certs: list[x509.Certificate]) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    chain, key_file = directory / "chain.pem", directory / "key.pem"
    chain.write_bytes(b"".join(cert.public_bytes(PEM) for cert in certs))
    plain = serialization.NoEncryption()
    key_file.write_bytes(key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, plain))
    return chain, key_file


def spki(public: Any) -> bytes:
    der, info = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bytes(public.public_bytes(der, info))


class SameSecond(datetime):
    """`datetime` whose clock stands still: two replacements within one second."""

    frozen = datetime.now(UTC).replace(microsecond=0)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Self:
        return cls.fromtimestamp(cls.frozen.timestamp(), tz)
