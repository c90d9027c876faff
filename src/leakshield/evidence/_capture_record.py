"""What a capture records of a page: its address, redirects, status and headers.

`headers.json` keeps every response of the page's navigation in full (headers in
order, repeats kept, redirect hops too) with the address of the server that sent
it; the capture record keeps the summary that the case log carries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, Request, Response

__all__ = ["Described", "describe", "write_headers"]


@dataclass(frozen=True)
class Described:
    """The page's address, redirects, status, headers and title."""

    final_url: str | None
    redirects: tuple[str, ...]
    status: int | None
    headers: dict[str, str]
    title: str | None
    exchanges: dict[str, object]


def describe(
    page: Page, response: Response | None, requests: list[Request], with_title: bool
) -> Described:
    """What the capture records of `page`.

    `response` is its document's; `requests` are the main frame's navigation
    requests in order (redirect hops, and navigations by the page's own scripts).
    """
    chain = requests
    if response is not None and response.request in chain:
        chain = chain[: chain.index(response.request) + 1]
    hops = [{"url": request.url, **_exchange(request.response())} for request in chain[:-1]]
    final_url = page.url if page.url.startswith(("http://", "https://")) else None
    return Described(
        final_url=final_url or (response.url if response else None),
        redirects=tuple(request.url for request in chain[:-1]),
        status=response.status if response else None,
        headers=response.all_headers() if response else {},
        title=page.title() if with_title else None,
        exchanges={**_exchange(response), "redirects": hops},
    )


def _exchange(response: Response | None) -> dict[str, object]:
    """One response as headers.json keeps it: status, and headers in order, repeats kept."""
    if response is None:
        return {"status": None}
    return {
        "status": response.status,
        "status_text": response.status_text,
        "request_headers": [[h["name"], h["value"]] for h in response.request.headers_array()],
        "response_headers": [[h["name"], h["value"]] for h in response.headers_array()],
    }


def write_headers(
    workdir: Path, url: str, page: Described, server_address: str | None, captured_at: str
) -> Path:
    """Write headers.json: every response of the navigation, and the server's address."""
    document = {
        "url": url,
        "final_url": page.final_url,
        "captured_at": captured_at,
        "server_address": server_address,
        **page.exchanges,
    }
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "headers.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
