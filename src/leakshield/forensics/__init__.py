"""Forensics: analyzers examine a suspect file (provenance, watermarks, generator traces,
derivation from the user's own photos, JPEG history, visual aids) and report findings in
calibrated words, never "fake" or "real" without the evidence that says so."""

from leakshield.forensics._analyze import analyze, analyze_subject
from leakshield.forensics._model import (
    Analysis,
    Direction,
    Finding,
    FindingImage,
    Strength,
    SubjectInfo,
)
from leakshield.forensics._references import (
    Reference,
    ReferenceSet,
    ReferenceStore,
    reference_from_file,
    reference_from_rgb,
)
from leakshield.forensics._registry import (
    AnalysisContext,
    Analyzer,
    analyzer_names,
    analyzers,
    register,
)
from leakshield.forensics._report import render_html, write_html, write_pdf
from leakshield.forensics._subject import MAX_ANALYZE_BYTES, Subject, load_subject

__all__ = [
    "MAX_ANALYZE_BYTES",
    "Analysis",
    "AnalysisContext",
    "Analyzer",
    "Direction",
    "Finding",
    "FindingImage",
    "Reference",
    "ReferenceSet",
    "ReferenceStore",
    "Strength",
    "Subject",
    "SubjectInfo",
    "analyze",
    "analyze_subject",
    "analyzer_names",
    "analyzers",
    "load_subject",
    "reference_from_file",
    "reference_from_rgb",
    "register",
    "render_html",
    "write_html",
    "write_pdf",
]
