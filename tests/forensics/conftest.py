"""Shared fixtures of the forensics tests: a signing identity, a watermark key, benign photos,
a manifest repository, and a way to sign a file the way `leakshield sign` does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from leakshield.media import MediaLimits
from leakshield.provenance import (
    Identity,
    ManifestRepository,
    SignOptions,
    SignResult,
    fingerprint_file,
    sign_file,
)
from leakshield.watermark import WatermarkKey

Sign = Callable[..., SignResult]


@pytest.fixture(scope="session")
def benign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Benign photos from scikit-image's samples, small enough to analyse quickly; the
    astronaut is big enough (600 px on its short side) to carry a watermark."""
    root = tmp_path_factory.mktemp("benign")
    Image.fromarray(skimage.data.astronaut()).resize((640, 600)).save(
        root / "astronaut.jpg", quality=92
    )
    Image.fromarray(skimage.data.coffee()).resize((560, 420)).save(root / "coffee.png")
    Image.fromarray(skimage.data.rocket()).resize((420, 280)).save(root / "rocket.jpg", quality=85)
    return {path.name: path for path in root.iterdir()}


@pytest.fixture(scope="session")
def sign(identity: Identity) -> Sign:
    """Sign ``src`` into ``dst`` with the session identity; with ``repository``, keep the
    manifest there as `protect` does; with ``key``, bind the watermark the image carries."""

    def run(
        src: Path,
        dst: Path,
        options: SignOptions | None = None,
        *,
        key: WatermarkKey | None = None,
        repository: ManifestRepository | None = None,
    ) -> SignResult:
        fingerprint = fingerprint_file(src, MediaLimits(), watermark_key=key)
        result, stored = sign_file(
            src, dst, identity, identity.private_key_pem(), fingerprint, options or SignOptions()
        )
        if repository is not None:
            repository.add(stored)
        return result

    return run
