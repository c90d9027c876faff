"""HMA-compatible curation routes, /c: banks, bank content and signals, with HMA's
request fields and response shapes (docs/hma.md). A bank's ``matching_enabled_ratio``
(HMA's per-lookup coin flip) is kept as enabled (ratio > 0) or disabled."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from leakshield.banks import Bank, BankContent, BankNotFoundError
from leakshield.errors import UsageError
from leakshield.server._auth import CURATE, LOOKUP
from leakshield.server._deps import Services, json_response, services, wrote
from leakshield.server._hma import (
    OUR_TYPES,
    HmaRoute,
    hash_form,
    hash_hma_url,
    hma_signal,
)

read_router = APIRouter(prefix="/c", tags=["hma"], route_class=HmaRoute, dependencies=[LOOKUP])
write_router = APIRouter(prefix="/c", tags=["hma"], route_class=HmaRoute, dependencies=[CURATE])

# HMA's disable_until_ts has two magic values: 0 disabled for good, 1 enabled.
DISABLED, ENABLED = 0, 1
_FOR_GOOD = datetime(9999, 12, 31, tzinfo=UTC)
_METADATA_KEYS = frozenset({"content_id", "content_uri", "json", "collab"})


def bank_record(bank: Bank) -> dict[str, Any]:
    """HMA's BankConfig: the name and the ratio of lookups that check the bank."""
    return {"name": bank.name, "matching_enabled_ratio": 1.0 if bank.enabled else 0.0}


def disable_until_ts(content: BankContent) -> int:
    """HMA's disable_until_ts of a content item."""
    if content.disabled_until is None:
        return ENABLED
    if content.disabled_until >= _FOR_GOOD:
        return DISABLED
    return int(content.disabled_until.timestamp())


def content_record(
    content: BankContent, bank: Bank, *, signals: bool = False, metadata: bool = False
) -> dict[str, Any]:
    """HMA's BankContentConfig for a content item."""
    record: dict[str, Any] = {
        "id": content.id,
        "disable_until_ts": disable_until_ts(content),
        "collab_metadata": {},
        "original_media_uri": None,
        "bank": bank_record(bank),
        "note": content.note or None,
    }
    if signals:
        record["signals"] = {
            OUR_TYPES.get(s.type_name, s.type_name): str(s) for s in content.signals
        }
    if metadata:
        record["metadata"] = dict(content.metadata)
    return record


def _json_object(request_body: bytes) -> dict[str, Any]:
    try:
        body = json.loads(request_body or b"{}")
    except ValueError:
        raise UsageError("The request body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise UsageError("The request body must be a JSON object.")
    return body


def _ratio_enabled(body: dict[str, Any]) -> bool | None:
    if "enabled_ratio" in body:
        try:
            return float(body["enabled_ratio"]) > 0
        except (TypeError, ValueError):
            raise UsageError(f"Invalid float: '{str(body['enabled_ratio'])[:40]}'") from None
    if "enabled" in body:
        return bool(body["enabled"]) and str(body["enabled"]).lower() not in ("false", "0")
    return None


# Banks


@read_router.get("/banks")
def list_banks(request: Request) -> Response:
    """Every bank."""
    return json_response([bank_record(b) for b in services(request).store.banks()])


@read_router.get("/bank/{bank_name}")
def get_bank(request: Request, bank_name: str) -> Response:
    """One bank."""
    return json_response(bank_record(services(request).store.bank(bank_name)))


@write_router.post("/banks", status_code=201)
async def create_bank(request: Request) -> Response:
    """Create a bank: ``{"name", "enabled_ratio"?, "enabled"?}``."""
    body = _json_object(await request.body())
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError("name is required")
    enabled = _ratio_enabled(body)
    svc = services(request)
    bank = await run_in_threadpool(
        svc.store.create_bank, name, enabled=True if enabled is None else enabled
    )
    await run_in_threadpool(wrote, svc)
    return json_response(bank_record(bank), status_code=201)


@write_router.put("/bank/{bank_name}")
async def update_bank(request: Request, bank_name: str) -> Response:
    """Rename a bank, or enable or disable it: ``{"name"?, "enabled"?, "enabled_ratio"?}``."""
    body = _json_object(await request.body())
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise UsageError("name must be a string")
    svc = services(request)
    bank = await run_in_threadpool(
        lambda: svc.store.update_bank(bank_name, new_name=name, enabled=_ratio_enabled(body))
    )
    await run_in_threadpool(wrote, svc)
    return json_response(bank_record(bank))


@write_router.delete("/bank/{bank_name}")
def delete_bank(request: Request, bank_name: str) -> Response:
    """Delete a bank and its content; deleting a bank that is not there also succeeds."""
    svc = services(request)
    with contextlib.suppress(BankNotFoundError):
        svc.store.delete_bank(bank_name)
    wrote(svc)
    return json_response({"message": "Done"})


# Content


def _add(
    svc: Services, bank_name: str, hashes: dict[str, str], metadata: Any, note: str
) -> dict[str, Any]:
    """Add one content item holding HMA hashes; HMA's ``{"id", "signals"}``."""
    if not hashes:
        raise UsageError("No signals given")
    signals = [hma_signal(kind, str(value)) for kind, value in hashes.items()]
    content = svc.store.add_content(bank_name, signals, metadata=_metadata(metadata), note=note)
    wrote(svc)
    return {
        "id": content.id,
        "signals": {kind: str(s) for kind, s in zip(hashes, signals, strict=True)},
    }


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise UsageError("metadata should be a json object") from None
    if not isinstance(value, dict):
        raise UsageError("metadata should be a json object")
    unexpected = sorted(set(value) - _METADATA_KEYS)
    if unexpected:
        raise UsageError(f"metadata contains unexpected keys: {', '.join(unexpected)[:200]}")
    return value


@write_router.post("/bank/{bank_name}/content")
async def add_content(request: Request, bank_name: str) -> Response:
    """Add content by ``?url=`` (allowed hosts only) or a multipart upload (``photo`` or
    ``video``), with optional ``metadata`` and ``note``; returns its id and hashes."""
    svc = services(request)
    params = request.query_params
    await run_in_threadpool(svc.store.bank, bank_name)  # 404 before any hashing
    if params.get("url"):
        body = _json_object(await request.body()) if _is_json(request) else {}
        metadata = body.get("metadata", params.get("metadata"))
        note = str(body.get("note", params.get("note", "")))
        hashes, signals = await run_in_threadpool(
            hash_hma_url, svc, params["url"], params.get("content_type"), params.get("types")
        )
    elif request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=2, max_fields=10) as form:
            hashes, signals = await run_in_threadpool(hash_form, svc, form, params.get("types"))
            metadata, note = _form_extras(form, params)
    else:
        raise UsageError("Neither `url` nor multipart file upload was received")
    usable = {OUR_TYPES.get(s.type_name) for s in signals.signals}
    if "pdq" in hashes and "pdq" not in usable:
        raise UsageError(
            f"The image has too little detail to bank (PDQ quality {signals.pdq_quality} < 50): "
            "its hash would match unrelated flat images."
        )
    added = await run_in_threadpool(_add, svc, bank_name, hashes, metadata, note)
    return json_response(added)


def _is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/json")


def _form_extras(form: FormData, params: Any) -> tuple[Any, str]:
    metadata = form.get("metadata") or params.get("metadata")
    note = form.get("note") or params.get("note") or ""
    return metadata, str(note)


@write_router.post("/bank/{bank_name}/signal")
async def add_signal(request: Request, bank_name: str) -> Response:
    """Add one content item holding the hashes given as ``{signal_type: value}``."""
    body = _json_object(await request.body())
    svc = services(request)
    await run_in_threadpool(svc.store.bank, bank_name)
    added = await run_in_threadpool(_add, svc, bank_name, body, None, "")
    return json_response(added)


@read_router.get("/bank/{bank_name}/content/{content_id}")
def get_content(
    request: Request,
    bank_name: str,
    content_id: int,
    include_signals: bool = False,
    include_metadata: bool = False,
) -> Response:
    """One content item; its hashes and metadata on request."""
    store = services(request).store
    content = store.content(bank_name, content_id)
    return json_response(
        content_record(
            content, store.bank(bank_name), signals=include_signals, metadata=include_metadata
        )
    )


@write_router.put("/bank/{bank_name}/content/{content_id}")
async def update_content(request: Request, bank_name: str, content_id: int) -> Response:
    """Disable a content item until a time: ``{"disable_until_ts": seconds}`` (0: for
    good, 1: enabled)."""
    body = _json_object(await request.body())
    svc = services(request)
    changes: dict[str, Any] = {}
    if "disable_until_ts" in body:
        changes["disabled_until"] = _disabled_until(body["disable_until_ts"])
    content = await run_in_threadpool(
        lambda: svc.store.update_content(bank_name, content_id, **changes)
    )
    await run_in_threadpool(wrote, svc)
    bank = await run_in_threadpool(svc.store.bank, bank_name)
    return json_response(content_record(content, bank))


def _disabled_until(value: Any) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"Invalid int: '{str(value)[:40]}'") from None
    if seconds < 0:
        raise UsageError("disable_until_ts must be a non-negative integer")
    five_years = datetime.now(UTC) + timedelta(days=365 * 5)
    if seconds > five_years.timestamp():
        raise UsageError("disable_until_ts must be less than 5 years in the future")
    if seconds == DISABLED:
        return _FOR_GOOD
    if seconds == ENABLED:
        return None
    return datetime.fromtimestamp(seconds, UTC)


@write_router.delete("/bank/{bank_name}/content/{content_id}")
def delete_content(request: Request, bank_name: str, content_id: int) -> Response:
    """Delete a content item: ``{"deleted": 1}``, or 0 when there was none."""
    svc = services(request)
    try:
        svc.store.delete_content(bank_name, content_id)
    except BankNotFoundError:
        return json_response({"deleted": 0})
    wrote(svc)
    return json_response({"deleted": 1})
