"""Run every analyzer on one file and gather their findings into one `Analysis`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from leakshield import __version__
from leakshield.errors import LeakshieldError
from leakshield.forensics import _analyzers  # noqa: F401  (registers the analyzers)
from leakshield.forensics._model import Analysis, Finding, failed
from leakshield.forensics._registry import AnalysisContext, Analyzer, analyzers
from leakshield.forensics._subject import Subject, load_subject
from leakshield.forensics._summary import cannot_tell, shows

__all__ = ["analyze", "analyze_subject"]


def analyze(
    path: Path,
    context: AnalysisContext,
    *,
    only: Sequence[str] | None = None,
    on_analyzer: Callable[[Analyzer], None] | None = None,
) -> Analysis:
    """Examine ``path`` with every registered analyzer (or those named in ``only``).

    Raises `MediaError` only when the file cannot be read at all; an analyzer that cannot
    examine it gives a finding that says why, and the others still run.
    """
    started = datetime.now(UTC)
    subject = load_subject(path, context.limits)
    return analyze_subject(subject, context, only=only, on_analyzer=on_analyzer, started=started)


def analyze_subject(
    subject: Subject,
    context: AnalysisContext,
    *,
    only: Sequence[str] | None = None,
    on_analyzer: Callable[[Analyzer], None] | None = None,
    started: datetime | None = None,
) -> Analysis:
    """`analyze` for a file already read."""
    started = started or datetime.now(UTC)
    findings: list[Finding] = []
    for analyzer in analyzers(only):
        if on_analyzer is not None:
            on_analyzer(analyzer)
        findings.extend(_run(analyzer, subject, context))
    return Analysis(
        subject=subject.info,
        findings=tuple(findings),
        shows=tuple(shows(subject.info, findings)),
        cannot_tell=tuple(cannot_tell(subject.info, findings)),
        started=started.isoformat(),
        finished=datetime.now(UTC).isoformat(),
        tool_version=__version__,
    )


def _run(analyzer: Analyzer, subject: Subject, context: AnalysisContext) -> list[Finding]:
    try:
        return analyzer.run(subject, context)
    except LeakshieldError as exc:
        code = str(getattr(exc, "code", exc.slug))
        return [failed(analyzer.name, analyzer.title, code, exc.message)]
    except Exception as exc:  # one analyzer's bug must not lose the others' findings
        message = f"{type(exc).__name__}: {exc}"
        return [failed(analyzer.name, analyzer.title, "internal-error", message)]
