"""Analyzers by registry: each is one module that registers itself here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from leakshield.forensics._model import Finding
from leakshield.forensics._subject import Subject
from leakshield.media import MediaLimits

if TYPE_CHECKING:
    from leakshield.forensics._references import ReferenceSet
    from leakshield.provenance import ManifestRepository, TrustAnchors
    from leakshield.watermark import WatermarkKey

__all__ = ["AnalysisContext", "Analyzer", "analyzer_names", "analyzers", "register"]


@dataclass(frozen=True)
class AnalysisContext:
    """What the analyzers may use besides the file: the user's keys, photos and settings.
    Anything left out only means that analyzer has less to go on."""

    watermark_keys: Sequence[WatermarkKey] = ()
    references: ReferenceSet | None = None  # the user's photos, for derivation
    anchors: TrustAnchors | None = None
    repository: ManifestRepository | None = None
    detector_model: Path | None = None  # an ONNX detector the user configured
    limits: MediaLimits = field(default_factory=MediaLimits)
    images: bool = True  # make pictures for the report


class Analyzer(Protocol):
    """Examines one aspect of a file. ``run`` returns its findings (at least one: "nothing
    found" is a finding too) and raises only for a problem it could not get past."""

    @property
    def name(self) -> str:
        """Stable slug, used in JSON."""

    @property
    def title(self) -> str:
        """What a person calls it."""

    def run(self, subject: Subject, context: AnalysisContext) -> list[Finding]: ...


_REGISTRY: dict[str, Analyzer] = {}


def register(analyzer: Analyzer) -> Analyzer:
    """Add ``analyzer`` to the registry; analyzers run in the order registered."""
    if analyzer.name in _REGISTRY:
        raise ValueError(f"analyzer {analyzer.name!r} is registered twice")
    _REGISTRY[analyzer.name] = analyzer
    return analyzer


def analyzers(only: Sequence[str] | None = None) -> list[Analyzer]:
    """The registered analyzers, in order; ``only`` picks some by name."""
    if only is None:
        return list(_REGISTRY.values())
    unknown = [name for name in only if name not in _REGISTRY]
    if unknown:
        raise KeyError(", ".join(unknown))
    return [a for a in _REGISTRY.values() if a.name in only]


def analyzer_names() -> list[str]:
    """Names of the registered analyzers, in order."""
    return list(_REGISTRY)


@dataclass(frozen=True)
class FunctionAnalyzer:
    """An analyzer made of a function: most analyzers need no state."""

    name: str
    title: str
    function: Callable[[Subject, AnalysisContext], list[Finding]]

    def run(self, subject: Subject, context: AnalysisContext) -> list[Finding]:
        return self.function(subject, context)


def analyzer(
    name: str, title: str
) -> Callable[
    [Callable[[Subject, AnalysisContext], list[Finding]]],
    Callable[[Subject, AnalysisContext], list[Finding]],
]:
    """Register the decorated function as the analyzer ``name``."""

    def decorate(
        function: Callable[[Subject, AnalysisContext], list[Finding]],
    ) -> Callable[[Subject, AnalysisContext], list[Finding]]:
        register(FunctionAnalyzer(name, title, function))
        return function

    return decorate
