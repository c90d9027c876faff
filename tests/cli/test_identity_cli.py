"""`leakshield identity`: create, show, import and export-trust, passphrases, clean refusals,
and the identity `sign` makes on first use, which `verify` then trusts by itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import skimage.data
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from PIL import Image

import leakshield.provenance._identity as identity_module
from leakshield.provenance import load_identity
from tests.conftest import CliResult
from tests.provenance._certs import SameSecond, make_chain, write_pem

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.timeout(60)

SUMMARY_KEYS = {
    "directory", "kind", "alg", "created", "subject", "issuer", "not_before", "not_after",
    "certificate_sha256", "root_subject", "root_sha256", "key_protected",
}  # fmt: skip


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("identity-cli") / "photo.jpg"
    astronaut = skimage.data.astronaut()  # type: ignore[no-untyped-call]
    Image.fromarray(astronaut).resize((600, 560)).save(path, quality=92)
    return path


def said(result: CliResult) -> str:
    """stderr with Rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def one_record(result: CliResult) -> dict[str, object]:
    assert result.exit_code == 0, result.stderr
    [record] = result.json_lines()
    return record


def sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def stored_root(data_dir: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((data_dir / "identity" / "root.pem").read_bytes())


def test_create_then_show_print_the_public_facts_and_never_the_key(
    cli: Cli, data_dir: Path
) -> None:
    made = one_record(cli("identity", "create", "--json"))
    assert set(made) == SUMMARY_KEYS
    assert (made["kind"], made["alg"], made["key_protected"]) == ("local", "es256", False)
    assert made["subject"] == "O=leakshield local identity,CN=leakshield local signer"
    assert made["directory"] == str(data_dir / "identity")
    assert made["root_sha256"] == sha256(stored_root(data_dir))
    shown = cli("identity", "show", "--json")
    assert one_record(shown) == made
    assert "PRIVATE" not in shown.stdout + shown.stderr
    human = cli("identity", "show")
    assert human.exit_code == 0 and "es256" in human.stdout and "local" in human.stdout

    other = one_record(
        cli("identity", "create", "--alg", "ed25519", "--name", "Alex Doe", "--data-dir",
            str(data_dir.parent / "other"), "--json")
    )  # fmt: skip
    assert other["alg"] == "ed25519" and "CN=Alex Doe" in str(other["subject"])


def test_create_replaces_an_identity_only_with_force(cli: Cli, data_dir: Path) -> None:
    first = one_record(cli("identity", "create", "--json"))
    again = cli("identity", "create", "--alg", "ed25519")
    assert again.exit_code == 4
    assert "--force" in said(again) and "identity-retired" in said(again)
    assert one_record(cli("identity", "show", "--json")) == first

    forced = one_record(cli("identity", "create", "--force", "--json"))
    assert forced["root_sha256"] != first["root_sha256"]
    [retired] = (data_dir / "identity-retired").iterdir()
    assert load_identity(retired).summary()["root_sha256"] == first["root_sha256"]


def test_force_twice_in_one_second_keeps_both_old_identities(
    cli: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity_module, "datetime", SameSecond)
    for _ in range(3):
        result = cli("identity", "create", "--force")
        assert result.exit_code == 0, said(result)
    assert len(list((data_dir / "identity-retired").iterdir())) == 2


def test_a_passphrase_file_protects_the_key_and_sign_needs_it(
    cli: Cli, data_dir: Path, tmp_path: Path, photo: Path
) -> None:
    phrase = tmp_path / "phrase.txt"
    phrase.write_bytes(b"s3cret phrase\r\nonly the first line counts\n")
    made = one_record(cli("identity", "create", "--passphrase-file", str(phrase), "--json"))
    assert made["key_protected"] is True
    stored = load_identity(data_dir / "identity")
    assert b"ENCRYPTED PRIVATE KEY" in stored.key_pem
    assert stored.private_key_pem(b"s3cret phrase").startswith(b"-----BEGIN PRIVATE KEY-----")

    locked = cli("sign", str(photo), str(tmp_path / "a.jpg"))
    assert locked.exit_code == 4 and "--passphrase-file" in said(locked)
    assert not (tmp_path / "a.jpg").exists()
    signed = cli("sign", str(photo), str(tmp_path / "a.jpg"), "--passphrase-file", str(phrase))
    assert signed.exit_code == 0, signed.stderr
    assert (tmp_path / "a.jpg").exists()


def test_the_passphrase_can_come_from_the_environment(
    cli: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKSHIELD_IDENTITY_PASSPHRASE", "from the environment")
    made = one_record(cli("identity", "create", "--json"))
    assert made["key_protected"] is True
    stored = load_identity(data_dir / "identity")
    assert stored.private_key_pem(b"from the environment").startswith(b"-----BEGIN PRIVATE")


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"\n", "is empty"), (b"\nsecond line", "is empty"), (None, "cannot read")],
)
def test_a_passphrase_file_without_a_passphrase_is_a_usage_error(
    cli: Cli, data_dir: Path, tmp_path: Path, content: bytes | None, message: str
) -> None:
    phrase = tmp_path / "phrase.txt"
    if content is not None:
        phrase.write_bytes(content)
    result = cli("identity", "create", "--passphrase-file", str(phrase))
    assert result.exit_code == 2
    assert message in said(result)
    assert not (data_dir / "identity").exists()


def test_export_trust_writes_the_root_and_replaces_a_file_only_with_force(
    cli: Cli, data_dir: Path, tmp_path: Path
) -> None:
    made = one_record(cli("identity", "create", "--json"))
    root_pem = (data_dir / "identity" / "root.pem").read_bytes()
    out = tmp_path / "my-root.pem"
    record = one_record(cli("identity", "export-trust", str(out), "--json"))
    assert out.read_bytes() == root_pem
    assert record == {
        "path": str(out), "root_subject": made["root_subject"], "root_sha256": made["root_sha256"]
    }  # fmt: skip

    out.write_text("someone else's file")
    refused = cli("identity", "export-trust", str(out))
    assert refused.exit_code == 2 and "--force" in said(refused)
    assert out.read_text() == "someone else's file"
    assert cli("identity", "export-trust", str(out), "--force").exit_code == 0
    assert out.read_bytes() == root_pem

    printed = cli("identity", "export-trust", "-")
    assert printed.exit_code == 0
    assert printed.stdout == root_pem.decode()


def test_without_an_identity_show_and_export_say_how_to_make_one(
    cli: Cli, data_dir: Path, tmp_path: Path
) -> None:
    for command in (["show"], ["export-trust", str(tmp_path / "root.pem")], ["export-trust", "-"]):
        result = cli("identity", *command)
        assert result.exit_code == 4
        assert "`leakshield identity create`" in said(result)
        assert result.stdout == ""
    assert not (data_dir / "identity").exists() and not (tmp_path / "root.pem").exists()


def test_import_of_a_pem_chain_with_its_key(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    key, certs = make_chain()
    chain, key_file = write_pem(tmp_path / "mine", key, certs)
    without_key = cli("identity", "import", str(chain))
    assert without_key.exit_code == 4 and "--key" in said(without_key)

    record = one_record(cli("identity", "import", str(chain), "--key", str(key_file), "--json"))
    assert (record["kind"], record["alg"], record["key_protected"]) == ("imported", "es256", False)
    assert record["certificate_sha256"] == sha256(certs[0])
    assert record["root_sha256"] == sha256(certs[1]) == sha256(stored_root(data_dir))


def test_import_of_a_pkcs12_bundle_opened_with_a_passphrase_file(
    cli: Cli, data_dir: Path, tmp_path: Path
) -> None:
    key, (cert, ca_cert) = make_chain()
    bundle = tmp_path / "mine.p12"
    pw = serialization.BestAvailableEncryption(b"bundle pw")
    bundle.write_bytes(pkcs12.serialize_key_and_certificates(b"me", key, cert, [ca_cert], pw))
    wrong, right = tmp_path / "wrong.txt", tmp_path / "right.txt"
    wrong.write_text("not it\n")
    right.write_text("bundle pw\n")

    refused = cli("identity", "import", str(bundle), "--passphrase-file", str(wrong))
    assert refused.exit_code == 4 and "could not be opened" in said(refused)
    assert not (data_dir / "identity").exists()
    record = one_record(
        cli("identity", "import", str(bundle), "--passphrase-file", str(right), "--json")
    )
    assert record["key_protected"] is True and record["root_sha256"] == sha256(ca_cert)
    stored = load_identity(data_dir / "identity")
    assert b"ENCRYPTED PRIVATE KEY" in stored.key_pem and stored.private_key_pem(b"bundle pw")


def test_import_refuses_a_chain_c2pa_would_reject_and_says_why(
    cli: Cli, data_dir: Path, tmp_path: Path
) -> None:
    key, certs = make_chain(aki=False)
    chain, key_file = write_pem(tmp_path / "mine", key, certs)
    result = cli("identity", "import", str(chain), "--key", str(key_file))
    assert result.exit_code == 4
    assert "C2PA validators would reject" in said(result)
    assert "no authority key identifier" in said(result)
    assert not (data_dir / "identity").exists()


def test_create_with_an_unknown_algorithm_fails_cleanly(cli: Cli, data_dir: Path) -> None:
    result = cli("identity", "create", "--alg", "rsa")
    assert result.exit_code == 4
    assert "unknown algorithm 'rsa'" in said(result) and "es256, ed25519" in said(result)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert not (data_dir / "identity").exists()


def test_sign_makes_the_identity_on_first_use_and_verify_trusts_it(
    cli: Cli, data_dir: Path, tmp_path: Path, photo: Path
) -> None:
    out = tmp_path / "signed.jpg"
    signed = cli("sign", str(photo), str(out), "--json")
    assert one_record(signed)["output"] == str(out)
    assert "created your signing identity" in said(signed)
    assert "leakshield identity export-trust" in said(signed)
    assert (data_dir / "identity" / "identity.json").is_file()
    second = cli("sign", str(photo), str(tmp_path / "again.jpg"))
    assert second.exit_code == 0 and "created your signing identity" not in said(second)

    verified = one_record(cli("verify", str(out), "--json"))
    assert (verified["state"], verified["trust_anchor"]) == ("Trusted", "identity")
    assert verified["failures"] == []

    # Elsewhere (another data directory) only the exported root makes it trusted.
    root = tmp_path / "root.pem"
    assert cli("identity", "export-trust", str(root)).exit_code == 0
    elsewhere = ["--data-dir", str(tmp_path / "elsewhere"), "--json"]
    stranger = one_record(cli("verify", str(out), *elsewhere))
    assert (stranger["state"], stranger["trust_anchor"]) == ("Valid", "none")
    failures = stranger["failures"]
    assert isinstance(failures, list) and failures[0]["code"] == "signingCredential.untrusted"
    friend = one_record(cli("verify", str(out), "--trust", str(root), *elsewhere))
    assert (friend["state"], friend["trust_anchor"]) == ("Trusted", "user")
