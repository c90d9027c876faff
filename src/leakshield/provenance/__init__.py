"""Signed provenance (C2PA): the user's signing identity, signing and verifying files, a
local repository of every manifest signed (found again from a stripped copy's watermark or
fingerprint), and `protect`, which fingerprints, watermarks and signs a folder of photos."""

from leakshield.provenance._batch import REPORT_NAME, ProtectPlan, ProtectSummary, protect
from leakshield.provenance._c2pa import SOURCE_TYPES, file_format
from leakshield.provenance._codes import STATE_EXPLANATIONS, explain
from leakshield.provenance._identity import (
    ALGORITHMS,
    C2PA_CLAIM_SIGNING,
    Identity,
    create_identity,
    identity_exists,
    load_identity,
)
from leakshield.provenance._import import import_identity, signer_problems
from leakshield.provenance._model import (
    AI_SOURCE_TYPES,
    IDENTITY_ANCHOR,
    NO_ANCHOR,
    USER_ANCHOR,
    Action,
    Failure,
    IdentityError,
    Ingredient,
    ProvenanceError,
    Recovery,
    Signer,
    SignResult,
    SoftBinding,
    Verification,
)
from leakshield.provenance._protect import DEFAULT_BANK, JOURNAL_NAME, ProtectItem
from leakshield.provenance._repository import ManifestRepository, StoredManifest
from leakshield.provenance._sign import (
    PDQ_ALG,
    WATERMARK_ALG,
    Fingerprint,
    SignOptions,
    fingerprint_file,
    sign_file,
)
from leakshield.provenance._verify import (
    RECOVERY_PDQ_DISTANCE,
    TrustAnchors,
    VerifyOptions,
    verify_file,
)

__all__ = [
    "AI_SOURCE_TYPES",
    "ALGORITHMS",
    "C2PA_CLAIM_SIGNING",
    "DEFAULT_BANK",
    "IDENTITY_ANCHOR",
    "JOURNAL_NAME",
    "NO_ANCHOR",
    "PDQ_ALG",
    "RECOVERY_PDQ_DISTANCE",
    "REPORT_NAME",
    "SOURCE_TYPES",
    "STATE_EXPLANATIONS",
    "USER_ANCHOR",
    "WATERMARK_ALG",
    "Action",
    "Failure",
    "Fingerprint",
    "Identity",
    "IdentityError",
    "Ingredient",
    "ManifestRepository",
    "ProtectItem",
    "ProtectPlan",
    "ProtectSummary",
    "ProvenanceError",
    "Recovery",
    "SignOptions",
    "SignResult",
    "Signer",
    "SoftBinding",
    "StoredManifest",
    "TrustAnchors",
    "Verification",
    "VerifyOptions",
    "create_identity",
    "explain",
    "file_format",
    "fingerprint_file",
    "identity_exists",
    "import_identity",
    "load_identity",
    "protect",
    "sign_file",
    "signer_problems",
    "verify_file",
]
