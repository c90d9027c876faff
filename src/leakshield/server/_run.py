"""Run the server with uvicorn, one process or several workers, after checking the
address can be bound and that running without API keys stays on this machine."""

from __future__ import annotations

import gc
import ipaddress
import json
import os
import socket

import uvicorn
from fastapi import FastAPI

from leakshield.apikeys import ApiKeys
from leakshield.config import Settings
from leakshield.errors import ConfigError
from leakshield.server._app import create_app
from leakshield.server._logging import configure_logging, logger
from leakshield.store import Database

# How `serve` hands its settings to worker processes. Not LEAKSHIELD_*: `doctor` flags
# unknown variables under that prefix, and this one is no setting.
WORKER_ENV = "_LEAKSHIELD_SERVE"
_FAST = {"loop": "uvloop", "http": "httptools"}


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: Settings, database: Database, *, auth: bool = True) -> None:
    """Migrate the database, then serve the API on ``settings.host:settings.port`` with
    ``settings.workers`` processes until interrupted. ``auth=False`` (no API keys) is
    refused unless the address is loopback."""
    configure_logging(settings.log_level, settings.log_format)
    if not auth and not is_loopback(settings.host):
        raise ConfigError(
            f"--no-auth lets anyone who can reach the server change the banks, so it is only "
            f"allowed on a loopback address (127.0.0.1, ::1, localhost), not {settings.host}. "
            "Create an API key with `leakshield apikey create --role ROLE` instead."
        )
    _check_bindable(settings.host, settings.port)
    if not is_loopback(settings.host):
        logger.warning(
            "listening beyond this machine", extra={"host": settings.host, "port": settings.port}
        )
    before = database.schema_state().current
    after = database.upgrade()
    logger.info("database ready", extra={"revision": after.current, "migrated_from": before})
    if auth and not ApiKeys(database).list():
        logger.warning("no API keys yet: create one with `leakshield apikey create --role admin`")
    logger.info(
        "serving",
        extra={
            "url": f"http://{settings.host}:{settings.port}",
            "database": database.display_url,
            "data_dir": str(settings.data_dir),
            "workers": settings.workers,
            "auth": auth,
        },
    )
    options = {"host": settings.host, "port": settings.port, **_FAST}
    options |= {"log_config": None, "access_log": False, "server_header": False}
    if settings.workers == 1:
        uvicorn.run(create_app(settings, database, auth=auth), **options)  # type: ignore[arg-type]
        return
    _write_snapshot(settings, database)
    os.environ[WORKER_ENV] = json.dumps(
        {"settings": settings.model_dump(mode="json"), "auth": auth}
    )
    uvicorn.run(
        "leakshield.server._run:create_worker_app",
        factory=True,
        workers=settings.workers,
        **options,  # type: ignore[arg-type]
    )


def _write_snapshot(settings: Settings, database: Database) -> None:
    """Load the matcher once, so that it writes a fresh snapshot for the workers to load
    instead of each reading every signal from the database; then free it."""
    from leakshield.banks import BankStore, matcher_cache_dir, open_matcher

    matcher = open_matcher(
        BankStore(database), matcher_cache_dir(settings.cache_dir, database.display_url)
    )
    logger.info("matcher snapshot ready", extra={"seq": matcher.seq})
    del matcher
    gc.collect()


def create_worker_app() -> FastAPI:
    """The app of one worker process, from the settings `serve` left in its environment."""
    payload = json.loads(os.environ[WORKER_ENV])
    settings = Settings(**payload["settings"])
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, auth=bool(payload["auth"]))


def _check_bindable(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"Cannot resolve host {host!r}: {exc.strerror}. Check --host.") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(
                f"Cannot listen on {host}:{port}: {exc.strerror}. "
                "Is another server running there? Choose another with --port."
            ) from None
