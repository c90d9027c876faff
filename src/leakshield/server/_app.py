"""The app factory: one FastAPI app over one database, its matcher loaded before it
serves, API keys on every route but /status and the docs, and offline API docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from leakshield import __version__
from leakshield.apikeys import ApiKeys
from leakshield.config import Settings
from leakshield.server import _api, _auth, _hashlists, _hma, _hma_curation, _lookup
from leakshield.server._deps import open_services
from leakshield.server._logging import logger
from leakshield.server._middleware import RequestContextMiddleware
from leakshield.server._problems import install_problem_handlers
from leakshield.server._status import router as status_router
from leakshield.server._uploads import BodyLimitMiddleware, spooling_into
from leakshield.store import Database

_DOCS_ASSETS = "/_assets/swagger-ui"


def create_app(
    settings: Settings, database: Database | None = None, *, auth: bool = True
) -> FastAPI:
    """Build the app. ``database`` defaults to the one ``settings`` names; the app disposes
    of a database it opened itself when it shuts down. ``auth=False`` lets every request
    through without an API key (`serve` allows that on loopback only)."""
    owned = database is None
    db = database if database is not None else Database(settings.database_url_or_default)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Loaded before the first request: a worker never answers from an empty matcher.
        services = open_services(settings, db)
        app.state.services = services
        services.follower.start()
        logger.info("matcher ready", extra={"seq": services.matcher.seq})
        try:
            with spooling_into(services.tmp_dir):
                yield
        finally:
            services.follower.stop()
            app.state.services = None
            if owned:
                db.dispose()

    app = FastAPI(
        title="leakshield",
        version=__version__,
        summary="Hash banks, matching and evidence against leaked and AI-faked intimate media.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.auth = auth
    app.state.api_keys = ApiKeys(db)
    app.state.services = None
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(status_router)
    for router in (
        _lookup.router,
        _api.read_router,
        _api.write_router,
        _hashlists.router,
        _auth.router,
        _hma.hasher,
        _hma.matcher_router,
        _hma_curation.read_router,
        _hma_curation.write_router,
    ):
        app.include_router(router)
    _add_offline_docs(app)
    return app


def _add_offline_docs(app: FastAPI) -> None:
    # Swagger UI is served from the installed package: the docs page loads nothing from a CDN.
    app.mount(
        _DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="leakshield API",
            swagger_js_url=f"{_DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{_DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{_DOCS_ASSETS}/favicon-32x32.png",
        )
