"""What every route shares: the services a server process loads once (store, matcher,
follower, fetcher), and the steps both route families take (parse a signal, hash an
upload or a URL, make a write visible, answer in JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams, UploadFile

from leakshield.banks import (
    BankStore,
    FileSignals,
    Follower,
    Matcher,
    file_signals,
    matcher_cache_dir,
    open_matcher,
    parse_lookup_signal,
)
from leakshield.config import Settings
from leakshield.errors import ConfigError
from leakshield.media import MediaLimits
from leakshield.server._uploads import (
    Fetcher,
    UrlFetcher,
    fetched_copy,
    private_tmp_dir,
    saved_copy,
)
from leakshield.signals import HashOptions, Signal, SignalError, signal_type
from leakshield.store import Database

ModelT = TypeVar("ModelT", bound=BaseModel)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class NotReadyError(ConfigError):
    """The server has not loaded its matcher yet."""

    http_status = 503
    slug = "not-ready"
    title = "Not ready"


@dataclass(frozen=True)
class Services:
    """The core objects one server process works with."""

    settings: Settings
    store: BankStore
    matcher: Matcher
    follower: Follower
    fetcher: Fetcher
    hashing: HashOptions
    tmp_dir: Path


def open_services(settings: Settings, database: Database) -> Services:
    """Migrate if needed, then load the matcher (snapshot plus changes) and its follower."""
    settings.prepare_runtime()
    if not database.schema_state().up_to_date:
        database.upgrade()  # safe when several workers start at once
    store = BankStore(database)
    matcher = open_matcher(store, matcher_cache_dir(settings.cache_dir, database.display_url))
    return Services(
        settings=settings,
        store=store,
        matcher=matcher,
        follower=Follower(matcher, settings.matcher_refresh_seconds),
        fetcher=UrlFetcher(settings.fetch_allowed_hosts, settings.max_upload_bytes),
        hashing=HashOptions(MediaLimits.from_settings(settings)),
        tmp_dir=private_tmp_dir(settings.data_dir),
    )


def services(request: Request) -> Services:
    """The services of the app handling ``request``."""
    found: Services | None = getattr(request.app.state, "services", None)
    if found is None:
        raise NotReadyError("The server is still loading its matcher; try again shortly.")
    return found


def wrote(svc: Services) -> None:
    """Apply a committed write to this process's matcher before answering, so that the
    caller's next lookup sees it (other workers' followers apply it within a moment)."""
    svc.matcher.refresh()


def lookup_signal(text: str) -> Signal:
    """A ``TYPE:VALUE`` signal that can be looked up; raises `SignalError`."""
    kind, sep, value = text.partition(":")
    if not sep:
        raise SignalError(f"{text[:80]!r} has no type; write TYPE:VALUE, e.g. pdq:<64 hex digits>")
    return parse_lookup_signal(kind, value)


def typed_signal(kind: str, value: str) -> Signal:
    """A signal of type ``kind`` (any registered type) from its string form."""
    return signal_type(kind).parse(value)


def hash_upload(svc: Services, upload: UploadFile, *, dihedral: bool = False) -> FileSignals:
    """Hash an uploaded file from a private copy in the data directory, then delete it."""
    with saved_copy(upload.file, svc.tmp_dir, svc.settings.max_upload_bytes) as path:
        return file_signals(path, svc.hashing, dihedral=dihedral)


def hash_url(svc: Services, url: str, *, dihedral: bool = False) -> tuple[FileSignals, str]:
    """Fetch an allowed URL into the data directory, hash it, delete it; returns the
    signals and the media type the server announced."""
    with fetched_copy(svc.fetcher, url, svc.tmp_dir) as (path, media_type):
        return file_signals(path, svc.hashing, dihedral=dihedral), media_type


def json_response(body: Any, status_code: int = 200) -> Response:
    """A JSON response built directly: no response model to validate on hot paths."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status_code, media_type="application/json")


def parse_body(model: type[ModelT], raw: bytes) -> ModelT:
    """Validate a JSON body read by hand; a bad one is the usual 422 problem."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _invalid(exc, "body") from None


def parse_fields(model: type[ModelT], data: dict[str, Any], where: str) -> ModelT:
    """Validate fields read by hand (e.g. from a form); a bad one is the usual 422."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, where) from None


def _invalid(exc: ValidationError, where: str) -> RequestValidationError:
    return RequestValidationError([{**e, "loc": (where, *e["loc"])} for e in exc.errors()])


def required_param(params: QueryParams, name: str) -> str:
    """A query parameter that must be there; a missing one is the usual 422."""
    value = params.get(name)
    if value is None:
        missing = {"type": "missing", "loc": ("query", name), "msg": "Field required"}
        raise RequestValidationError([missing])
    return value


def query_flag(params: QueryParams, name: str) -> bool:
    """A boolean query parameter (true/false, 1/0, yes/no, on/off); absent is false."""
    value = params.get(name)
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered not in _TRUE | _FALSE:
        wrong = {"type": "bool_parsing", "loc": ("query", name), "msg": "Not a boolean"}
        raise RequestValidationError([wrong])
    return lowered in _TRUE


def form_flag(value: object, default: bool = False) -> bool:
    """A form field read as a boolean (true/1/yes/on)."""
    if value is None or value == "":
        return default
    return str(value).strip().lower() in _TRUE
