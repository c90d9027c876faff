"""Run the server with uvicorn, after checking the address can be bound."""

from __future__ import annotations

import ipaddress
import socket

import uvicorn

from leakshield.config import Settings
from leakshield.errors import ConfigError
from leakshield.server._app import create_app
from leakshield.server._logging import configure_logging, logger
from leakshield.store import Database


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: Settings, database: Database) -> None:
    """Migrate the database, then serve the API on ``settings.host:settings.port`` until
    interrupted."""
    configure_logging(settings.log_level, settings.log_format)
    _check_bindable(settings.host, settings.port)
    if not is_loopback(settings.host):
        logger.warning(
            "listening beyond this machine", extra={"host": settings.host, "port": settings.port}
        )
    before = database.schema_state().current
    after = database.upgrade()
    logger.info("database ready", extra={"revision": after.current, "migrated_from": before})
    app = create_app(settings, database)
    logger.info(
        "serving",
        extra={
            "url": f"http://{settings.host}:{settings.port}",
            "database": database.display_url,
            "data_dir": str(settings.data_dir),
        },
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )


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
