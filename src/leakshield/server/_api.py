"""The native API's bank routes, /api/v1/banks/...: banks, their content and signals
(hash lists are in `_hashlists`). Every write is applied to this process's matcher
before the response, so the caller's next lookup sees it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from leakshield.banks import (
    BankContent,
    BankInputError,
    import_hash_list,
)
from leakshield.errors import LeakshieldError
from leakshield.server._auth import CURATE, LOOKUP
from leakshield.server._deps import (
    Services,
    hash_upload,
    json_response,
    parse_body,
    parse_fields,
    services,
    typed_signal,
    wrote,
)
from leakshield.signals import Signal, parse_signal

read_router = APIRouter(prefix="/api/v1", tags=["banks"], dependencies=[LOOKUP])
write_router = APIRouter(prefix="/api/v1", tags=["banks"], dependencies=[CURATE])

MAX_SIGNALS = 10_000
_EXPORT_BATCH = 2_000
_TEXT = Field(default="", max_length=10_000)


class BankIn(BaseModel):
    """A bank to create."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = _TEXT
    enabled: bool = True
    negative: bool = False
    thresholds: dict[str, StrictInt] = Field(default_factory=dict)


class BankPatch(BaseModel):
    """Changes to a bank; fields left out stay as they are. ``name`` renames it."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = Field(default=None, max_length=10_000)
    enabled: bool | None = None
    negative: bool | None = None
    thresholds: dict[str, StrictInt] | None = None


class SignalItem(BaseModel):
    """A signal as a type and a value."""

    model_config = ConfigDict(extra="forbid")
    signal_type: str
    signal: str


SignalInput = str | SignalItem


class ContentFields(BaseModel):
    """What a content item carries besides its signals."""

    model_config = ConfigDict(extra="forbid")
    metadata: dict[str, Any] = Field(default_factory=dict)
    note: str = _TEXT
    disabled_until: datetime | None = None


class ContentIn(ContentFields):
    """One content item holding these signals."""

    signals: list[SignalInput] = Field(min_length=1, max_length=100)


class ContentPatch(BaseModel):
    """Changes to a content item; ``disabled_until: null`` enables it again."""

    model_config = ConfigDict(extra="forbid")
    metadata: dict[str, Any] | None = None
    note: str | None = Field(default=None, max_length=10_000)
    disabled_until: datetime | None = None


class SignalsIn(BaseModel):
    """Signals to add (each becomes one content item) or to remove."""

    model_config = ConfigDict(extra="forbid")
    signals: list[SignalInput] = Field(min_length=1, max_length=MAX_SIGNALS)
    metadata: dict[str, Any] = Field(default_factory=dict)


def parse_signals(items: Iterable[SignalInput]) -> list[Signal]:
    """Signals from ``TYPE:VALUE`` strings or {signal_type, signal} objects; a bad one
    is a 422 naming its position."""
    parsed = []
    for position, item in enumerate(items):
        try:
            if isinstance(item, SignalItem):
                parsed.append(typed_signal(item.signal_type, item.signal))
            else:
                parsed.append(parse_signal(item))
        except LeakshieldError as exc:
            raise BankInputError(f"signals[{position}]: {exc.message}") from None
    return parsed


# Banks


@read_router.get("/banks")
def list_banks(request: Request) -> Response:
    """Every bank, by name, with how many content items each holds."""
    banks = services(request).store.banks(with_counts=True)
    return json_response({"banks": [bank.to_record() for bank in banks]})


@read_router.get("/banks/{name}")
def get_bank(request: Request, name: str) -> Response:
    """One bank."""
    return json_response(services(request).store.bank(name, with_count=True).to_record())


@write_router.post("/banks", status_code=201)
def create_bank(request: Request, body: BankIn) -> Response:
    """Create a bank (name in CAPS_AND_UNDERSCORES); 409 if the name is taken."""
    svc = services(request)
    bank = svc.store.create_bank(
        body.name,
        description=body.description,
        enabled=body.enabled,
        negative=body.negative,
        thresholds=body.thresholds,
    )
    wrote(svc)
    return json_response(bank.to_record(), status_code=201)


@write_router.patch("/banks/{name}")
def update_bank(request: Request, name: str, body: BankPatch) -> Response:
    """Change a bank's settings, or rename it."""
    svc = services(request)
    bank = svc.store.update_bank(
        name,
        new_name=body.name,
        description=body.description,
        enabled=body.enabled,
        negative=body.negative,
        thresholds=body.thresholds,
    )
    wrote(svc)
    return json_response(bank.to_record())


@write_router.delete("/banks/{name}", status_code=204)
def delete_bank(request: Request, name: str) -> Response:
    """Delete a bank with all its content."""
    svc = services(request)
    svc.store.delete_bank(name)
    wrote(svc)
    return Response(status_code=204)


# Content


@read_router.get("/banks/{name}/content")
def list_content(
    request: Request,
    name: str,
    after: Annotated[int, Query(ge=0, description="Return ids after this one.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """A page of a bank's content in id order; pass ``next_after`` as ``after`` for the next."""
    store = services(request).store
    ids = store.list_content(name, after=after, limit=limit)
    records = [store.content(name, content_id).to_record() for content_id in ids]
    next_after = ids[-1] if len(ids) == limit else None
    return json_response({"content": records, "next_after": next_after})


@read_router.get("/banks/{name}/content/{content_id}")
def get_content(request: Request, name: str, content_id: int) -> Response:
    """One content item with its signals."""
    return json_response(services(request).store.content(name, content_id).to_record())


_CONTENT_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": ContentIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "metadata": {"type": "string", "description": "a JSON object"},
                        "note": {"type": "string"},
                        "disabled_until": {"type": "string", "format": "date-time"},
                    },
                }
            },
        }
    }
}


@write_router.post("/banks/{name}/content", status_code=201, openapi_extra=_CONTENT_BODY)
async def add_content(request: Request, name: str) -> Response:
    """Add one content item: its signals as JSON, or a file (multipart) to hash."""
    svc = services(request)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            content = await run_in_threadpool(_add_upload, svc, name, form)
    else:
        body = parse_body(ContentIn, await request.body())
        content = await run_in_threadpool(_add_signals, svc, name, body)
    return json_response(content.to_record(), status_code=201)


def _add_signals(svc: Services, name: str, body: ContentIn) -> BankContent:
    return _add(svc, name, parse_signals(body.signals), body)


def _add_upload(svc: Services, name: str, form: FormData) -> BankContent:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise BankInputError("Send the media in a multipart form field named `file`.")
    fields = {
        "metadata": _json_field(form.get("metadata")),
        "note": form.get("note") or "",
        "disabled_until": form.get("disabled_until") or None,
    }
    body = parse_fields(ContentFields, fields, "form")
    svc.store.bank(name)  # a missing bank is a 404 before the file is hashed
    return _add(svc, name, hash_upload(svc, upload).signals, body)


def _add(svc: Services, name: str, signals: Sequence[Signal], body: ContentFields) -> BankContent:
    content = svc.store.add_content(
        name,
        signals,
        metadata=body.metadata,
        note=body.note,
        disabled_until=body.disabled_until,
    )
    wrote(svc)
    return content


def _json_field(value: object) -> Any:
    if value is None or value == "":
        return {}
    try:
        return json.loads(str(value))
    except ValueError:
        raise BankInputError("The `metadata` form field must be a JSON object.") from None


@write_router.patch("/banks/{name}/content/{content_id}")
def update_content(request: Request, name: str, content_id: int, body: ContentPatch) -> Response:
    """Change a content item's metadata, note or disabled-until time."""
    svc = services(request)
    given = body.model_fields_set
    content = svc.store.update_content(
        name,
        content_id,
        metadata=body.metadata,
        note=body.note,
        disabled_until=body.disabled_until if "disabled_until" in given else False,
    )
    wrote(svc)
    return json_response(content.to_record())


@write_router.delete("/banks/{name}/content/{content_id}", status_code=204)
def delete_content(request: Request, name: str, content_id: int) -> Response:
    """Delete a content item and its signals."""
    svc = services(request)
    svc.store.delete_content(name, content_id)
    wrote(svc)
    return Response(status_code=204)


# Signals, import and export


@write_router.post("/banks/{name}/signals")
def add_signals(request: Request, name: str, body: SignalsIn) -> Response:
    """Add up to 10,000 signals in one transaction, each as its own content item with
    ``metadata``; signals the bank holds already are counted as existing."""
    svc = services(request)
    lines = "".join(
        json.dumps({"signal_type": s.type_name, "signal": str(s), "metadata": body.metadata}) + "\n"
        for s in parse_signals(body.signals)
    )
    report = import_hash_list(svc.store, name, io.BytesIO(lines.encode()), "jsonl")
    wrote(svc)
    return json_response(report.to_record())


@write_router.post("/banks/{name}/signals/remove")
def remove_signals(request: Request, name: str, body: SignalsIn) -> Response:
    """Remove signals (and content left with none) from a bank."""
    svc = services(request)
    removed = svc.store.remove_signals(name, parse_signals(body.signals))
    wrote(svc)
    return json_response({"removed": removed})
