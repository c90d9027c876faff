"""The native API's hash-list routes: import a list into a bank (csv, jsonl,
ThreatExchange, StopNCII), and export a bank as csv or jsonl, streamed."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from leakshield.banks import ImportFormat, import_hash_list, write_records
from leakshield.server._auth import CURATE
from leakshield.server._deps import Services, json_response, services, wrote
from leakshield.signals import Signal

router = APIRouter(prefix="/api/v1", tags=["banks"], dependencies=[CURATE])

_EXPORT_BATCH = 2_000


@router.post(
    "/banks/{name}/import",
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}}},
)
async def import_list(
    request: Request,
    name: str,
    fmt: Annotated[ImportFormat, Query(alias="format")] = "auto",
    skip_invalid: bool = False,
    filename: Annotated[str, Query(max_length=255, description="Helps detect the format.")] = "",
) -> Response:
    """Import a hash list sent as the raw body (csv, jsonl, threatexchange, stopncii)."""
    svc = services(request)
    fd, temporary = tempfile.mkstemp(dir=svc.tmp_dir, prefix="import-")
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        report = await run_in_threadpool(
            _import_file, svc, name, Path(temporary), fmt, skip_invalid, filename
        )
    finally:
        Path(temporary).unlink(missing_ok=True)
    return json_response(report)


def _import_file(
    svc: Services, name: str, path: Path, fmt: ImportFormat, skip_invalid: bool, filename: str
) -> dict[str, Any]:
    with path.open("rb") as source:
        report = import_hash_list(
            svc.store, name, source, fmt, name=filename, skip_invalid=skip_invalid
        )
    wrote(svc)
    return report.to_record()


@router.get("/banks/{name}/export")
def export_list(
    request: Request,
    name: str,
    fmt: Annotated[Literal["csv", "jsonl"], Query(alias="format")] = "jsonl",
) -> StreamingResponse:
    """Every signal of a bank with its metadata, streamed as csv or jsonl."""
    store = services(request).store
    store.bank(name)  # 404 now, not in the middle of the stream
    media_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(
        export_chunks(store.export(name), fmt),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def export_chunks(
    records: Iterator[tuple[Signal, dict[str, Any]]], fmt: Literal["csv", "jsonl"]
) -> Iterator[str]:
    """The hash list in chunks of a few thousand lines, one csv header at the top."""
    first = True
    while True:
        batch = list(islice(records, _EXPORT_BATCH))
        if not batch and not first:
            return
        out = io.StringIO()
        write_records(batch, out, fmt)
        text = out.getvalue()
        if fmt == "csv" and not first:
            text = text.partition("\n")[2]  # write_records starts each csv with its header
        first = False
        yield text
        if len(batch) < _EXPORT_BATCH:
            return
