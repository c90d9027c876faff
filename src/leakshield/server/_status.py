"""GET /status: version and database health, for people, load balancers and tests."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from leakshield import __version__
from leakshield.errors import LeakshieldError
from leakshield.server._logging import logger
from leakshield.store import Database

router = APIRouter(tags=["status"])


class DatabaseStatus(BaseModel):
    """The database as this server sees it."""

    backend: str
    reachable: bool
    schema_revision: str | None
    schema_up_to_date: bool
    error: str | None = None


class Status(BaseModel):
    """The server's health: ``ok``, or ``degraded`` (HTTP 503) with the reason."""

    status: Literal["ok", "degraded"]
    version: str
    database: DatabaseStatus


@router.get("/status", response_model=Status, responses={503: {"model": Status}})
def get_status(request: Request, response: Response) -> Status:
    """Report the version and whether the database is reachable and migrated."""
    database: Database = request.app.state.database
    try:
        schema = database.schema_state()
    except LeakshieldError as exc:
        # /status needs no credentials: the detail (host, user) goes to the log, not the caller.
        logger.error("database unavailable", extra={"detail": exc.message})
        db_status = DatabaseStatus(
            backend=database.backend,
            reachable=False,
            schema_revision=None,
            schema_up_to_date=False,
            error="the database cannot be reached; the server log has the details",
        )
    else:
        db_status = DatabaseStatus(
            backend=database.backend,
            reachable=True,
            schema_revision=schema.current,
            schema_up_to_date=schema.up_to_date,
        )
    healthy = db_status.reachable and db_status.schema_up_to_date
    if not healthy:
        response.status_code = 503
    return Status(status="ok" if healthy else "degraded", version=__version__, database=db_status)
