"""Fingerprints of media: PDQ for images, vPDQ for videos, MD5 and SHA-256 for bytes.

Each signal type is a value object registered by name; ``a - b`` is the Hamming
distance, ``str()`` its string form, and ``TYPE:VALUE`` parses back to it.
"""

from leakshield.signals._base import (
    FixedHash,
    Signal,
    SignalError,
    parse_signal,
    register,
    signal_type,
    signal_types,
)
from leakshield.signals._compare import (
    CompareOptions,
    Comparison,
    Operand,
    compare,
    parse_operand,
)
from leakshield.signals._digests import Md5Hash, Sha256Hash, file_digests
from leakshield.signals._files import (
    FileHashes,
    HashFailure,
    HashOptions,
    HashOutcome,
    default_jobs,
    expand_paths,
    hash_file,
    hash_files,
    hash_outcome,
)
from leakshield.signals._pdq import (
    MATCH_DISTANCE,
    MIN_QUALITY,
    TRANSFORMS,
    PdqHash,
    PdqResult,
    Transform,
    decode_pdq_luma,
    pdq_dihedral_from_file,
    pdq_dihedral_from_luma,
    pdq_from_file,
    pdq_from_luma,
    pdq_from_plane,
)
from leakshield.signals._vpdq import (
    COMPARED_MATCH_PERCENT,
    QUERY_MATCH_PERCENT,
    VpdqFrame,
    VpdqHash,
    VpdqMatch,
    vpdq_from_file,
    vpdq_match,
)

__all__ = [
    "COMPARED_MATCH_PERCENT",
    "MATCH_DISTANCE",
    "MIN_QUALITY",
    "QUERY_MATCH_PERCENT",
    "TRANSFORMS",
    "CompareOptions",
    "Comparison",
    "FileHashes",
    "FixedHash",
    "HashFailure",
    "HashOptions",
    "HashOutcome",
    "Md5Hash",
    "Operand",
    "PdqHash",
    "PdqResult",
    "Sha256Hash",
    "Signal",
    "SignalError",
    "Transform",
    "VpdqFrame",
    "VpdqHash",
    "VpdqMatch",
    "compare",
    "decode_pdq_luma",
    "default_jobs",
    "expand_paths",
    "file_digests",
    "hash_file",
    "hash_files",
    "hash_outcome",
    "parse_operand",
    "parse_signal",
    "pdq_dihedral_from_file",
    "pdq_dihedral_from_luma",
    "pdq_from_file",
    "pdq_from_luma",
    "pdq_from_plane",
    "register",
    "signal_type",
    "signal_types",
    "vpdq_from_file",
    "vpdq_match",
]
