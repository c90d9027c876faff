"""The analyzers, one module each; importing this package registers them, in report order."""

from leakshield.forensics._analyzers import (  # noqa: F401  (each registers itself)
    derivation,
    detector,
    jpeg,
    metadata,
    provenance,
    visual,
    watermarks,
)
