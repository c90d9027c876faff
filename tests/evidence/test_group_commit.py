"""Adding many files at once: one log write and one tree head for the batch, each file's
error in its place, and nothing of a batch cut off before its commit left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakshield.errors import LeakshieldError
from leakshield.evidence import EvidenceItem, Vault, add_files
from leakshield.evidence._storage import CaseFiles
from leakshield.media import MediaLimits
from tests.evidence._cases import (
    PASSPHRASE,
    check_heads,
    new_case,
    photo,
    read_heads,
    sha256,
    stored_bytes,
)


def test_a_batch_is_one_commit_with_each_failure_in_its_place(tmp_path: Path) -> None:
    case = new_case(tmp_path / "cases")
    good = [photo(tmp_path / f"{n}.jpg", size=(200 + n, 150)) for n in range(3)]
    missing = tmp_path / "gone.jpg"
    heads_before = len(read_heads(case.files.folder))
    results = add_files(case, [good[0], missing, good[1], good[2]], limits=MediaLimits())
    assert [type(r) for r in results] == [
        EvidenceItem,
        type(results[1]),
        EvidenceItem,
        EvidenceItem,
    ]
    assert isinstance(results[1], LeakshieldError)
    items = [r for r in results if isinstance(r, EvidenceItem)]
    assert [i.id for i in items] == ["item-0001", "item-0002", "item-0003"]
    assert [i.leaf_index for i in items] == [1, 2, 3]
    assert len(read_heads(case.files.folder)) == heads_before + 1  # one head for the batch
    for item, path in zip(items, good, strict=True):
        assert stored_bytes(case, item.id, path.name) == path.read_bytes()
        assert item.sha256 == sha256(path.read_bytes())
    case.close()
    with Vault(tmp_path / "cases").open(case.case_id, PASSPHRASE) as opened:
        check_heads(opened, read_heads(opened.files.folder))
        assert [i.id for i in opened.items()] == ["item-0001", "item-0002", "item-0003"]


def test_a_batch_cut_off_before_its_log_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = new_case(tmp_path / "cases")
    paths = [photo(tmp_path / f"{n}.jpg") for n in range(3)]

    def died(self: CaseFiles, *sealed: bytes) -> None:
        raise KeyboardInterrupt  # stands for the process being killed here

    monkeypatch.setattr(CaseFiles, "append_record", died)
    with pytest.raises(KeyboardInterrupt):
        add_files(case, paths, limits=MediaLimits())
    monkeypatch.undo()
    case.close()
    with Vault(tmp_path / "cases").open(case.case_id, PASSPHRASE) as opened:
        assert opened.items() == []
        assert not any((opened.files.folder / "objects").iterdir())
