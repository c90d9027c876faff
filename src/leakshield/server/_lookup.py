"""The native API's matching routes: look up a signal, a file or a URL, many signals at
once, compare two signals, hash a file, and the matcher's status.

`GET /api/v1/lookup` is the hot path: no database query, no response model; the matcher
answers from memory and the JSON is built by hand.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from leakshield.banks import FileSignals, Match
from leakshield.errors import LeakshieldError, UsageError
from leakshield.server._auth import LOOKUP
from leakshield.server._deps import (
    Services,
    form_flag,
    hash_upload,
    hash_url,
    json_response,
    lookup_signal,
    query_flag,
    required_param,
    services,
)
from leakshield.signals import compare, parse_signal

router = APIRouter(prefix="/api/v1", tags=["lookup"], dependencies=[LOOKUP])

MAX_BULK = 1000


def match_records(matches: list[Match]) -> list[dict[str, Any]]:
    """Matches in their documented JSON form."""
    return [match.to_record() for match in matches]


_LOOKUP_QUERY = {
    "parameters": [
        {
            "name": "signal",
            "in": "query",
            "required": True,
            "description": "TYPE:VALUE, e.g. pdq:<64 hex digits>",
            "schema": {"type": "string"},
        },
        {
            "name": "bank",
            "in": "query",
            "description": "Search only these banks (repeat the parameter).",
            "schema": {"type": "array", "items": {"type": "string"}},
        },
        {
            "name": "raw",
            "in": "query",
            "description": "Also disabled banks and content; no negative-bank suppression.",
            "schema": {"type": "boolean", "default": False},
        },
    ]
}


# The query is read by hand: FastAPI's parameter validation costs more than the lookup.
@router.get("/lookup", openapi_extra=_LOOKUP_QUERY)
async def lookup(request: Request) -> Response:
    """The bank content one signal matches, nearest first within each bank."""
    params = request.query_params
    signal = required_param(params, "signal")
    matcher = services(request).matcher
    matches = matcher.lookup(
        [lookup_signal(signal)],
        banks=params.getlist("bank") or None,
        raw=query_flag(params, "raw"),
    )
    return json_response({"input": signal, "matches": match_records(matches)})


def _multipart(fields: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": fields}
    return {"requestBody": {"content": {"multipart/form-data": {"schema": schema}}}}


_FILE = {"type": "string", "format": "binary"}
_FLAG = {"type": "boolean"}
_LOOKUP_FORM = _multipart(
    {
        "file": _FILE,
        "url": {"type": "string", "description": "instead of a file: an allowed URL"},
        "dihedral": _FLAG,
        "bank": {"type": "array", "items": {"type": "string"}},
        "raw": _FLAG,
    }
)


@router.post("/lookup", openapi_extra=_LOOKUP_FORM)
async def lookup_file(request: Request) -> Response:
    """Hash an uploaded file (form field ``file``) or an allowed ``url``, and look up
    every signal it has (with rotations and flips when ``dihedral``)."""
    svc = services(request)
    async with request.form(max_files=1, max_fields=50) as form:
        body = await run_in_threadpool(_lookup_form, svc, form)
    return json_response(body)


def _lookup_form(svc: Services, form: FormData) -> dict[str, Any]:
    dihedral = form_flag(form.get("dihedral"))
    upload, url = form.get("file"), form.get("url")
    if isinstance(upload, UploadFile):
        label = upload.filename or "upload"
        hashed = hash_upload(svc, upload, dihedral=dihedral)
    elif isinstance(url, str) and url:
        label = url
        hashed, _ = hash_url(svc, url, dihedral=dihedral)
    else:
        raise UsageError("Send a file in the form field `file`, or a `url` to fetch.")
    banks = [str(name) for name in form.getlist("bank")] or None
    matches = svc.matcher.lookup(hashed.signals, banks=banks, raw=form_flag(form.get("raw")))
    return {**_hashed_record(label, hashed), "matches": match_records(matches)}


def _hashed_record(label: str, hashed: FileSignals) -> dict[str, Any]:
    return {
        "input": label,
        "media_type": hashed.media_type,
        "pdq_quality": hashed.pdq_quality,
        "signals": [signal.typed() for signal in hashed.signals],
    }


class BulkLookup(BaseModel):
    """Up to 1,000 signals to look up in one request."""

    model_config = ConfigDict(extra="forbid")
    signals: list[str] = Field(max_length=MAX_BULK)
    banks: list[str] | None = None
    raw: bool = False


@router.post("/lookup/bulk")
def lookup_bulk(request: Request, body: BulkLookup) -> Response:
    """Look up many signals; one result per input, in input order. A bad signal gets
    its own error entry; the others are still looked up."""
    matcher = services(request).matcher
    results: list[dict[str, Any]] = [{"input": text} for text in body.signals]
    good, signals = [], []
    for at, text in enumerate(body.signals):
        try:
            signals.append(lookup_signal(text))
            good.append(at)
        except LeakshieldError as exc:
            results[at]["error"] = {"code": exc.slug, "message": exc.message}
    found = matcher.lookup_many(signals, banks=body.banks, raw=body.raw)
    for at, matches in zip(good, found, strict=True):
        results[at]["matches"] = match_records(matches)
    return json_response({"results": results})


class CompareSignals(BaseModel):
    """Two signals of one type."""

    model_config = ConfigDict(extra="forbid")
    a: str = Field(description="TYPE:VALUE")
    b: str = Field(description="TYPE:VALUE")


@router.post("/compare")
def compare_signals(body: CompareSignals) -> Response:
    """Whether two signals match under their type's rule, with the distance."""
    # Signals only: a path here would make the server read its own files.
    result = compare(parse_signal(body.a), parse_signal(body.b))
    return json_response(result.to_record())


@router.post("/hash", openapi_extra=_multipart({"file": _FILE, "dihedral": _FLAG}))
async def hash_file(request: Request) -> Response:
    """The signals of an uploaded file (form field ``file``), without looking them up."""
    svc = services(request)
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise UsageError("Send the file in the form field `file`.")
        dihedral = form_flag(form.get("dihedral"))
        hashed = await run_in_threadpool(hash_upload, svc, upload, dihedral=dihedral)
    return json_response(_hashed_record(upload.filename or "upload", hashed))


@router.get("/index/status")
def index_status(request: Request) -> Response:
    """How many signals this process's matcher holds and how current it is."""
    svc = services(request)
    status = svc.matcher.status()
    return json_response(
        {
            "seq": status.seq,
            "signals": dict(status.signals),
            "source": status.source,
            "built_at": _iso(status.built_at),
            "refreshed_at": _iso(status.refreshed_at),
            "seconds_since_refresh": round(max(0.0, time.time() - status.refreshed_at), 3),
            "follower_error": svc.follower.last_error,
        }
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
