"""Evidence: encrypted cases of files, notes and web captures, every action a leaf of a
signed, tamper-evident Merkle log, and court bundles that anyone can verify."""

from leakshield.evidence._crypto import KdfParams
from leakshield.evidence._items import add_capture, add_file, add_note
from leakshield.evidence._merkle import TreeHead
from leakshield.evidence._model import (
    CaseBusyError,
    CaseNotFoundError,
    CaseSummary,
    DamagedCaseError,
    EvidenceItem,
    PassphraseError,
)
from leakshield.evidence._vault import OpenCase, Vault

__all__ = [
    "CaseBusyError",
    "CaseNotFoundError",
    "CaseSummary",
    "DamagedCaseError",
    "EvidenceItem",
    "KdfParams",
    "OpenCase",
    "PassphraseError",
    "TreeHead",
    "Vault",
    "add_capture",
    "add_file",
    "add_note",
]
