"""HMA-compatible hashing and matching routes, /h and /m: the paths, request fields and
response shapes of Meta's Hasher-Matcher-Actioner 2.0 ("Open Media Match"), over
leakshield's core, so a team on HMA can switch by changing a base URL. docs/hma.md
documents the mapping and where it differs."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from leakshield.banks import FileSignals, Match, Matcher
from leakshield.errors import UsageError
from leakshield.server._auth import LOOKUP
from leakshield.server._deps import (
    Services,
    hash_upload,
    hash_url,
    json_response,
    services,
    typed_signal,
)
from leakshield.server._problems import problem_response
from leakshield.signals import Signal, compare

# HMA's signal type names, and ours.
HMA_TYPES = {"pdq": "pdq", "video_md5": "md5", "vpdq": "vpdq"}
OUR_TYPES = {ours: theirs for theirs, ours in HMA_TYPES.items()}
CONTENT_TYPES = {"photo": ("pdq",), "video": ("video_md5", "vpdq")}
_MEDIA_CONTENT = {"image": "photo", "video": "video"}
# HMA answers bad input with 400 and a taken bank name with 403.
_HMA_STATUS = {422: 400, 409: 403}


class HmaRoute(APIRoute):
    """A route whose errors take HMA's status codes and carry HMA's ``message`` field
    beside the problem+json fields."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The usual handler, with errors rendered the HMA way."""
        handler = super().get_route_handler()

        async def hma_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                rendered = await _render_error(request, exc)
                if rendered is None:
                    raise
                return rendered

        return hma_handler


async def _render_error(request: Request, exc: Exception) -> Response | None:
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            response: Response = await handlers[cls](request, exc)
            problem = json.loads(bytes(response.body))
            status = _HMA_STATUS.get(problem["status"], problem["status"])
            problem |= {"status": status, "message": problem.get("detail", "")}
            challenge = response.headers.get("www-authenticate")
            return problem_response(problem, {"WWW-Authenticate": challenge} if challenge else None)
    return None


hasher = APIRouter(prefix="/h", tags=["hma"], route_class=HmaRoute, dependencies=[LOOKUP])
matcher_router = APIRouter(prefix="/m", tags=["hma"], route_class=HmaRoute, dependencies=[LOOKUP])


# Hashing


def hma_signal(kind: str, value: str) -> Signal:
    """A signal from HMA's type name and value; 400 for a type HMA would not know."""
    if kind not in HMA_TYPES:
        raise UsageError(f"No such SignalType '{kind[:40]}'")
    return typed_signal(HMA_TYPES[kind], value)


def hma_hashes(hashed: FileSignals, types: str | None, content_type: str | None) -> dict[str, str]:
    """HMA's ``{signal_type: value}`` for a hashed file, limited to ``types``."""
    detected = _MEDIA_CONTENT[hashed.media_type]
    if content_type and content_type not in CONTENT_TYPES:
        raise UsageError(f"no such content_type: '{content_type[:40]}'")
    if content_type and content_type != detected:
        raise UsageError(f"the content is a {detected}, not a {content_type}")
    values: dict[str, str] = {}
    if hashed.pdq is not None:
        values["pdq"] = str(hashed.pdq)
    for signal in hashed.signals:
        if signal.type_name in ("md5", "vpdq") and detected == "video":
            values[OUR_TYPES[signal.type_name]] = str(signal)
    return {kind: values[kind] for kind in _wanted(types, detected) if kind in values}


def _wanted(types: str | None, content_type: str) -> tuple[str, ...]:
    available = CONTENT_TYPES[content_type]
    if types is None:
        return available
    chosen = tuple(name.strip() for name in types.split(",") if name.strip())
    for name in chosen:
        if name not in available:
            raise UsageError(f"signal type '{name[:40]}' doesn't exist or is disabled")
    if not chosen:
        raise UsageError("empty signal type selection")
    return chosen


def form_upload(form: FormData) -> tuple[UploadFile, str]:
    """The one uploaded file of an HMA form and its content type (its field name)."""
    files = [(key, value) for key, value in form.multi_items() if isinstance(value, UploadFile)]
    if not files:
        raise UsageError("Missing multipart/form-data file upload")
    if len(files) > 1:
        raise UsageError("Only one file allowed per request")
    field, upload = files[0]
    if field not in CONTENT_TYPES:
        raise UsageError(f"no such content_type: '{field[:40]}'")
    return upload, field


Hashed = tuple[dict[str, str], FileSignals]


def hash_form(svc: Services, form: FormData, types: str | None) -> Hashed:
    """Hash the file of an HMA multipart form: ``{signal_type: value}`` and its signals."""
    upload, content_type = form_upload(form)
    hashed = hash_upload(svc, upload)
    return hma_hashes(hashed, types, content_type), hashed


def hash_hma_url(
    svc: Services, url: str | None, content_type: str | None, types: str | None
) -> Hashed:
    """Fetch an allowed URL and hash it: ``{signal_type: value}`` and its signals."""
    if not url:
        raise UsageError("url is required")
    hashed, _media_type = hash_url(svc, url)
    return hma_hashes(hashed, types, content_type), hashed


@hasher.get("/hash")
def hash_get(
    request: Request,
    url: str | None = None,
    content_type: str | None = None,
    types: str | None = None,
) -> Response:
    """Fetch the media at ``url`` (allowed hosts only) and return its hashes."""
    return json_response(hash_hma_url(services(request), url, content_type, types)[0])


_HMA_FORM = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "photo": {"type": "string", "format": "binary"},
                        "video": {"type": "string", "format": "binary"},
                    },
                }
            }
        }
    }
}


@hasher.post("/hash", openapi_extra=_HMA_FORM)
async def hash_post(request: Request, types: str | None = None) -> Response:
    """Hash one uploaded file, sent in the form field ``photo`` or ``video``."""
    svc = services(request)
    async with request.form(max_files=2, max_fields=10) as form:
        hashes, _ = await run_in_threadpool(hash_form, svc, form, types)
    return json_response(hashes)


# Matching


def by_bank(matches: list[Match]) -> dict[str, list[dict[str, Any]]]:
    """HMA's ``{BANK: [{"bank_content_id", "distance"}]}``; distances are strings, as
    HMA writes them."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for match in matches:
        entry = {"bank_content_id": match.content_id, "distance": str(match.distance)}
        grouped.setdefault(match.bank, []).append(entry)
    return grouped


def known_banks(matcher: Matcher, banks: str | None) -> list[str] | None:
    """HMA's comma-separated ``banks``; names of no bank are ignored, as HMA does."""
    if not banks:
        return None
    known = {bank.name for bank in matcher.banks().values()}
    return [name for name in banks.split(",") if name in known]


def lookup_hashes(
    svc: Services, hashed: Hashed, banks: list[str] | None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Look up each of a file's hashes: ``{signal_type: {BANK: [...]}}``. A PDQ hash of
    quality below 50 matches nothing: it would match unrelated flat images."""
    hashes, signals = hashed
    usable = {OUR_TYPES.get(signal.type_name) for signal in signals.signals}
    return {
        kind: by_bank(svc.matcher.lookup([hma_signal(kind, value)], banks=banks))
        if kind in usable
        else {}
        for kind, value in hashes.items()
    }


def _lookup_url(
    svc: Services, url: str, content_type: str | None, types: str | None, banks: str | None
) -> dict[str, Any]:
    hashed = hash_hma_url(svc, url, content_type, types)
    return lookup_hashes(svc, hashed, known_banks(svc.matcher, banks))


def _query(*names: str) -> dict[str, Any]:
    parameters = [{"name": n, "in": "query", "schema": {"type": "string"}} for n in names]
    return {"parameters": parameters}


# The query is read by hand, as on the native lookup: validation would cost more than it.
@matcher_router.get(
    "/lookup",
    openapi_extra=_query(
        "signal_type", "signal", "url", "content_type", "types", "banks", "seed", "bypass_coinflip"
    ),
)
async def lookup_get(request: Request) -> Response:
    """Look up a signal (``signal_type`` and ``signal``), or the media at ``url``;
    ``banks`` limits the banks, ``seed`` and ``bypass_coinflip`` are accepted."""
    svc = services(request)
    params = request.query_params
    signal, signal_type, banks = (
        params.get("signal"),
        params.get("signal_type"),
        params.get("banks"),
    )
    if url := params.get("url"):
        found = await run_in_threadpool(
            _lookup_url, svc, url, params.get("content_type"), params.get("types"), banks
        )
        return json_response(found.get(signal_type, {}) if signal_type else found)
    if not signal or not signal_type:
        raise UsageError("Either url or both signal and signal_type are required")
    parsed = hma_signal(signal_type, signal)
    matches = svc.matcher.lookup([parsed], banks=known_banks(svc.matcher, banks))
    return json_response(by_bank(matches))


@matcher_router.post("/lookup", openapi_extra=_HMA_FORM)
async def lookup_post(
    request: Request,
    banks: str | None = None,
    types: str | None = None,
    seed: str | None = None,
    bypass_coinflip: bool = False,
) -> Response:
    """Hash an uploaded file (``photo`` or ``video``) and look up each of its hashes."""
    svc = services(request)
    async with request.form(max_files=2, max_fields=10) as form:
        hashed = await run_in_threadpool(hash_form, svc, form, types)
    found = lookup_hashes(svc, hashed, known_banks(svc.matcher, banks))
    return json_response(found)


@matcher_router.get(
    "/raw_lookup", openapi_extra=_query("signal_type", "signal", "banks", "include_distance")
)
async def raw_lookup(request: Request) -> Response:
    """Content ids a signal matches, disabled banks and content included."""
    params = request.query_params
    signal, signal_type = params.get("signal"), params.get("signal_type")
    if signal is None:
        raise UsageError("signal is required")
    if signal_type is None:
        raise UsageError("signal_type is required")
    matcher = services(request).matcher
    parsed = hma_signal(signal_type, signal)
    banks = known_banks(matcher, params.get("banks"))
    matches = matcher.lookup([parsed], banks=banks, raw=True)
    if _hma_bool(params.get("include_distance", "false")):
        entries = [e for bank in by_bank(matches).values() for e in bank]
        return json_response({"matches": entries})
    return json_response({"matches": [match.content_id for match in matches]})


def _hma_bool(value: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise UsageError("invalid boolean parameter - prefer true/false")


@matcher_router.post(
    "/compare",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"example": {"pdq": ["…", "…"]}}}}
    },
)
async def compare_hashes(request: Request) -> Response:
    """Compare pairs of hashes: ``{signal_type: [a, b]}`` to ``{signal_type: [match,
    {"distance": d}]}``."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise UsageError("Request input was not a dict") from None
    if not isinstance(body, dict):
        raise UsageError("Request input was not a dict")
    return json_response({kind: _compare_pair(kind, pair) for kind, pair in body.items()})


def _compare_pair(kind: str, pair: object) -> list[Any]:
    if not isinstance(pair, list):
        raise UsageError(f"Comparison hashes for {kind[:40]} was not a list")
    if len(pair) != 2 or not all(isinstance(value, str) for value in pair):
        raise UsageError("Comparison hash list length must be exactly 2")
    result = compare(hma_signal(kind, pair[0]), hma_signal(kind, pair[1]))
    if result.distance is not None:
        return [result.match, {"distance": result.distance}]
    shares = {
        "query_match_percent": result.query_match_percent,
        "compared_match_percent": result.compared_match_percent,
    }
    return [result.match, shares]


@matcher_router.get("/index/status")
def index_status(request: Request, signal_type: Annotated[str | None, Query()] = None) -> Response:
    """Per signal type: whether its index is loaded, how current, how many hashes."""
    status = services(request).matcher.status()
    if signal_type is not None and signal_type not in HMA_TYPES:
        raise UsageError(f"No such signal type '{signal_type[:40]}'")
    chosen = [signal_type] if signal_type else list(HMA_TYPES)
    return json_response(
        {
            kind: {
                "built_to": int(status.refreshed_at),
                "present": True,
                "size": status.signals.get(HMA_TYPES[kind], 0),
            }
            for kind in chosen
        }
    )
