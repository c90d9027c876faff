"""HTML to PDF through WeasyPrint, reading nothing but what the HTML itself holds."""

from __future__ import annotations

from typing import Any

from leakshield.errors import ConfigError

__all__ = ["data_only_fetcher", "pdf_bytes"]


def pdf_bytes(html: str) -> bytes:
    """``html`` rendered to PDF, fetching nothing but ``data:`` URIs."""
    try:
        # Imported here, not at the top: it loads Pango, which is slow and may be missing.
        import weasyprint  # type: ignore[import-untyped]

        document = weasyprint.HTML(string=html, base_url=None, url_fetcher=data_only_fetcher())
        pdf: bytes = document.write_pdf()
    except OSError as exc:
        raise ConfigError(
            "The PDF report needs the Pango library, which could not be loaded "
            f"({exc}). Install it (Debian/Ubuntu: apt install libpango-1.0-0 "
            "libpangoft2-1.0-0), or write the HTML report, which works without it."
        ) from None
    return pdf


def data_only_fetcher() -> Any:
    """A WeasyPrint URL fetcher that serves ``data:`` URIs and refuses every other URL, so
    no string in a report can make the renderer read a file or reach the network."""
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    class DataOnlyFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint is untyped
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.lower().startswith("data:"):
                raise ValueError(f"the report may only embed data: URIs, not {url[:80]!r}")
            return super().fetch(url, headers)

    return DataOnlyFetcher(allowed_protocols=("data",), allow_redirects=False)
