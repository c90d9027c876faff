"""The signing identity: a local CA whose certificate C2PA validators accept, a key only its
owner reads (the root's key never kept), passphrases, safe replacement, imported chains."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from PIL import Image

import leakshield.provenance._identity as identity_module
from leakshield.provenance import (
    ALGORITHMS,
    C2PA_CLAIM_SIGNING,
    Identity,
    IdentityError,
    create_identity,
    identity_exists,
    import_identity,
    load_identity,
    signer_problems,
)
from tests.provenance._certs import (
    PEM,
    SameSecond,
    make_cert,
    make_chain,
    p256,
    spki,
    write_pem,
)

pytestmark = pytest.mark.timeout(60)

KEY_FILE = "signer-key.pem"


@pytest.fixture(scope="module")
def jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("identity-photo") / "photo.jpg"
    pixels = np.random.default_rng(7).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


# Signing with an identity


def c2pa_sign_and_read(
    identity: Identity, src: Path, dst: Path, anchor: bytes | None, passphrase: bytes | None = None
) -> tuple[str, list[str]]:
    """Sign with c2pa-python directly (not through leakshield), read back: state, failures."""
    key_pem = identity.private_key_pem(passphrase)
    info = c2pa.C2paSignerInfo(identity.alg.encode(), identity.chain_pem, key_pem, None)
    manifest = {"claim_generator_info": [{"name": "identity-test", "version": "1"}], "title": "t"}
    intent = (c2pa.C2paBuilderIntent.CREATE, c2pa.C2paDigitalSourceType.DIGITAL_CAPTURE)
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
        builder.set_intent(*intent)
        with src.open("rb") as source, dst.open("w+b") as out:
            builder.sign(signer, "image/jpeg", source, out)
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False}}
    if anchor is not None:
        settings["trust"] = {"user_anchors": anchor.decode()}
    context = c2pa.Context.from_dict(settings)
    with dst.open("rb") as stream, c2pa.Reader("image/jpeg", stream, None, context) as reader:
        results = reader.get_validation_results() or {}
        failures = results.get("activeManifest", {}).get("failure", [])
        return reader.get_validation_state(), [item["code"] for item in failures]


# A local identity


def test_a_passphrase_for_the_stored_key_opens_unencrypted_files_too(tmp_path: Path) -> None:
    """The CLI's one passphrase opens the file and protects the stored key; files that are
    not encrypted are read as they are."""
    key, (cert, ca_cert) = make_chain()
    chain, key_file = write_pem(tmp_path / "mine", key, [cert, ca_cert])
    from_pem = import_identity(
        tmp_path / "a", chain, key_file, file_passphrase=b"pw", passphrase=b"pw"
    )
    bundle = tmp_path / "plain.p12"
    plain = serialization.NoEncryption()
    bundle.write_bytes(pkcs12.serialize_key_and_certificates(b"me", key, cert, [ca_cert], plain))
    from_p12 = import_identity(tmp_path / "b", bundle, file_passphrase=b"pw", passphrase=b"pw")
    for imported in (from_pem, from_p12):
        assert imported.encrypted
        assert b"PRIVATE KEY" in imported.private_key_pem(b"pw")


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_create_makes_a_chain_c2pa_accepts_and_keeps_no_root_key(tmp_path: Path, alg: str) -> None:
    directory = tmp_path / "identity"
    made = create_identity(directory, alg=alg)
    assert (made.kind, made.alg, made.encrypted, made.directory) == ("local", alg, False, directory)
    assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((directory / "signer-key.pem").stat().st_mode) == 0o600
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.name for p in files if b"PRIVATE KEY" in p.read_bytes()] == [KEY_FILE]
    assert sorted(p.name for p in files) == ["chain.pem", "identity.json", "root.pem", KEY_FILE]
    key = serialization.load_pem_private_key((directory / "signer-key.pem").read_bytes(), None)
    assert spki(key.public_key()) == spki(made.certificate.public_key())
    assert spki(key.public_key()) != spki(made.root.public_key())
    assert (directory / "root.pem").read_bytes() == made.root_pem
    chain = x509.load_pem_x509_certificates((directory / "chain.pem").read_bytes())
    assert chain == [made.certificate, made.root]
    assert [p.name for p in tmp_path.iterdir()] == ["identity"]  # no staging directory left

    cert, root = made.certificate, made.root
    ext = cert.extensions

    constraints = ext.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value == x509.KeyUsage(True, *[False] * 8)  # only signing
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku and C2PA_CLAIM_SIGNING in eku
    assert C2PA_CLAIM_SIGNING.dotted_string == "1.3.6.1.4.1.62558.2.1"
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski.digest == x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest

    assert cert.issuer == root.subject != cert.subject
    cert.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    root_constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert root_constraints.critical and root_constraints.value.ca
    assert root.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert cert.not_valid_after_utc > datetime.now(UTC) + timedelta(days=365 * 20)
    assert signer_problems(cert) == []


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_c2pa_trusts_its_files_under_its_root(tmp_path: Path, jpeg: Path, alg: str) -> None:
    made = create_identity(tmp_path / "identity", alg=alg)
    trusted = c2pa_sign_and_read(made, jpeg, tmp_path / "trusted.jpg", made.root_pem)
    assert trusted == ("Trusted", [])
    state, codes = c2pa_sign_and_read(made, jpeg, tmp_path / "plain.jpg", None)
    assert state == "Valid" and codes == ["signingCredential.untrusted"]


def test_a_passphrase_encrypts_the_stored_key(tmp_path: Path) -> None:
    made = create_identity(tmp_path / "identity", passphrase=b"correct horse")
    stored = (tmp_path / "identity" / "signer-key.pem").read_bytes()
    assert made.encrypted and b"ENCRYPTED PRIVATE KEY" in stored
    with pytest.raises(IdentityError, match="--passphrase-file"):
        made.private_key_pem()
    with pytest.raises(IdentityError, match="passphrase does not open"):
        made.private_key_pem(b"wrong horse")
    opened = made.private_key_pem(b"correct horse")
    assert opened.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(opened, None)
    assert spki(key.public_key()) == spki(made.certificate.public_key())
    assert load_identity(tmp_path / "identity").encrypted
    assert json.loads((tmp_path / "identity" / "identity.json").read_text())["encrypted"] is True


def test_load_returns_what_create_stored_and_nothing_shows_the_key(tmp_path: Path) -> None:
    made = create_identity(tmp_path / "identity", alg="ed25519", name="Alex")
    loaded = load_identity(tmp_path / "identity")
    assert loaded == made
    assert loaded.summary() == made.summary()
    assert loaded.summary()["subject"].startswith("O=leakshield local identity,CN=Alex")
    assert loaded.private_key_pem() == made.private_key_pem()
    key_body = made.key_pem.decode().splitlines()[1]
    shown = repr(made) + json.dumps(made.summary())
    assert "PRIVATE" not in shown and key_body not in shown and "alg=ed25519" in repr(made)
    assert made.summary()["root_sha256"] == made.root.fingerprint(hashes.SHA256()).hex()
    assert made.summary()["key_protected"] is False


def test_load_without_an_identity_says_how_to_make_one(tmp_path: Path) -> None:
    (tmp_path / "identity").mkdir()
    for directory in (tmp_path / "identity", tmp_path / "missing"):
        assert not identity_exists(directory)
        with pytest.raises(IdentityError, match="`leakshield identity create`"):
            load_identity(directory)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("chain.pem", b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"),
        ("chain.pem", b""),
        ("root.pem", b"garbage"),
        ("identity.json", b"{not json"),
        ("identity.json", b'{"kind": "local"}'),
        ("identity.json", b"[]"),
    ],
)
def test_a_damaged_identity_is_reported(tmp_path: Path, name: str, content: bytes) -> None:
    create_identity(tmp_path / "identity")
    (tmp_path / "identity" / name).write_bytes(content)
    with pytest.raises(IdentityError, match="damaged") as caught:
        load_identity(tmp_path / "identity")
    assert "--force" in str(caught.value)


def test_an_identity_is_replaced_only_on_purpose_and_the_old_one_is_kept(tmp_path: Path) -> None:
    directory = tmp_path / "identity"
    first = create_identity(directory)
    with pytest.raises(IdentityError, match="--force"):
        create_identity(directory, alg="ed25519")
    assert load_identity(directory) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["identity"]

    second = create_identity(directory, alg="ed25519", overwrite=True)
    assert load_identity(directory) == second and second.root_pem != first.root_pem
    [retired] = (tmp_path / "identity-retired").iterdir()
    assert load_identity(retired) == replace(first, directory=retired)
    assert stat.S_IMODE((retired / "signer-key.pem").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["identity", "identity-retired"]


def test_two_replacements_in_one_second_keep_both_old_identities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity_module, "datetime", SameSecond)
    directory = tmp_path / "identity"
    roots = [create_identity(directory, overwrite=True).root_pem for _ in range(3)]
    retired = [load_identity(p).root_pem for p in (tmp_path / "identity-retired").iterdir()]
    assert sorted(retired) == sorted(roots[:2])
    assert load_identity(directory).root_pem == roots[2]


def test_an_unknown_algorithm_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    for alg in ("rsa", "ES256", "es384", ""):
        with pytest.raises(IdentityError, match="es256, ed25519"):
            create_identity(tmp_path / "identity", alg=alg)
    assert list(tmp_path.iterdir()) == []


# Imported identities


def test_import_of_a_pem_chain_signs_trusted_files(tmp_path: Path, jpeg: Path) -> None:
    key, certs = make_chain()
    chain, key_file = write_pem(tmp_path / "mine", key, certs)
    imported = import_identity(tmp_path / "identity", chain, key_file, passphrase=b"pw")
    assert (imported.kind, imported.alg, imported.encrypted) == ("imported", "es256", True)
    assert (imported.certificate, imported.root) == (certs[0], certs[1])
    assert load_identity(tmp_path / "identity") == imported
    stored = tmp_path / "identity" / "signer-key.pem"
    assert b"ENCRYPTED PRIVATE KEY" in stored.read_bytes()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    anchor = certs[1].public_bytes(PEM)
    assert c2pa_sign_and_read(imported, jpeg, tmp_path / "s.jpg", anchor, b"pw") == ("Trusted", [])
    with pytest.raises(IdentityError, match="--key"):
        import_identity(tmp_path / "other", chain)


def test_import_of_a_pkcs12_bundle_opens_it_with_its_password(tmp_path: Path, jpeg: Path) -> None:
    key, (cert, ca_cert) = make_chain()
    bundle = tmp_path / "mine.P12"
    pw = serialization.BestAvailableEncryption(b"bundle pw")
    bundle.write_bytes(pkcs12.serialize_key_and_certificates(b"me", key, cert, [ca_cert], pw))
    for wrong in (None, b"wrong"):
        with pytest.raises(IdentityError, match="could not be opened"):
            import_identity(tmp_path / "identity", bundle, file_passphrase=wrong)
    assert not (tmp_path / "identity").exists()
    imported = import_identity(tmp_path / "identity", bundle, file_passphrase=b"bundle pw")
    assert (imported.alg, imported.encrypted, imported.root) == ("es256", False, ca_cert)
    assert c2pa_sign_and_read(imported, jpeg, tmp_path / "s.jpg", imported.root_pem)[0] == "Trusted"


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (lambda: ec.generate_private_key(ec.SECP384R1()), "es384"),
        (lambda: ec.generate_private_key(ec.SECP521R1()), "es512"),
        (ed25519.Ed25519PrivateKey.generate, "ed25519"),
    ],
)
def test_import_names_the_alg_by_the_key(tmp_path: Path, jpeg: Path, key: Any, alg: str) -> None:
    imported = import_identity(tmp_path / "identity", *write_pem(tmp_path, *make_chain(key())))
    assert imported.alg == alg
    assert c2pa_sign_and_read(imported, jpeg, tmp_path / "s.jpg", imported.root_pem)[0] == "Trusted"


def test_import_refuses_a_key_that_is_not_the_certificates(tmp_path: Path) -> None:
    _, certs = make_chain()
    chain, key_file = write_pem(tmp_path, p256(), certs)
    with pytest.raises(IdentityError, match="does not belong"):
        import_identity(tmp_path / "identity", chain, key_file)
    assert not identity_exists(tmp_path / "identity")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param({"issuer": None}, "self-signed", id="self-signed"),
        pytest.param({"eku": None}, "no extended key usage", id="no-eku"),
        pytest.param({"aki": False}, "no authority key identifier", id="no-aki"),
        pytest.param({"ca": True}, "CA certificate", id="ca"),
        pytest.param({"valid": (-30, -1)}, "expired on", id="expired"),
        pytest.param({"chain_of_one": True}, "only one certificate", id="chain-of-one"),
        # C2PA refuses these at signing time ("the certificate is invalid", "not valid at time
        # of signing"), or the stored root would never make a file Trusted.
        pytest.param({"eku": [ExtendedKeyUsageOID.SERVER_AUTH]}, "names none that C2PA accepts",
                     id="server-auth-eku-only"),
        pytest.param({"eku": [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE, C2PA_CLAIM_SIGNING]},
                     "anyExtendedKeyUsage", id="any-eku"),
        pytest.param({"valid": (2, 365)}, "not valid before", id="not-yet-valid"),
        pytest.param({"other_ca": True}, "certificate 1 of the chain was not issued by",
                     id="ca-did-not-issue-it"),
    ],
)  # fmt: skip
def test_import_refuses_a_certificate_c2pa_would_reject_and_says_why(
    tmp_path: Path, change: dict[str, Any], problem: str
) -> None:
    change = dict(change)
    chain_of_one, other_ca = change.pop("chain_of_one", False), change.pop("other_ca", False)
    key = p256()
    if "issuer" in change:  # self-signed
        certs = [make_cert(key), make_chain()[1][1]]
    else:
        certs = make_chain(key, **change)[1]
    if other_ca:
        certs[1] = make_chain()[1][1]
    chain, key_file = write_pem(tmp_path / "mine", key, certs[:1] if chain_of_one else certs)
    with pytest.raises(IdentityError, match="C2PA validators would reject") as caught:
        import_identity(tmp_path / "identity", chain, key_file)
    assert problem in str(caught.value)
    if not (chain_of_one or other_ca):
        assert any(problem in text for text in signer_problems(certs[0]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
