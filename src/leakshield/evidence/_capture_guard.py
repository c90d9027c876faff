"""Which addresses a capture may reach: http(s) URLs on public addresses only.

A capture loads a URL someone else chose, so it must not become a way into the
user's own network (SSRF): a page, a redirect or a subresource that resolves to a
private, loopback, link-local, multicast, reserved or unspecified address is refused
unless the user allows private addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from leakshield.errors import InputError

__all__ = [
    "AddressRefused",
    "CaptureRefused",
    "Destination",
    "ResolveFailed",
    "check_url",
    "refusal_reason",
    "resolve",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that carry an IPv4 address inside; the embedded address decides.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


class CaptureRefused(InputError):
    """A capture was refused: the URL is not http(s), or it leads to a private address."""

    slug = "capture-refused"
    title = "Capture refused"


class AddressRefused(Exception):
    """A host resolved to an address that a capture must not reach."""


class ResolveFailed(Exception):
    """A host name could not be resolved."""


@dataclass(frozen=True)
class Destination:
    """The host and port a URL points at."""

    scheme: str
    host: str
    port: int


def check_url(url: str) -> Destination:
    """The host and port of an http(s) URL; `CaptureRefused` for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise CaptureRefused(
            f"{url!r} is not a valid URL ({exc}); give an http(s) address"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        what = f"a {scheme}: address" if scheme else "missing its http:// or https://"
        raise CaptureRefused(
            f"only http and https pages can be captured, and {url!r} is {what}; "
            "give the page's full web address (https://...)"
        )
    if not parts.hostname:
        raise CaptureRefused(f"{url!r} names no host; give a full address (https://host/path)")
    return Destination(scheme, parts.hostname, port or (443 if scheme == "https" else 80))


def refusal_reason(address: IPAddress) -> str | None:
    """Why a capture may not reach `address` (e.g. "loopback"), or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refusal_reason(embedded)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("not publicly routable", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def resolve(host: str, port: int, *, allow_private: bool) -> list[tuple[IPAddress, int]]:
    """Every address `host` resolves to, each as (address, port).

    Raises `ResolveFailed` when the name does not resolve, and `AddressRefused` when
    any address is refused (one private answer among public ones is enough: the
    browser might pick it) unless `allow_private`.
    """
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ResolveFailed(f"the host {host} could not be resolved ({exc})") from exc
    found: list[tuple[IPAddress, int]] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # A scoped IPv6 address ("fe80::1%eth0") parses without its scope.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = None if allow_private else refusal_reason(address)
        if reason is not None:
            named = "is" if host.strip("[]") == str(address) else f"resolves to {address},"
            raise AddressRefused(f"{host} {named} a {reason} address")
        if (address, port) not in found:
            found.append((address, port))
    if not found:
        raise ResolveFailed(f"the host {host} has no address")
    return found


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 address stands for."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None and address in _SIX_TO_FOUR:
        return address.sixtofour
    return None
