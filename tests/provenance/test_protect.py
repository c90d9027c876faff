"""`protect`: fingerprints into the private bank, watermark, signature, copies in OUT; the
originals untouched, re-runs skipping what is done, failures reported and the batch going on."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import skimage.data
from PIL import Image

from leakshield.banks import BankStore
from leakshield.media import MediaLimits
from leakshield.provenance import (
    JOURNAL_NAME,
    REPORT_NAME,
    Identity,
    ManifestRepository,
    ProtectItem,
    ProtectPlan,
    ProtectSummary,
    ProvenanceError,
    TrustAnchors,
    VerifyOptions,
    protect,
    verify_file,
)
from leakshield.signals import parse_signal
from leakshield.store import Database
from leakshield.watermark import WatermarkKey, detect_file

pytestmark = pytest.mark.timeout(120)

LIMITS = MediaLimits()


def _write_clip(path: Path, frames: int = 12) -> None:
    base = np.asarray(Image.fromarray(skimage.data.coffee()).resize((96, 64)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=6)
        stream.width, stream.height = 96, 64
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            picture = np.ascontiguousarray(np.roll(base, 3 * index, axis=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))


@pytest.fixture
def source(photos: dict[str, Path], tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "trip").mkdir(parents=True)
    shutil.copyfile(photos["astronaut.jpg"], src / "astronaut.jpg")
    shutil.copyfile(photos["coffee.png"], src / "trip" / "coffee.png")
    Image.fromarray(skimage.data.chelsea()).save(src / "small.jpg", quality=90)  # 451x300
    _write_clip(src / "clip.mp4")
    (src / "notes.txt").write_text("not a photo")
    return src


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[BankStore, ManifestRepository]]:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.upgrade()
    try:
        yield BankStore(database), ManifestRepository(database)
    finally:
        database.dispose()


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _run(
    src: Path,
    out: Path,
    how: ProtectPlan,
    stores: tuple[BankStore, ManifestRepository],
    seen: list[ProtectItem] | None = None,
) -> ProtectSummary:
    banks, repository = stores
    return protect(
        src,
        out,
        how,
        banks=banks,
        repository=repository,
        on_item=(seen if seen is not None else []).append,
    )


def _plan(signer: Identity, key: WatermarkKey, **changes: Any) -> ProtectPlan:
    return replace(ProtectPlan(signer, signer.private_key_pem(), key, limits=LIMITS), **changes)


def test_protect_a_folder(
    identity: Identity,
    watermark_key: WatermarkKey,
    source: Path,
    tmp_path: Path,
    stores: tuple[BankStore, ManifestRepository],
) -> None:
    before = _digests(source)
    out = tmp_path / "out"
    seen: list[ProtectItem] = []
    summary = _run(source, out, _plan(identity, watermark_key), stores, seen)
    assert _digests(source) == before  # originals never modified
    items = {item.source: item for item in summary.items}
    assert list(items) == ["astronaut.jpg", "clip.mp4", "notes.txt", "small.jpg", "trip/coffee.png"]
    assert [item.source for item in seen] == list(items)
    assert summary.counts == {"protected": 4, "done-before": 0, "failed": 1}
    assert items["notes.txt"].error is not None
    assert items["notes.txt"].error["code"] == "unsupported-format"

    # The photo: watermarked with its payload, signed (Trusted under the identity), banked.
    photo = items["astronaut.jpg"]
    found = detect_file(out / "astronaut.jpg", watermark_key, limits=LIMITS).detection
    assert found.present and found.payload_hex == photo.watermark_payload
    anchors = TrustAnchors(identity=identity.root_pem)
    verified = verify_file(out / "astronaut.jpg", VerifyOptions(anchors=anchors))
    assert verified.state == "Trusted"
    assert verified.manifest_label == photo.manifest
    assert photo.source_pdq and photo.pdq
    assert f"pdq:{photo.source_pdq}" in photo.signals and f"pdq:{photo.pdq}" in photo.signals

    # Too small to carry a watermark: signed and banked all the same, with a note.
    small = items["small.jpg"]
    assert small.watermark_payload is None and small.manifest
    assert any("not watermarked" in note for note in small.notes)

    # The video: fingerprinted with vPDQ and signed, not watermarked.
    clip = items["clip.mp4"]
    assert clip.media_type == "video" and clip.manifest
    assert any(signal.startswith("vpdq:") for signal in clip.signals)
    assert verify_file(out / "clip.mp4", VerifyOptions(anchors=anchors)).state == "Trusted"

    # The private bank holds every registered signal; the repository every manifest.
    banks, repository = stores
    assert banks.bank("MY_PHOTOS", with_count=True).name == "MY_PHOTOS"
    for item in (photo, small, clip, items["trip/coffee.png"]):
        for text in item.signals:
            held = banks.export("MY_PHOTOS")
            assert any(str(signal) == str(parse_signal(text)) for signal, _ in held)
    assert repository.count() == 4

    report = json.loads((out / REPORT_NAME).read_text())
    assert report["counts"] == summary.counts
    assert [entry["path"] for entry in report["items"]] == list(items)


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(
    identity: Identity,
    watermark_key: WatermarkKey,
    source: Path,
    tmp_path: Path,
    stores: tuple[BankStore, ManifestRepository],
) -> None:
    out = tmp_path / "out"
    how = _plan(identity, watermark_key)
    _run(source, out, how, stores)
    written = _digests(out / "trip")
    again = _run(source, out, how, stores)
    assert again.counts == {"protected": 0, "done-before": 4, "failed": 1}
    assert _digests(out / "trip") == written
    assert stores[1].count() == 4  # nothing signed twice

    (out / "astronaut.jpg").unlink()  # a copy lost
    Image.fromarray(skimage.data.rocket()).save(source / "small.jpg", quality=90)  # a changed photo
    third = {item.source: item.status for item in _run(source, out, how, stores).items}
    assert third["astronaut.jpg"] == "protected"
    assert third["small.jpg"] == "protected"
    assert third["trip/coffee.png"] == "done-before"
    entries = [json.loads(line) for line in (out / JOURNAL_NAME).read_text().splitlines()]
    done = [entry["item"]["status"] for entry in entries if "item" in entry]
    assert done and set(done) == {"protected"}
    assert all(entry.get("started") for entry in entries if "item" not in entry)


def test_a_file_in_out_that_protect_did_not_write_is_never_replaced(
    identity: Identity,
    watermark_key: WatermarkKey,
    source: Path,
    tmp_path: Path,
    stores: tuple[BankStore, ManifestRepository],
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "astronaut.jpg").write_bytes(b"the user's own file")
    summary = _run(source, out, _plan(identity, watermark_key), stores)
    [item] = [i for i in summary.items if i.source == "astronaut.jpg"]
    assert item.status == "failed" and item.error is not None
    assert item.error["code"] == "output-exists"
    assert (out / "astronaut.jpg").read_bytes() == b"the user's own file"
    assert summary.counts == {"protected": 3, "done-before": 0, "failed": 2}


def test_the_same_photo_gets_the_same_payload_under_one_key(
    identity: Identity,
    watermark_key: WatermarkKey,
    source: Path,
    tmp_path: Path,
    stores: tuple[BankStore, ManifestRepository],
) -> None:
    how = _plan(identity, watermark_key)
    first = _run(source, tmp_path / "a", how, stores).items[0]
    second = _run(source, tmp_path / "b", how, stores).items[0]
    assert first.watermark_payload == second.watermark_payload
    other = _run(source, tmp_path / "c", _plan(identity, WatermarkKey.generate()), stores)
    assert other.items[0].watermark_payload != first.watermark_payload


def test_no_watermark_and_no_sign(
    identity: Identity,
    watermark_key: WatermarkKey,
    photos: dict[str, Path],
    tmp_path: Path,
    stores: tuple[BankStore, ManifestRepository],
) -> None:
    how = _plan(
        identity, watermark_key, watermark_key=None, identity=None, key_pem=None, bank="FAMILY"
    )
    summary = _run(photos["astronaut.jpg"], tmp_path / "out", how, stores)
    [item] = summary.items
    assert (item.status, item.watermark_payload, item.manifest) == ("protected", None, None)
    copy = tmp_path / "out" / "astronaut.jpg"
    assert copy.read_bytes() == photos["astronaut.jpg"].read_bytes()
    assert stores[0].bank("FAMILY", with_count=True).name == "FAMILY"


def test_two_workers_give_the_same_results(
    identity: Identity,
    watermark_key: WatermarkKey,
    source: Path,
    tmp_path: Path,
    stores: tuple[BankStore, ManifestRepository],
) -> None:
    one = _run(source, tmp_path / "one", _plan(identity, watermark_key), stores)
    two = _run(source, tmp_path / "two", _plan(identity, watermark_key, workers=2), stores)
    assert [(i.source, i.status, i.watermark_payload, i.pdq) for i in one.items] == [
        (i.source, i.status, i.watermark_payload, i.pdq) for i in two.items
    ]


def test_out_may_not_be_src_and_out_inside_src_is_left_out(
    identity: Identity,
    watermark_key: WatermarkKey,
    source: Path,
    stores: tuple[BankStore, ManifestRepository],
) -> None:
    how = _plan(identity, watermark_key)
    with pytest.raises(ProvenanceError):
        _run(source, source, how, stores)
    inside = source / "protected"
    _run(source, inside, how, stores)
    again = _run(source, inside, how, stores)
    assert not any(item.source.startswith("protected/") for item in again.items)
