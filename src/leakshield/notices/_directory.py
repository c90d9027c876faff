"""The notice directory: the legal regimes and the platforms, read from their data files.

The built-in files ship in ``notices/data``; a folder of the same layout (``regimes/`` and
``platforms/``, one ``<id>.toml`` per entry) under ``<data dir>/notices`` corrects an
entry or adds one without a release. Every file is validated as it is read and the whole
directory is cross-checked, so a bad file is refused with its path and field instead of
turning into a wrong request later (docs/notices-data.md).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from leakshield.notices._model import NoticeDataError, NoticeNotFoundError
from leakshield.notices._schema import PlatformEntry, RegimeEntry, matches_domain

__all__ = ["BUILT_IN", "MAX_FILES", "MAX_FILE_BYTES", "Directory", "load_entry"]

BUILT_IN = Path(__file__).parent / "data"
MAX_FILE_BYTES = 256 * 1024  # the largest shipped file is a few KiB
MAX_FILES = 500  # per folder: a bound on the work a stray folder can cause

Entry = TypeVar("Entry", RegimeEntry, PlatformEntry)

_HINT = "Correct the file (docs/notices-data.md describes every field)."
_TOML_AT = re.compile(r"^(?P<what>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_TOML_AT_END = " (at end of document)"
_HOST = re.compile(r"^[a-z0-9.-]+$")
# Platforms a content URL can belong to; a hash program's or a regulator's own site is
# never where leaked content is.
_HOSTING_KINDS = frozenset({"platform", "search-engine"})
_SHOWN_ERRORS = 5


def load_entry(path: Path, model: type[Entry]) -> Entry:
    """Read and validate one regime or platform file; NoticeDataError names path and field."""
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NoticeDataError(f"{path}: {_toml_problem(exc)}. {_HINT}") from None
    try:
        entry = model.model_validate(data)
    except ValidationError as exc:
        raise NoticeDataError(f"{path}: {_validation_problems(exc)}. {_HINT}") from None
    if entry.id != path.stem:
        raise NoticeDataError(
            f"{path}: the file is named {path.stem} but its id is {entry.id}. "
            "Rename the file or correct its id: an override replaces the entry of the "
            "same id, so the two must agree."
        )
    return entry


@dataclass(frozen=True)
class Directory:
    """The regimes and platforms leakshield knows, by id.

    ``files`` maps each entry's relative name ("platforms/x.toml") to the file it was
    read from, so that a check can say which copy (built-in or override) is in use.
    """

    regimes: Mapping[str, RegimeEntry]
    platforms: Mapping[str, PlatformEntry]
    files: Mapping[str, Path] = field(default_factory=dict)

    @classmethod
    def load(cls, overrides: Path | None = None) -> Directory:
        """The built-in directory, with the entries of ``overrides`` (if it exists) on top."""
        folders = [BUILT_IN]
        if overrides is not None and overrides.exists():
            folders.append(overrides)
        return cls.from_folders(*folders)

    @classmethod
    def from_folders(cls, *folders: Path) -> Directory:
        """Read each folder's ``regimes/`` and ``platforms/``; a later entry replaces an
        earlier one of the same id. The result is cross-checked."""
        regimes: dict[str, RegimeEntry] = {}
        platforms: dict[str, PlatformEntry] = {}
        files: dict[str, Path] = {}
        for folder in folders:
            if not folder.is_dir():
                raise NoticeDataError(
                    f"{folder}: is not a folder. A notice data folder holds regimes/ and "
                    "platforms/; point to the folder, or remove what is in its place."
                )
            for path in _toml_files(folder / "regimes"):
                regime = load_entry(path, RegimeEntry)
                regimes[regime.id] = regime
                files[f"regimes/{regime.id}.toml"] = path
            for path in _toml_files(folder / "platforms"):
                platform = load_entry(path, PlatformEntry)
                platforms[platform.id] = platform
                files[f"platforms/{platform.id}.toml"] = path
        directory = cls(
            regimes=MappingProxyType(dict(sorted(regimes.items()))),
            platforms=MappingProxyType(dict(sorted(platforms.items()))),
            files=MappingProxyType(files),
        )
        directory._cross_check()
        return directory

    def regime(self, regime_id: str) -> RegimeEntry:
        """The regime of that id; NoticeNotFoundError names the known ids."""
        regime = self.regimes.get(regime_id.strip().lower())
        if regime is None:
            raise NoticeNotFoundError(
                f"No regime {regime_id!r} in the notice directory. "
                f"Known regimes: {', '.join(self.regimes)}."
            )
        return regime

    def platform(self, name: str) -> PlatformEntry:
        """The platform with that id (any case) or that domain ("x.com", "www.x.com")."""
        key = name.strip().lower()
        found = self.platforms.get(key) or self._by_host(key, hosting_only=False)
        if found is None:
            raise NoticeNotFoundError(
                f"No platform {name!r} in the notice directory. Known platforms: "
                f"{', '.join(self.platforms)}; a platform can also be named by one of its "
                "domains, such as x.com."
            )
        return found

    def platform_for_url(self, url: str) -> PlatformEntry | None:
        """The platform or search engine whose domain hosts ``url``, or None.

        Only http(s) URLs match. The host is read the way a browser reads it (percent
        escapes decoded, IDNA applied), and a URL whose host is ambiguous between
        readers (a backslash or a control character in the authority) matches nothing.
        """
        host = _host_of(url)
        return None if host is None else self._by_host(host, hosting_only=True)

    def stale(self, today: date, max_age_days: int = 365) -> list[str]:
        """The entries ("platforms/x.toml") last checked more than ``max_age_days`` ago."""
        dated = [(f"regimes/{r.id}.toml", r.checked) for r in self.regimes.values()]
        dated += [(f"platforms/{p.id}.toml", p.checked) for p in self.platforms.values()]
        return sorted(name for name, checked in dated if (today - checked).days > max_age_days)

    def _by_host(self, host: str, *, hosting_only: bool) -> PlatformEntry | None:
        # The most specific domain wins, so an entry for "sites.example.com" can sit
        # beside one for "example.com".
        best: PlatformEntry | None = None
        best_length = 0
        for platform in self.platforms.values():
            if hosting_only and platform.kind not in _HOSTING_KINDS:
                continue
            for domain in platform.domains:
                if len(domain) > best_length and matches_domain(host, domain):
                    best, best_length = platform, len(domain)
        return best

    def _file(self, kind: str, entry_id: str) -> Path | str:
        return self.files.get(f"{kind}/{entry_id}.toml", f"{kind}/{entry_id}.toml")

    def _cross_check(self) -> None:
        known = ", ".join(self.regimes)
        for regime in self.regimes.values():
            for index, escalation in enumerate(regime.escalations):
                if escalation not in self.regimes:
                    raise NoticeDataError(
                        f"{self._file('regimes', regime.id)}: escalations.{index}: no regime "
                        f"{escalation!r}; known regimes: {known}. {_HINT}"
                    )
        claimed: dict[str, str] = {}
        for platform in self.platforms.values():
            path = self._file("platforms", platform.id)
            for index, route in enumerate(platform.routes):
                if route.regime not in self.regimes:
                    raise NoticeDataError(
                        f"{path}: routes.{index}.regime: no regime {route.regime!r}; "
                        f"known regimes: {known}. {_HINT}"
                    )
            for index, domain in enumerate(platform.domains):
                other = claimed.setdefault(domain, platform.id)
                if other != platform.id:
                    raise NoticeDataError(
                        f"{path}: domains.{index}: {domain} is also claimed by "
                        f"{self._file('platforms', other)}; a domain belongs to one platform. "
                        f"{_HINT}"
                    )


def _toml_files(folder: Path) -> list[Path]:
    """The ``*.toml`` files of ``folder`` (none if it is absent), bounded in number."""
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise NoticeDataError(f"{folder}: is not a folder. Remove what is in its place.")
    names: list[str] = []
    with os.scandir(folder) as entries:
        for count, entry in enumerate(entries, start=1):
            if count > MAX_FILES:
                raise NoticeDataError(
                    f"{folder}: holds more than {MAX_FILES} files; is it the right folder? "
                    "Keep only the regime or platform files there."
                )
            # Editors leave hidden lock and backup files next to the ones being edited.
            if entry.name.endswith(".toml") and not entry.name.startswith("."):
                names.append(entry.name)
    return [folder / name for name in sorted(names)]


def _read_text(path: Path) -> str:
    # O_NONBLOCK: a FIFO in the folder must not hang the load; the checks below refuse it.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise NoticeDataError(f"{path}: cannot be read: {exc.strerror}. {_HINT}") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NoticeDataError(f"{path}: is not a regular file. Remove it.")
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise NoticeDataError(
            f"{path}: is over {MAX_FILE_BYTES // 1024} KiB, far more than a regime or "
            "platform needs; is it the right file?"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoticeDataError(
            f"{path}: is not UTF-8 text (byte {exc.start}). Save it as UTF-8."
        ) from None


def _toml_problem(exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    at = _TOML_AT.match(message)
    if at:
        return f"not valid TOML (line {at['line']}, column {at['column']}): {at['what']}"
    if message.endswith(_TOML_AT_END):
        return f"not valid TOML (at the end of the file): {message.removesuffix(_TOML_AT_END)}"
    return f"not valid TOML: {message}"


def _validation_problems(exc: ValidationError) -> str:
    errors = exc.errors()
    # A list whose only item is refused is then also "too short"; that is no news.
    failing = {e["loc"][:end] for e in errors for end in range(1, len(e["loc"]))}
    errors = [e for e in errors if not (e["type"] == "too_short" and e["loc"] in failing)]
    parts = [_problem(error) for error in errors[:_SHOWN_ERRORS]]
    if len(errors) > _SHOWN_ERRORS:
        parts.append(f"and {len(errors) - _SHOWN_ERRORS} more")
    return "; ".join(parts)


def _problem(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "missing":
        message = "missing (this field is required)"
    elif kind == "extra_forbidden":
        message = "unknown key (misspelt, or not part of this schema)"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        value = error.get("input")
        # Our own validators name the value already; pydantic's checks do not.
        if kind != "value_error" and isinstance(value, str | int | float):
            shown = repr(value)
            message += f" (got {shown[:77] + '...' if len(shown) > 80 else shown})"
    return f"{where}: {message}" if where else message


def _host_of(url: str) -> str | None:
    """The URL's host in ASCII, lower case, or None if it is not a plain http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    # Python takes "a\\@b" as user "a\\", host "b"; a browser takes host "a". Refuse
    # whatever two readers could place on different hosts.
    if "\\" in parts.netloc or any(ord(c) < 0x21 or ord(c) == 0x7F for c in parts.netloc):
        return None
    try:
        # Browsers decode %-escapes in a host and map it with IDNA ("x%2Ecom", "x。com"
        # are x.com to them); a lookalike in another script becomes xn--... and so
        # matches no platform.
        ascii_host = unquote(host).encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return ascii_host if _HOST.match(ascii_host) else None
