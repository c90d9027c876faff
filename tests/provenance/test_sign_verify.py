"""Signing and verifying: trust, tampering, formats, what the manifest states, and clean
failures that leave nothing behind."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from leakshield.media import MediaLimits
from leakshield.provenance import (
    IDENTITY_ANCHOR,
    NO_ANCHOR,
    PDQ_ALG,
    USER_ANCHOR,
    WATERMARK_ALG,
    Identity,
    ProvenanceError,
    SignOptions,
    TrustAnchors,
    Verification,
    VerifyOptions,
    fingerprint_file,
    sign_file,
    verify_file,
)
from leakshield.watermark import WatermarkKey, embed_file

pytestmark = pytest.mark.timeout(60)

LIMITS = MediaLimits()
PAYLOAD = bytes.fromhex("0123456789abcdef")


def _sign(
    identity: Identity,
    src: Path,
    dst: Path,
    options: SignOptions | None = None,
    key: WatermarkKey | None = None,
) -> None:
    fingerprint = fingerprint_file(src, LIMITS, watermark_key=key)
    sign_file(src, dst, identity, identity.private_key_pem(), fingerprint, options or SignOptions())


def _verify(path: Path, anchors: TrustAnchors | None = None) -> Verification:
    return verify_file(path, VerifyOptions(anchors=anchors or TrustAnchors()))


@pytest.fixture(scope="module")
def signed(
    identity: Identity, photos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("signed") / "astronaut.jpg"
    _sign(identity, photos["astronaut.jpg"], out)
    return out


def test_trusted_with_the_exported_root_and_valid_but_untrusted_without(
    identity: Identity, signed: Path
) -> None:
    untrusted = _verify(signed)
    assert untrusted.manifest_present
    assert (untrusted.state, untrusted.trust_anchor) == ("Valid", NO_ANCHOR)
    assert [f.code for f in untrusted.failures] == ["signingCredential.untrusted"]
    assert "trust anchor" in untrusted.failures[0].explanation

    as_user = _verify(signed, TrustAnchors(user=(identity.root_pem,)))
    assert (as_user.state, as_user.trust_anchor, as_user.failures) == ("Trusted", USER_ANCHOR, ())
    own = _verify(signed, TrustAnchors(identity=identity.root_pem))
    assert (own.state, own.trust_anchor) == ("Trusted", IDENTITY_ANCHOR)
    both = _verify(signed, TrustAnchors(identity=identity.root_pem, user=(identity.root_pem,)))
    assert both.trust_anchor == IDENTITY_ANCHOR


def test_another_root_does_not_make_it_trusted(
    signed: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from leakshield.provenance import create_identity

    other = create_identity(tmp_path_factory.mktemp("other") / "identity")
    result = _verify(signed, TrustAnchors(user=(other.root_pem,)))
    assert result.state == "Valid"
    assert "signingCredential.untrusted" in {f.code for f in result.failures}


def test_the_manifest_states_the_action_the_soft_bindings_and_no_author(
    identity: Identity, photos: dict[str, Path], watermark_key: WatermarkKey, tmp_path: Path
) -> None:
    marked = tmp_path / "marked.jpg"
    embed_file(photos["astronaut.jpg"], marked, watermark_key, PAYLOAD, limits=LIMITS)
    out = tmp_path / "signed.jpg"
    _sign(identity, marked, out, key=watermark_key)
    result = _verify(out)
    [action] = result.actions
    assert action.action == "c2pa.created"
    assert action.digital_source_type is not None
    assert action.digital_source_type.endswith("/digitalCapture")
    assert not result.ai_generated
    assert result.author == ()
    bindings = {b.alg: b.value for b in result.soft_bindings}
    assert bindings[WATERMARK_ALG] == PAYLOAD.hex()
    assert bindings[PDQ_ALG] == fingerprint_file(out, LIMITS).pdq
    assert result.signer is not None and result.signer.common_name == "leakshield local signer"
    assert result.title == "marked.jpg"


def test_an_author_only_when_asked_and_an_ai_source_type_is_flagged(
    identity: Identity, photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.png"
    options = SignOptions(author="Jane Doe", source_type="trainedAlgorithmicMedia")
    _sign(identity, photos["coffee.png"], out, options)
    result = _verify(out)
    assert result.author == ("Jane Doe",)
    assert result.ai_generated
    assert result.to_record()["ai_generated"] is True


def test_edited_makes_the_signed_original_the_parent_ingredient(
    identity: Identity, signed: Path, tmp_path: Path
) -> None:
    out = tmp_path / "edited.jpg"
    _sign(identity, signed, out, SignOptions(action="edited"))
    result = _verify(out)
    assert [a.action for a in result.actions] == ["c2pa.opened", "c2pa.edited"]
    [ingredient] = result.ingredients
    assert ingredient.relationship == "parentOf"
    assert ingredient.has_manifest
    assert result.state == "Valid"


@pytest.mark.parametrize("name", ["astronaut.jpg", "coffee.png", "chelsea.webp", "chelsea.tif"])
def test_every_supported_format_signs_and_verifies(
    identity: Identity, photos: dict[str, Path], tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    _sign(identity, photos[name], out)
    assert _verify(out, TrustAnchors(identity=identity.root_pem)).state == "Trusted"
    with Image.open(out) as copy, Image.open(photos[name]) as original:
        assert copy.size == original.size
        assert copy.tobytes() == original.tobytes()  # signing never touches the pixels


def test_one_changed_byte_of_image_data_is_invalid_with_the_data_hash_code(
    identity: Identity, signed: Path, tmp_path: Path
) -> None:
    data = bytearray(signed.read_bytes())
    data[-200] ^= 0x01  # in the entropy-coded image data, far from the manifest
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    result = _verify(tampered, TrustAnchors(identity=identity.root_pem))
    assert result.state == "Invalid"
    failures = {f.code: f.explanation for f in result.failures}
    assert "assertion.dataHash.mismatch" in failures
    assert "changed after signing" in failures["assertion.dataHash.mismatch"]


def test_a_file_without_credentials_says_so(photos: dict[str, Path]) -> None:
    result = _verify(photos["astronaut.jpg"])
    assert (result.manifest_present, result.state, result.recovered) == (False, "NoManifest", None)


@pytest.mark.parametrize(
    ("name", "code"), [("notes.jpg", "unsupported-format"), ("chelsea.bmp", "unsupported-format")]
)
def test_unreadable_and_unsupported_files_are_clear_errors(
    photos: dict[str, Path], name: str, code: str
) -> None:
    with pytest.raises(ProvenanceError) as caught:
        _verify(photos[name])
    assert caught.value.code == code


def test_a_corrupt_manifest_is_a_clear_error(signed: Path, tmp_path: Path) -> None:
    data = bytearray(signed.read_bytes())
    start = data.index(b"jumb")
    data[start + 40 : start + 80] = b"\xff" * 40
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ProvenanceError) as caught:
        _verify(corrupt)
    assert caught.value.code == "corrupt-manifest"
    assert "damaged" in caught.value.message


def test_an_unsupported_format_cannot_be_signed_and_nothing_is_written(
    identity: Identity, photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.bmp"
    with pytest.raises(ProvenanceError) as caught:
        _sign(identity, photos["chelsea.bmp"], out)
    assert caught.value.code == "unsupported-format"
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_time_stamp_authority_fails_the_sign_and_leaves_nothing(
    identity: Identity, photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.jpg"
    with pytest.raises(ProvenanceError) as caught:
        _sign(identity, photos["astronaut.jpg"], out, SignOptions(tsa_url="http://127.0.0.1:9/tsa"))
    assert caught.value.code == "timestamp-failed"
    assert "nothing was written" in caught.value.message
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file


def test_an_existing_output_is_replaced_only_when_asked_and_never_the_input(
    identity: Identity, photos: dict[str, Path], tmp_path: Path
) -> None:
    src = tmp_path / "in.jpg"
    shutil.copyfile(photos["astronaut.jpg"], src)
    out = tmp_path / "out.jpg"
    out.write_bytes(b"keep me")
    with pytest.raises(ProvenanceError) as caught:
        _sign(identity, src, out)
    assert caught.value.code == "output-exists"
    assert out.read_bytes() == b"keep me"
    _sign(identity, src, out, SignOptions(overwrite=True))
    assert _verify(out).manifest_present
    before = src.read_bytes()
    with pytest.raises(ProvenanceError) as same:
        _sign(identity, src, src, SignOptions(overwrite=True))
    assert same.value.code == "same-file"
    assert src.read_bytes() == before


def test_a_locked_identity_needs_its_passphrase(tmp_path: Path) -> None:
    from leakshield.provenance import IdentityError, create_identity

    locked = create_identity(tmp_path / "identity", passphrase=b"correct horse")
    with pytest.raises(IdentityError):
        locked.private_key_pem()
    assert b"PRIVATE KEY" in locked.private_key_pem(b"correct horse")


def test_bad_options_are_refused() -> None:
    with pytest.raises(ProvenanceError):
        SignOptions(action="deleted")
    with pytest.raises(ProvenanceError):
        SignOptions(source_type="photo")
    assert replace(SignOptions(), action="edited").action == "edited"


def test_pipes_and_oversized_files_are_refused_before_they_are_read(
    signed: Path, tmp_path: Path
) -> None:
    import os

    from leakshield.media import MediaError

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(MediaError) as caught:
        verify_file(fifo, VerifyOptions())
    assert "regular file" in caught.value.message
    small = MediaLimits(max_file_bytes=1000)
    with pytest.raises(MediaError):
        verify_file(signed, VerifyOptions(limits=small))
