"""The manifest repository: a copy whose credentials a re-upload stripped is tied back to the
user's signed photo through its watermark, or its PDQ hash when the watermark is gone."""

from __future__ import annotations

from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from leakshield.media import MediaLimits
from leakshield.provenance import (
    Identity,
    ManifestRepository,
    SignOptions,
    VerifyOptions,
    fingerprint_file,
    sign_file,
    verify_file,
)
from leakshield.watermark import WatermarkKey, embed_file

pytestmark = pytest.mark.timeout(60)

LIMITS = MediaLimits()
PAYLOAD = bytes.fromhex("fedcba9876543210")


def _sign_into_repository(
    identity: Identity,
    repository: ManifestRepository,
    src: Path,
    dst: Path,
    key: WatermarkKey | None = None,
) -> str:
    fingerprint = fingerprint_file(src, LIMITS, watermark_key=key)
    result, stored = sign_file(
        src, dst, identity, identity.private_key_pem(), fingerprint, SignOptions()
    )
    repository.add(stored)
    return result.manifest_label


def _strip(src: Path, dst: Path, scale: float = 0.8, quality: int = 80) -> None:
    """What a re-upload does: decode, resize, re-encode with Pillow (the manifest is lost)."""
    with Image.open(src) as image:
        size = (round(image.width * scale), round(image.height * scale))
        image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(dst, quality=quality)


def test_a_stripped_copy_is_recovered_through_the_watermark(
    identity: Identity,
    repository: ManifestRepository,
    photos: dict[str, Path],
    watermark_key: WatermarkKey,
    tmp_path: Path,
) -> None:
    marked = tmp_path / "marked.jpg"
    embed_file(photos["astronaut.jpg"], marked, watermark_key, PAYLOAD, limits=LIMITS)
    label = _sign_into_repository(
        identity, repository, marked, tmp_path / "signed.jpg", watermark_key
    )
    stripped = tmp_path / "stripped.jpg"
    _strip(tmp_path / "signed.jpg", stripped)
    options = VerifyOptions(repository=repository, watermark_key=watermark_key, limits=LIMITS)
    result = verify_file(stripped, options)
    assert (result.manifest_present, result.state) == (False, "NoManifest")
    recovered = result.recovered
    assert recovered is not None
    assert (recovered.via, recovered.manifest_label, recovered.title) == (
        "watermark",
        label,
        "marked.jpg",
    )
    assert recovered.original_size == (640, 600)
    assert recovered.this_size == (512, 480)
    assert "carries no credentials" in recovered.describe()
    assert "512x480 here" in recovered.describe()
    assert recovered.credentials is not None
    assert recovered.credentials.actions[0].action == "c2pa.created"
    assert result.to_record()["recovered"]["manifest"] == label


def test_without_a_watermark_the_pdq_hash_recovers_it(
    identity: Identity, repository: ManifestRepository, photos: dict[str, Path], tmp_path: Path
) -> None:
    label = _sign_into_repository(identity, repository, photos["coffee.png"], tmp_path / "s.png")
    stripped = tmp_path / "stripped.jpg"
    _strip(tmp_path / "s.png", stripped, scale=0.6, quality=70)
    result = verify_file(stripped, VerifyOptions(repository=repository, limits=LIMITS))
    assert result.recovered is not None
    assert (result.recovered.via, result.recovered.manifest_label) == ("pdq", label)
    assert result.recovered.distance is not None
    assert result.recovered.distance <= 31
    assert "PDQ distance" in result.recovered.describe()


def test_an_unrelated_image_recovers_nothing(
    identity: Identity,
    repository: ManifestRepository,
    photos: dict[str, Path],
    watermark_key: WatermarkKey,
    tmp_path: Path,
) -> None:
    _sign_into_repository(identity, repository, photos["coffee.png"], tmp_path / "s.png")
    other = tmp_path / "rocket.jpg"
    Image.fromarray(skimage.data.rocket()).save(other, quality=85)
    options = VerifyOptions(repository=repository, watermark_key=watermark_key, limits=LIMITS)
    result = verify_file(other, options)
    assert (result.state, result.recovered) == ("NoManifest", None)


def test_a_payload_is_matched_only_under_the_key_that_made_it(
    identity: Identity,
    repository: ManifestRepository,
    photos: dict[str, Path],
    watermark_key: WatermarkKey,
    tmp_path: Path,
) -> None:
    marked = tmp_path / "marked.jpg"
    embed_file(photos["astronaut.jpg"], marked, watermark_key, PAYLOAD, limits=LIMITS)
    _sign_into_repository(identity, repository, marked, tmp_path / "s.jpg", watermark_key)
    assert repository.by_watermark(PAYLOAD.hex(), watermark_key.key_id)
    assert repository.by_watermark(PAYLOAD.hex(), WatermarkKey.generate().key_id) == []


def test_nearest_pdq_orders_by_distance_and_respects_the_limit(
    identity: Identity, repository: ManifestRepository, photos: dict[str, Path], tmp_path: Path
) -> None:
    for name in ("astronaut.jpg", "coffee.png", "chelsea.webp"):
        _sign_into_repository(identity, repository, photos[name], tmp_path / name)
    assert repository.count() == 3
    query = fingerprint_file(tmp_path / "coffee.png", LIMITS).pdq
    assert query is not None
    near = repository.nearest_pdq(query, 256)
    assert near[0][0].title == "coffee.png"
    distances = [distance for _, distance in near]
    assert distances == sorted(distances) and distances[0] == 0
    assert [s.title for s, _ in repository.nearest_pdq(query, 0)] == ["coffee.png"]


def test_files_with_credentials_are_not_looked_up(
    identity: Identity, repository: ManifestRepository, photos: dict[str, Path], tmp_path: Path
) -> None:
    _sign_into_repository(identity, repository, photos["coffee.png"], tmp_path / "s.png")
    result = verify_file(tmp_path / "s.png", VerifyOptions(repository=repository))
    assert result.manifest_present
    assert result.recovered is None
