"""The app factory: one FastAPI app over one database, with offline API docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from leakshield import __version__
from leakshield.config import Settings
from leakshield.server._middleware import RequestContextMiddleware
from leakshield.server._problems import install_problem_handlers
from leakshield.server._status import router as status_router
from leakshield.store import Database

_DOCS_ASSETS = "/_assets/swagger-ui"


def create_app(settings: Settings, database: Database | None = None) -> FastAPI:
    """Build the app. ``database`` defaults to the one ``settings`` names; the app disposes
    of a database it opened itself when it shuts down."""
    owned = database is None
    db = database if database is not None else Database(settings.database_url_or_default)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
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
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(status_router)
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
