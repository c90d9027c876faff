"""Evidence: encrypted cases of files, notes and web captures, every action a leaf of a
signed, tamper-evident Merkle log, and court bundles that anyone can verify."""

from leakshield.evidence._bundle import BundleSource, BundleSummary, export_bundle
from leakshield.evidence._bundle_format import BundleLimits, Problem
from leakshield.evidence._bundle_verify import BundleVerification, verify_bundle
from leakshield.evidence._capture import (
    Capture,
    CaptureOptions,
    Capturer,
    capture,
    chromium_path,
)
from leakshield.evidence._capture_guard import CaptureRefused
from leakshield.evidence._crypto import KdfParams
from leakshield.evidence._items import add_capture, add_file, add_files, add_note
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
    "BundleLimits",
    "BundleSource",
    "BundleSummary",
    "BundleVerification",
    "Capture",
    "CaptureOptions",
    "CaptureRefused",
    "Capturer",
    "CaseBusyError",
    "CaseNotFoundError",
    "CaseSummary",
    "DamagedCaseError",
    "EvidenceItem",
    "KdfParams",
    "OpenCase",
    "PassphraseError",
    "Problem",
    "TreeHead",
    "Vault",
    "add_capture",
    "add_file",
    "add_files",
    "add_note",
    "capture",
    "chromium_path",
    "export_bundle",
    "verify_bundle",
]
