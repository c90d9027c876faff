"""GET /status: version, database and matcher health, for people, load balancers and tests."""

from __future__ import annotations

import time
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


class MatcherStatus(BaseModel):
    """This process's matcher: loaded, how current, and whether following changes fails."""

    loaded: bool
    seq: int | None = None
    signals: dict[str, int] | None = None
    seconds_since_refresh: float | None = None
    follower_error: str | None = None


class Status(BaseModel):
    """The server's health: ``ok``, or ``degraded`` (HTTP 503) with the reason."""

    status: Literal["ok", "degraded"]
    version: str
    database: DatabaseStatus
    matcher: MatcherStatus


# A follower that has failed this long serves stale matches: a load balancer should know.
STALE_AFTER_SECONDS = 10.0
_FOLLOWER_FAILING = "applying bank changes fails; the server log has the details"


@router.get("/status", response_model=Status, responses={503: {"model": Status}})
def get_status(request: Request, response: Response) -> Status:
    """Report the version, whether the database is reachable and migrated, and whether the
    matcher is loaded and following changes."""
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
    matcher = _matcher_status(request)
    healthy = db_status.reachable and db_status.schema_up_to_date and _fresh(matcher)
    if not healthy:
        response.status_code = 503
    return Status(
        status="ok" if healthy else "degraded",
        version=__version__,
        database=db_status,
        matcher=matcher,
    )


def _matcher_status(request: Request) -> MatcherStatus:
    services = getattr(request.app.state, "services", None)
    if services is None:
        return MatcherStatus(loaded=False)
    status = services.matcher.status()
    return MatcherStatus(
        loaded=True,
        seq=status.seq,
        signals=dict(status.signals),
        seconds_since_refresh=round(max(0.0, time.time() - status.refreshed_at), 3),
        # No credentials here: what failed (host, user) is in the log and /api/v1/index/status.
        follower_error=None if services.follower.last_error is None else _FOLLOWER_FAILING,
    )


def _fresh(matcher: MatcherStatus) -> bool:
    if not matcher.loaded:
        return False
    failing = matcher.follower_error is not None
    return not (failing and (matcher.seconds_since_refresh or 0.0) > STALE_AFTER_SECONDS)
